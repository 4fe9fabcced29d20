from siks_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8001
    mongo_db: str = "siks_registry"
    max_document_bytes: int = 5 * 1024 * 1024
