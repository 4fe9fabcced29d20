"""Registry use cases: load, ask the domain, store the state with its events in one write.

Rules live in domain/ (Household, Proposal); the order of the writes that span documents
(household and NIK claims, proposal and programme slot) is explained in store/repositories.py.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from pydantic import BaseModel
from siks_contracts.actor import Actor
from siks_contracts.enums import Program, Role
from siks_contracts.envelope import Envelope, new_envelope
from siks_contracts.events import BeneficiaryStatusChanged, CaseStageChanged, DecreeIssued
from siks_contracts.regions import load_regions
from siks_contracts.schedule import Calendar
from siks_kit.web.auth import require_role, require_scope
from siks_kit.runtime.clock import Clock
from siks_kit.bus.outbox import outbox_entry
from siks_kit.web.batch import BatchAdmission, BatchLedger, BatchResults, answer_batch, item_id, taking_turns
from siks_kit.web.problems import Conflict, InProgress, NotFound, Problem
from siks_kit.store.documents import Database, DuplicateKey
from siks_kit.observability.metrics import count_unmatched
from siks_kit.observability.tracing import current_trace_context

from .commands import AmendHousehold, MemberIn, RegisterHousehold, SubmitProposal
from .domain.household import Address, Amendment, Household, Member, refusal_for_claim
from .domain.proposal import PENDING, Proposal
from .domain.refusals import Refused
from .store.repositories import HouseholdStore, NikClaims, ProposalStore, StillUnderWay
from .views import HouseholdOut, HouseholdPage, ProposalOut

SERVICE = "registry"
log = logging.getLogger(__name__)
RETRIES = 5  # of a read-decide-write whose guarded write found the document changed
RACING_ATTEMPT = "an earlier attempt at this item is still under way; repeat the request shortly"


@dataclass
class RegistryDeps:
    households: HouseholdStore
    proposals: ProposalStore
    niks: NikClaims
    clock: Clock
    calendar: Calendar
    lease: timedelta
    batches: BatchLedger
    admission: BatchAdmission

    @classmethod
    def build(cls, db: Database, clock: Clock, calendar: Calendar,
              lease: timedelta = timedelta(seconds=60), admission: BatchAdmission | None = None) -> "RegistryDeps":
        households = HouseholdStore(db)
        return cls(households, ProposalStore(db), NikClaims(db, households, lease), clock, calendar, lease,
                   BatchLedger(db.collection("batches")), admission or BatchAdmission())

    async def prepare(self) -> None:
        await asyncio.to_thread(load_regions)  # every household's codes are checked against it
        await self.households.prepare()
        await self.proposals.prepare()
        await self.batches.prepare()


def problem_of(refusal: Refused) -> Problem:
    errors = [{"pointer": e.pointer, "detail": e.detail} for e in refusal.errors]
    return Problem(refusal.status, refusal.detail, **({"errors": errors} if errors else {}), **refusal.extra)


def _event(payload: BaseModel, actor: Actor, region: str, now: datetime,
           causation: Envelope | None = None) -> Envelope:
    return new_envelope(payload=payload, occurred_at=now, producer=SERVICE, actor=actor,
                        region_code=region, causation=causation)


def _members(members: list[MemberIn]) -> tuple[Member, ...]:
    return tuple(Member(nik=m.nik, name=m.name, sex=m.sex, birth_date=m.birth_date, relation=m.relation,
                        birth_place=m.birth_place) for m in members)


def _within_lease(deps: RegistryDeps, since: datetime) -> None:
    """Claims taken at `since` are ours for a lease; past half of it, stop rather than write
    over a claim someone may have taken over meanwhile (repeating the request is safe)."""
    if deps.clock.now() - since > deps.lease / 2:
        raise Problem(503, "the request took too long to complete safely and was undone; repeat it")


# ---------------------------------------------------------------------- households
async def register_household(deps: RegistryDeps, actor: Actor, cmd: RegisterHousehold,
                             household_id: str | None = None) -> HouseholdOut:
    """`household_id`: chosen by the caller (a batch item's, derived from its Idempotency-Key);
    when a household of that id was stored before, it is the answer, not a second one."""
    require_role(actor, Role.OPERATOR_DESA)
    require_scope(actor, cmd.region_code)
    now = deps.clock.now()
    members = _members(cmd.members)
    registration = Household.register(
        household_id or str(uuid4()), kk_number=cmd.kk_number, region_code=cmd.region_code,
        address=Address(cmd.address.street, cmd.address.rt, cmd.address.rw), members=members,
        housing=cmd.housing, assets=cmd.assets, by=actor.sub, now=now)
    household = registration.household
    if household_id is not None and (earlier := await _registered_before(deps, actor, household_id)) is not None:
        return earlier
    # The claims first, then the household with its event in one insert: see store/repositories.py.
    token = str(uuid4())
    try:
        refused = await deps.niks.claim(household.niks, household.id, now, token)
    except StillUnderWay:
        raise InProgress(RACING_ATTEMPT) from None
    if refused:
        raise refusal_for_claim(household.niks.index(refused))
    event = _event(registration.event, actor, cmd.region_code, now)
    try:
        _within_lease(deps, now)
        await deps.households.add(household, outbox_entry(event, household.id))
    except DuplicateKey:  # an earlier attempt at this item stored it meanwhile; the claims name it too
        if (earlier := await _registered_before(deps, actor, household.id)) is None:
            raise InProgress(RACING_ATTEMPT) from None
        return earlier
    except BaseException:
        await _let_go_unless_stored([household], deps.households.stored,
                                    lambda h: deps.niks.release_own(h.niks, h.id, token))
        raise
    return HouseholdOut.of(household)


async def _let_go_unless_stored(owners: list[Any], stored, let_go) -> None:
    """After a failed insert of new owners (households, proposals): what those that did not go
    in had claimed (NIKs, a slot) is let go. Best effort: left behind, a claim dies with its
    lease. Those that went in keep theirs."""
    try:
        went_in = await stored([owner.id for owner in owners])
        for owner in owners:
            if owner.id not in went_in:
                await let_go(owner)
    except Exception as exc:
        log.warning("claims of %d new owner(s) left to their lease (%s)", len(owners), type(exc).__name__)


async def _registered_before(deps: RegistryDeps, actor: Actor, household_id: str) -> HouseholdOut | None:
    """The household an earlier attempt stored under this id, if any; None lets this attempt go
    ahead (the earlier one's claims, if it stopped after taking them, are its to settle:
    NikClaims.claim). A household left pending by an earlier version of this service is
    cleared away once past a lease."""
    found = await deps.households.get_with_pending(household_id)
    if found is None:
        return None
    household, pending_since = found
    if pending_since is None:
        require_scope(actor, household.region_code)
        return HouseholdOut.of(household)
    if deps.clock.now() - pending_since < deps.lease:
        raise InProgress(RACING_ATTEMPT)
    await deps.niks.release(household.niks, household_id)
    await deps.households.discard_pending(household_id)
    return None


async def register_households(deps: RegistryDeps, actor: Actor, items: list[dict], key: str | None,
                              instance: str) -> BatchResults:
    return await _in_batch(deps, actor, "household", RegisterHousehold, _register_many, items, key, instance)


async def _in_batch(deps: RegistryDeps, actor: Actor, route: str, model: type[BaseModel], many, items: list[dict],
                    key: str | None, instance: str) -> BatchResults:
    """A batch request: answered from the ledger when repeated, else `many` for all its valid
    items at once (kit.web.batch)."""
    require_role(actor, Role.OPERATOR_DESA)

    async def bulk(valid: list[tuple[int, Any]]) -> dict[int, str | Problem]:
        return await many(deps, actor, valid, key)

    return await answer_batch(deps.batches, route=route, caller=actor.sub, key=key, raw=items, model=model,
                              bulk=bulk, now=deps.clock.now(), instance=instance, admission=deps.admission)


async def _register_many(deps: RegistryDeps, actor: Actor, valid: list[tuple[int, RegisterHousehold]],
                         key: str | None) -> dict[int, str | Problem]:
    """The steps of register_household, each one write for the whole batch: the NIK claims,
    then the households with their events. An item whose id is stored already (a repeat) or
    whose claims met someone else's goes the one-request way, which says why."""
    now = deps.clock.now()
    out: dict[int, str | Problem] = {}
    ready: dict[int, tuple[Household, dict[str, Any]]] = {}
    async for index, cmd in taking_turns(valid):
        try:
            require_scope(actor, cmd.region_code)
            registration = Household.register(
                item_id("household", actor.sub, key, index), kk_number=cmd.kk_number, region_code=cmd.region_code,
                address=Address(cmd.address.street, cmd.address.rt, cmd.address.rw), members=_members(cmd.members),
                housing=cmd.housing, assets=cmd.assets, by=actor.sub, now=now)
        except Refused as refusal:
            out[index] = problem_of(refusal)
            continue
        except Problem as problem:
            out[index] = problem
            continue
        event = _event(registration.event, actor, cmd.region_code, now)
        ready[index] = (registration.household, outbox_entry(event, registration.household.id))
    commands, one_by_one = dict(valid), {}
    earlier = await deps.households.stored([h.id for h, _ in ready.values()]) if key is not None else set()
    for index in [i for i, (h, _) in ready.items() if h.id in earlier]:
        one_by_one[index] = commands[index]  # stored before: register_household finds out what became of it
        del ready[index]
    token = str(uuid4())
    try:
        claimed = await deps.niks.claim_many([(h.id, list(h.niks), token) for h, _ in ready.values()], now)
        for index, all_in in zip(list(ready), claimed, strict=True):
            if all_in:
                continue
            household = ready[index][0]  # someone holds one of its people: is that claim dead?
            try:
                refused = await deps.niks.claim(household.niks, household.id, now, token)
            except StillUnderWay:
                out[index] = InProgress(RACING_ATTEMPT)
                del ready[index]
                continue
            if refused:
                out[index] = problem_of(refusal_for_claim(household.niks.index(refused)))
                del ready[index]
        _within_lease(deps, now)
    except BaseException:
        for household, _ in ready.values():
            await deps.niks.release_own(household.niks, household.id, token)
        raise
    try:
        added = await deps.households.add_many(list(ready.values()))
    except BaseException:
        await _let_go_unless_stored([h for h, _ in ready.values()], deps.households.stored,
                                    lambda h: deps.niks.release_own(h.niks, h.id, token))
        raise
    for (index, (household, _)), went_in in zip(ready.items(), added, strict=True):
        if went_in:
            out[index] = household.id
        else:  # stored meanwhile by another attempt at the same item: it says what became of it
            one_by_one[index] = commands[index]
    for index, outcome in zip(one_by_one, await asyncio.gather(
            *(_one_item(register_household, deps, actor, cmd, item_id("household", actor.sub, key, index))
              for index, cmd in one_by_one.items())), strict=True):
        out[index] = outcome
    return out


async def _one_item(one, deps: RegistryDeps, actor: Actor, cmd: BaseModel, id_: str) -> str | Problem:
    try:
        return (await one(deps, actor, cmd, id_)).id
    except Refused as refusal:
        return problem_of(refusal)
    except Problem as problem:
        return problem


async def _visible_household(deps: RegistryDeps, actor: Actor, household_id: str) -> Household:
    household = await deps.households.get(household_id)
    if household is None:
        raise NotFound(f"household {household_id}")
    require_scope(actor, household.region_code)
    return household


async def read_household(deps: RegistryDeps, actor: Actor, household_id: str) -> HouseholdOut:
    return HouseholdOut.of(await _visible_household(deps, actor, household_id))


async def amend_household(deps: RegistryDeps, actor: Actor, household_id: str, cmd: AmendHousehold) -> HouseholdOut:
    """A correction with optimistic concurrency; NIK claims follow the members: the added
    ones are claimed before the write, the removed ones released after it."""
    require_role(actor, Role.OPERATOR_DESA)
    household = await _visible_household(deps, actor, household_id)
    now = deps.clock.now()
    address = Address(cmd.address.street, cmd.address.rt, cmd.address.rw) if cmd.address else None
    amended = household.amend(Amendment(
        version=cmd.version, address=address, housing=cmd.housing, assets=cmd.assets, kk_number=cmd.kk_number,
        members=_members(cmd.members) if cmd.members is not None else None), now)
    new = amended.household
    token = str(uuid4())  # this request's claims: undone by it alone if its write fails
    if refused := await deps.niks.claim(amended.claim, household.id, now, token):
        raise refusal_for_claim(new.niks.index(refused))
    try:
        _within_lease(deps, now)
        saved = await deps.households.save(new, expected_version=household.version)
    except BaseException:
        await deps.niks.release_own(amended.claim, household.id, token)
        raise
    if not saved:
        await deps.niks.release_own(amended.claim, household.id, token)
        raise Conflict(f"the household changed since version {cmd.version} was read; read it again and redo "
                       "the change")
    await deps.niks.release(amended.release, household.id)
    return HouseholdOut.of(new)


async def search_households(deps: RegistryDeps, actor: Actor, *, nik: str | None, region: str | None,
                            q: str | None, limit: int, offset: int) -> HouseholdPage:
    """Within the caller's scope: their own region unless they name one inside it."""
    prefix = region or actor.region
    if prefix:
        require_scope(actor, prefix)
    elif not actor.covers(""):
        raise Problem(403, "a region is required for your role")
    if nik:
        # One person, one household: the claim names it, an _id read rather than a search.
        holder = await deps.niks.holder(nik)
        household = await deps.households.get(holder) if holder else None
        found = [household] if household and household.holds(nik) and household.matches(
            region_prefix=prefix, name_part=q) else []
        items = found[offset:offset + limit]
    else:
        items = await deps.households.search(region_prefix=prefix, q=q, limit=limit, skip=offset)
    return HouseholdPage(items=[HouseholdOut.of(h) for h in items], limit=limit, offset=offset)


# ---------------------------------------------------------------------- proposals
async def submit_proposal(deps: RegistryDeps, actor: Actor, cmd: SubmitProposal,
                          proposal_id: str | None = None) -> ProposalOut:
    """`proposal_id`: chosen by the caller (a batch item's); a proposal stored under it before
    is the answer, not a second one."""
    require_role(actor, Role.OPERATOR_DESA)
    if proposal_id is not None and (earlier := await _submitted_before(deps, actor, proposal_id)) is not None:
        return earlier
    household = await _visible_household(deps, actor, cmd.household_id)
    now = deps.clock.now()
    holder_id = household.slot_holder(cmd.program)
    holder = await deps.proposals.get_with_pending(holder_id) if holder_id and holder_id != proposal_id else None
    proposed = Proposal.submit(proposal_id or str(uuid4()), household=household, kind=cmd.kind, program=cmd.program,
                               reason=cmd.reason, calendar=deps.calendar, now=now, by=actor.sub,
                               slot_holder=holder, stale_after=deps.lease)
    proposal = proposed.proposal
    trace = current_trace_context()
    # The slot first, then the proposal with its event in one insert: see store/repositories.py.
    if not await deps.households.reserve_slot(household.id, proposal.program, proposal.id, now, replacing=holder_id):
        raise Conflict(f"household already has an open {proposal.program} proposal")
    event = _event(proposed.event, actor, household.region_code, now)
    try:
        _within_lease(deps, now)
        await deps.proposals.add(proposal, outbox_entry(event, proposal.id), trace.model_dump() if trace else None)
    except DuplicateKey:  # an earlier attempt at this item stored it meanwhile
        if (earlier := await deps.proposals.get(proposal.id)) is None:
            raise InProgress(RACING_ATTEMPT) from None
        require_scope(actor, earlier.region_code)
        return ProposalOut.of(earlier)
    except BaseException:
        await _let_go_unless_stored([proposal], deps.proposals.stored, _free_slot(deps))
        raise
    return ProposalOut.of(proposal)


def _free_slot(deps: RegistryDeps):
    return lambda p: deps.households.release_slot(p.household_id, p.program, p.id)


async def _submitted_before(deps: RegistryDeps, actor: Actor, proposal_id: str) -> ProposalOut | None:
    """An earlier attempt's proposal of this id, if it finished; None lets this one go ahead.
    One left pending by an earlier version of this service is cleared away once past a lease
    (it holds no slot any more)."""
    earlier = await deps.proposals.get_with_pending(proposal_id)
    if earlier is None:
        return None
    if earlier.status != PENDING:
        require_scope(actor, earlier.region_code)
        return ProposalOut.of(earlier)
    if earlier.holds_slot(deps.clock.now(), deps.lease):
        raise InProgress(RACING_ATTEMPT)
    await deps.households.release_slot(earlier.household_id, earlier.program, earlier.id)
    await deps.proposals.discard_pending(earlier.id)
    return None


async def submit_proposals(deps: RegistryDeps, actor: Actor, items: list[dict], key: str | None,
                           instance: str) -> BatchResults:
    return await _in_batch(deps, actor, "proposal", SubmitProposal, _submit_many, items, key, instance)


async def _submit_many(deps: RegistryDeps, actor: Actor, valid: list[tuple[int, SubmitProposal]],
                       key: str | None) -> dict[int, str | Problem]:
    """The steps of submit_proposal for the whole batch: one read of the households, one write
    of their slots, one of the proposals with their events. What is not plain (a repeat, a
    household not found or out of scope, a slot held, or two items for one slot) goes the
    one-request way, which says why."""
    ids = {index: item_id("proposal", actor.sub, key, index) for index, _ in valid}
    commands, one_by_one = dict(valid), {}
    earlier = await deps.proposals.stored(list(ids.values())) if key is not None else set()
    households = await deps.households.get_many(list({cmd.household_id for _, cmd in valid}))
    now, trace = deps.clock.now(), current_trace_context()
    origin = trace.model_dump() if trace else None
    out: dict[int, str | Problem] = {}
    ready: dict[int, tuple[Proposal, dict[str, Any]]] = {}
    slots: set[tuple[str, Program]] = set()
    async for index, cmd in taking_turns(valid):
        household = households.get(cmd.household_id)
        if (ids[index] in earlier or household is None or not actor.covers(household.region_code)
                or household.slot_holder(cmd.program) or (household.id, cmd.program) in slots):
            one_by_one[index] = cmd
            continue
        try:
            proposed = Proposal.submit(ids[index], household=household, kind=cmd.kind, program=cmd.program,
                                       reason=cmd.reason, calendar=deps.calendar, now=now, by=actor.sub,
                                       slot_holder=None, stale_after=deps.lease)
        except Refused as refusal:
            out[index] = problem_of(refusal)
            continue
        slots.add((household.id, cmd.program))
        event = _event(proposed.event, actor, household.region_code, now)
        ready[index] = (proposed.proposal, outbox_entry(event, proposed.proposal.id))
    reserved = await deps.households.reserve_slots([(p.household_id, p.program, p.id) for p, _ in ready.values()], now)
    for index, got_it in zip(list(ready), reserved, strict=True):
        if not got_it:  # taken meanwhile by a request of the same household
            proposal = ready.pop(index)[0]
            # Ours only if a write landed on it after ours, before the store could tell (a no-op otherwise).
            await deps.households.release_slot(proposal.household_id, proposal.program, proposal.id)
            out[index] = Conflict(f"household already has an open {proposal.program} proposal")
    try:
        _within_lease(deps, now)
        added = await deps.proposals.add_many([(p, entry, origin) for p, entry in ready.values()])
    except BaseException:
        await _let_go_unless_stored([p for p, _ in ready.values()], deps.proposals.stored, _free_slot(deps))
        raise
    for (index, (proposal, _)), went_in in zip(ready.items(), added, strict=True):
        if went_in:
            out[index] = proposal.id
        else:  # stored meanwhile by another attempt at the same item: it says what became of it
            one_by_one[index] = commands[index]
    for index, outcome in zip(one_by_one, await asyncio.gather(
            *(_one_item(submit_proposal, deps, actor, cmd, ids[index]) for index, cmd in one_by_one.items())),
            strict=True):
        out[index] = outcome
    return out


async def _visible_proposal(deps: RegistryDeps, actor: Actor, proposal_id: str) -> Proposal:
    proposal = await deps.proposals.get(proposal_id)
    if proposal is None:
        raise NotFound(f"proposal {proposal_id}")
    require_scope(actor, proposal.region_code)
    return proposal


async def read_proposal(deps: RegistryDeps, actor: Actor, proposal_id: str) -> ProposalOut:
    return ProposalOut.of(await _visible_proposal(deps, actor, proposal_id))


async def resubmit_proposal(deps: RegistryDeps, actor: Actor, proposal_id: str) -> ProposalOut:
    """A returned proposal goes up again as round n + 1 with the household as it is now: the
    new state and its ProposalSubmitted in one write."""
    require_role(actor, Role.OPERATOR_DESA)
    proposal = await _visible_proposal(deps, actor, proposal_id)
    household = await _visible_household(deps, actor, proposal.household_id)
    now = deps.clock.now()
    proposed = proposal.resubmit(household, now)
    event = _event(proposed.event, actor, household.region_code, now)
    if not await deps.proposals.save(proposed.proposal, expected=proposal, outbox=outbox_entry(event, proposal.id)):
        raise Conflict("the proposal changed meanwhile; read it again")
    return ProposalOut.of(proposed.proposal)


# ---------------------------------------------------------------------- events
async def on_case_stage_changed(deps: RegistryDeps, envelope: Envelope, case: CaseStageChanged) -> None:
    """returned keeps the slot for the correction; rejected (and an approved `update`) end the
    proposal and release it. Guarded writes: a redelivery changes nothing."""
    for _ in range(RETRIES):
        proposal = await deps.proposals.get(case.proposal_id)
        if proposal is None:
            return
        changed = proposal.on_stage_changed(case, deps.clock.now())
        if changed is not None and not await deps.proposals.save(changed, expected=proposal):
            continue  # it moved meanwhile: decide again on what it is now
        current = changed or proposal
        if current.ended:  # also on a redelivery, in case the first attempt stopped half-way
            await deps.households.release_slot(current.household_id, current.program, current.id)
        return
    raise RuntimeError(f"proposal {case.proposal_id} kept changing; the event will be delivered again")


async def on_decree_issued(deps: RegistryDeps, envelope: Envelope, decree: DecreeIssued) -> None:
    """A deprecated v1 record (replays): the same as each of its entries' events."""
    for entry in decree.changes():
        await on_beneficiary_status_changed(deps, envelope, entry)


async def on_beneficiary_status_changed(deps: RegistryDeps, envelope: Envelope, entry: BeneficiaryStatusChanged) -> None:
    """One entry of an issued decree: the household joins (added) or leaves (removed) the
    programme, the proposal is decreed and its slot released. An entry about a household and
    proposal this register never held is counted, not dropped silently (count_unmatched)."""
    household_found = await _apply_entry(deps, entry)
    proposal = None
    for _ in range(RETRIES):
        proposal = await deps.proposals.get(entry.proposal_id)
        decreed = proposal.on_decreed(entry, deps.clock.now()) if proposal else None
        if decreed is None or await deps.proposals.save(decreed, expected=proposal):
            break
    if not household_found and proposal is None:
        count_unmatched(envelope.type, log)


async def _apply_entry(deps: RegistryDeps, entry: BeneficiaryStatusChanged) -> bool:
    """Whether the household is held here. The slot the decreed proposal held is freed in the
    same write: whoever sees the household's new status may propose again at once."""
    for _ in range(RETRIES):
        household = await deps.households.get(entry.household_id)
        if household is None:
            return False
        changed = household.apply_decree(entry, deps.clock.now())
        held = household.open_proposals.get(entry.program) == entry.proposal_id
        if changed is None:  # applied before; a slot left by a write cut off then still goes
            if held:
                await deps.households.release_slot(entry.household_id, entry.program, entry.proposal_id)
            return True
        if await deps.households.save(changed, expected_version=household.version,
                                      releasing=(entry.program, entry.proposal_id) if held else None):
            return True
    raise RuntimeError(f"household {entry.household_id} kept changing; the event will be delivered again")
