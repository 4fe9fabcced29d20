from siks_kit.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8001
    mongo_db: str = "siks_registry"
    max_document_bytes: int = 5 * 1024 * 1024
    # How long a NIK claim or a pending household/proposal is presumed alive: a half-done
    # registration or correction older than this is taken as dead and may be taken over.
    claim_lease_seconds: float = 60.0
