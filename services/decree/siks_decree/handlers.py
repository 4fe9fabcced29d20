"""Decree use cases: collect approved cases, draft and issue the SK, keep each programme's
roll and Cek Bansos. Load, ask the domain (domain/decree.py, domain/roll.py), store."""

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from siks_contracts.actor import Actor
from siks_contracts.enums import EntryChange, Program, Role
from siks_contracts.envelope import Envelope, TraceContext, new_envelope
from siks_contracts.events import BeneficiaryStatusChanged, CaseStageChanged, DecreeIssued
from siks_contracts.identity import mask_name
from siks_contracts.regions import region_name
from siks_kit.web.auth import require_role
from siks_kit.runtime.clock import Clock
from siks_kit.bus.outbox import outbox_entry, publish_entry
from siks_kit.bus.transport import Transport
from siks_kit.observability import tracing
from siks_kit.observability.metrics import count_unmatched
from siks_kit.web.problems import PROBLEM, Conflict, NotFound, Problem
from siks_kit.store.documents import Database

from .commands import DraftDecree
from .domain.decree import (Candidate, Decree, DecreeRefused, Entry, ListHash, Status, beneficiary_event_id,
                            issued_event_id, next_period, normalise_name)
from .domain.roll import DecreeRef, PublicStatus, Standing
from .store.repositories import ENTRY_BATCH, CandidateStore, DecreeStore, EntryStore, RollStore, StatusStore

SERVICE = "decree"
log = logging.getLogger(__name__)
WRITE_ATTEMPTS = 20  # conditional writes that lost to a concurrent writer are read and tried again
PUBLISH_BATCH = 500  # beneficiary events sent side by side, then awaited, then checkpointed
PUBLISH_SWEEP_S = 30.0  # how often the publisher looks for issued decrees not yet all sent


@dataclass
class DecreeDeps:
    candidates: CandidateStore
    decrees: DecreeStore
    entries: EntryStore
    rolls: RollStore
    status: StatusStore
    clock: Clock
    issued: asyncio.Event = field(default_factory=asyncio.Event)  # wakes the publisher

    @classmethod
    def build(cls, db: Database, clock: Clock) -> "DecreeDeps":
        return cls(CandidateStore(db), DecreeStore(db), EntryStore(db), RollStore(db), StatusStore(db), clock)

    async def prepare(self) -> None:
        for store in (self.candidates, self.decrees, self.entries, self.rolls, self.status):
            await store.prepare()


def _problem(refusal: DecreeRefused) -> Problem:
    return Problem(refusal.status, refusal.detail, type_=PROBLEM.conflict if refusal.status == 409 else None, **refusal.facts)


# ---------------------------------------------------------------------- approvals become candidates


async def on_case_stage_changed(deps: DecreeDeps, envelope: Envelope, c: CaseStageChanged) -> None:
    if not Candidate.wanted(c):
        return  # most stage changes: no read of the decrees for them
    candidate = Candidate.from_case(c, await deps.decrees.issued_periods(c.program.value))
    await deps.candidates.add(candidate)  # a redelivery finds it stored: nothing twice


CANDIDATE_IDS_SHOWN = 1000  # the first ones, in order; `count` says how many wait in all


async def candidate_count(deps: DecreeDeps, actor: Actor, program: Program, period: str) -> dict[str, Any]:
    require_role(actor, Role.MENSOS, Role.AUDITOR)
    count = await deps.candidates.count_waiting(program.value, period)
    waiting = await deps.candidates.waiting(program.value, period, limit=CANDIDATE_IDS_SHOWN)
    return {"program": program.value, "period": period, "count": count, "proposal_ids": waiting}


async def candidate(deps: DecreeDeps, actor: Actor, proposal_id: str) -> dict[str, Any]:
    """Which decree an approved case waits for (or sits in)."""
    require_role(actor, Role.MENSOS, Role.AUDITOR)
    found = await deps.candidates.where(proposal_id)
    if found is None:
        raise NotFound(f"approved case {proposal_id}")
    program, period, decree_id = found
    return {"proposal_id": proposal_id, "program": program, "period": period, "decree_id": decree_id}


