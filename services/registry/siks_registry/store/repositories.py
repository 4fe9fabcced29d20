"""Households, proposals and NIK claims in MongoDB: documents <-> domain types, and the
conditional writes that keep the rules true under concurrent requests.

Each write is one document, outbox included. Where a change spans documents the claim is
taken first, and the owner stored after it, visible, with its event, in one insert:
- a new household: its NIK claims (atomic inserts under _id = NIK, naming the household's id),
  then the household. A claim whose household was never stored is dead once older than a lease;
- a new proposal: its household's programme slot (a guarded update naming the proposal and
  when it was taken), then the proposal. A slot naming a proposal never stored is free once
  older than a lease (domain.proposal.Proposal.submit).
A claim is taken over only when provably dead (domain.household.claim_is_dead): older than a
lease, and its holder gone, still pending (a household stored pending by an earlier version of
this service, which stored owners first), or no longer listing the person.
"""

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from siks_contracts.enums import Program, ProposalKind, Relation, RemovalReason, Sex
from siks_kit.store.documents import Collection, Database, Document, insert_new

from ..domain.household import Address, Household, Member, ProgrammeStatus, claim_is_dead
from ..domain.proposal import PENDING, Proposal

VISIBLE = {"pending_since": {"$exists": False}}
SLOTS_AT = "open_proposals_at"  # when each programme slot was reserved (programme -> time)


# ---------------------------------------------------------------------- mapping
def household_doc(h: Household) -> Document:
    """The household's state as stored (without _id, outbox or the slots, written apart)."""
    return {
        "kk_number": h.kk_number, "region_code": h.region_code,
        "address": {"street": h.address.street, "rt": h.address.rt, "rw": h.address.rw},
        "members": [{"nik": m.nik, "name": m.name, "sex": m.sex.value, "birth_date": m.birth_date.isoformat(),
                     "birth_place": m.birth_place, "relation": m.relation.value} for m in h.members],
        "housing": dict(h.housing), "assets": dict(h.assets), "version": h.version, "status": h.status,
        "programs": [{"program": p.program.value, "active": p.active, "period": p.period, "decree_id": p.decree_id,
                      "decree_number": p.decree_number, "proposal_id": p.proposal_id,
                      "reason": p.reason.value if p.reason else None} for p in h.programs],
        "applied_decrees": list(h.applied_decrees),
        "created_at": h.created_at, "updated_at": h.updated_at, "created_by": h.created_by,
    }


def household_of(doc: Document) -> Household:
    return Household(
        id=doc["_id"], kk_number=doc["kk_number"], region_code=doc["region_code"],
        address=Address(**{k: doc["address"][k] for k in ("street", "rt", "rw")}),
        members=tuple(Member(nik=m["nik"], name=m["name"], sex=Sex(m["sex"]),
                             birth_date=date.fromisoformat(m["birth_date"]), relation=Relation(m["relation"]),
                             birth_place=m.get("birth_place", "")) for m in doc["members"]),
        housing=doc.get("housing") or {}, assets=doc.get("assets") or {}, version=doc["version"],
        programs=tuple(_programme_of(p) for p in doc.get("programs", [])),
        open_proposals={Program(k): v for k, v in (doc.get("open_proposals") or {}).items()},
        slots_taken_at={Program(k): v for k, v in (doc.get(SLOTS_AT) or {}).items()},
        applied_decrees=tuple(doc.get("applied_decrees", ())),
        created_at=doc.get("created_at"), updated_at=doc.get("updated_at"), created_by=doc.get("created_by", ""))


def _programme_of(p: Document) -> ProgrammeStatus:
    return ProgrammeStatus(program=Program(p["program"]), active=p.get("active", True), period=p["period"],
                           decree_id=p["decree_id"], decree_number=p.get("decree_number", ""),
                           proposal_id=p.get("proposal_id", ""),
                           reason=RemovalReason(p["reason"]) if p.get("reason") else None)


def proposal_doc(p: Proposal) -> Document:
    return {"household_id": p.household_id, "kind": p.kind.value, "program": p.program.value,
            "region_code": p.region_code, "status": p.status, "submitted_at": p.submitted_at, "round": p.round,
            "reason": p.reason, "submitted_by": p.submitted_by, "updated_at": p.updated_at}


