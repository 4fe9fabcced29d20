"""Settings every service reads from the environment (SIKS_*); services extend them."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Signs tokens on a developer's machine only; production refuses to start without its own.
DEVELOPMENT_JWT_SECRET = "siks-local-development-key-not-for-production"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIKS_", extra="ignore")

    env: str = Field(default="development", description="development | production")
    host: str = "127.0.0.1"
    port: int = 8000
    kafka_bootstrap: str = "127.0.0.1:9092"
    # The service's own Kafka principal (SASL/SCRAM); PLAINTEXT only for a broker without auth.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: str | None = Field(default=None, repr=False)
    mongo_url: str = "mongodb://127.0.0.1:27017"
    mongo_db: str = ""
    jwt_secret: str | None = None
    now: str | None = Field(default=None, description="ISO 8601 start of the demo/training clock")
    now_anchor: float | None = Field(default=None, description="unix time at which SIKS_NOW held")
    log_level: str = "info"
    schedule_file: str | None = None
    outbox_sweep_seconds: float = 60.0  # the safety net; writes wake the relay at once

    def signing_secret(self) -> str:
        if self.jwt_secret:
            return self.jwt_secret
        if self.env == "development":
            return DEVELOPMENT_JWT_SECRET
        raise RuntimeError("SIKS_JWT_SECRET must be set outside development")
