"""Checks that need no outside system: NIK structure and consistency, region existence.
Each returns a CheckResult; details name the member by position, never by NIK or name."""

from siks_contracts.events import CheckResult, HouseholdSnapshot
from siks_contracts.identity import InvalidIdentifier, parse_nik
from siks_contracts.regions import InvalidRegion, require_village


def nik_check(household: HouseholdSnapshot) -> CheckResult:
    failures, warnings = [], []
    for i, m in enumerate(household.members, start=1):
        try:
            info = parse_nik(m.nik)
        except InvalidIdentifier as exc:
            failures.append(f"member {i}: {exc}")
            continue
        warnings += [f"member {i}: {w}" for w in info.warnings]
        if info.sex != m.sex.value:
            failures.append(f"member {i}: NIK encodes sex {info.sex}, record says {m.sex.value}")
        if not info.matches_birth_date(m.birth_date):
            failures.append(f"member {i}: NIK birth date differs from the recorded birth date")
    if failures:
        return CheckResult(name="nik", status="failed", detail="; ".join(failures))
    if warnings:
        return CheckResult(name="nik", status="warning", detail="; ".join(warnings))
    return CheckResult(name="nik", status="passed", detail=f"{len(household.members)} NIK(s) well formed")


def region_check(household: HouseholdSnapshot) -> CheckResult:
    try:
        require_village(household.region_code)
    except InvalidRegion as exc:
        return CheckResult(name="region", status="failed", detail=str(exc))
    return CheckResult(name="region", status="passed", detail=f"village {household.region_code} exists")


def overall_passed(results: list[CheckResult]) -> bool:
    return all(r.status in ("passed", "warning") for r in results)
