"""Verification use cases: load the case, ask the domain (domain/case.py and the ladder table
in domain/ladder.py), store the case and its events in one write. No rule is decided here."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from siks_contracts.actor import Actor, system_actor
from siks_contracts.envelope import Envelope, TraceContext, new_envelope
from siks_contracts.events import BeneficiaryStatusChanged, ChecksCompleted, ChecksPending, DecreeIssued, ProposalSubmitted
from siks_kit.runtime.clock import Clock
from siks_kit.bus.consumer import Item
from siks_kit.bus.outbox import outbox_entry
from siks_kit.web.problems import PROBLEM, Conflict, NotFound, Problem
from siks_kit.store.documents import Database
from siks_kit.observability.metrics import count_unmatched
from siks_kit.observability.tracing import link_current_span

from .commands import Approve, Validate, Verify, WithReason
from .domain.case import Case, CaseRules, CheckRound, Command, DecreeRef, Decision, Refused, Why
from .domain.ladder import Action
from .store.cases import CaseStore

SERVICE = "verification"
# A bulk handler's answer for an event it leaves to the one-at-a-time handler.
_ONE_AT_A_TIME = LookupError("decided one at a time")

log = logging.getLogger(__name__)
WRITE_ATTEMPTS = 5  # conditional writes that lost to a concurrent one: load again and decide again

# How each kind of refusal reaches a person: status and problem type (docs/problems.md).
_PROBLEM = {Why.ROLE: (403, PROBLEM.forbidden), Why.AREA: (403, PROBLEM.forbidden),
            Why.INPUT: (422, PROBLEM.validation), Why.NOT_ON_LADDER: (409, PROBLEM.conflict),
            Why.STAGE: (409, PROBLEM.conflict), Why.CHECKS: (409, PROBLEM.conflict),
            Why.SEPARATION_OF_DUTIES: (409, PROBLEM.separation_of_duties),
            Why.PROGRAMME_RULE: (409, PROBLEM.programme_rule), Why.DEADLINE: (409, PROBLEM.deadline_passed)}


def problem_of(refusal: Refused) -> Problem:
    facts = dict(refusal.facts)
    pointer = facts.pop("pointer", None)
    if pointer:
        facts["errors"] = [{"pointer": pointer, "detail": refusal.detail}]
    status, kind = _PROBLEM[refusal.why]
    return Problem(status, refusal.detail, type_=kind, **facts)


@dataclass
class VerificationDeps:
    cases: CaseStore
    clock: Clock
    rules: CaseRules

    @classmethod
    def build(cls, db: Database, clock: Clock, rules: CaseRules | None = None) -> "VerificationDeps":
        return cls(CaseStore(db), clock, rules or CaseRules())

    async def prepare(self) -> None:
        await self.cases.prepare()


def _outbox(decision: Decision, actor: Actor, causation: Envelope | None = None) -> list[dict[str, Any]]:
    case = decision.case
    return [outbox_entry(new_envelope(payload=e, occurred_at=e.at, producer=SERVICE, actor=actor,
                                      region_code=case.region_code, causation=causation), case.proposal_id)
            for e in decision.events]


async def _save(deps: VerificationDeps, loaded: Case, decision: Decision, actor: Actor,
                causation: Envelope | None = None) -> bool:
    if decision.case.version == loaded.version:
        return True  # nothing changed: a redelivery, or results of a round already over
    return await deps.cases.save(decision.case, loaded.version, _outbox(decision, actor, causation))


# ---------------------------------------------------------------------- events from other services


async def on_proposal_submitted(deps: VerificationDeps, envelope: Envelope, p: ProposalSubmitted) -> None:
    """A first submission opens the case (with any check results that came first); a
    resubmission (round n) takes it back to `submitted`."""
    now = deps.clock.now()
    extra = _origin(envelope)
    if p.round == 1:  # the common case: nothing stored yet, one insert and no read
        decision = Case.open(p, envelope.actor, now)
        if await deps.cases.insert(decision.case, _outbox(decision, envelope.actor, envelope), extra,
                                   placeholder=None):
            return
    for _ in range(WRITE_ATTEMPTS):
        case, doc = await deps.cases.load(p.proposal_id)
        now = deps.clock.now()
        if case is None:
            decision = Case.open(p, envelope.actor, now, early=_early_checks(doc, p.round))
            if await deps.cases.insert(decision.case, _outbox(decision, envelope.actor, envelope), extra,
                                       placeholder=doc):
                return
            continue  # opened by a redelivery, or results arrived meanwhile: look again
        if p.round <= case.round:
            return  # redelivered
        try:
            decision = case.act(Action.RESUBMIT, system_actor(envelope.producer), now,
                                Command(proposal=p, by=envelope.actor), deps.rules)
        except Refused as refusal:
            raise _Ignored(refusal) from None
        if await _save(deps, case, decision, envelope.actor, envelope):
            return
    raise Conflict(f"case {p.proposal_id} kept changing while its proposal was recorded")


async def on_proposals_submitted(deps: VerificationDeps, items: Sequence[Item]) -> list[BaseException | None]:
    """First submissions open their cases in one write, and those whose check results came
    first (under load, often hundreds) onto their placeholders in one more; anything else (a
    resubmission, a redelivery, a placeholder that changed meanwhile) goes through
    on_proposal_submitted."""
    now = deps.clock.now()
    opening: list[tuple[int, tuple[Case, list[dict[str, Any]], dict[str, Any]]]] = []
    outcomes: list[BaseException | None] = [_ONE_AT_A_TIME] * len(items)
    for i, item in enumerate(items):
        p, envelope = item.payload, item.envelope
        if p.round != 1:
            continue
        with item.traced():  # each case's first event continues its proposal's trace
            decision = Case.open(p, envelope.actor, now)
            opening.append((i, (decision.case, _outbox(decision, envelope.actor, envelope), _origin(envelope))))
    collided = []
    for (i, _), went_in in zip(opening, await deps.cases.insert_many([new for _, new in opening]), strict=True):
        if went_in:
            outcomes[i] = None
        else:
            collided.append(i)
    if collided:
        await _open_onto_placeholders(deps, items, collided, outcomes, now)
    return outcomes


async def _open_onto_placeholders(deps: VerificationDeps, items: Sequence[Item], collided: list[int],
                                  outcomes: list[BaseException | None], now: datetime) -> None:
    """The collided items whose documents are placeholders open onto them, in one write."""
    stored = await deps.cases.load_many([items[i].payload.proposal_id for i in collided])
    opening: list[tuple[int, tuple[Case, list[dict[str, Any]], dict[str, Any], dict[str, Any]]]] = []
    for i in collided:
        item = items[i]
        placeholder = stored.get(item.payload.proposal_id)
        if placeholder is None or "stage" in placeholder:
            continue  # a case (a redelivery) or gone meanwhile: one at a time
        with item.traced():
            decision = Case.open(item.payload, item.envelope.actor, now,
                                 early=_early_checks(placeholder, item.payload.round))
            opening.append((i, (decision.case, _outbox(decision, item.envelope.actor, item.envelope),
                                _origin(item.envelope), placeholder)))
    if opening:
        for (i, _), opened in zip(opening, await deps.cases.open_onto_placeholders([o for _, o in opening]),
                                  strict=True):
            if opened:
                outcomes[i] = None


def _origin(envelope: Envelope) -> dict[str, Any]:
    return {"origin_trace": envelope.trace.model_dump() if envelope.trace else None}


class _Ignored(Exception):
    """An event the case cannot take (it moved on meanwhile); the consumer dead-letters it with the reason."""

    def __init__(self, refusal: Refused) -> None:
        super().__init__(f"{refusal.why}: {refusal.detail}")


def _early_checks(doc: dict[str, Any] | None, round_: int) -> CheckRound | None:
    early = (doc or {}).get("early") or {}
    if (done := early.get("completed")) and done.get("round", 1) == round_:
        c = ChecksCompleted.model_validate(done)
        return CheckRound(c.round, tuple(c.checks), c.passed, (), c.desil)
    if (waiting := early.get("pending")) and waiting.get("round", 1) == round_:
        w = ChecksPending.model_validate(waiting)
        return CheckRound(w.round, tuple(w.checks), None, tuple(w.waiting_on))
    return None


async def on_checks_completed(deps: VerificationDeps, envelope: Envelope, c: ChecksCompleted) -> None:
    await _record(deps, c.proposal_id, "completed", c, lambda case: case.record_checks(c))


async def on_checks_pending(deps: VerificationDeps, envelope: Envelope, c: ChecksPending) -> None:
    await _record(deps, c.proposal_id, "pending", c, lambda case: case.record_pending(c))


async def on_checks_completed_many(deps: VerificationDeps, items: Sequence[Item]) -> list[BaseException | None]:
    """Results for many cases: one read, each case decided, the changed ones saved in one
    guarded write. A case not open yet, or written meanwhile, goes through on_checks_completed."""
    cases = await deps.cases.get_many([item.payload.proposal_id for item in items])
    outcomes: list[BaseException | None] = [_ONE_AT_A_TIME] * len(items)
    saves: list[tuple[int, tuple[Case, int, list[dict[str, Any]]]]] = []
    early: list[int] = []
    for i, item in enumerate(items):
        if (case := cases.get(item.payload.proposal_id)) is None:
            early.append(i)
            continue
        with item.traced():  # the case's events continue the results' trace
            decision = case.record_checks(item.payload)
            if decision.case.version == case.version:
                outcomes[i] = None  # nothing changed: a redelivery, or a round already over
                continue
            saves.append((i, (decision.case, case.version, _outbox(decision, system_actor(SERVICE)))))
    for (i, _), saved in zip(saves, await deps.cases.save_many([save for _, save in saves]) if saves else [],
                             strict=True):
        if saved:
            outcomes[i] = None
    if early:  # before their cases (under load, often hundreds): a placeholder each, in one write
        waiting = []
        for i in early:
            with items[i].traced():  # each result's handling is a span of its own trace, as for the rest
                waiting.append((items[i].payload.proposal_id, "completed", items[i].payload.model_dump(mode="json")))
        kept = await deps.cases.keep_early_many(waiting)
        for i, went_in in zip(early, kept, strict=True):
            if went_in:
                outcomes[i] = None
    return outcomes


async def _record(deps: VerificationDeps, case_id: str, field: str, payload: Any, decide) -> None:
    for _ in range(WRITE_ATTEMPTS):  # a concurrent write (a person acting) moves the version
        case = await deps.cases.get(case_id)
        if case is None:
            if await deps.cases.keep_early(case_id, field, payload.model_dump(mode="json")):
                return
            continue  # the case opened meanwhile
        if await _save(deps, case, decide(case), system_actor(SERVICE)):
            return
    raise Conflict(f"case {case_id} kept changing while its check results were recorded")


async def on_decree_issued(deps: VerificationDeps, envelope: Envelope, d: DecreeIssued) -> None:
    """A deprecated v1 record (replays): the same as each of its entries' events."""
    for entry in d.changes():
        await on_beneficiary_status_changed(deps, envelope, entry)


