from siks_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8003
    mongo_db: str = "siks_integration"
    standins_url: str = "http://127.0.0.1:8010"
    outside_timeout_seconds: float = 3.0
    outside_attempts: int = 3
