"""Settings every service reads from the environment (SIKS_*); services extend them."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Signs tokens on a developer's machine only, and only when SIKS_ENV=development says so.
DEVELOPMENT_JWT_SECRET = "siks-local-development-key-not-for-production"
ENVIRONMENTS = ("development", "production")
MIN_SECRET_BYTES = 32  # HS256 wants a key at least as long as its output (RFC 7518 section 3.2)


class ConfigurationError(RuntimeError):
    """The environment does not allow the process to start; the message says what to set."""


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIKS_", extra="ignore")

    # No default on purpose: a process that does not know where it runs must not guess.
    env: str | None = Field(default=None, description="development | production; required to start")
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
    jwt_issuer: str = Field(default="siks-ng", description="`iss` every token must carry")
    jwt_audience: str = Field(default="siks-ng-api", description="`aud` every token must carry")
    token_max_ttl_seconds: int = Field(default=12 * 3600, gt=0, description="longest accepted exp - iat")
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, description="request bodies above this get 413")
    now: str | None = Field(default=None, description="ISO 8601 start of the demo/training clock")
    now_anchor: float | None = Field(default=None, description="unix time at which SIKS_NOW held")
    log_level: str = "info"
    schedule_file: str | None = None
    outbox_sweep_seconds: float = 60.0  # the safety net; writes wake the relay at once
    batch_items_per_second: float = Field(
        default=0.0, ge=0, description="items of batch requests let in a second per replica (0: no limit)")
    batch_single_p90_ms: float = Field(
        default=0.0, ge=0, description="uploads slow down while single API requests' p90 is above this, and speed "
                                       "up again below half of it (0: they do not; kit.web.batch.BatchAdmission)")

    def environment(self) -> str:
        """SIKS_ENV, checked: a service refuses to start without a known one."""
        if self.env is None or not self.env.strip():
            raise ConfigurationError(
                "SIKS_ENV is not set: set SIKS_ENV=development on a developer's machine (it allows the "
                "development signing key), or SIKS_ENV=production with SIKS_JWT_SECRET")
        env = self.env.strip().lower()
        if env not in ENVIRONMENTS:
            raise ConfigurationError(f"SIKS_ENV={self.env!r} is not one of {', '.join(ENVIRONMENTS)}")
        return env

    def signing_secret(self) -> str:
        """The key that signs and checks tokens. The development key only with SIKS_ENV=development;
        anywhere else SIKS_JWT_SECRET, at least 32 bytes and not the development key."""
        env = self.environment() if self.env is not None or not self.jwt_secret else None
        if not self.jwt_secret:
            if env == "development":
                return DEVELOPMENT_JWT_SECRET
            raise ConfigurationError("SIKS_JWT_SECRET must be set when SIKS_ENV is production")
        if env != "development":
            if self.jwt_secret == DEVELOPMENT_JWT_SECRET:
                raise ConfigurationError("SIKS_JWT_SECRET is the development key, which is refused outside "
                                         "SIKS_ENV=development")
            if len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
                raise ConfigurationError(f"SIKS_JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes; "
                                         "use a random secret of 32 bytes or more")
        return self.jwt_secret