# ---------------------------------------------------------------------- draft, abandon, issue


async def draft(deps: DecreeDeps, actor: Actor, cmd: DraftDecree) -> Decree:
    """Drafts the programme's decree for the period, or refreshes its open draft with cases
    approved since (two drafts for one programme and period are one). The waiting cases are
    claimed by one conditional update, then written as the decree's entries a batch at a
    time, hashed as they go in proposal order. If drafting fails, the cases are released and
    the entries removed."""
    require_role(actor, Role.MENSOS)
    now = deps.clock.now()
    decree = await _take(deps, actor, cmd, now)
    try:
        await deps.candidates.claim_waiting(decree.program.value, decree.period, decree.id)
        listed, batch = ListHash(decree.program.value, decree.period), []
        async for entry in deps.candidates.claimed(decree.id):
            listed.add(entry)
            batch.append(entry)
            if len(batch) >= ENTRY_BATCH:
                await deps.entries.add(decree.id, batch)
                batch = []
        await deps.entries.add(decree.id, batch)
        drafted = decree.drafted(listed, actor, now)
        if not await deps.decrees.save(drafted, decree.version):
            raise Conflict(f"decree {decree.id} changed while it was drafted; draft again")
        return drafted
    except DecreeRefused as refusal:
        await _release(deps, decree)
        raise _problem(refusal) from None
    except BaseException:
        await _release(deps, decree)
        raise


async def _take(deps: DecreeDeps, actor: Actor, cmd: DraftDecree, now) -> Decree:
    """The decree to draft into: new, a finished draft to refresh, or one whose drafter died."""
    fresh = Decree.start(cmd.program, cmd.period, actor, now)
    for _ in range(WRITE_ATTEMPTS):
        if await deps.decrees.insert(fresh):
            return fresh
        existing = await deps.decrees.get(fresh.id)
        if existing is None:
            continue  # deleted meanwhile (an abandoned draft): insert again
        try:
            taken = existing.reopened(actor, now)
        except DecreeRefused as refusal:
            raise _problem(refusal) from None
        if await deps.decrees.save(taken, existing.version):
            return taken
    raise Conflict(f"the {cmd.program} decree for {cmd.period} kept changing; try again")


async def _release(deps: DecreeDeps, decree: Decree) -> None:
    """A draft that failed gives its cases back, so none is stranded."""
    current = await deps.decrees.get(decree.id)
    if current is not None and current.status is Status.DRAFTING:
        await deps.candidates.release(decree.id)
        await deps.entries.remove(decree.id)
        await deps.decrees.delete(current)


async def abandon(deps: DecreeDeps, actor: Actor, decree_id: str) -> int:
    """Drops a draft: its cases wait for the next draft again. Returns how many were released."""
    require_role(actor, Role.MENSOS)
    decree = await deps.decrees.get(decree_id)
    if decree is None:
        raise NotFound(f"decree {decree_id}")
    try:
        decree.may_abandon()
    except DecreeRefused as refusal:
        raise _problem(refusal) from None
    if not await deps.decrees.delete(decree):
        raise Conflict(f"decree {decree_id} changed meanwhile; reload")
    released = await deps.candidates.release(decree_id)
    await deps.entries.remove(decree_id)
    return released


async def issue(deps: DecreeDeps, actor: Actor, decree_id: str) -> Decree:
    """Issues the SK; issuing it again answers with the issued decree and publishes nothing.
    The issued event (count, hash, where to read the list) rides in the decree's outbox; the
    publisher then sends one beneficiary event per entry (publish_beneficiaries)."""
    require_role(actor, Role.MENSOS)
    decree = await deps.decrees.get(decree_id)
    if decree is None:
        raise NotFound(f"decree {decree_id}")
    if decree.status is Status.ISSUED:
        return decree
    now = deps.clock.now()
    try:
        issued, event = decree.issue(await deps.decrees.next_number(now.year), actor, now)
    except DecreeRefused as refusal:
        raise _problem(refusal) from None
    envelope = new_envelope(payload=event, occurred_at=now, producer=SERVICE, actor=actor, region_code=None,
                            event_id=issued_event_id(decree.id))
    entry = outbox_entry(envelope, decree.id)
    if not await deps.decrees.save(issued, decree.version, [entry]):
        again = await deps.decrees.get(decree_id)
        if again is not None and again.status is Status.ISSUED:
            return again  # issued by someone else meanwhile: the same decree
        raise Conflict(f"decree {decree_id} changed while it was issued; reload and try again")
    trace = tracing.current_trace_context()
    await deps.decrees.mark_issued_trace(decree.id, trace.model_dump() if trace else None)
    deps.issued.set()
    return issued


