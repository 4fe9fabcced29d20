"""The CheckSet aggregate: every check of one proposal's round, and what it says when.

One check set per (proposal_id, round). The pure checks (NIK structure, region) are decided
at once; the outside checks (Dukcapil, DTSEN) start "pending" and are settled by the answers
the application layer fetches. While a system is unavailable its check stays pending, and
the set says so once (ChecksPending, naming the systems); when every check has answered it
says ChecksCompleted once, with the round, the verdict and the household's desil.

No I/O and no clock here: answers, failures and times are handed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from siks_contracts.events import (CheckResult, ChecksCompleted, ChecksPending, HouseholdSnapshot,
                                   ProposalSubmitted)

from .checks import nik_check, region_check

Status = Literal["pending", "passed", "warning", "failed"]
DUKCAPIL, DTSEN = "dukcapil", "dtsen"
OUTSIDE = (DUKCAPIL, DTSEN)  # the outside systems every round asks, in this order
Evidence = dict[str, int | str | bool | None]  # what a check found; never personal data


@dataclass(frozen=True)
class DukcapilAnswer:
    """Dukcapil's verdict on one member (padan / tidak padan)."""

    found: bool
    name_match: bool | None = None
    birth_date_match: bool | None = None
    alive: bool | None = None


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str = ""
    evidence: Evidence = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """A CheckResult's fields, as its model_dump gives them."""
        return {"name": self.name, "status": self.status, "detail": self.detail, "evidence": dict(self.evidence)}

    def result(self) -> CheckResult:
        return CheckResult.model_validate(self.fields())  # pydantic's validation (Rust) beats model_construct

    @classmethod
    def of(cls, r: CheckResult) -> Check:
        return cls(r.name, r.status, r.detail, dict(r.evidence))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Announced:
    """What the set has said about its round so far (so it never says a thing twice)."""

    waiting_on: tuple[str, ...] = ()
    completed: bool = False


Event = ChecksPending | ChecksCompleted


@dataclass
class CheckSet:
    proposal_id: str
    household_id: str
    region_code: str
    program: str
    round: int
    checks: list[Check]
    started_at: datetime
    checked_at: datetime
    # The members the outside systems are asked about; kept only while something is pending.
    household: HouseholdSnapshot | None = None
    desil: int | None = None
    failed_attempts: int = 0  # rounds of asking that left something pending
    next_attempt_at: datetime | None = None
    announced: Announced = field(default_factory=Announced)

    # -- starting a round
    @classmethod
    def open(cls, submitted: ProposalSubmitted, now: datetime) -> CheckSet:
        hh = submitted.household
        checks = [Check.of(nik_check(hh)), Check.of(region_check(hh))]
        checks += [Check(system, "pending", f"waiting for {system}") for system in OUTSIDE]
        return cls(proposal_id=submitted.proposal_id, household_id=submitted.household_id,
                   region_code=hh.region_code, program=submitted.program.value, round=submitted.round,
                   checks=checks, started_at=now, checked_at=now, household=hh)

    # -- reading
    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    @property
    def waiting_on(self) -> list[str]:
        """The outside systems whose checks have not answered yet."""
        return [c.name for c in self.checks if c.status == "pending"]

    @property
    def complete(self) -> bool:
        return not self.waiting_on

    @property
    def passed(self) -> bool | None:
        """None while something is pending; then whether nothing failed (warnings pass)."""
        if not self.complete:
            return None
        return all(c.status in ("passed", "warning") for c in self.checks)

    # -- answers and failures
    def _set(self, new: Check) -> None:
        self.checks = [new if c.name == new.name else c for c in self.checks]

    def record_dukcapil(self, answers: Sequence[DukcapilAnswer]) -> None:
        """Dukcapil's answer for each member, in member order."""
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
        evidence: Evidence = {"members": len(answers), "matched": len(answers) - len(problems)}
        if problems:
            self._set(Check(DUKCAPIL, "failed", "; ".join(problems), evidence))
        else:
            self._set(Check(DUKCAPIL, "passed", f"{len(answers)} member(s) matched (padan)", evidence))

    def record_dtsen(self, desils: Sequence[int | None]) -> None:
        """DTSEN's desil for each member, in member order (None: the member is not in DTSEN).
        The household's desil is the lowest among the members found; a household DTSEN does
        not know is a warning, not a failure: new entries are what the register is for."""
        found = [d for d in desils if d is not None]
        if not found:
            self.desil = None
            self._set(Check(DTSEN, "warning", "household not in DTSEN (a new entry)",
                            {"desil": None, "members_found": 0}))
            return
        self.desil = min(found)
        self._set(Check(DTSEN, "passed", f"desil {self.desil} ({len(found)} of {len(desils)} member(s) in DTSEN)",
                        {"desil": self.desil, "members_found": len(found)}))

    def mark_unavailable(self, system: str, reason: str) -> None:
        """The system did not answer (down, slow, rate limiting): its check stays pending."""
        current = self.check(system)
        if current.status != "pending":
            return  # an answer already in stands
        self._set(Check(system, "pending", f"{system} unavailable, asked again later: {reason}"))

    # -- deciding
    def decide(self, now: datetime) -> list[Event]:
        """What the round says after the latest answers: ChecksPending while something waits
        (only when the systems waited on changed), ChecksCompleted once all have answered
        (once, whatever else arrives later)."""
        self.checked_at = now
        events: list[Event] = []
        results = [c.result() for c in self.checks]
        if self.complete:
            self.household = None  # no need to keep the members once nobody has to be asked
            self.next_attempt_at = None
            if not self.announced.completed:
                events.append(ChecksCompleted(proposal_id=self.proposal_id, household_id=self.household_id,
                                              checks=results, passed=bool(self.passed), round=self.round,
                                              desil=self.desil))
                self.announced = Announced(self.announced.waiting_on, completed=True)
            return events
        waiting = tuple(self.waiting_on)
        if waiting != self.announced.waiting_on:
            events.append(ChecksPending(proposal_id=self.proposal_id, household_id=self.household_id,
                                        checks=results, waiting_on=list(waiting), round=self.round))
            self.announced = Announced(waiting, completed=False)
        return events

    def schedule_retry(self, at: datetime) -> None:
        """Something still waits: ask again at `at` (the caller's backoff decides when)."""
        if self.complete:
            raise ValueError("a complete check set asks nobody again")
        self.failed_attempts += 1
        self.next_attempt_at = at

    def due(self, now: datetime) -> bool:
        """Whether the outside systems should be asked again now."""
        return not self.complete and (self.next_attempt_at is None or self.next_attempt_at <= now)


def open_round(current: CheckSet | None, submitted: ProposalSubmitted, now: datetime) -> CheckSet | None:
    """A fresh check set for a submission's round, or None when that round (or a later one)
    already has one: a redelivered or stale ProposalSubmitted changes nothing."""
    if current is not None and submitted.round <= current.round:
        return None
    return CheckSet.open(submitted, now)
