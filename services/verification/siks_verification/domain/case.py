"""The case of one proposal as it climbs the ladder. Every change goes through `Case.act` with
a row of the ladder table (ladder.py), or through the check results integration reports.
Each method returns a Decision (the new case and the events it causes) or raises Refused.
No I/O, no clock: the caller passes `at` and what the rules need (CaseRules)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from siks_contracts.actor import Actor
from siks_contracts.enums import ProposalKind, Program, RemovalReason, Role, Stage
from siks_contracts.events import (
    CaseStageChanged,
    CheckResult,
    ChecksCompleted,
    ChecksPending,
    HouseholdSnapshot,
    ProposalSubmitted,
)
from siks_contracts.programs import DEFAULT_PROGRAM_RULES, ProgramRules
from siks_contracts.schedule import DEFAULT_CALENDAR, Calendar

from .ladder import Action, Area, Guard, Transition, transition_for


class Why(StrEnum):
    """Kinds of refusal; the application layer turns each into its HTTP status and type."""

    ROLE = "role"  # 403
    AREA = "area"  # 403
    NOT_ON_LADDER = "not_on_ladder"  # 409: the action is not on this kind's ladder
    STAGE = "stage"  # 409
    CHECKS = "checks"  # 409
    SEPARATION_OF_DUTIES = "separation_of_duties"  # 409
    PROGRAMME_RULE = "programme_rule"  # 409
    DEADLINE = "deadline"  # 409
    INPUT = "input"  # 422


class Refused(Exception):
    def __init__(self, why: Why, detail: str, **facts: object) -> None:
        super().__init__(detail)
        self.why, self.detail, self.facts = why, detail, facts


@dataclass(frozen=True)
class HistoryEntry:
    stage: Stage
    actor: str
    role: Role
    at: datetime
    round: int
    reason: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class CheckRound:
    """Integration's results for one round of checks; `passed` is None until all are in."""

    round: int
    checks: tuple[CheckResult, ...] = ()
    passed: bool | None = None
    waiting_on: tuple[str, ...] = ()
    desil: int | None = None

    @property
    def complete(self) -> bool:
        return self.passed is not None


@dataclass(frozen=True)
class CaseRules:
    """What the guards need besides the case: programme rules, the calendar, policy."""

    programs: ProgramRules = field(default_factory=lambda: DEFAULT_PROGRAM_RULES)
    calendar: Calendar = field(default_factory=lambda: DEFAULT_CALENDAR)
    separation_of_duties: bool = True


@dataclass(frozen=True)
class Command:
    """The inputs a person (or an event) brings to an action; unused fields stay None."""

    note: str | None = None
    reason_code: str | None = None
    desil: int | None = None
    desil_reason: str | None = None
    reference: str | None = None
    approval_date: date | None = None
    roll_over: bool = False
    proposal: ProposalSubmitted | None = None
    decree: DecreeRef | None = None
    # For the system's steps (an event from the owning service): the person behind the event,
    # who the history names.
    by: Actor | None = None

    def has(self, name: str) -> bool:
        return getattr(self, name) not in (None, "")


@dataclass(frozen=True)
class DecreeRef:
    decree_id: str
    number: str
    program: Program


