"""Rules a household must satisfy before it is stored."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


class HouseholdRuleBroken(ValueError):
    pass


@dataclass(frozen=True)
class MemberFacts:
    nik: str
    relation: str


def check_members(members: Sequence[MemberFacts]) -> None:
    if not members:
        raise HouseholdRuleBroken("a household needs at least one member")
    heads = sum(1 for m in members if m.relation == "head")
    if heads != 1:
        raise HouseholdRuleBroken(f"a household needs exactly one head; found {heads}")
    repeated = [n for n, c in Counter(m.nik for m in members).items() if c > 1]
    if repeated:
        raise HouseholdRuleBroken(f"{len(repeated)} NIK(s) appear twice in the members list")


# Household status in the register.
REGISTERED = "registered"
BENEFICIARY = "beneficiary"
