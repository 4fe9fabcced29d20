"""Candidates, decrees, their entries, rolls and the public status index; the repositories
map the domain's objects to documents and back. Every change of a decree, a standing or a
person's status is one conditional write on the version it was read at. A decree's entries
are rows of their own (`decree_entries`, one per proposal), read a batch at a time from one
cursor, so no document and no read holds a whole list."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from siks_contracts.enums import EntryChange, Program, RemovalReason
from siks_contracts.events import HouseholdSnapshot
from siks_kit.store.documents import Collection, Database, Document, insert_new

from ..domain.decree import Candidate, Decree, Entry, Status
from ..domain.roll import PublicStatus, Standing

ENTRY_BATCH = 1000  # entries per insert, and per cursor batch when a list is read
REMOVE_CHUNK = 10_000  # entries removed by one delete


def _entry_doc(e: Entry) -> dict[str, Any]:
    return {"proposal_id": e.proposal_id, "household_id": e.household_id, "region_code": e.region_code,
            "change": e.change.value, "reason": e.reason.value if e.reason else None, "tier": e.tier,
            "household": e.household.model_dump(mode="json")}


def _entry_of(d: dict[str, Any]) -> Entry:
    return Entry(d["proposal_id"], d["household_id"], d["region_code"], EntryChange(d.get("change", "added")),
                 HouseholdSnapshot.model_validate(d["household"]),
                 RemovalReason(d["reason"]) if d.get("reason") else None, d.get("tier"))


class CandidateStore:
    """Cases approved by a regent, waiting for the Minister's decree."""

    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("candidates")

    async def prepare(self) -> None:
        await self.coll.create_index([("program", 1), ("period", 1), ("decree_id", 1)])

    @staticmethod
    def doc(c: Candidate) -> Document:
        """A candidate as stored (the bench loads candidates in bulk with this very mapping)."""
        return {"_id": c.entry.proposal_id, **_entry_doc(c.entry), "program": c.program.value, "period": c.period,
                "approved_at": c.approved_at, "approval_reference": c.approval_reference, "decree_id": None}

    async def add(self, c: Candidate) -> bool:
        return await insert_new(self.coll, self.doc(c))

    async def waiting(self, program: str, period: str, limit: int = 0) -> list[str]:
        docs = await self.coll.find({"program": program, "period": period, "decree_id": None}, sort=[("_id", 1)],
                                    limit=limit, projection={"_id": 1})
        return [d["_id"] for d in docs]

    async def count_waiting(self, program: str, period: str) -> int:
        return await self.coll.count({"program": program, "period": period, "decree_id": None})

    async def where(self, proposal_id: str) -> tuple[str, str, str | None] | None:
        """(program, period, decree id or None) of one candidate."""
        doc = await self.coll.find_one({"_id": proposal_id}, {"program": 1, "period": 1, "decree_id": 1})
        return (doc["program"], doc["period"], doc.get("decree_id")) if doc else None

    async def claim_waiting(self, program: str, period: str, decree_id: str) -> int:
        """A single conditional update: takes every waiting case of the programme and period
        that no decree holds yet (a case is in one decree at most)."""
        return await self.coll.update_many({"program": program, "period": period, "decree_id": None},
                                           {"$set": {"decree_id": decree_id}})

    async def claimed(self, decree_id: str) -> AsyncIterator[Entry]:
        """The cases a decree holds, in proposal order, a cursor batch at a time."""
        async for d in self.coll.iterate({"decree_id": decree_id}, sort=[("_id", 1)], batch_size=ENTRY_BATCH):
            yield _entry_of(d)

    async def release(self, decree_id: str) -> int:
        return await self.coll.update_many({"decree_id": decree_id}, {"$set": {"decree_id": None}})

    async def move_waiting(self, program: str, period: str, to_period: str) -> int:
        """Cases that arrived for a period whose decree is issued go into the next one."""
        return await self.coll.update_many({"program": program, "period": period, "decree_id": None},
                                           {"$set": {"period": to_period}})


def entry_id(decree_id: str, proposal_id: str) -> str:
    """One row per decree and proposal: drafting again writes the same row, never a second."""
    return f"{decree_id}|{proposal_id}"


