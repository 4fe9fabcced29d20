"""Households and proposals in MongoDB; each write is one document, outbox included."""

import re
from typing import Any

from siks_kit.store import Collection, Database, Document


class HouseholdStore:
    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("households")

    async def prepare(self) -> None:
        await self.coll.create_index([("region_code", 1)])
        await self.coll.create_index([("members.nik", 1)])

    async def add(self, doc: Document) -> None:
        await self.coll.insert_one(doc)

    async def get(self, household_id: str) -> Document | None:
        return await self.coll.find_one({"_id": household_id}, {"outbox": 0, "seen": 0})

    async def holding_any_nik(self, niks: list[str]) -> Document | None:
        return await self.coll.find_one({"members.nik": {"$in": niks}}, {"_id": 1})

    async def search(self, *, nik: str | None, region_prefix: str | None, q: str | None,
                     limit: int, skip: int) -> list[Document]:
        filter: dict[str, Any] = {}
        if nik:
            filter["members.nik"] = nik
        if region_prefix:
            filter["region_code"] = {"$regex": "^" + re.escape(region_prefix)}
        if q:
            filter["members.name"] = {"$regex": re.escape(q), "$options": "i"}
        return await self.coll.find(filter, sort=[("_id", 1)], limit=limit, skip=skip,
                                    projection={"outbox": 0, "seen": 0})

    async def apply_decree(self, household_id: str, event_id: str, programme: dict[str, Any],
                           status: str, at: Any) -> bool:
        """Idempotent: the event id is recorded in the same write, so a redelivery matches nothing."""
        return await self.coll.update_one(
            {"_id": household_id, "seen": {"$ne": event_id}},
            {"$set": {"status": status, "updated_at": at}, "$push": {"programs": programme, "seen": event_id},
             "$inc": {"version": 1}},
        )


class ProposalStore:
    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("proposals")

    async def prepare(self) -> None:
        await self.coll.create_index([("household_id", 1), ("program", 1), ("status", 1)])

    async def add(self, doc: Document) -> None:
        await self.coll.insert_one(doc)

    async def get(self, proposal_id: str) -> Document | None:
        return await self.coll.find_one({"_id": proposal_id}, {"outbox": 0})

    async def open_for(self, household_id: str, program: str, statuses: tuple[str, ...]) -> Document | None:
        return await self.coll.find_one({"household_id": household_id, "program": program,
                                         "status": {"$in": list(statuses)}}, {"_id": 1})

    async def set_status(self, proposal_id: str, status: str, expected: str, at: Any) -> bool:
        return await self.coll.update_one({"_id": proposal_id, "status": expected},
                                          {"$set": {"status": status, "updated_at": at}})
