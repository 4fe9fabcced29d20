"""Registry use cases: parse -> domain -> store (with the events in the same write)."""

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from siks_contracts.actor import Actor
from siks_contracts.enums import ProposalKind, Role
from siks_contracts.envelope import Envelope, new_envelope
from siks_contracts.events import (
    CaseStageChanged,
    DecreeIssued,
    HouseholdRegistered,
    HouseholdSnapshot,
    ProposalSubmitted,
)
from siks_contracts.schedule import Calendar
from siks_kit.auth import require_role, require_scope
from siks_kit.clock import Clock
from siks_kit.outbox import outbox_entry
from siks_kit.problems import Conflict, NotFound, Problem
from siks_kit.store import Database
from siks_kit.tracing import current_trace_context

from .commands import RegisterHousehold, SubmitProposal
from .domain import household as hh
from .domain.proposal import CLOSING_STAGES, DECREED, SUBMITTED, WindowClosed, require_open_window
from .store.repositories import HouseholdStore, NikClaims, ProposalStore

SERVICE = "registry"


@dataclass
class RegistryDeps:
    households: HouseholdStore
    proposals: ProposalStore
    niks: NikClaims
    clock: Clock
    calendar: Calendar

    @classmethod
    def build(cls, db: Database, clock: Clock, calendar: Calendar) -> "RegistryDeps":
        households = HouseholdStore(db)
        return cls(households, ProposalStore(db), NikClaims(db, households), clock, calendar)

    async def prepare(self) -> None:
        await self.households.prepare()
        await self.proposals.prepare()


def _event(payload: Any, actor: Actor, region: str, now, causation: Envelope | None = None) -> Envelope:
    return new_envelope(payload=payload, occurred_at=now, producer=SERVICE, actor=actor,
                        region_code=region, causation=causation)


async def register_household(deps: RegistryDeps, actor: Actor, cmd: RegisterHousehold) -> dict[str, Any]:
    require_role(actor, Role.OPERATOR_DESA)
    require_scope(actor, cmd.region_code)
    try:
        hh.check_members([hh.MemberFacts(m.nik, m.relation.value) for m in cmd.members])
    except hh.HouseholdRuleBroken as exc:
        raise Problem(422, str(exc)) from None
    niks = [m.nik for m in cmd.members]
    household_id = str(uuid4())
    if holder := await deps.niks.claim(niks, household_id):
        raise Conflict("a member is already registered in another household", household_id=holder)
    now = deps.clock.now()
    doc = {"_id": household_id, "version": 1, "status": hh.REGISTERED, **cmd.model_dump(mode="json"),
           "programs": [], "open_proposals": {}, "documents": [], "created_at": now, "updated_at": now, "created_by": actor.sub,
           "seen": []}
    event = _event(HouseholdRegistered(household_id=household_id, region_code=cmd.region_code,
                                       member_count=len(cmd.members), version=1), actor, cmd.region_code, now)
    doc["outbox"] = [outbox_entry(event, household_id)]
    try:
        await deps.households.add(doc)
    except BaseException:
        await deps.niks.release(niks, household_id)
        raise
    return public_household(doc)


def public_household(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("_id", "outbox", "seen")}
    return {"id": doc["_id"], **out}


async def read_household(deps: RegistryDeps, actor: Actor, household_id: str) -> dict[str, Any]:
    doc = await deps.households.get(household_id)
    if doc is None:
        raise NotFound(f"household {household_id}")
    require_scope(actor, doc["region_code"])
    return public_household(doc)


async def search_households(deps: RegistryDeps, actor: Actor, *, nik: str | None, region: str | None,
                            q: str | None, limit: int, offset: int) -> dict[str, Any]:
    """Within the caller's scope: their own region unless they name one inside it."""
    prefix = region or actor.region
    if prefix:
        require_scope(actor, prefix)
    elif not actor.covers(""):
        raise Problem(403, "a region is required for your role")
    if nik:
        # One person, one household: the claim names it, an _id read rather than a search.
        holder = await deps.niks.holder(nik)
        doc = await deps.households.get(holder) if holder else None
        found = [doc] if doc and hh.matches(doc, region_prefix=prefix, name_part=q) else []
        items = found[offset:offset + limit]
    else:
        items = await deps.households.search(region_prefix=prefix, q=q, limit=limit, skip=offset)
    return {"items": [public_household(d) for d in items], "limit": limit, "offset": offset}


