"""Decree use cases: collect approved cases, draft and issue the SK, answer Cek Bansos."""

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from siks_contracts.actor import Actor
from siks_contracts.enums import Program, Role, Stage
from siks_contracts.envelope import Envelope, new_envelope
from siks_contracts.events import Beneficiary, CaseStageChanged, DecreeIssued
from siks_contracts.identity import mask_name, mask_nik
from siks_contracts.regions import region_name
from siks_kit.auth import require_role
from siks_kit.clock import Clock
from siks_kit.outbox import outbox_entry
from siks_kit.problems import Conflict, NotFound
from siks_kit.store import Database

from .commands import DraftDecree
from .domain import decree as rules
from .store.repositories import CandidateStore, DecreeStore, StatusStore

SERVICE = "decree"


@dataclass
class DecreeDeps:
    candidates: CandidateStore
    decrees: DecreeStore
    status: StatusStore
    clock: Clock

    @classmethod
    def build(cls, db: Database, clock: Clock) -> "DecreeDeps":
        return cls(CandidateStore(db), DecreeStore(db), StatusStore(db), clock)

    async def prepare(self) -> None:
        for store in (self.candidates, self.decrees, self.status):
            await store.prepare()


def public_decree(doc: dict[str, Any]) -> dict[str, Any]:
    keys = ("program", "period", "status", "number", "issued_at", "count", "content_hash", "drafted_at")
    return {"id": doc["_id"], **{k: doc.get(k) for k in keys}}


async def on_case_stage_changed(deps: DecreeDeps, envelope: Envelope, c: CaseStageChanged) -> None:
    if c.stage != Stage.APPROVED or c.household is None:
        return
    await deps.candidates.add({"_id": c.proposal_id, "household_id": c.household_id, "program": c.program.value,
                               "region_code": c.region_code, "period": rules.period_of(c.at),
                               "approved_at": c.at, "approval_reference": c.approval_reference,
                               "household": c.household.model_dump(mode="json"), "decree_id": None})


async def draft(deps: DecreeDeps, actor: Actor, cmd: DraftDecree) -> dict[str, Any]:
    require_role(actor, Role.MENSOS)
    if existing := await deps.decrees.open_draft(cmd.program.value, cmd.period):
        raise Conflict(f"a draft for {cmd.program} {cmd.period} is already open", decree_id=existing["_id"])
    decree_id = str(uuid4())
    # Claim each candidate for this draft: a case sits in one decree, however quickly the
    # Minister drafts again.
    candidates = [c for c in await deps.candidates.undecreed(cmd.program.value, cmd.period)
                  if await deps.candidates.claim(c["_id"], decree_id)]
    if not candidates:
        raise Conflict(f"no approved {cmd.program} cases wait for a decree in {cmd.period}")
    beneficiaries = [{"proposal_id": c["_id"], "household_id": c["household_id"], "region_code": c["region_code"],
                      "household": c["household"]} for c in candidates]
    now = deps.clock.now()
    doc = {"_id": decree_id, "program": cmd.program.value, "period": cmd.period, "status": rules.DRAFT,
           "number": None, "issued_at": None, "drafted_at": now, "drafted_by": actor.sub,
           "count": len(beneficiaries), "beneficiaries": beneficiaries,
           "content_hash": rules.content_hash(cmd.program.value, cmd.period, beneficiaries), "seen": []}
    await deps.decrees.add(doc)
    return public_decree(doc)


async def candidate_count(deps: DecreeDeps, actor: Actor, program: Program, period: str) -> dict[str, Any]:
    require_role(actor, Role.MENSOS, Role.AUDITOR)
    waiting = await deps.candidates.undecreed(program.value, period)
    return {"program": program.value, "period": period, "count": len(waiting),
            "proposal_ids": [c["_id"] for c in waiting]}


async def issue(deps: DecreeDeps, actor: Actor, decree_id: str) -> dict[str, Any]:
    require_role(actor, Role.MENSOS)
    doc = await deps.decrees.get(decree_id)
    if doc is None:
        raise NotFound(f"decree {decree_id}")
    if doc["status"] != rules.DRAFT:
        raise Conflict(f"decree {decree_id} is already {doc['status']} as {doc['number']}")
    now = deps.clock.now()
    number = rules.decree_number(await deps.decrees.next_number(now.year), now.year)
    payload = DecreeIssued(decree_id=decree_id, number=number, program=doc["program"], period=doc["period"],
                           issued_at=now, count=doc["count"], content_hash=doc["content_hash"],
                           beneficiaries=[Beneficiary(proposal_id=b["proposal_id"], household_id=b["household_id"],
                                                      region_code=b["region_code"]) for b in doc["beneficiaries"]])
    event = new_envelope(payload=payload, occurred_at=now, producer=SERVICE, actor=actor, region_code=None)
    fields = {"status": rules.ISSUED, "number": number, "issued_at": now, "issued_by": actor.sub}
    if not await deps.decrees.issue(decree_id, fields, outbox_entry(event, decree_id)):
        raise Conflict(f"decree {decree_id} was issued by someone else meanwhile")
    return public_decree({**doc, **fields})


async def on_decree_issued(deps: DecreeDeps, envelope: Envelope, d: DecreeIssued) -> None:
    """Our own event, heard back: fill the Cek Bansos index, once per decree."""
    doc = await deps.decrees.get(d.decree_id, with_members=True)
    if doc is None or envelope.event_id in doc.get("seen", []):
        return
    programme = {"program": d.program.value, "period": d.period, "decree_number": d.number,
                 "decree_id": d.decree_id, "status": "active"}
    for b in doc["beneficiaries"]:
        for m in b["household"]["members"]:
            await deps.status.add_programme(m["nik"], rules.normalise_name(m["name"]), b["region_code"], programme)
    await deps.decrees.mark_projected(d.decree_id, envelope.event_id)


async def read_decree(deps: DecreeDeps, decree_id: str) -> dict[str, Any]:
    doc = await deps.decrees.get(decree_id)
    if doc is None:
        raise NotFound(f"decree {decree_id}")
    return public_decree(doc)


async def beneficiaries(deps: DecreeDeps, actor: Actor, decree_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    doc = await deps.decrees.get(decree_id, with_members=True)
    if doc is None:
        raise NotFound(f"decree {decree_id}")
    rows = []
    for b in doc["beneficiaries"]:
        if not actor.covers(b["region_code"]):
            continue
        head = next((m for m in b["household"]["members"] if m["relation"] == "head"), b["household"]["members"][0])
        rows.append({"proposal_id": b["proposal_id"], "household_id": b["household_id"],
                     "region_code": b["region_code"], "kk_number": b["household"]["kk_number"],
                     "head_nik": head["nik"], "head_name": head["name"],
                     "members": len(b["household"]["members"])})
    return public_decree(doc), rows


async def public_status(deps: DecreeDeps, nik: str, name: str) -> dict[str, Any]:
    """Cek Bansos: answers only when NIK and name agree, and never shows either in full."""
    doc = await deps.status.get(nik)
    masked = {"nik": mask_nik(nik), "name": mask_name(name)}
    if doc is None or doc.get("name_key") != rules.normalise_name(name):
        return {**masked, "status": "not_found",
                "message": "no decreed social assistance found for this NIK and name"}
    return {**masked, "status": "beneficiary", "region": region_name(doc["region_code"]),
            "programs": [{k: p[k] for k in ("program", "period", "decree_number", "status")} for p in doc["programs"]]}
