"""Approved candidates, decrees, the public status index, and counters."""

from typing import Any


from siks_kit.store import Collection, Database, Document, insert_new


class CandidateStore:
    """Cases approved by a regent, waiting for the Minister's decree."""

    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("candidates")

    async def prepare(self) -> None:
        await self.coll.create_index([("program", 1), ("period", 1), ("decree_id", 1)])

    async def add(self, doc: Document) -> bool:
        return await insert_new(self.coll, doc)

    async def undecreed(self, program: str, period: str) -> list[Document]:
        return await self.coll.find({"program": program, "period": period, "decree_id": None},
                                    sort=[("_id", 1)])

    async def claim(self, proposal_id: str, decree_id: str) -> bool:
        return await self.coll.update_one({"_id": proposal_id, "decree_id": None}, {"$set": {"decree_id": decree_id}})


class DecreeStore:
    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("decrees")
        self.counters: Collection = db.collection("counters")

    async def prepare(self) -> None:
        await self.coll.create_index([("program", 1), ("period", 1), ("status", 1)])

    async def add(self, doc: Document) -> None:
        await self.coll.insert_one(doc)

    async def get(self, decree_id: str, *, with_members: bool = False) -> Document | None:
        projection: dict[str, Any] = {"outbox": 0, "seen": 0}
        if not with_members:
            projection["beneficiaries.household"] = 0
        return await self.coll.find_one({"_id": decree_id}, projection)

    async def open_draft(self, program: str, period: str) -> Document | None:
        return await self.coll.find_one({"program": program, "period": period, "status": "draft"}, {"_id": 1})

    async def issue(self, decree_id: str, fields: dict[str, Any], outbox: dict[str, Any]) -> bool:
        return await self.coll.update_one({"_id": decree_id, "status": "draft"},
                                          {"$set": fields, "$push": {"outbox": outbox}})

    async def mark_projected(self, decree_id: str, event_id: str) -> bool:
        return await self.coll.update_one({"_id": decree_id, "seen": {"$ne": event_id}},
                                          {"$push": {"seen": event_id}})

    async def next_number(self, year: int) -> int:
        return await self.counters.increment(f"decree-{year}")


class StatusStore:
    """Cek Bansos: one document per NIK, answering citizens by NIK and name."""

    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("public_status")

    async def prepare(self) -> None:
        pass

    async def get(self, nik: str) -> Document | None:
        return await self.coll.find_one({"_id": nik})

    async def add_programme(self, nik: str, name_key: str, region_code: str, programme: dict[str, Any]) -> None:
        """Idempotent per decree: the same decree is never listed twice for a person."""
        matched = await self.coll.update_one(
            {"_id": nik, "programs.decree_id": {"$ne": programme["decree_id"]}},
            {"$set": {"name_key": name_key, "region_code": region_code}, "$push": {"programs": programme}})
        if not matched:  # a first decree for this person, or this decree already listed
            await insert_new(self.coll, {"_id": nik, "name_key": name_key, "region_code": region_code,
                                         "programs": [programme]})