def proposal_of(doc: Document) -> Proposal:
    return Proposal(id=doc["_id"], household_id=doc["household_id"], kind=ProposalKind(doc["kind"]),
                    program=Program(doc["program"]), region_code=doc["region_code"], status=doc["status"],
                    submitted_at=doc["submitted_at"], round=doc.get("round", 1), reason=doc.get("reason"),
                    submitted_by=doc.get("submitted_by", ""), updated_at=doc.get("updated_at"))


async def _stored(coll: Collection, ids: list[str]) -> set[str]:
    return {d["_id"] for d in await coll.find({"_id": {"$in": ids}}, projection={"_id": 1})} if ids else set()


# ---------------------------------------------------------------------- households
class HouseholdStore:
    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("households")

    async def prepare(self) -> None:
        await self.coll.create_index([("region_code", 1)])
        await self.coll.create_index([("members.nik", 1)])

    async def add(self, h: Household, outbox: dict[str, Any]) -> None:
        """A new household, visible with its event (its NIK claims are taken before)."""
        await self.coll.insert_one({"_id": h.id, **household_doc(h), "open_proposals": {}, "outbox": [outbox]})

    async def add_many(self, new: list[tuple[Household, dict[str, Any]]]) -> list[bool]:
        """Many new households with their events in one write; per household, whether it went
        in (False: its id is stored already)."""
        collided = set(await self.coll.insert_each(
            [{"_id": h.id, **household_doc(h), "open_proposals": {}, "outbox": [entry]} for h, entry in new]))
        return [i not in collided for i in range(len(new))]

    async def stored(self, household_ids: list[str]) -> set[str]:
        """Which of these ids are stored, visible or not (one read)."""
        return await _stored(self.coll, household_ids)

    async def discard_pending(self, household_id: str) -> None:
        """Removes a household left pending by an earlier version of this service."""
        await self.coll.delete_one({"_id": household_id, "pending_since": {"$exists": True}})

    async def get(self, household_id: str) -> Household | None:
        doc = await self.coll.find_one({"_id": household_id, **VISIBLE}, {"outbox": 0})
        return household_of(doc) if doc else None

    async def get_many(self, household_ids: list[str]) -> dict[str, Household]:
        """The visible households among those ids, in one read."""
        docs = await self.coll.find({"_id": {"$in": household_ids}, **VISIBLE}, projection={"outbox": 0})
        return {doc["_id"]: household_of(doc) for doc in docs}

    async def get_with_pending(self, household_id: str) -> tuple[Household, datetime | None] | None:
        """The household as stored, pending or not, and since when it is pending."""
        doc = await self.coll.find_one({"_id": household_id}, {"outbox": 0})
        return (household_of(doc), doc.get("pending_since")) if doc else None

    async def save(self, h: Household, expected_version: int, outbox: dict[str, Any] | None = None,
                   releasing: tuple[Program, str] | None = None) -> bool:
        """Writes the new state if the stored one is still at `expected_version` (false if not).
        `releasing` (programme, proposal id): frees that slot in the same write, if that
        proposal still holds it (false if not: slots change without a new version)."""
        update: dict[str, Any] = {"$set": household_doc(h)}
        guard: dict[str, Any] = {"_id": h.id, "version": expected_version, **VISIBLE}
        if outbox:
            update["$push"] = {"outbox": outbox}
        if releasing:
            slot = f"open_proposals.{releasing[0].value}"
            guard[slot], update["$unset"] = releasing[1], {slot: "", f"{SLOTS_AT}.{releasing[0].value}": ""}
        return await self.coll.update_one(guard, update)

    async def search(self, *, region_prefix: str | None, q: str | None, limit: int, skip: int) -> list[Household]:
        filter: dict[str, Any] = dict(VISIBLE)
        if region_prefix:
            filter["region_code"] = {"$regex": "^" + re.escape(region_prefix)}
        if q:
            filter["members.name"] = {"$regex": re.escape(q), "$options": "i"}
        docs = await self.coll.find(filter, sort=[("_id", 1)], limit=limit, skip=skip, projection={"outbox": 0})
        return [household_of(d) for d in docs]

    async def reserve_slot(self, household_id: str, program: Program, proposal_id: str, at: datetime,
                           replacing: str | None = None) -> bool:
        """One open proposal per programme, held on the household: a guarded _id update, which
        notes when (a slot naming a proposal never stored is free after a lease)."""
        slot = f"open_proposals.{program.value}"
        condition = {slot: replacing} if replacing else {slot: {"$exists": False}}
        return await self.coll.update_one({"_id": household_id, **condition},
                                          {"$set": {slot: proposal_id, f"{SLOTS_AT}.{program.value}": at}})

    async def reserve_slots(self, wanted: list[tuple[str, Program, str]], at: datetime) -> list[bool]:
        """Free slots (household id, programme, proposal id) reserved in one write; per slot,
        whether it was still free."""
        return await self.coll.update_each(
            [({"_id": household_id, f"open_proposals.{program.value}": {"$exists": False}},
              {"$set": {f"open_proposals.{program.value}": proposal_id, f"{SLOTS_AT}.{program.value}": at}})
             for household_id, program, proposal_id in wanted])

    async def release_slot(self, household_id: str, program: Program, proposal_id: str) -> bool:
        slot = f"open_proposals.{program.value}"
        return await self.coll.update_one({"_id": household_id, slot: proposal_id},
                                          {"$unset": {slot: "", f"{SLOTS_AT}.{program.value}": ""}})


