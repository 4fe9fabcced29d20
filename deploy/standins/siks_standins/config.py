"""Settings from the environment, read once when the app is created."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Settings:
    #: Seeds both the population and the fault dice, so a run can be replayed.
    seed: int = 42
    #: Added delay on every Dukcapil/DTSEN request: the real systems are slow.
    latency_ms: float = 0.0
    #: Fraction of Dukcapil/DTSEN requests answered 503: the real systems fail sometimes.
    failure_rate: float = 0.0

    def __post_init__(self) -> None:
        # Refuse nonsense at startup rather than behaving oddly per request.
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("STANDINS_FAILURE_RATE must be between 0 and 1")
        if self.latency_ms < 0:
            raise ValueError("STANDINS_LATENCY_MS must not be negative")

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            seed=int(env.get("STANDINS_SEED", "42")),
            latency_ms=float(env.get("STANDINS_LATENCY_MS", "0")),
            failure_rate=float(env.get("STANDINS_FAILURE_RATE", "0")),
        )
