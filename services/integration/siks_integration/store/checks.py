"""Check results in MongoDB, one document per proposal (_id = proposal id)."""

from siks_kit.store import Collection, Database, Document, insert_new


class CheckStore:
    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("checks")

    async def prepare(self) -> None:
        await self.coll.create_index([("region_code", 1)])

    async def get(self, proposal_id: str) -> Document | None:
        return await self.coll.find_one({"_id": proposal_id}, {"outbox": 0})

    async def exists(self, proposal_id: str) -> bool:
        return await self.coll.find_one({"_id": proposal_id}, {"_id": 1}) is not None

    async def add(self, doc: Document) -> bool:
        return await insert_new(self.coll, doc)
