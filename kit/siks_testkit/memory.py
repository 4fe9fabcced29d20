"""Unit-test fakes behind the same interfaces as the real adapters. Only tests import this
module; production images do not carry mongomock."""

import inspect
from dataclasses import dataclass, field

import mongomock
from pymongo import ReturnDocument

from siks_kit.store.documents import (Collection, DuplicateKey, NothingPublished, Published, WriteHook, _noop,
                                      distinct_rounds, removing_published, report_insert, report_update)
from siks_kit.bus.transport import BatchCallback, Record


class MemoryCollection:
    def __init__(self, raw, on_write: WriteHook, published=NothingPublished) -> None:
        self._raw, self._on_write, self.name = raw, on_write, raw.name
        self._published = published

    async def insert_one(self, doc) -> None:
        try:
            self._raw.insert_one(doc)
        except mongomock.DuplicateKeyError as exc:
            raise DuplicateKey(str(doc.get("_id"))) from exc
        report_insert(doc, self._on_write, self.name)

    async def insert_in_order(self, docs) -> int:
        for inserted, doc in enumerate(docs):
            try:
                self._raw.insert_one(doc)
            except mongomock.DuplicateKeyError:
                return inserted
            report_insert(doc, self._on_write, self.name)
        return len(docs)

    async def find_one(self, filter, projection=None):
        return self._raw.find_one(filter, projection)

    async def find(self, filter, *, sort=None, limit=0, skip=0, projection=None):
        cursor = self._raw.find(filter, projection, skip=skip, limit=limit)
        if sort:
            cursor = cursor.sort(list(sort))
        return list(cursor)

    async def iterate(self, filter, *, sort=None, projection=None, batch_size: int = 1000):
        cursor = self._raw.find(filter, projection, batch_size=batch_size)
        if sort:
            cursor = cursor.sort(list(sort))
        for doc in cursor:
            yield doc

    async def update_one(self, filter, update, *, upsert: bool = False) -> bool:
        published = self._published()
        sent, removing = (update, []) if upsert else removing_published(published, self.name, filter["_id"], update)
        try:
            result = self._raw.update_one(filter, sent, upsert=upsert)
        except mongomock.DuplicateKeyError as exc:
            published.keep(self.name, filter["_id"], removing)
            raise DuplicateKey(str(filter.get("_id"))) from exc
        if result.matched_count == 0:
            published.keep(self.name, filter["_id"], removing)
        return report_update(result, update, self._on_write, self.name, filter["_id"])

    async def update_many(self, filter, update) -> int:
        return self._raw.update_many(filter, update).modified_count

    async def update_each(self, changes) -> list[bool]:
        distinct_rounds(changes)  # the same refusal as the real one
        return [await self.update_one(filter, update) for filter, update in changes]

    async def insert_each(self, docs) -> list[int]:
        collided = []
        for i, doc in enumerate(docs):
            try:
                self._raw.insert_one(doc)
            except mongomock.DuplicateKeyError:
                collided.append(i)
                continue
            report_insert(doc, self._on_write, self.name)
        return collided

    async def delete_one(self, filter) -> bool:
        return self._raw.delete_one(filter).deleted_count > 0

    async def delete_many(self, filter) -> int:
        return self._raw.delete_many(filter).deleted_count

    async def count(self, filter) -> int:
        return self._raw.count_documents(filter)

    async def create_index(self, keys, *, unique=False, name=None) -> None:
        self._raw.create_index(list(keys), unique=unique, **({"name": name} if name else {}))

    async def increment(self, counter_id: str) -> int:
        doc = self._raw.find_one_and_update({"_id": counter_id}, {"$inc": {"value": 1}}, upsert=True,
                                            return_document=ReturnDocument.AFTER)
        return doc["value"]


class MemoryDatabase:
    def __init__(self, on_write: WriteHook = _noop) -> None:
        self._db = mongomock.MongoClient(tz_aware=True)["memory"]
        self.on_write = on_write
        self.published: Published = NothingPublished()

    def collection(self, name: str) -> Collection:
        return MemoryCollection(self._db[name], lambda c, i, e: self.on_write(c, i, e), lambda: self.published)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        pass


@dataclass
class MemoryTransport:
    """Records what is published; tests deliver records to subscribers by hand (`deliver`),
    or all that waits, as Kafka would (`pump`)."""

    published: list[Record] = field(default_factory=list)
    subscribers: dict[str, list[BatchCallback]] = field(default_factory=dict)
    pumped: int = 0  # how many of `published` `pump` has delivered

    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        self.published.append(Record(topic, key, value, dict(headers)))

    def subscribe(self, topic: str, group: str, callback: BatchCallback) -> None:
        self.subscribers.setdefault(topic, []).append(callback)

    async def deliver(self, *records: Record) -> None:
        """Hands the records to each subscriber of their topic as one batch."""
        for callback in self.subscribers.get(records[0].topic, []) if records else []:
            await callback(list(records))

    async def pump(self, redeliveries: int = 10) -> None:
        """Delivers every record published since the last pump, in order, each run of one
        topic's records as one batch, as a poll would. A callback that raises gets the same
        batch again, as an unacknowledged Kafka batch comes again (here at most
        `redeliveries` times, then the error stands)."""
        while self.pumped < len(self.published):
            topic = self.published[self.pumped].topic
            end = self.pumped
            while end < len(self.published) and self.published[end].topic == topic:
                end += 1
            batch = self.published[self.pumped:end]
            for callback in self.subscribers.get(topic, []):
                for attempt in range(redeliveries + 1):
                    try:
                        await callback(list(batch))
                        break
                    except Exception:
                        if attempt == redeliveries:
                            raise
            self.pumped = end

    def on(self, topic: str) -> list[Record]:
        return [r for r in self.published if r.topic == topic]

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def ping(self) -> bool:
        return True


class CommandLog:
    """Records (collection, method) for each command code sends the fake database, so a test
    can say how many reads and writes a batch took. `ignore(collection, method, args)` leaves
    some out (the relay's bookkeeping, say)."""

    def __init__(self, db: "MemoryDatabase", ignore=lambda name, method, args: False) -> None:
        self.sent: list[tuple[str, str]] = []
        inner, sent = db.collection, self.sent

        def collection(name):
            coll = inner(name)

            class Logged:
                def __getattr__(self, attr):
                    method = getattr(coll, attr)
                    if not inspect.iscoroutinefunction(method):
                        return method  # attributes, iterate (an async generator)

                    async def logged(*args, **kwargs):
                        if not ignore(name, attr, args):
                            sent.append((name, attr))
                        return await method(*args, **kwargs)
                    return logged
            return Logged()

        db.collection = collection

    def of(self, name: str | None = None) -> list[str]:
        """The methods called, on one collection or on all."""
        return [method for coll, method in self.sent if name is None or coll == name]

    def clear(self) -> None:
        self.sent.clear()
