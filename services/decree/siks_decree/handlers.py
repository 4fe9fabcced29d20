"""Decree use cases: collect approved cases, draft and issue the SK, keep each programme's
roll and Cek Bansos. Load, ask the domain (domain/decree.py, domain/roll.py), store."""

import logging
from dataclasses import dataclass
from typing import Any

from siks_contracts.actor import Actor
from siks_contracts.enums import Program, Role
from siks_contracts.envelope import Envelope, new_envelope
from siks_contracts.events import CaseStageChanged, DecreeIssued
from siks_contracts.identity import mask_name
from siks_contracts.regions import region_name
from siks_kit.web.auth import require_role
from siks_kit.runtime.clock import Clock
from siks_kit.bus.outbox import outbox_entry
from siks_kit.web.problems import PROBLEM, Conflict, NotFound, Problem
from siks_kit.store.documents import Database

from .commands import DraftDecree
from .domain.decree import Candidate, Decree, DecreeRefused, Entry, Status, next_period, normalise_name
from .domain.roll import DecreeRef, PublicStatus, Standing
from .store.repositories import CLAIM_BATCH, CandidateStore, DecreeStore, RollStore, StatusStore

SERVICE = "decree"
log = logging.getLogger(__name__)
WRITE_ATTEMPTS = 20  # conditional writes that lost to a concurrent writer are read and tried again


@dataclass
class DecreeDeps:
    candidates: CandidateStore
    decrees: DecreeStore
    rolls: RollStore
    status: StatusStore
    clock: Clock

    @classmethod
    def build(cls, db: Database, clock: Clock) -> "DecreeDeps":
        return cls(CandidateStore(db), DecreeStore(db), RollStore(db), StatusStore(db), clock)

    async def prepare(self) -> None:
        for store in (self.candidates, self.decrees, self.rolls, self.status):
            await store.prepare()


def _problem(refusal: DecreeRefused) -> Problem:
    return Problem(refusal.status, refusal.detail, type_=PROBLEM.conflict if refusal.status == 409 else None, **refusal.facts)


# ---------------------------------------------------------------------- approvals become candidates


async def on_case_stage_changed(deps: DecreeDeps, envelope: Envelope, c: CaseStageChanged) -> None:
    if not Candidate.wanted(c):
        return  # most stage changes: no read of the decrees for them
    candidate = Candidate.from_case(c, await deps.decrees.issued_periods(c.program.value))
    await deps.candidates.add(candidate)  # a redelivery finds it stored: nothing twice


async def candidate_count(deps: DecreeDeps, actor: Actor, program: Program, period: str) -> dict[str, Any]:
    require_role(actor, Role.MENSOS, Role.AUDITOR)
    waiting = await deps.candidates.waiting(program.value, period)
    return {"program": program.value, "period": period, "count": len(waiting), "proposal_ids": waiting}


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
    approved since (two drafts for one programme and period are one). Candidates are claimed
    a batch per conditional update; if drafting fails, they are released."""
    require_role(actor, Role.MENSOS)
    now = deps.clock.now()
    decree = await _take(deps, actor, cmd, now)
    try:
        while ids := await deps.candidates.waiting(decree.program.value, decree.period, limit=CLAIM_BATCH):
            await deps.candidates.claim(ids, decree.id)
        drafted = decree.drafted(await deps.candidates.claimed(decree.id), actor, now)
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
    return await deps.candidates.release(decree_id)


async def issue(deps: DecreeDeps, actor: Actor, decree_id: str) -> Decree:
    """Issues the SK; issuing it again answers with the issued decree and publishes nothing."""
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
    envelope = new_envelope(payload=event, occurred_at=now, producer=SERVICE, actor=actor, region_code=None)
    if not await deps.decrees.save(issued, decree.version, [outbox_entry(envelope, decree.id)]):
        again = await deps.decrees.get(decree_id)
        if again is not None and again.status is Status.ISSUED:
            return again  # issued by someone else meanwhile: the same decree
        raise Conflict(f"decree {decree_id} changed while it was issued; reload and try again")
    # Cases approved for this period that arrived during the issue go into the next period.
    await deps.candidates.move_waiting(issued.program.value, issued.period, next_period(issued.period))
    return issued


# ---------------------------------------------------------------------- the roll and Cek Bansos


async def on_decree_issued(deps: DecreeDeps, envelope: Envelope, d: DecreeIssued) -> None:
    """Our own event, heard back: each entry moves the programme's roll and its members'
    Cek Bansos status. Every write is conditional and reapplied on a lost race; applying
    the same decree twice changes nothing."""
    decree = await deps.decrees.get(d.decree_id)
    if decree is None:
        return
    ref = DecreeRef.of(d.decree_id, d.number, d.period, d.issued_at)
    for entry in decree.entries:
        await _apply_to_roll(deps, decree.program, entry, ref)
        for member in entry.household.members:
            await apply_status(deps, member.nik, normalise_name(member.name), entry.region_code, decree.program,
                               entry, ref)


async def _apply_to_roll(deps: DecreeDeps, program: Program, entry: Entry, ref: DecreeRef) -> None:
    for _ in range(WRITE_ATTEMPTS):
        current, version = await deps.rolls.get(program, entry.household_id)
        updated = (Standing.first(program, entry.change, entry.reason, ref) if current is None
                   else current.after(entry.change, entry.reason, ref))
        if updated is current or await deps.rolls.put(entry.household_id, updated, version):
            return
    raise Conflict(f"the {program} roll entry of a household kept changing")


async def apply_status(deps: DecreeDeps, nik: str, name_key: str, region_code: str, program: Program,
                       entry: Entry, ref: DecreeRef) -> None:
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


async def beneficiaries(deps: DecreeDeps, actor: Actor, decree_id: str) -> tuple[Decree, list[dict[str, Any]]]:
    decree = await read_decree(deps, decree_id)
    rows = []
    for e in decree.entries:
        if not actor.covers(e.region_code):
            continue
        members = e.household.members
        head = next((m for m in members if m.relation == "head"), members[0])
        rows.append({"proposal_id": e.proposal_id, "household_id": e.household_id, "region_code": e.region_code,
                     "kk_number": e.household.kk_number, "head_nik": head.nik, "head_name": head.name,
                     "members": len(members), "change": e.change.value, "reason": e.reason.value if e.reason else ""})
    return decree, rows


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
