"""Cases in MongoDB, one document per proposal (_id = proposal id)."""

from typing import Any

from siks_kit.store import Collection, Database, Document, insert_new


class CaseStore:
    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("cases")

    async def prepare(self) -> None:
        await self.coll.create_index([("region_code", 1), ("stage", 1)])

    async def get(self, case_id: str) -> Document | None:
        return await self.coll.find_one({"_id": case_id}, {"outbox": 0, "seen": 0})

    async def open(self, doc: Document) -> bool:
        """Opens the case; False when it is already open (a redelivered proposal)."""
        return await insert_new(self.coll, doc)

    async def record_checks(self, case_id: str, event_id: str, fields: dict[str, Any]) -> bool:
        return await self.coll.update_one({"_id": case_id, "seen": {"$ne": event_id}},
                                          {"$set": fields, "$push": {"seen": event_id}})

    async def move(self, case_id: str, from_stage: str, set_: dict[str, Any], history: dict[str, Any],
                   outbox: dict[str, Any]) -> bool:
        """Moves the stage only if nobody moved it since we read it (optimistic, one write)."""
        return await self.coll.update_one(
            {"_id": case_id, "stage": from_stage},
            {"$set": set_, "$push": {"history": history, "outbox": outbox}, "$inc": {"version": 1}},
        )
