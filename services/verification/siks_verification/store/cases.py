"""Cases in MongoDB, one document per proposal (_id = proposal id)."""

from typing import Any

from siks_kit.store import Collection, Database, Document, DuplicateKey, insert_new


class CaseStore:
    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("cases")

    async def prepare(self) -> None:
        await self.coll.create_index([("region_code", 1), ("stage", 1)])

    async def get(self, case_id: str) -> Document | None:
        """An open case; check results that came before their proposal are not one yet."""
        return await self.coll.find_one({"_id": case_id, "stage": {"$exists": True}}, {"outbox": 0, "seen": 0})

    async def open(self, doc: Document) -> bool:
        """Opens the case, onto waiting check results if any; False when already open."""
        if await insert_new(self.coll, doc):
            return True
        waiting = {k: v for k, v in doc.items() if k not in ("_id", "checks", "checks_passed", "seen", "outbox")}
        return await self.coll.update_one(
            {"_id": doc["_id"], "stage": {"$exists": False}},
            {"$set": waiting, "$push": {"seen": {"$each": doc["seen"]}, "outbox": {"$each": doc["outbox"]}}})

    async def record_checks(self, case_id: str, event_id: str, fields: dict[str, Any]) -> bool:
        """Stores the results on the case, or waiting for it (the topics are not ordered with
        each other); False when this event was recorded before."""
        try:
            return await self.coll.update_one({"_id": case_id, "seen": {"$ne": event_id}},
                                              {"$set": fields, "$push": {"seen": event_id}}, upsert=True)
        except DuplicateKey:
            return False

    async def move(self, case_id: str, from_stage: str, set_: dict[str, Any], history: dict[str, Any],
                   outbox: dict[str, Any]) -> bool:
        """Moves the stage only if nobody moved it since we read it (optimistic, one write)."""
        return await self.coll.update_one(
            {"_id": case_id, "stage": from_stage},
            {"$set": set_, "$push": {"history": history, "outbox": outbox}, "$inc": {"version": 1}},
        )