@dataclass(frozen=True)
class Case:
    proposal_id: str
    household_id: str
    program: Program
    kind: ProposalKind
    region_code: str
    household: HouseholdSnapshot
    stage: Stage
    round: int
    opened_at: datetime
    checks: CheckRound
    history: tuple[HistoryEntry, ...] = ()
    version: int = 1
    # Results of a round the case has not reached yet: integration may hear a resubmission
    # before verification does (the topics are consumed side by side). The round takes them.
    next_checks: CheckRound | None = None
    removal_reason: RemovalReason | None = None
    desil: int | None = None  # as validated (confirmed or overridden)
    desil_reason: str | None = None
    tier: int | None = None
    period: str | None = None
    approval_reference: str | None = None
    approval_date: date | None = None
    decree_id: str | None = None
    decree_number: str | None = None

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, proposal: ProposalSubmitted, actor: Actor, at: datetime,
             early: CheckRound | None = None) -> Decision:
        """A new case from the registry's proposal; results that came first are kept."""
        checks = early if early is not None and early.round == proposal.round else CheckRound(proposal.round)
        case = cls(proposal_id=proposal.proposal_id, household_id=proposal.household_id, program=proposal.program,
                   kind=proposal.kind, region_code=proposal.household.region_code, household=proposal.household,
                   stage=Stage.SUBMITTED, round=proposal.round, opened_at=at, checks=checks,
                   removal_reason=proposal.removal_reason or _default_removal(proposal.kind), version=0)
        entry = HistoryEntry(Stage.SUBMITTED, actor.sub, actor.role, proposal.submitted_at, proposal.round)
        # Opening says nothing on Kafka: the registry's proposal_submitted said it already, and
        # a `submitted` stage change was read by the registry and decree only to be dropped.
        return Decision(case._moved(Stage.SUBMITTED, entry, previous=None).case)

    # ------------------------------------------------------------------ people and events acting

    def act(self, action: Action, actor: Actor, at: datetime, cmd: Command | None = None,
            rules: CaseRules | None = None) -> Decision:
        """Takes one step of the ladder: the row for (action, kind) decides whether and where."""
        cmd, rules = cmd or Command(), rules or CaseRules()
        row = transition_for(action, self.kind)
        if row is None:
            raise Refused(Why.NOT_ON_LADDER, f"a {self.kind} case has no '{action}' step on its ladder")
        self._admit(row, actor, cmd)
        for guard in row.guards:
            GUARDS[guard](self, actor, at, cmd, rules)
        return self._apply(row, actor, at, cmd, rules)

    def _admit(self, row: Transition, actor: Actor, cmd: Command) -> None:
        if actor.role not in row.roles:
            allowed = ", ".join(sorted(row.roles))
            raise Refused(Why.ROLE, f"role {actor.role} may not {row.action} a case; allowed: {allowed}")
        if row.area is Area.CASE_REGION and not actor.covers(self.region_code):
            raise Refused(Why.AREA, f"the case's region is outside your scope ({actor.region})")
        if self.stage not in row.from_stages:
            allowed = ", ".join(sorted(s.value for s in row.from_stages))
            raise Refused(Why.STAGE, f"cannot {row.action} a case at stage {self.stage}; it must be at {allowed}",
                          stage=self.stage.value)
        missing = [name for name in row.inputs if not cmd.has(name)]
        if missing:
            raise Refused(Why.INPUT, f"{row.action} needs {', '.join(missing)}", missing=missing)

    def _apply(self, row: Transition, actor: Actor, at: datetime, cmd: Command, rules: CaseRules) -> Decision:
        changes: dict[str, object] = {}
        reason, note = cmd.reason_code, cmd.note
        if row.action is Action.RESUBMIT:
            p = cmd.proposal
            early = self.next_checks if self.next_checks is not None and self.next_checks.round == p.round else None
            changes = {"round": p.round, "household": p.household, "checks": early or CheckRound(p.round),
                       "next_checks": None}
            at = p.submitted_at
        elif row.action is Action.VALIDATE:
            desil = cmd.desil if cmd.desil is not None else self.checks.desil
            changes = {"desil": desil, "desil_reason": cmd.desil_reason,
                       "tier": rules.programs.for_program(self.program).judge_desil(desil).tier}
        elif row.action is Action.APPROVE:
            on = cmd.approval_date or rules.calendar.local(at).date()
            placed = rules.calendar.place_approval(self.program, on, roll_over=cmd.roll_over)
            changes = {"approval_reference": cmd.reference, "approval_date": on, "period": placed.period}
        elif row.action is Action.DECREE:
            changes = {"decree_id": cmd.decree.decree_id, "decree_number": cmd.decree.number}
            note = f"SK {cmd.decree.number}"
        person = cmd.by or actor
        entry = HistoryEntry(row.to, person.sub, person.role, at, changes.get("round", self.round), reason, note)
        return replace(self, **changes)._moved(row.to, entry, previous=self.stage, reason=reason, note=note)

    def _moved(self, to: Stage, entry: HistoryEntry, *, previous: Stage | None, reason: str | None = None,
               note: str | None = None) -> Decision:
        case = replace(self, stage=to, history=(*self.history, entry), version=self.version + 1)
        from_approval = to in (Stage.APPROVED, Stage.DECREED)
        event = CaseStageChanged(
            proposal_id=case.proposal_id, household_id=case.household_id, program=case.program,
            region_code=case.region_code, stage=to, previous_stage=previous, at=entry.at, reason_code=reason,
            note=note, desil=case.desil, approval_reference=case.approval_reference,
            household=case.household if from_approval else None, kind=case.kind, round=case.round,
            period=case.period if from_approval else None,
            removal_reason=case.removal_reason if from_approval else None, tier=case.tier)
        return Decision(case, (event,))

    # ------------------------------------------------------------------ integration's results

    def record_checks(self, result: ChecksCompleted) -> Decision:
        """The results of a round; an older round, or one already recorded, changes nothing; a
        later round's wait for the resubmission that opens it."""
        current = self._round_of(result.round)
        if current is None or current.complete:
            return Decision(self)
        return self._with_round(CheckRound(result.round, tuple(result.checks), result.passed, (), result.desil))

    def record_pending(self, pending: ChecksPending) -> Decision:
        current = self._round_of(pending.round)
        if current is None or current.complete:
            return Decision(self)
        waiting = tuple(pending.waiting_on)
        if waiting == current.waiting_on and tuple(pending.checks) == current.checks:
            return Decision(self)
        return self._with_round(replace(current, checks=tuple(pending.checks), waiting_on=waiting))

    def _round_of(self, round_: int) -> CheckRound | None:
        """What the case holds for that round of checks; None for a round that is past."""
        if round_ == self.round:
            return self.checks
        if round_ > self.round:
            kept = self.next_checks
            return kept if kept is not None and kept.round == round_ else CheckRound(round_)
        return None

    def _with_round(self, checks: CheckRound) -> Decision:
        if checks.round == self.round:
            return Decision(replace(self, checks=checks, version=self.version + 1))
        return Decision(replace(self, next_checks=checks, version=self.version + 1))

    # ------------------------------------------------------------------ what a reader sees

    @property
    def waiting_on(self) -> list[str]:
        """Who or what the case waits for now: outside systems, a role, or nothing."""
        if self.stage is Stage.SUBMITTED:
            if not self.checks.complete:
                return list(self.checks.waiting_on) or ["integration"]
            return [Role.SUPERVISOR_KABKOTA.value] if self.checks.passed else [Role.OPERATOR_DESA.value]
        if self.stage is Stage.VERIFIED:
            return [(Role.KEPALA_DAERAH if self.kind in _SHORT_LADDER else Role.VALIDATOR_BPS).value]
        if self.stage is Stage.VALIDATED:
            return [Role.KEPALA_DAERAH.value]
        if self.stage is Stage.APPROVED and self.kind not in (ProposalKind.UPDATE,):
            return ["decree"]
        if self.stage is Stage.RETURNED:
            return [Role.OPERATOR_DESA.value]
        return []

    def last_actor_at(self, stage: Stage) -> str | None:
        """Who moved the case to `stage` in its current round (for separation of duties)."""
        return next((h.actor for h in reversed(self.history) if h.stage == stage and h.round == self.round), None)