async def on_beneficiary_status_changed(deps: VerificationDeps, envelope: Envelope,
                                        entry: BeneficiaryStatusChanged) -> None:
    """The case an issued decree lists takes the ladder's `decree` step; one already decreed
    stays. A case this service never held is counted, not dropped silently."""
    case = await deps.cases.get(entry.proposal_id)
    if case is None:
        count_unmatched(envelope.type, log)
        return
    if case.decree_id == entry.decree_id:
        return  # a redelivery
    try:
        # The decree service takes the ladder's system step, for the Minister who issued it.
        decision = case.act(Action.DECREE, system_actor(envelope.producer), deps.clock.now(),
                            Command(decree=DecreeRef(entry.decree_id, entry.number, entry.program), by=envelope.actor),
                            deps.rules)
    except Refused:
        return  # the case is not at `approved` (it cannot be: the decree took approved cases only)
    await _save(deps, case, decision, envelope.actor, envelope)


# ---------------------------------------------------------------------- people acting


async def _load(deps: VerificationDeps, actor: Actor, case_id: str) -> tuple[Case, dict[str, Any]]:
    case, doc = await deps.cases.load(case_id)
    if case is None:
        raise NotFound(f"case {case_id}")
    if not actor.covers(case.region_code):
        raise Problem(403, "the case's region is outside your scope", type_=PROBLEM.forbidden)
    return case, doc


