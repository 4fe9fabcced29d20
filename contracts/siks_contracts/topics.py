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

# A topic has one owner: the only service that may write it (the broker's ACLs say so too),
# and the only `producer` a consumer accepts in an envelope read from it.
OWNER = {HOUSEHOLDS: "registry", PROPOSALS: "registry", CHECKS: "integration", CASES: "verification",
         DECREES: "decree"}