@dataclass(frozen=True)
class Decision:
    case: Case
    events: tuple[CaseStageChanged, ...] = field(default=())


_SHORT_LADDER = frozenset({ProposalKind.INELIGIBILITY})


def _default_removal(kind: ProposalKind) -> RemovalReason | None:
    return RemovalReason.INELIGIBLE if kind is ProposalKind.INELIGIBILITY else None


# ---------------------------------------------------------------------- guards


def _newer_round(case: Case, actor: Actor, at: datetime, cmd: Command, rules: CaseRules) -> None:
    if cmd.proposal.round <= case.round:
        raise Refused(Why.STAGE, f"round {cmd.proposal.round} is not newer than the case's round {case.round}")


def _checks_passed(case: Case, actor: Actor, at: datetime, cmd: Command, rules: CaseRules) -> None:
    if case.checks.passed is True:
        return
    if case.checks.passed is None:
        waiting = ", ".join(case.checks.waiting_on) or "integration"
        raise Refused(Why.CHECKS, f"cannot verify: the checks of round {case.round} have not all arrived "
                                  f"(waiting on {waiting})", waiting_on=list(case.checks.waiting_on))
    failed = ", ".join(c.name for c in case.checks.checks if c.status == "failed")
    raise Refused(Why.CHECKS, f"cannot verify: the checks did not pass ({failed}); return the case for correction")


