from siks_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8002
    mongo_db: str = "siks_verification"
