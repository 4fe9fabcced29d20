from siks_kit.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8004
    mongo_db: str = "siks_decree"
    public_requests_per_minute: int = 60