def _not_the(stage: Stage, duty: str):
    def guard(case: Case, actor: Actor, at: datetime, cmd: Command, rules: CaseRules) -> None:
        if rules.separation_of_duties and case.last_actor_at(stage) == actor.sub:
            raise Refused(Why.SEPARATION_OF_DUTIES,
                          f"separation of duties: the person who {duty} this case may not also {_next_step(case)} it",
                          rule=f"separation_of_duties:{stage}")
    return guard


def _next_step(case: Case) -> str:
    return {Stage.VERIFIED: "validate" if case.kind not in _SHORT_LADDER else "approve",
            Stage.VALIDATED: "approve"}.get(case.stage, "move")


def _desil_override_reasoned(case: Case, actor: Actor, at: datetime, cmd: Command, rules: CaseRules) -> None:
    found = case.checks.desil
    if cmd.desil is not None and found is not None and cmd.desil != found and not cmd.desil_reason:
        raise Refused(Why.INPUT, f"DTSEN ranks this household desil {found}; overriding it with {cmd.desil} "
                                 "needs a desil_reason", pointer="/desil_reason")


def _programme_rule(case: Case, actor: Actor, at: datetime, cmd: Command, rules: CaseRules) -> None:
    desil = case.desil if case.stage is Stage.VALIDATED else (cmd.desil if cmd.desil is not None else case.checks.desil)
    on = cmd.approval_date or rules.calendar.local(at).date()
    verdict = rules.programs.for_program(case.program).judge(desil, [m.birth_date for m in case.household.members], on)
    if not verdict.allowed:
        raise Refused(Why.PROGRAMME_RULE, f"outside the programme rule '{verdict.rule}': {verdict.detail}",
                      rule=verdict.rule)


def _approval_dated(case: Case, actor: Actor, at: datetime, cmd: Command, rules: CaseRules) -> None:
    today = rules.calendar.local(at).date()
    if cmd.approval_date is not None and cmd.approval_date > today:
        raise Refused(Why.INPUT, f"an approval cannot be dated after today ({today.isoformat()})", pointer="/date")


def _approval_deadline(case: Case, actor: Actor, at: datetime, cmd: Command, rules: CaseRules) -> None:
    on = cmd.approval_date or rules.calendar.local(at).date()
    placed = rules.calendar.place_approval(case.program, on, roll_over=cmd.roll_over)
    if placed.too_late:
        raise Refused(Why.DEADLINE,
                      f"approvals for {case.program} in {on:%Y-%m} closed on {placed.deadline.isoformat()} "
                      f"({rules.calendar.timezone}); the next window is period {placed.next_period}, open for "
                      f"approvals until {placed.next_deadline.isoformat()}: send roll_over=true to put the case there",
                      deadline=placed.deadline.isoformat(), next_period=placed.next_period,
                      next_deadline=placed.next_deadline.isoformat())


def _decree_of_programme(case: Case, actor: Actor, at: datetime, cmd: Command, rules: CaseRules) -> None:
    if cmd.decree.program != case.program:
        raise Refused(Why.STAGE, f"a {cmd.decree.program} decree cannot decree a {case.program} case")


GUARDS = {
    Guard.NEWER_ROUND: _newer_round,
    Guard.CHECKS_PASSED: _checks_passed,
    Guard.NOT_THE_VERIFIER: _not_the(Stage.VERIFIED, "verified"),
    Guard.NOT_THE_VALIDATOR: _not_the(Stage.VALIDATED, "validated"),
    Guard.DESIL_OVERRIDE_REASONED: _desil_override_reasoned,
    Guard.PROGRAMME_RULE: _programme_rule,
    Guard.APPROVAL_DATED: _approval_dated,
    Guard.APPROVAL_DEADLINE: _approval_deadline,
    Guard.DECREE_OF_PROGRAMME: _decree_of_programme,
}
