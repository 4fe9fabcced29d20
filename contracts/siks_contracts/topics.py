"""Topic names: one topic per producing aggregate, versioned like the event types on it."""

HOUSEHOLDS = "siks.registry.households.v1"
PROPOSALS = "siks.registry.proposals.v1"
CHECKS = "siks.integration.checks.v1"
CASES = "siks.verification.cases.v1"
DECREES = "siks.decree.decrees.v1"


def dead_letter(topic: str) -> str:
    """Where a consumer parks a message it cannot process, with the reason."""
    return f"{topic}.dlq"


ALL = (HOUSEHOLDS, PROPOSALS, CHECKS, CASES, DECREES)
