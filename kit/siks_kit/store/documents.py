"""The document store the services use: a small async interface over MongoDB collections.

MongoCollection speaks to a real MongoDB-wire server (PyMongo's AsyncMongoClient); the
MemoryDatabase fake (siks_testkit.memory) serves unit tests. One shared test suite runs both.
A write that adds outbox entries calls `on_write(collection, _id, entries)`, so the relay
publishes those entries at once, from memory, without reading them back or scanning for work.
And an update of a document whose entries the relay has just published removes them in
passing (`published`), which saves the relay a write of its own to that document.
"""

import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

from pymongo import AsyncMongoClient, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure
from pymongo.errors import DuplicateKeyError as _MongoDuplicateKey

Document = dict[str, Any]
DUPLICATE_KEY_CODE = 11000
Sort = Sequence[tuple[str, int]]


class DuplicateKey(Exception):
    """An insert hit an existing _id or unique index: the thing already exists."""


class Collection(Protocol):
    name: str

    async def insert_one(self, doc: Document) -> None: ...
    async def insert_in_order(self, docs: Sequence[Document]) -> int:
        """Inserts the documents in order in one command, stopping at the first that collides
        with an existing _id or unique index; how many went in (those before it)."""
    async def find_one(self, filter: Mapping[str, Any], projection: Mapping[str, Any] | None = None) -> Document | None: ...
    async def find(self, filter: Mapping[str, Any], *, sort: Sort | None = None, limit: int = 0,
                   skip: int = 0, projection: Mapping[str, Any] | None = None) -> list[Document]: ...
    def iterate(self, filter: Mapping[str, Any], *, sort: Sort | None = None,
                projection: Mapping[str, Any] | None = None, batch_size: int = 1000) -> AsyncIterator[Document]:
        """The matching documents one at a time from one server-side cursor that fetches
        `batch_size` at a time: a result of any size is read without holding it."""
    async def update_one(self, filter: Mapping[str, Any], update: Mapping[str, Any], *, upsert: bool = False) -> bool:
        """True when a document matched (or was created by the upsert); an upsert that collides
        with an existing _id raises DuplicateKey."""
    async def update_many(self, filter: Mapping[str, Any], update: Mapping[str, Any]) -> int:
        """One conditional update of every matching document; how many it changed."""
    async def update_each(self, changes: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> list[bool]:
        """Many guarded updates, each of the one document its filter names by `_id` (no
        upserts), in one command where their ids differ; per update, whether it matched, as
        `update_one` would say. Updates of the same id apply in the order given."""
    async def insert_each(self, docs: Sequence[Document]) -> list[int]:
        """Inserts the documents in one unordered command (one write for the lot); returns the
        positions of those that collided with an existing _id or unique index, which are left
        as they were. Any other failure raises, after the ones stored are handed on."""
    async def delete_one(self, filter: Mapping[str, Any]) -> bool: ...
    async def delete_many(self, filter: Mapping[str, Any]) -> int: ...  # how many went
    async def count(self, filter: Mapping[str, Any]) -> int: ...
    async def create_index(self, keys: Sort, *, unique: bool = False, name: str | None = None) -> None: ...
    async def increment(self, counter_id: str) -> int: ...  # atomic; 1 on first use


class Database(Protocol):
    def collection(self, name: str) -> Collection: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


async def insert_new(coll: Collection, doc: Document) -> bool:
    """Inserts under a deterministic id; False when it exists (how consumers stay idempotent)."""
    try:
        await coll.insert_one(doc)
    except DuplicateKey:
        return False
    return True


def _noop(collection: str, doc_id: Any, entries: list[Document]) -> None:
    pass


def outbox_added(change: Mapping[str, Any]) -> list[Document]:
    """The outbox entries a new document carries, or an update pushes (one, or `$each`)."""
    if "$push" not in change:
        return list(change.get("outbox") or [])
    pushed = change["$push"].get("outbox")
    if pushed is None:
        return []
    return list(pushed["$each"]) if isinstance(pushed, Mapping) and "$each" in pushed else [pushed]


# (collection, _id, the outbox entries the write added, in order)
WriteHook = Callable[[str, Any, list[Document]], None]


def report_insert(doc: Mapping[str, Any], on_write: WriteHook, collection: str) -> None:
    if entries := outbox_added(doc):
        on_write(collection, doc["_id"], entries)


def report_update(result: Any, update: Mapping[str, Any], on_write: WriteHook, collection: str, doc_id: Any) -> bool:
    """Whether an update matched or upserted; hands on the outbox entries it added."""
    changed = result.matched_count > 0 or result.upserted_id is not None
    if changed and (entries := outbox_added(update)):
        on_write(collection, doc_id, entries)
    return changed


class Published(Protocol):
    """Outbox entries sent and not yet removed from their documents (the relay holds them a
    moment for this): an update of such a document takes them and removes them in passing,
    or keeps them (gives them back) when it did not match."""

    def take(self, collection: str, doc_id: Any) -> list[Document]: ...
    def keep(self, collection: str, doc_id: Any, entries: list[Document]) -> None: ...


class NothingPublished:
    def take(self, collection: str, doc_id: Any) -> list[Document]:
        return []

    def keep(self, collection: str, doc_id: Any, entries: list[Document]) -> None:
        pass


def _touches_outbox(update: Mapping[str, Any]) -> bool:
    return any(key == "outbox" or key.startswith("outbox.")
               for fields in update.values() if isinstance(fields, Mapping) for key in fields)


def removing_published(published: Published, collection: str, doc_id: Any,
                       update: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[Document]]:
    """The update, also pulling the document's published entries from its outbox (unless it
    writes the outbox itself: one update cannot both push to and pull from an array); and
    those entries, to keep if the update does not match."""
    if not isinstance(update, Mapping) or _touches_outbox(update):
        return update, []
    entries = published.take(collection, doc_id)
    if not entries:
        return update, []
    return {**update, "$pullAll": {**update.get("$pullAll", {}), "outbox": entries}}, entries


# Each statement of `update_each` stamps its document with a token of its own: the server tells
# only how many statements matched, so when fewer did than were sent, one read of the ids says
# which. Readers pick their fields and ignore it.
WRITE_STAMP = "write_stamp"


def stamped(update: Mapping[str, Any], stamp: str) -> dict[str, Any]:
    return {**update, "$set": {**update.get("$set", {}), WRITE_STAMP: stamp}}


def distinct_rounds(changes: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> list[list[int]]:
    """The positions of the changes in rounds whose ids differ, each id's changes in order: a
    stamp tells one statement's write from another's only when its id is written once."""
    rounds: list[list[int]] = []
    seen: dict[Any, int] = {}
    for i, (filter, _) in enumerate(changes):
        if "_id" not in filter:
            raise ValueError("update_each changes one document each: every filter names its _id")
        key = repr(filter["_id"])
        n = seen[key] = seen.get(key, -1) + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(i)
    return rounds


def project(doc: Document, projection: Mapping[str, Any] | None) -> Document:
    """A top-level inclusion or exclusion projection, applied here rather than by a second
    read (the only kind the services use; dotted paths are refused, not guessed at)."""
    if not projection:
        return doc
    if any("." in key for key in projection):
        raise ValueError(f"projection on a dotted path is not supported here: {sorted(projection)}")
    wanted = {key: bool(value) for key, value in projection.items()}
    if any(value for key, value in wanted.items() if key != "_id") or wanted == {"_id": True}:
        keep = {key for key, value in wanted.items() if value} | ({"_id"} if wanted.get("_id", True) else set())
        return {key: value for key, value in doc.items() if key in keep}
    return {key: value for key, value in doc.items() if wanted.get(key, True)}


class MongoCollection:
    def __init__(self, raw: Any, on_write: WriteHook, published: Callable[[], Published] = NothingPublished) -> None:
        self._raw, self._on_write, self.name = raw, on_write, raw.name
        self._published = published

    async def insert_one(self, doc: Document) -> None:
        try:
            await self._raw.insert_one(doc)
        except _MongoDuplicateKey as exc:
            raise DuplicateKey(str(doc.get("_id"))) from exc
        report_insert(doc, self._on_write, self.name)

    async def insert_in_order(self, docs) -> int:
        if not docs:
            return 0
        try:
            await self._raw.insert_many(docs, ordered=True)
            inserted = len(docs)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not errors or errors[0].get("code") != DUPLICATE_KEY_CODE:
                raise
            inserted = errors[0]["index"]
        for doc in docs[:inserted]:
            report_insert(doc, self._on_write, self.name)
        return inserted

    async def find_one(self, filter, projection=None):
        return await self._raw.find_one(filter, projection)

    async def find(self, filter, *, sort=None, limit=0, skip=0, projection=None):
        cursor = self._raw.find(filter, projection, skip=skip, limit=limit)
        if sort:
            cursor = cursor.sort(list(sort))
        return await cursor.to_list(None)

    async def iterate(self, filter, *, sort=None, projection=None, batch_size: int = 1000):
        cursor = self._raw.find(filter, projection, batch_size=batch_size, sort=list(sort) if sort else None)
        try:
            async for doc in cursor:
                yield doc
        finally:
            await cursor.close()

    async def update_one(self, filter, update, *, upsert: bool = False) -> bool:
        # One command: the server applies the guards atomically (MongoDB does; our FerretDB
        # build locks the collection from read to write) and narrows by _id through its index.
        published = self._published()
        sent, removing = (update, []) if upsert else removing_published(published, self.name, filter["_id"], update)
        try:
            result = await self._raw.update_one(filter, sent, upsert=upsert)
        except BaseException as exc:
            published.keep(self.name, filter["_id"], removing)  # removed or not, the relay's removal is safe
            if isinstance(exc, _MongoDuplicateKey):
                raise DuplicateKey(str(filter.get("_id"))) from exc
            raise
        if result.matched_count == 0:
            published.keep(self.name, filter["_id"], removing)
        return report_update(result, update, self._on_write, self.name, filter["_id"])

    async def update_many(self, filter, update) -> int:
        return (await self._raw.update_many(filter, update)).modified_count

    async def update_each(self, changes) -> list[bool]:
        matched = [False] * len(changes)
        published = self._published()
        for positions in distinct_rounds(changes):
            stamps = {i: secrets.token_hex(8) for i in positions}
            sent = {i: removing_published(published, self.name, changes[i][0]["_id"], changes[i][1]) for i in positions}
            hit: set[int] = set()
            try:
                result = await self._raw.bulk_write(
                    [UpdateOne(changes[i][0], stamped(sent[i][0], stamps[i])) for i in positions], ordered=False)
                if result.matched_count == len(positions):
                    hit = set(positions)
                else:
                    ids = [changes[i][0]["_id"] for i in positions]
                    now = {repr(d["_id"]): d.get(WRITE_STAMP)
                           for d in await self._raw.find({"_id": {"$in": ids}}, {WRITE_STAMP: 1}).to_list(None)}
                    hit = {i for i in positions if now.get(repr(changes[i][0]["_id"])) == stamps[i]}
            finally:  # entries whose update did not match (or may not have) stay the relay's to remove
                for i in positions:
                    if i not in hit:
                        published.keep(self.name, changes[i][0]["_id"], sent[i][1])
            for i in sorted(hit):
                matched[i] = True
                if entries := outbox_added(changes[i][1]):
                    self._on_write(self.name, changes[i][0]["_id"], entries)
        return matched

    async def insert_each(self, docs) -> list[int]:
        if not docs:
            return []
        errors: list[dict[str, Any]] = []
        try:
            await self._raw.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not errors:
                raise
        failed = {e["index"] for e in errors}
        for i, doc in enumerate(docs):
            if i not in failed:
                report_insert(doc, self._on_write, self.name)
        if other := [e for e in errors if e.get("code") != DUPLICATE_KEY_CODE]:
            raise OperationFailure(other[0].get("errmsg", "insert failed"), other[0].get("code"))
        return sorted(failed)

    async def delete_one(self, filter) -> bool:
        return (await self._raw.delete_one(filter)).deleted_count > 0

    async def delete_many(self, filter) -> int:
        return (await self._raw.delete_many(filter)).deleted_count

    async def count(self, filter) -> int:
        return await self._raw.count_documents(filter)

    async def create_index(self, keys, *, unique=False, name=None) -> None:
        await self._raw.create_index(list(keys), unique=unique, **({"name": name} if name else {}))

    async def increment(self, counter_id: str) -> int:
        doc = await self._raw.find_one_and_update({"_id": counter_id}, {"$inc": {"value": 1}}, upsert=True,
                                                  return_document=ReturnDocument.AFTER)
        return doc["value"]


class MongoDatabase:
    def __init__(self, url: str, name: str, on_write: WriteHook = _noop) -> None:
        # tz_aware: datetimes come back with UTC attached, as the domain expects.
        self._client: AsyncMongoClient = AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000)
        self._db = self._client[name]
        self.on_write = on_write
        self.published: Published = NothingPublished()  # the relay, once it runs

    def collection(self, name: str) -> Collection:
        return MongoCollection(self._db[name], lambda c, i, e: self.on_write(c, i, e), lambda: self.published)

    async def ping(self) -> bool:
        await self._client.admin.command("ping")
        return True

    async def close(self) -> None:
        await self._client.close()


# The database is away (network, not primary, server selection): requests answer 503, records wait.
UNREACHABLE: tuple[type[BaseException], ...] = (ConnectionFailure,)
_SQLITE_BUSY = ("SQLITE_BUSY", "database is locked")


def transient_database_error(exc: BaseException) -> bool:
    """A database failure that passes by itself: retry, never dead-letter.

    pymongo's ConnectionFailure covers AutoReconnect, NetworkTimeout, NotPrimaryError and
    ServerSelectionTimeoutError; FerretDB's SQLite backend reports a busy database as an
    OperationFailure whose message names SQLITE_BUSY."""
    if isinstance(exc, ConnectionFailure):
        return True
    if isinstance(exc, OperationFailure):
        text = f"{exc} {exc.details or ''}"
        return any(marker in text for marker in _SQLITE_BUSY)
    return False
