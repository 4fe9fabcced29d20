"""Verification use cases: open a case, record checks, move it up (or off) the ladder."""

from dataclasses import dataclass
from typing import Any

from siks_contracts.actor import Actor
from siks_contracts.enums import Program, Stage
from siks_contracts.envelope import Envelope, TraceContext, new_envelope
from siks_contracts.events import CaseStageChanged, ChecksCompleted, DecreeIssued, HouseholdSnapshot, ProposalSubmitted
from siks_kit.auth import require_role, require_scope
from siks_kit.clock import Clock
from siks_kit.outbox import outbox_entry
from siks_kit.problems import Conflict, NotFound, Problem
from siks_kit.store import Database
from siks_kit.tracing import link_current_span

from .commands import Approve, Validate, Verify, WithReason
from .domain.ladder import MOVES, IllegalMove, check_move
from .store.cases import CaseStore

SERVICE = "verification"


@dataclass
class VerificationDeps:
    cases: CaseStore
    clock: Clock

    @classmethod
    def build(cls, db: Database, clock: Clock) -> "VerificationDeps":
        return cls(CaseStore(db), clock)

    async def prepare(self) -> None:
        await self.cases.prepare()


def public_case(doc: dict[str, Any]) -> dict[str, Any]:
    keys = ("household_id", "stage", "program", "kind", "region_code", "checks", "checks_passed", "desil",
            "history", "opened_at", "approval_reference", "version")
    return {"proposal_id": doc["_id"], **{k: doc.get(k) for k in keys}}


def _stage_event(doc: dict[str, Any], to: Stage, actor: Actor, now, *, causation: Envelope | None = None,
                 **extra: Any) -> Envelope:
    payload = CaseStageChanged(proposal_id=doc["_id"], household_id=doc["household_id"],
                               program=Program(doc["program"]), region_code=doc["region_code"], stage=to,
                               previous_stage=Stage(doc["stage"]) if doc.get("stage") else None, at=now, **extra)
    return new_envelope(payload=payload, occurred_at=now, producer=SERVICE, actor=actor,
                        region_code=doc["region_code"], causation=causation)


async def on_proposal_submitted(deps: VerificationDeps, envelope: Envelope, p: ProposalSubmitted) -> None:
    now = deps.clock.now()
    doc = {"_id": p.proposal_id, "household_id": p.household_id, "program": p.program.value, "kind": p.kind.value,
           "region_code": p.household.region_code, "opened_at": now, "version": 1,
           "household": p.household.model_dump(mode="json"), "origin_trace": envelope.trace.model_dump()
           if envelope.trace else None, "seen": [envelope.event_id]}
    event = _stage_event(doc, Stage.SUBMITTED, envelope.actor, now, causation=envelope)
    doc.update(stage=Stage.SUBMITTED.value,
               history=[{"stage": "submitted", "actor": envelope.actor.sub, "role": envelope.actor.role.value,
                         "at": p.submitted_at, "reason": None}],
               outbox=[outbox_entry(event, p.proposal_id)])
    doc["checks"], doc["checks_passed"] = [], None
    await deps.cases.open(doc)  # False on a redelivery: the case is already open


async def on_checks_completed(deps: VerificationDeps, envelope: Envelope, c: ChecksCompleted) -> None:
    fields = {"checks": [x.model_dump() for x in c.checks], "checks_passed": c.passed,
              "checks_at": deps.clock.now()}
    await deps.cases.record_checks(c.proposal_id, envelope.event_id, fields)


async def _load(deps: VerificationDeps, actor: Actor, case_id: str) -> dict[str, Any]:
    doc = await deps.cases.get(case_id)
    if doc is None:
        raise NotFound(f"case {case_id}")
    require_scope(actor, doc["region_code"])
    return doc


async def read_case(deps: VerificationDeps, actor: Actor, case_id: str) -> dict[str, Any]:
    return public_case(await _load(deps, actor, case_id))


async def move_case(deps: VerificationDeps, actor: Actor, case_id: str, move_name: str,
                    body: Verify | Validate | WithReason, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    move = MOVES[move_name]
    require_role(actor, *move.roles)
    doc = await _load(deps, actor, case_id)
    link_current_span(TraceContext(**doc["origin_trace"]) if doc.get("origin_trace") else None)
    try:
        check_move(move, Stage(doc["stage"]), doc.get("checks_passed"))
    except IllegalMove as exc:
        raise Conflict(str(exc), stage=doc["stage"]) from None
    now = deps.clock.now()
    reason = getattr(body, "reason_code", None)
    note = getattr(body, "note", None)
    desil = getattr(body, "desil", None)
    extra = extra or {}
    event = _stage_event(doc, move.to, actor, now, reason_code=reason, note=note, desil=desil, **extra)
    set_ = {"stage": move.to.value, "updated_at": now}
    if desil is not None:
        set_["desil"] = desil
    if "approval_reference" in extra:
        set_["approval_reference"] = extra["approval_reference"]
    history = {"stage": move.to.value, "actor": actor.sub, "role": actor.role.value, "at": now,
               "reason": reason, "note": note}
    if not await deps.cases.move(case_id, doc["stage"], set_, history, outbox_entry(event, case_id)):
        raise Conflict("the case changed while you were working on it; reload and try again")
    return public_case(await _load(deps, actor, case_id))


async def approve_batch(deps: VerificationDeps, actor: Actor, cmd: Approve) -> dict[str, Any]:
    """Pengesahan: every case must be validated and in the regent's region, else nothing moves."""
    require_role(actor, *MOVES["approve"].roles)
    docs, problems = [], []
    for case_id in dict.fromkeys(cmd.case_ids):
        doc = await deps.cases.get(case_id)
        if doc is None:
            problems.append({"case_id": case_id, "problem": "not found"})
        elif not actor.covers(doc["region_code"]):
            problems.append({"case_id": case_id, "problem": "outside your region"})
        elif doc["stage"] != Stage.VALIDATED.value:
            problems.append({"case_id": case_id, "problem": f"at stage {doc['stage']}, not validated"})
        else:
            docs.append(doc)
    if problems:
        raise Problem(409, f"{len(problems)} of {len(cmd.case_ids)} cases cannot be approved; none was",
                      cases=problems)
    approved = []
    for doc in docs:
        household = HouseholdSnapshot.model_validate(doc["household"])
        result = await move_case(deps, actor, doc["_id"], "approve", Verify(note=None),
                                 extra={"approval_reference": cmd.reference, "household": household})
        approved.append(result["proposal_id"])
    return {"approved": approved, "reference": cmd.reference, "count": len(approved)}


async def on_decree_issued(deps: VerificationDeps, envelope: Envelope, d: DecreeIssued) -> None:
    """Each approved case in the decree becomes `decreed`; the stage guard makes it idempotent."""
    now = deps.clock.now()
    for b in d.beneficiaries:
        doc = await deps.cases.get(b.proposal_id)
        if doc is None or doc["stage"] != Stage.APPROVED.value:
            continue
        event = _stage_event(doc, Stage.DECREED, envelope.actor, now, causation=envelope,
                             note=f"SK {d.number}")
        history = {"stage": "decreed", "actor": envelope.actor.sub, "role": envelope.actor.role.value, "at": now,
                   "reason": None, "note": f"SK {d.number}"}
        await deps.cases.move(b.proposal_id, Stage.APPROVED.value,
                              {"stage": Stage.DECREED.value, "decree_number": d.number, "updated_at": now},
                              history, outbox_entry(event, b.proposal_id))
