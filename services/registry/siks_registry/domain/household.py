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


def matches(household: dict, *, region_prefix: str | None, name_part: str | None) -> bool:
    """The search's conditions, for a household found another way (by a member's NIK): in
    the region (a code prefix), and some member's name holding `name_part`, any case."""
    if region_prefix and not household["region_code"].startswith(region_prefix):
        return False
    return not name_part or any(name_part.casefold() in m["name"].casefold() for m in household["members"])


# Household status in the register.
REGISTERED = "registered"
BENEFICIARY = "beneficiary"