# ---------------------------------------------------------------------- proposals
class ProposalStore:
    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("proposals")

    async def prepare(self) -> None:
        await self.coll.create_index([("household_id", 1)])

    async def add(self, p: Proposal, outbox: dict[str, Any], origin_trace: dict[str, Any] | None) -> None:
        """A new proposal, holding its slot, visible with its event."""
        await self.coll.insert_one({"_id": p.id, **proposal_doc(p), "origin_trace": origin_trace, "outbox": [outbox]})

    async def add_many(self, new: list[tuple[Proposal, dict[str, Any], dict[str, Any] | None]]) -> list[bool]:
        """Many new proposals (each with its event and origin trace) in one write; per
        proposal, whether it went in (False: its id is stored already)."""
        collided = set(await self.coll.insert_each(
            [{"_id": p.id, **proposal_doc(p), "origin_trace": trace, "outbox": [entry]} for p, entry, trace in new]))
        return [i not in collided for i in range(len(new))]

    async def discard_pending(self, proposal_id: str) -> None:
        """Removes a proposal left pending by an earlier version of this service."""
        await self.coll.delete_one({"_id": proposal_id, "status": PENDING})

    async def get(self, proposal_id: str) -> Proposal | None:
        """A visible proposal (not one still pending)."""
        p = await self.get_with_pending(proposal_id)
        return p if p and p.status != PENDING else None

    async def stored(self, proposal_ids: list[str]) -> set[str]:
        """Which of these ids are stored, pending or not (one read)."""
        return await _stored(self.coll, proposal_ids)

    async def get_with_pending(self, proposal_id: str) -> Proposal | None:
        doc = await self.coll.find_one({"_id": proposal_id}, {"outbox": 0})
        return proposal_of(doc) if doc else None

    async def save(self, p: Proposal, expected: Proposal, outbox: dict[str, Any] | None = None) -> bool:
        """Writes the new state if the stored one is still `expected` (its status and round)."""
        update: dict[str, Any] = {"$set": proposal_doc(p)}
        if outbox:
            update["$push"] = {"outbox": outbox}
        return await self.coll.update_one({"_id": p.id, "status": expected.status, "round": expected.round}, update)


# ---------------------------------------------------------------------- NIK claims
class StillUnderWay(Exception):
    """A claim names the household being registered, under another request's token, and is
    younger than a lease: an earlier attempt at the same registration may still finish."""


