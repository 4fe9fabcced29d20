from siks_kit.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    port: int = 8003
    mongo_db: str = "siks_integration"
    standins_url: str = "http://127.0.0.1:8010"
    # Each call to an outside system: a timeout, then a few quick attempts inline
    # (exponential backoff with jitter between them) before the check is left pending.
    outside_timeout_seconds: float = 3.0
    outside_attempts: int = 3
    outside_backoff_initial_seconds: float = 0.1
    outside_backoff_max_seconds: float = 1.0
    # Per system: this many failed calls in a row open its circuit; a trial after the cool-down.
    breaker_failures: int = 5
    breaker_reset_seconds: float = 5.0
    # A pending check set is asked again after retry_first_seconds, doubling (with jitter)
    # up to retry_max_seconds; a sweep of the database finds sets nobody hinted.
    retry_first_seconds: float = 1.0
    retry_max_seconds: float = 30.0
    retry_sweep_seconds: float = 60.0
