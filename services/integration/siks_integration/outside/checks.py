"""The Dukcapil check of every member (padan/tidak padan, name, birth date, alive)."""

import asyncio

from siks_contracts.events import CheckResult, HouseholdSnapshot

from .dukcapil import Dukcapil, OutsideUnavailable


async def dukcapil_check(dukcapil: Dukcapil, household: HouseholdSnapshot) -> CheckResult:
    try:
        answers = await asyncio.gather(*(dukcapil.verify(m.nik, m.name, m.birth_date) for m in household.members))
    except OutsideUnavailable as exc:
        return CheckResult(name="dukcapil", status="error", detail=str(exc))
    problems = []
    for i, a in enumerate(answers, start=1):
        if not a.found:
            problems.append(f"member {i}: not matched at Dukcapil (tidak padan)")
        elif a.name_match is False:
            problems.append(f"member {i}: name differs from Dukcapil")
        elif a.birth_date_match is False:
            problems.append(f"member {i}: birth date differs from Dukcapil")
        elif a.alive is False:
            problems.append(f"member {i}: deceased according to Dukcapil")
    if problems:
        return CheckResult(name="dukcapil", status="failed", detail="; ".join(problems))
    return CheckResult(name="dukcapil", status="passed", detail=f"{len(answers)} member(s) matched (padan)")