class NikClaims:
    """One person, one household: a claim per NIK (_id = NIK, naming the household).

    The insert is atomic on any MongoDB-wire server, so of two requests entering the same
    person at once exactly one wins; a claim is taken over only when provably dead."""

    def __init__(self, db: Database, households: HouseholdStore, lease: timedelta) -> None:
        self.coll: Collection = db.collection("nik_claims")
        self._households = households
        self.lease = lease

    async def claim(self, niks: Iterable[str], household_id: str, now: datetime, token: str) -> str | None:
        """Claims every NIK for the household under this request's `token`, in NIK order (two
        requests wanting the same set meet on the same first NIK); on conflict releases those
        it took and names the NIK it could not have (for the caller to name the member's
        position, never the holder). StillUnderWay: an earlier attempt at registering this
        household holds one, and may still finish."""
        wanted, taken = sorted(niks), []
        while len(taken) < len(wanted):
            # The free ones in one command, in order, up to the first already held...
            rest = wanted[len(taken):]
            went_in = await self.coll.insert_in_order(
                [{"_id": nik, "household_id": household_id, "at": now, "token": token} for nik in rest])
            taken += rest[:went_in]
            if went_in == len(rest):
                break
            nik = rest[went_in]  # ...which is ours only if its claim is provably dead
            try:
                ours = await self._claim_one(nik, household_id, now, token)
            except StillUnderWay:
                await self.release_own(taken, household_id, token)
                raise
            if not ours:
                await self.release_own(taken, household_id, token)
                return nik
            taken.append(nik)
        return None

    async def claim_many(self, wanted: list[tuple[str, list[str], str]], now: datetime) -> list[bool]:
        """Every NIK of many households (household id, NIKs, token) in one unordered insert;
        per household, whether all of its went in. One that did not keeps those it got (under
        its token): `claim` with the same token finishes or undoes it."""
        docs = [{"_id": nik, "household_id": hid, "at": now, "token": token} for hid, niks, token in wanted for nik in niks]
        collided = {docs[i]["household_id"] for i in await self.coll.insert_each(docs)}
        return [hid not in collided for hid, _, _ in wanted]

    async def _claim_one(self, nik: str, household_id: str, now: datetime, token: str) -> bool:
        for _ in range(5):  # each round either settles or saw the claim change under it
            if await insert_new(self.coll, {"_id": nik, "household_id": household_id, "at": now, "token": token}):
                return True
            claim = await self.coll.find_one({"_id": nik})
            if claim is None:
                continue  # released meanwhile: try the insert again
            holder_id = claim["household_id"]
            if holder_id == household_id and claim.get("token") in (None, token):
                return True
            found = await self._households.get_with_pending(holder_id)
            holder, pending_since = found if found else (None, None)
            dead = claim_is_dead(claimed_at=claim.get("at"), holder=holder, holder_pending_since=pending_since,
                                 nik=nik, now=now, lease=self.lease)
            if holder_id == household_id and not dead:
                if holder is None:  # an earlier attempt at registering this very household
                    raise StillUnderWay(household_id)
                # Another request of the same household holds it: that request may still fail and
                # release it, so this one cannot rely on it. (One of two concurrent changes of a
                # household fails on its version anyway.)
                return False
            if not dead:
                return False
            # Taken over only if still the dead holder's: of two takers, one wins.
            if await self.coll.update_one({"_id": nik, "household_id": holder_id},
                                          {"$set": {"household_id": household_id, "at": now, "token": token}}):
                return True
        return False

    async def holder(self, nik: str) -> str | None:
        """The household that claimed this NIK, if any (it may be a claim not yet or no more
        alive: readers check that the household lists the person)."""
        claim = await self.coll.find_one({"_id": nik})
        return claim["household_id"] if claim else None

    async def still_held(self, niks: Iterable[str], household_id: str) -> bool:
        for nik in niks:
            if await self.holder(nik) != household_id:
                return False
        return True

    async def release(self, niks: Iterable[str], household_id: str) -> None:
        """After a stored change: the NIKs of members who left are free."""
        for nik in niks:
            await self.coll.delete_one({"_id": nik, "household_id": household_id})

    async def release_own(self, niks: Iterable[str], household_id: str, token: str) -> None:
        """Undoes a request's own claims (its write failed), never another request's."""
        for nik in niks:
            await self.coll.delete_one({"_id": nik, "household_id": household_id, "token": token})