# ---------------------------------------------------------------------- the list goes out, entry by entry


def beneficiary_envelope(decree: Decree, entry: Entry, trace: dict[str, Any] | None) -> Envelope:
    """One entry's event: its id derives from decree and proposal (sent again, the same id),
    its correlation is the issue's, and it continues the issue's trace."""
    by = Actor(sub=decree.issued_by or SERVICE, role=Role.MENSOS)
    env = new_envelope(payload=decree.beneficiary_changed(entry), occurred_at=decree.issued_at, producer=SERVICE,
                       actor=by, region_code=entry.region_code, correlation_id=issued_event_id(decree.id),
                       event_id=beneficiary_event_id(decree.id, entry.proposal_id))
    return env.model_copy(update={"causation_id": issued_event_id(decree.id),
                                  "trace": TraceContext.model_validate(trace) if trace else None})


async def publish_beneficiaries(deps: DecreeDeps, transport: Transport) -> int:
    """Sends the entries of every issued decree not yet all sent, in proposal order from its
    checkpoint: a batch is produced side by side, awaited, then the checkpoint moves past it.
    After a crash it resumes from the checkpoint; the overlap carries the same event ids."""
    sent = 0
    for publication in await deps.decrees.unpublished():
        decree, through, count = publication.decree, publication.through, publication.sent
        if through is None:
            # Cases approved for this period that arrived during the issue go into the next
            # period. Here rather than in the issue request: it reads every candidate of the
            # period, and the publisher redoes it after a crash until the first checkpoint.
            await deps.candidates.move_waiting(decree.program.value, decree.period, next_period(decree.period))
        batch: list[Entry] = []

        async def flush() -> None:
            nonlocal through, count
            await asyncio.gather(*(publish_entry(transport, outbox_entry(
                beneficiary_envelope(decree, e, publication.trace), e.household_id)) for e in batch))
            through, count = batch[-1].proposal_id, count + len(batch)
            await deps.decrees.checkpoint(decree.id, through, count, done=False)
            batch.clear()

        async for entry in deps.entries.listed(decree.id, after=through):
            batch.append(entry)
            if len(batch) >= PUBLISH_BATCH:
                sent += len(batch)
                await flush()
        if batch:
            sent += len(batch)
            await flush()
        await deps.decrees.checkpoint(decree.id, through, count, done=True)
        log.info("decree %s: %d beneficiary events sent", decree.id, count)
    return sent


async def run_publisher(deps: DecreeDeps, transport: Transport) -> None:
    """From start-up: sends what a crash left unsent, then whatever each issue adds."""
    while True:
        deps.issued.clear()
        try:
            await publish_beneficiaries(deps, transport)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("publishing beneficiary events failed; retrying")
            await asyncio.sleep(1.0)
            continue
        try:
            await asyncio.wait_for(deps.issued.wait(), timeout=PUBLISH_SWEEP_S)
        except TimeoutError:
            pass


# ---------------------------------------------------------------------- the roll and Cek Bansos


async def on_decree_issued(deps: DecreeDeps, envelope: Envelope, d: DecreeIssued) -> None:
    """A deprecated v1 record (replays): the same as each of its entries' events."""
    for change in d.changes():
        await on_beneficiary_status_changed(deps, envelope, change)