def export_row(d: dict[str, Any]) -> dict[str, Any]:
    """A stored entry as a row of the list officials read (head of household first)."""
    members = d["household"]["members"]
    head = next((m for m in members if m["relation"] == "head"), members[0])
    return {"proposal_id": d["proposal_id"], "household_id": d["household_id"], "region_code": d["region_code"],
            "kk_number": d["household"]["kk_number"], "head_nik": head["nik"], "head_name": head["name"],
            "members": len(members), "change": d.get("change", "added"), "reason": d.get("reason") or ""}


class EntryStore:
    """A decree's entries, one document per proposal, read in proposal order."""

    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("decree_entries")

    async def prepare(self) -> None:
        await self.coll.create_index([("decree_id", 1), ("proposal_id", 1)])

    @staticmethod
    def doc(decree_id: str, e: Entry) -> Document:
        return {"_id": entry_id(decree_id, e.proposal_id), "decree_id": decree_id, **_entry_doc(e)}

    async def add(self, decree_id: str, entries: list[Entry]) -> int:
        """One unordered insert; rows a previous draft wrote are kept as they are (the same)."""
        docs = [self.doc(decree_id, e) for e in entries]
        return len(docs) - len(await self.coll.insert_each(docs))

    def _docs(self, decree_id: str, after: str | None, projection: dict[str, Any] | None = None):
        where: dict[str, Any] = {"decree_id": decree_id}
        if after is not None:
            where["proposal_id"] = {"$gt": after}
        return self.coll.iterate(where, sort=[("proposal_id", 1)], projection=projection, batch_size=ENTRY_BATCH)

    async def listed(self, decree_id: str, after: str | None = None) -> AsyncIterator[Entry]:
        """The entries in proposal order (after `after`), a cursor batch at a time."""
        async for d in self._docs(decree_id, after):
            yield _entry_of(d)

    async def rows(self, decree_id: str) -> AsyncIterator[dict[str, Any]]:
        """The list as officials read it, in proposal order, a cursor batch at a time."""
        async for d in self._docs(decree_id, None):
            yield export_row(d)

    async def get(self, decree_id: str, proposal_id: str) -> Entry | None:
        doc = await self.coll.find_one({"_id": entry_id(decree_id, proposal_id)})
        return _entry_of(doc) if doc else None

    async def remove(self, decree_id: str) -> int:
        """A chunk at a time: FerretDB's SQLite backend deletes a whole match in one statement,
        and refuses one of more than 32,766 documents."""
        gone = 0
        while ids := [d["_id"] for d in await self.coll.find({"decree_id": decree_id}, limit=REMOVE_CHUNK,
                                                             projection={"_id": 1})]:
            gone += await self.coll.delete_many({"_id": {"$in": ids}})
        return gone


@dataclass(frozen=True)
class Publication:
    """How far the publisher has sent an issued decree's entries (its checkpoint)."""

    decree: Decree
    through: str | None  # the last proposal id sent, in proposal order
    sent: int
    trace: dict[str, Any] | None