async def read_case(deps: VerificationDeps, actor: Actor, case_id: str) -> Case:
    return (await _load(deps, actor, case_id))[0]


async def read_cases(deps: VerificationDeps, actor: Actor, case_ids: list[str]) -> tuple[list[Case], list[str], list[str]]:
    """Several cases in one read: those the actor may see (in the order asked), the ids of no
    case, and the ids of cases outside the actor's area (as `read_case` answers 404 and 403)."""
    found = await deps.cases.get_many(list(dict.fromkeys(case_ids)))
    cases, not_found, forbidden = [], [], []
    for case_id in dict.fromkeys(case_ids):
        if (case := found.get(case_id)) is None:
            not_found.append(case_id)
        elif actor.covers(case.region_code):
            cases.append(case)
        else:
            forbidden.append(case_id)
    return cases, not_found, forbidden


def _command(body: Verify | Validate | WithReason) -> Command:
    return Command(note=getattr(body, "note", None), reason_code=getattr(body, "reason_code", None),
                   desil=getattr(body, "desil", None), desil_reason=getattr(body, "desil_reason", None))


async def move_case(deps: VerificationDeps, actor: Actor, case_id: str, action: Action,
                    body: Verify | Validate | WithReason) -> Case:
    case, doc = await _load(deps, actor, case_id)
    link_current_span(TraceContext(**doc["origin_trace"]) if doc.get("origin_trace") else None)
    try:
        decision = case.act(action, actor, deps.clock.now(), _command(body), deps.rules)
    except Refused as refusal:
        raise problem_of(refusal) from None
    if not await _save(deps, case, decision, actor):
        raise Problem(409, "the case changed while you were working on it; reload and try again",
                      type_=PROBLEM.stale_version)
    return decision.case


