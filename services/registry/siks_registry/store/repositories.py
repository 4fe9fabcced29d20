"""Households and proposals in MongoDB; each write is one document, outbox included."""

import re
from typing import Any

from siks_kit.store import Collection, Database, Document, insert_new


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

    async def exists(self, household_id: str) -> bool:
        return await self.coll.find_one({"_id": household_id}, {"_id": 1}) is not None

    async def search(self, *, region_prefix: str | None, q: str | None, limit: int, skip: int) -> list[Document]:
        filter: dict[str, Any] = {}
        if region_prefix:
            filter["region_code"] = {"$regex": "^" + re.escape(region_prefix)}
        if q:
            filter["members.name"] = {"$regex": re.escape(q), "$options": "i"}
        return await self.coll.find(filter, sort=[("_id", 1)], limit=limit, skip=skip,
                                    projection={"outbox": 0, "seen": 0})

    async def reserve_program(self, household_id: str, program: str, proposal_id: str,
                              replacing: str | None = None) -> bool:
        """One open proposal per programme, held on the household itself: an _id update, no scan."""
        slot = f"open_proposals.{program}"
        condition = {slot: replacing} if replacing else {slot: {"$exists": False}}
        return await self.coll.update_one({"_id": household_id, **condition}, {"$set": {slot: proposal_id}})

    async def release_program(self, household_id: str, program: str, proposal_id: str) -> bool:
        slot = f"open_proposals.{program}"
        return await self.coll.update_one({"_id": household_id, slot: proposal_id}, {"$unset": {slot: ""}})

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
        await self.coll.create_index([("household_id", 1)])

    async def add(self, doc: Document) -> None:
        await self.coll.insert_one(doc)

    async def get(self, proposal_id: str) -> Document | None:
        return await self.coll.find_one({"_id": proposal_id}, {"outbox": 0})

    async def set_status(self, proposal_id: str, status: str, expected: str, at: Any) -> bool:
        return await self.coll.update_one({"_id": proposal_id, "status": expected},
                                          {"$set": {"status": status, "updated_at": at}})


class NikClaims:
    """One person, one household: a NIK is claimed (_id = NIK) before its household is stored.

    An insert under the NIK is atomic on any MongoDB-wire server, so two operators entering
    the same person at once cannot both win, and the check is an _id lookup, not a scan."""

    def __init__(self, db: Database, households: HouseholdStore) -> None:
        self.coll: Collection = db.collection("nik_claims")
        self._households = households

    async def claim(self, niks: list[str], household_id: str) -> str | None:
        """Claims every NIK for the household; on conflict releases them and names the holder."""
        taken: list[str] = []
        for nik in niks:
            holder = await self._claim_one(nik, household_id)
            if holder is not None:
                await self.release(taken, household_id)
                return holder
            taken.append(nik)
        return None

    async def _claim_one(self, nik: str, household_id: str) -> str | None:
        if await insert_new(self.coll, {"_id": nik, "household_id": household_id}):
            return None
        holder = await self.holder(nik)
        if holder and not await self._households.exists(holder):
            # A claim left by a registration that died before storing its household.
            if await self.coll.update_one({"_id": nik, "household_id": holder}, {"$set": {"household_id": household_id}}):
                return None
        return holder or await self._claim_one(nik, household_id)

    async def holder(self, nik: str) -> str | None:
        """The household that claimed this NIK, if any (it may be a claim whose registration died)."""
        claim = await self.coll.find_one({"_id": nik})
        return claim["household_id"] if claim else None

    async def release(self, niks: list[str], household_id: str) -> None:
        for nik in niks:
            await self.coll.delete_one({"_id": nik, "household_id": household_id})
