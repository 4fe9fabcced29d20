"""Check sets in MongoDB, one document per proposal (_id = proposal id) holding its latest
round. State and the events it causes go in one write (the outbox rides in the document),
guarded by `version` so a retry and a new round never overwrite each other."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from siks_contracts.events import CheckResult, HouseholdSnapshot
from siks_kit.store.documents import Collection, Database, Document, insert_new

from ..domain.check_set import Announced, Check, CheckSet


@dataclass(frozen=True)
class Stored:
    check_set: CheckSet
    version: int  # 0: a document written before versions (or none at all)
    correlation_id: str | None = None
    causation_id: str | None = None
    trace: dict[str, Any] | None = None


def to_fields(cs: CheckSet) -> Document:
    return {
        "household_id": cs.household_id, "region_code": cs.region_code, "program": cs.program, "round": cs.round,
        "checks": [c.fields() for c in cs.checks], "desil": cs.desil, "passed": cs.passed,
        "waiting": not cs.complete, "waiting_on": cs.waiting_on, "started_at": cs.started_at,
        "checked_at": cs.checked_at, "failed_attempts": cs.failed_attempts, "next_attempt_at": cs.next_attempt_at,
        "announced": {"waiting_on": list(cs.announced.waiting_on), "completed": cs.announced.completed},
        "household": cs.household.model_dump(mode="json") if cs.household is not None else None,
    }


def from_doc(doc: Document) -> CheckSet:
    announced = doc.get("announced") or {}
    household = doc.get("household")
    passed = doc.get("passed")
    return CheckSet(
        proposal_id=doc["_id"], household_id=doc["household_id"], region_code=doc["region_code"],
        program=doc.get("program", ""), round=doc.get("round", 1),
        # A v1 record's "error" check is shown as it was; it never waits again.
        checks=[Check.of(CheckResult.model_validate(c)) for c in doc["checks"]],
        started_at=doc.get("started_at", doc["checked_at"]), checked_at=doc["checked_at"],
        household=HouseholdSnapshot.model_validate(household) if household else None,
        desil=doc.get("desil"), failed_attempts=doc.get("failed_attempts", 0),
        next_attempt_at=doc.get("next_attempt_at"),
        announced=Announced(tuple(announced.get("waiting_on", ())),
                            completed=announced.get("completed", passed is not None)),
    )


def _stored(doc: Document) -> Stored:
    return Stored(from_doc(doc), doc.get("version", 0), doc.get("correlation_id"), doc.get("causation_id"),
                  doc.get("trace"))


class CheckStore:
    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("checks")

    async def prepare(self) -> None:
        await self.coll.create_index([("region_code", 1)])
        await self.coll.create_index([("waiting", 1), ("next_attempt_at", 1)])

    async def load(self, proposal_id: str) -> Stored | None:
        doc = await self.coll.find_one({"_id": proposal_id}, {"outbox": 0})
        return _stored(doc) if doc else None

    async def load_many(self, proposal_ids: list[str]) -> dict[str, Stored]:
        """The check sets of those proposals that have one, in one read."""
        docs = await self.coll.find({"_id": {"$in": proposal_ids}}, projection={"outbox": 0})
        return {doc["_id"]: _stored(doc) for doc in docs}

    async def add_many(self, new: list[tuple[CheckSet, list[Document], dict[str, Any]]]) -> list[bool]:
        """First rounds, each with its events and origin (correlation_id, causation_id, trace),
        in one write; per set, whether it went in (False: one exists already)."""
        collided = set(await self.coll.insert_each(
            [{"_id": cs.proposal_id, **to_fields(cs), **origin, "version": 1, "outbox": outbox}
             for cs, outbox, origin in new]))
        return [i not in collided for i in range(len(new))]

    async def save(self, cs: CheckSet, version: int, outbox: list[Document], *,
                   correlation_id: str | None = None, causation_id: str | None = None,
                   trace: dict[str, Any] | None = None) -> bool:
        """Writes the set and its events at once; False when someone else wrote it since
        `version` was read (the caller reloads and decides again)."""
        fields = to_fields(cs)
        if correlation_id is not None:
            fields |= {"correlation_id": correlation_id, "causation_id": causation_id, "trace": trace}
        if version == 0:
            inserted = await insert_new(self.coll, {"_id": cs.proposal_id, **fields, "version": 1, "outbox": outbox})
            if inserted:
                return True
            guard: dict[str, Any] = {"_id": cs.proposal_id, "version": {"$exists": False}}  # a v1 record
        else:
            guard = {"_id": cs.proposal_id, "version": version}
        update: dict[str, Any] = {"$set": {**fields, "version": version + 1}}
        if outbox:
            update["$push"] = {"outbox": {"$each": outbox}}
        return await self.coll.update_one(guard, update)

    async def waiting(self, due_by: datetime | None = None, limit: int = 500) -> list[str]:
        """Proposal ids whose latest round waits on an outside system (due by `due_by`)."""
        filter: dict[str, Any] = {"waiting": True}
        if due_by is not None:
            filter["next_attempt_at"] = {"$lte": due_by}
        docs = await self.coll.find(filter, sort=[("next_attempt_at", 1)], limit=limit, projection={"_id": 1})
        return [d["_id"] for d in docs]