async def submit_proposal(deps: RegistryDeps, actor: Actor, cmd: SubmitProposal) -> dict[str, Any]:
    require_role(actor, Role.OPERATOR_DESA)
    household = await deps.households.get(cmd.household_id)
    if household is None:
        raise NotFound(f"household {cmd.household_id}")
    require_scope(actor, household["region_code"])
    now = deps.clock.now()
    try:
        require_open_window(deps.calendar, cmd.kind, cmd.program, now)
    except WindowClosed as exc:
        raise Conflict(str(exc), next_opening=exc.next_opening.isoformat() if exc.next_opening else None,
                       program=str(cmd.program)) from None
    proposal_id = str(uuid4())
    await _reserve(deps, household, cmd.program.value, proposal_id)
    snapshot = HouseholdSnapshot(household_id=household["_id"], kk_number=household["kk_number"],
                                 region_code=household["region_code"], members=household["members"])
    event = _event(ProposalSubmitted(proposal_id=proposal_id, household_id=cmd.household_id, kind=cmd.kind,
                                     program=cmd.program, reason=cmd.reason, submitted_at=now,
                                     household=snapshot), actor, household["region_code"], now)
    doc = {"_id": proposal_id, "household_id": cmd.household_id, "kind": cmd.kind.value,
           "program": cmd.program.value, "reason": cmd.reason, "status": SUBMITTED, "submitted_at": now,
           "submitted_by": actor.sub, "region_code": household["region_code"],
           # The trace a human step days later will link back to.
           "origin_trace": (current_trace_context().model_dump() if current_trace_context() else None),
           "outbox": [outbox_entry(event, proposal_id)]}
    try:
        await deps.proposals.add(doc)
    except BaseException:
        await deps.households.release_program(cmd.household_id, cmd.program.value, proposal_id)
        raise
    return public_proposal(doc)


async def _reserve(deps: RegistryDeps, household: dict[str, Any], program: str, proposal_id: str) -> None:
    """Takes the household's one open slot for the programme, or says which proposal holds it."""
    if await deps.households.reserve_program(household["_id"], program, proposal_id):
        return
    holder_id = (household.get("open_proposals") or {}).get(program)
    holder = await deps.proposals.get(holder_id) if holder_id else None
    if holder is None and holder_id and await deps.households.reserve_program(
            household["_id"], program, proposal_id, replacing=holder_id):
        return  # the slot was left by a submission that died before storing its proposal
    raise Conflict(f"household already has an open {program} proposal", proposal_id=holder_id)


def public_proposal(doc: dict[str, Any]) -> dict[str, Any]:
    keys = ("household_id", "kind", "program", "status", "submitted_at", "reason", "region_code")
    return {"id": doc["_id"], **{k: doc.get(k) for k in keys}}


async def read_proposal(deps: RegistryDeps, actor: Actor, proposal_id: str) -> dict[str, Any]:
    doc = await deps.proposals.get(proposal_id)
    if doc is None:
        raise NotFound(f"proposal {proposal_id}")
    require_scope(actor, doc["region_code"])
    return public_proposal(doc)


async def on_decree_issued(deps: RegistryDeps, envelope: Envelope, decree: DecreeIssued) -> None:
    """The household becomes a beneficiary of the decreed programme; its proposal is decreed."""
    now = deps.clock.now()
    programme = {"program": decree.program.value, "period": decree.period, "decree_number": decree.number,
                 "decree_id": decree.decree_id}
    for b in decree.beneficiaries:
        await deps.households.apply_decree(b.household_id, envelope.event_id, programme, hh.BENEFICIARY, now)
        await _close(deps, b.proposal_id, DECREED, now)


async def on_case_stage_changed(deps: RegistryDeps, envelope: Envelope, case: CaseStageChanged) -> None:
    """A returned or rejected case closes its proposal, so the operator may propose again."""
    if case.stage in CLOSING_STAGES:
        await _close(deps, case.proposal_id, case.stage.value, deps.clock.now())


async def _close(deps: RegistryDeps, proposal_id: str, status: str, now) -> None:
    # Both writes are conditional, so a redelivered event matches nothing the second time.
    proposal = await deps.proposals.get(proposal_id)
    if proposal is None:
        return
    await deps.proposals.set_status(proposal_id, status, SUBMITTED, now)
    await deps.households.release_program(proposal["household_id"], proposal["program"], proposal_id)