async def on_beneficiary_status_changed(deps: DecreeDeps, envelope: Envelope, c: BeneficiaryStatusChanged) -> None:
    """Our own event, heard back: the entry moves the programme's roll and its members' Cek
    Bansos status (the members are read from the entry row: the event carries no NIK). Every
    write is conditional and reapplied on a lost race; applying it twice changes nothing."""
    entry = await deps.entries.get(c.decree_id, c.proposal_id) or await deps.decrees.legacy_entry(
        c.decree_id, c.proposal_id)
    if entry is None:
        count_unmatched(envelope.type, log)
        return
    ref = DecreeRef.of(c.decree_id, c.number, c.period, c.issued_at)
    await _apply_to_roll(deps, c.program, entry, ref)
    for member in entry.household.members:
        await apply_status(deps, member.nik, normalise_name(member.name), entry.region_code, c.program, entry, ref)


async def _apply_to_roll(deps: DecreeDeps, program: Program, entry: Entry, ref: DecreeRef) -> None:
    # An addition is most often a household new to the roll: one insert, no read first (when
    # it exists, the insert fails and the read-decide-write below applies it as always).
    if entry.change is EntryChange.ADDED and await deps.rolls.put(
            entry.household_id, Standing.first(program, entry.change, entry.reason, ref), 0):
        return
    for _ in range(WRITE_ATTEMPTS):
        current, version = await deps.rolls.get(program, entry.household_id)
        updated = (Standing.first(program, entry.change, entry.reason, ref) if current is None
                   else current.after(entry.change, entry.reason, ref))
        if updated is current or await deps.rolls.put(entry.household_id, updated, version):
            return
    raise Conflict(f"the {program} roll entry of a household kept changing")


async def apply_status(deps: DecreeDeps, nik: str, name_key: str, region_code: str, program: Program,
                       entry: Entry, ref: DecreeRef) -> None:
    if entry.change is EntryChange.ADDED:  # most often a person new to Cek Bansos: one insert
        fresh = PublicStatus(nik, name_key, region_code).apply(name_key, region_code, program, entry.change,
                                                               entry.reason, ref)
        if await deps.status.put(fresh, 0):
            return
    for _ in range(WRITE_ATTEMPTS):
        current = await deps.status.get(nik) or PublicStatus(nik, name_key, region_code)
        updated = current.apply(name_key, region_code, program, entry.change, entry.reason, ref)
        if updated is current or await deps.status.put(updated, current.version):
            return
    raise Conflict("a Cek Bansos entry kept changing")


# ---------------------------------------------------------------------- reading


async def read_decree(deps: DecreeDeps, decree_id: str) -> Decree:
    decree = await deps.decrees.get(decree_id)
    if decree is None:
        raise NotFound(f"decree {decree_id}")
    return decree


async def beneficiaries(deps: DecreeDeps, actor: Actor, decree_id: str) -> tuple[Decree, AsyncIterator[dict[str, Any]]]:
    """The decree and its list within the caller's region, in proposal order, read a cursor
    batch at a time as the caller iterates (never held whole)."""
    decree = await read_decree(deps, decree_id)

    async def rows() -> AsyncIterator[dict[str, Any]]:
        async for row in deps.entries.rows(decree_id):
            if actor.covers(row["region_code"]):
                yield row

    return decree, rows()


async def public_status(deps: DecreeDeps, nik: str, name: str) -> dict[str, Any]:
    """Cek Bansos: answers only when NIK and name agree; an unknown NIK and a wrong name get
    the same body as anyone not listed. Neither is ever shown in full."""
    found = await deps.status.get(nik)
    masked = mask_name(name)
    if found is None or found.name_key != normalise_name(name):
        return {"name_masked": masked, "programs": [], "status": "not_listed"}
    programs = [{"program": s.program.value, "status": s.status, "period": s.period, "sk_number": s.sk_number,
                 "since_period": s.since_period, "reason": s.reason.value if s.reason else None}
                for s in found.programs]
    listed = any(s.status == "active" for s in found.programs)
    return {"name_masked": masked, "programs": programs, "status": "beneficiary" if listed else "not_listed",
            "region": region_name(found.region_code)}