async def approve_batch(deps: VerificationDeps, actor: Actor, cmd: Approve) -> tuple[list[Case], str | None]:
    """Pengesahan: every case is decided first; if any is refused, nothing moves (409 listing why)."""
    now = deps.clock.now()
    command = Command(reference=cmd.reference, approval_date=cmd.date, roll_over=cmd.roll_over, note=cmd.note)
    decided: list[tuple[Case, Decision]] = []
    problems: list[dict[str, Any]] = []
    for case_id in dict.fromkeys(cmd.case_ids):
        case = await deps.cases.get(case_id)
        if case is None or not actor.covers(case.region_code):
            # Out of scope reads as not found: a refusal never tells what lies outside your area.
            problems.append({"case_id": case_id, "problem": "not found in your region"})
            continue
        try:
            decided.append((case, case.act(Action.APPROVE, actor, now, command, deps.rules)))
        except Refused as refusal:
            problems.append({"case_id": case_id, "problem": refusal.detail, "kind": refusal.why.value,
                             **{k: v for k, v in refusal.facts.items() if k in ("rule", "next_period", "deadline")}})
    if problems:
        kinds = {p.get("kind") for p in problems}
        status = 403 if kinds <= {Why.ROLE.value} else 409
        first = problems[0]["problem"]
        raise Problem(status, f"{len(problems)} of {len(cmd.case_ids)} cases cannot be approved; none was. "
                              f"First: {first}", type_=PROBLEM.forbidden if status == 403 else PROBLEM.conflict,
                      cases=problems)
    approved = []
    for case, decision in decided:
        if not await _save(deps, case, decision, actor):
            raise Conflict(f"case {case.proposal_id} changed while the batch was approved; the cases before it "
                           "were approved, reload and approve the rest", approved=[c.proposal_id for c in approved])
        approved.append(decision.case)
    return approved, approved[0].period if approved else None