class DecreeStore:
    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("decrees")
        self.counters: Collection = db.collection("counters")

    async def prepare(self) -> None:
        await self.coll.create_index([("program", 1), ("status", 1)])

    @staticmethod
    def _doc(d: Decree) -> Document:
        return {"_id": d.id, "program": d.program.value, "period": d.period, "status": d.status.value,
                "drafted_at": d.drafted_at, "drafted_by": d.drafted_by, "count": d.count, "number": d.number,
                "issued_at": d.issued_at, "issued_by": d.issued_by, "content_hash": d.content_hash,
                "version": d.version}

    @staticmethod
    def _of(doc: Document) -> Decree:
        return Decree(doc["_id"], Program(doc["program"]), doc["period"], Status(doc["status"]), doc["drafted_at"],
                      doc["drafted_by"], doc.get("count", 0), doc.get("number"), doc.get("issued_at"),
                      doc.get("issued_by"), doc.get("content_hash"), doc["version"])

    async def get(self, decree_id: str) -> Decree | None:
        # Decrees written before entries became rows hold them inside: never read them here.
        doc = await self.coll.find_one({"_id": decree_id}, {"outbox": 0, "entries": 0})
        return None if doc is None else self._of(doc)

    async def legacy_entry(self, decree_id: str, proposal_id: str) -> Entry | None:
        """An entry of a decree written before entries became rows (for replays of v1 records)."""
        doc = await self.coll.find_one({"_id": decree_id}, {"entries": 1})
        found = next((e for e in (doc or {}).get("entries") or [] if e["proposal_id"] == proposal_id), None)
        return _entry_of(found) if found else None

    async def mark_issued_trace(self, decree_id: str, trace: dict[str, Any] | None) -> None:
        if trace:
            await self.coll.update_one({"_id": decree_id}, {"$set": {"issue_trace": trace}})

    async def unpublished(self) -> list[Publication]:
        """Issued decrees whose entries are not all sent yet, with each one's checkpoint."""
        docs = await self.coll.find({"status": Status.ISSUED.value, "published_all": {"$ne": True}},
                                    sort=[("issued_at", 1)], projection={"outbox": 0, "entries": 0})
        return [Publication(self._of(d), d.get("published_through"), d.get("published", 0), d.get("issue_trace"))
                for d in docs]

    async def checkpoint(self, decree_id: str, through: str | None, sent: int, done: bool) -> None:
        await self.coll.update_one({"_id": decree_id}, {"$set": {"published_through": through, "published": sent,
                                                                 "published_all": done}})

    async def insert(self, d: Decree) -> bool:
        return await insert_new(self.coll, self._doc(d))

    async def save(self, d: Decree, loaded_version: int, outbox: list[dict[str, Any]] | None = None) -> bool:
        update: dict[str, Any] = {"$set": {k: v for k, v in self._doc(d).items() if k != "_id"}}
        if outbox:
            update["$push"] = {"outbox": {"$each": outbox}}
        return await self.coll.update_one({"_id": d.id, "version": loaded_version}, update)

    async def delete(self, d: Decree) -> bool:
        return await self.coll.delete_one({"_id": d.id, "version": d.version})

    async def issued_periods(self, program: str) -> set[str]:
        return {d["period"] for d in await self.coll.find({"program": program, "status": Status.ISSUED.value},
                                                          projection={"period": 1})}

    async def next_number(self, year: int) -> int:
        return await self.counters.increment(f"decree-{year}")


def _standing_doc(s: Standing) -> dict[str, Any]:
    return {"program": s.program.value, "status": s.status, "period": s.period, "sk_number": s.sk_number,
            "decree_id": s.decree_id, "order": s.order, "since_period": s.since_period,
            "reason": s.reason.value if s.reason else None}


def _standing_of(d: dict[str, Any]) -> Standing:
    return Standing(Program(d["program"]), d["status"], d["period"], d["sk_number"], d["decree_id"], d["order"],
                    d["since_period"], RemovalReason(d["reason"]) if d.get("reason") else None)


class RollStore:
    """Each programme's roll: one document per programme and household."""

    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("rolls")

    async def prepare(self) -> None:
        await self.coll.create_index([("program", 1), ("status", 1)])

    async def get(self, program: Program, household_id: str) -> tuple[Standing | None, int]:
        doc = await self.coll.find_one({"_id": f"{program.value}:{household_id}"})
        return (_standing_of(doc), doc["version"]) if doc else (None, 0)

    async def put(self, household_id: str, s: Standing, loaded_version: int) -> bool:
        body = {**_standing_doc(s), "household_id": household_id, "version": loaded_version + 1}
        if loaded_version == 0:
            return await insert_new(self.coll, {"_id": f"{s.program.value}:{household_id}", **body})
        return await self.coll.update_one({"_id": f"{s.program.value}:{household_id}", "version": loaded_version},
                                          {"$set": body})


class StatusStore:
    """Cek Bansos: one document per NIK, answering citizens by NIK and name."""

    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("public_status")

    async def prepare(self) -> None:
        pass

    async def get(self, nik: str) -> PublicStatus | None:
        doc = await self.coll.find_one({"_id": nik})
        if doc is None:
            return None
        return PublicStatus(doc["_id"], doc["name_key"], doc["region_code"],
                            tuple(_standing_of(p) for p in doc.get("standings", [])), doc.get("version", 0))

    async def put(self, status: PublicStatus, loaded_version: int) -> bool:
        """One conditional write: False when someone else wrote this NIK since it was read
        (the caller reads again and reapplies, so no update is ever lost)."""
        body = {"name_key": status.name_key, "region_code": status.region_code, "version": status.version,
                "standings": [_standing_doc(s) for s in status.programs]}
        if loaded_version == 0:
            return await insert_new(self.coll, {"_id": status.nik, **body})
        return await self.coll.update_one({"_id": status.nik, "version": loaded_version}, {"$set": body})
