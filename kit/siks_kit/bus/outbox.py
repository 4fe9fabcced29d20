"""The transactional outbox: events ride inside the document whose change caused them (one
atomic write, no dual write), and the relay publishes them, then removes them.

At-least-once: a crash between publish and removal republishes; consumers are idempotent.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from siks_contracts.envelope import Envelope
from siks_contracts.events import topic_of

from siks_kit.observability import metrics, tracing
from siks_kit.store.documents import Collection
from siks_kit.bus.transport import Transport

log = logging.getLogger(__name__)
PENDING = {"outbox.0": {"$exists": True}}
Entry = dict[str, Any]  # {"event_id", "topic", "key", "value"}: what a document's outbox holds
REMOVALS_PER_WRITE = 100  # documents per removal statement; each compares its entries with the chunk's
MAX_REMOVALS_IN_FLIGHT = 4  # bulk removals under way at once; past that the relay waits
# How long published entries wait in memory for an update of their document, which removes
# them in passing (a household's slot is reserved moments after its event goes out): one write
# where there were two. Past it, the relay removes them itself. A crash republishes what it held.
REMOVAL_DELAY_S = 1.0


class OutboxEntry(dict):
    """An outbox entry as a write stores it ({"event_id", "topic", "key", "value"}), carrying
    its record headers in memory only: the relay sending what a write just made need not parse
    the envelope again, and the stored document stays small (FerretDB decodes and encodes every
    field of a document on each update; headers stored beside the envelope cost it more than
    the parse they saved). Entries read back (a sweep) have no headers and are parsed."""

    __slots__ = ("headers",)


def outbox_entry(envelope: Envelope, key: str) -> OutboxEntry:
    """What goes into a document's `outbox` array; captures the writer's trace context."""
    if envelope.trace is None:
        envelope = envelope.model_copy(update={"trace": tracing.current_trace_context()})
    entry = OutboxEntry(event_id=envelope.event_id, topic=topic_of(envelope.type), key=key,
                        value=envelope.model_dump_json())
    entry.headers = headers_of(envelope)
    return entry


def headers_of(envelope: Envelope) -> dict[str, str]:
    """A record's headers: what consumers and tools read without parsing, and the trace."""
    return {"event_type": envelope.type, "event_id": envelope.event_id, "correlation_id": envelope.correlation_id,
            **tracing.trace_headers(envelope.trace)}


async def publish_entry(transport: Transport, entry: Entry) -> None:
    """Sends one outbox-shaped entry (`outbox_entry`) in the trace of the write that made it.
    The relay uses it, and so does a service publishing events that are rows of their own."""
    headers = getattr(entry, "headers", None)
    if headers is None:  # read back from a document
        headers = headers_of(Envelope.model_validate_json(entry["value"]))
    await transport.publish(entry["topic"], entry["key"], entry["value"].encode(), headers)


SWEEP_SHARE = 0.02  # the most of the time a relay spends sweeping, whatever the data size


def next_sweep_after(took_s: float, base_s: float, share: float = SWEEP_SHARE) -> float:
    """Seconds until the next periodic sweep: `base_s`, stretched so that a sweep that took
    `took_s` is no more than `share` of the time. A sweep reads every document of the
    collection (FerretDB filters in Go, after decoding each one), so its cost grows with the
    data while what it finds (entries whose hint was lost) does not."""
    return max(base_s, took_s / share)


class OutboxRelay:
    """Publishes what the outbox arrays hold. The store hands it the entries a write just added
    (`notify`), and it publishes them from memory: no read back. Documents go side by side,
    each one's entries strictly in order. Published entries wait a moment (`removal_delay_s`)
    for an update of their document to remove them in passing (`take`, `keep`); the rest are
    removed in bulk, one write per round of them. A sweep at start and then rarely finds the rest:
    entries left by a crash, by a replica that stopped, or by a removal that failed. Sweeps
    scan, so they are kept rare, and rarer as the collections grow (next_sweep_after)."""

    def __init__(self, collections: Sequence[Collection], transport: Transport,
                 sweep_seconds: float = 60.0, batch: int = 200, parallel: int = 64,
                 removal_delay_s: float = REMOVAL_DELAY_S) -> None:
        self._by_name = {c.name: c for c in collections}
        self._fresh: dict[str, dict[Any, list[Entry]]] = {name: {} for name in self._by_name}
        # Published, not yet removed: per document, since when (monotonic) and what, oldest first.
        self._sent: dict[str, dict[Any, tuple[float, list[Entry]]]] = {name: {} for name in self._by_name}
        self._removal_delay = removal_delay_s
        self._transport, self._sweep_seconds, self._batch = transport, sweep_seconds, batch
        self._parallel = asyncio.Semaphore(parallel)
        self._wake = asyncio.Event()
        self._removals: set[asyncio.Task] = set()
        self._since: dict[str, dict[Any, float]] = {name: {} for name in self._by_name}  # waiting since (monotonic)
        self.published = 0
        metrics.on_scrape(self._backlog)

    def notify(self, collection: str, doc_id: Any, entries: list[Entry]) -> None:
        """Called by the store after a write that added outbox entries to a document."""
        if collection in self._fresh:
            self._fresh[collection].setdefault(doc_id, []).extend(entries)
            self._since[collection].setdefault(doc_id, time.monotonic())
            self._wake.set()

    def take(self, collection: str, doc_id: Any) -> list[Entry]:
        """The document's published entries, for an update of it to remove (store.Published)."""
        held = self._sent.get(collection, {}).pop(doc_id, None)
        return held[1] if held else []

    def keep(self, collection: str, doc_id: Any, entries: list[Entry]) -> None:
        """Entries an update took and did not remove: the relay removes them after all."""
        if entries and collection in self._sent:
            _, also = self._sent[collection].pop(doc_id, (0.0, []))
            self._sent[collection][doc_id] = (time.monotonic(), also + entries)
            self._wake.set()

    def _waiting_in(self, collection: str) -> int:
        return sum(len(entries) for entries in self._fresh[collection].values())

    def _backlog(self):
        now = time.monotonic()
        for name in self._fresh:
            labels = {"collection": name}
            yield ("siks_outbox_pending", "outbox entries written and not yet published", labels,
                   self._waiting_in(name))
            oldest = min(self._since[name].values(), default=None)
            yield ("siks_outbox_oldest_pending_seconds", "how long the oldest unpublished entry has waited", labels,
                   now - oldest if oldest is not None else 0.0)

    @property
    def waiting(self) -> int:
        """Entries handed over by writes and not yet published."""
        return sum(self._waiting_in(name) for name in self._fresh)

    async def _publish(self, entry: Entry) -> None:
        await publish_entry(self._transport, entry)

    async def _publish_document(self, entries: list[Entry]) -> None:
        async with self._parallel:  # documents side by side; within one, strictly in order
            for entry in entries:
                await self._publish(entry)

    async def _relay(self, coll: Collection, pending: dict[Any, list[Entry]], *,
                     remove_later: bool = False) -> dict[Any, list[Entry]]:
        """Publishes each document's entries, then removes the published ones in bulk (in the
        background when `remove_later`: the next round need not wait for it); returns the
        documents whose publishing failed, with their entries, to try again."""
        outcomes = await asyncio.gather(*(self._publish_document(e) for e in pending.values()), return_exceptions=True)
        failed = {doc_id: entries for (doc_id, entries), outcome in zip(pending.items(), outcomes)
                  if isinstance(outcome, BaseException)}
        done = [(doc_id, entries) for doc_id, entries in pending.items() if doc_id not in failed]
        sent = sum(len(entries) for _, entries in done)
        self.published += sent
        metrics.OUTBOX_PUBLISHED.labels(coll.name).inc(sent)
        if failed:
            first = next(o for o in outcomes if isinstance(o, BaseException))
            log.warning("could not publish the outbox of %d documents of %s (%s); retrying",
                        len(failed), coll.name, type(first).__name__)
        if not remove_later:
            await self._remove(coll, done)
        else:
            now, held = time.monotonic(), self._sent[coll.name]
            for doc_id, entries in done:
                _, before = held.pop(doc_id, (0.0, []))
                held[doc_id] = (now, before + entries)
        return failed

    async def _remove_held(self, everything: bool = False) -> None:
        """Removes, in bulk and in the background, the published entries no update took within
        the delay (all of them when `everything`)."""
        due = time.monotonic() - self._removal_delay
        for name, held in self._sent.items():
            done = []
            for doc_id, (at, entries) in held.items():
                if not everything and at > due:
                    break  # oldest first: the rest are younger
                done.append((doc_id, entries))
            if not done:
                continue
            for doc_id, _ in done:
                del held[doc_id]
            while len(self._removals) >= MAX_REMOVALS_IN_FLIGHT:
                await asyncio.wait(self._removals, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.create_task(self._remove_logged(self._by_name[name], done))
            self._removals.add(task)
            task.add_done_callback(self._removals.discard)

    def _next_removal_in(self) -> float | None:
        oldest = [next(iter(held.values()))[0] for held in self._sent.values() if held]
        return min(oldest) + self._removal_delay - time.monotonic() if oldest else None

    @staticmethod
    async def _remove(coll: Collection, done: list[tuple[Any, list[Entry]]]) -> None:
        # One statement per chunk of documents: each loses the exact entries published, from
        # the chunk's union ($pullAll; event ids are unique, so no document holds another's).
        # Entries appended meanwhile stay for the next round. FerretDB 1.x ignores $pull with
        # a condition, and writes a statement's documents in one transaction (our build), so
        # this costs one write where a statement per document cost one each.
        for start in range(0, len(done), REMOVALS_PER_WRITE):
            chunk = done[start:start + REMOVALS_PER_WRITE]
            published = [entry for _, entries in chunk for entry in entries]
            await coll.update_many({"_id": {"$in": [doc_id for doc_id, _ in chunk]}},
                                   {"$pullAll": {"outbox": published}})

    async def _remove_logged(self, coll: Collection, done: list[tuple[Any, list[Entry]]]) -> None:
        try:
            await self._remove(coll, done)
        except Exception:
            # The entries stay in their documents and a sweep publishes them again
            # (at-least-once; consumers are idempotent).
            log.exception("removing published outbox entries from %s failed", coll.name)

    async def settle(self) -> None:
        """Removes what it holds published, and waits for the removals under way."""
        await self._remove_held(everything=True)
        while self._removals:
            await asyncio.gather(*self._removals, return_exceptions=True)

    async def drain_fresh(self) -> int:
        """Publishes what writes handed over; returns how many entries went out."""
        before = self.published
        for name, pending in self._fresh.items():
            if not pending:
                continue
            self._fresh[name], since = {}, self._since[name]
            self._since[name] = {}
            failed = await self._relay(self._by_name[name], pending, remove_later=True)
            for doc_id, entries in failed.items():  # before anything handed over meanwhile
                self._fresh[name][doc_id] = entries + self._fresh[name].get(doc_id, [])
                self._since[name][doc_id] = since.get(doc_id, time.monotonic())
        return self.published - before

    async def sweep(self) -> int:
        """One pass over each collection, a page at a time from one cursor. It does not start
        over until nothing is pending: under load there always is something (written a moment
        ago, on its way from memory), and each new start is a scan of the collection. One
        cursor, unsorted, because a MongoDB-wire server without the index (FerretDB filters and
        sorts in its own process) read the whole collection again for every sorted page."""
        sent = 0
        for coll in self._by_name.values():
            page: dict[Any, list[Entry]] = {}
            async for doc in coll.iterate(PENDING, projection={"outbox": 1}, batch_size=self._batch):
                page[doc["_id"]] = doc["outbox"]
                if len(page) == self._batch:
                    sent += await self._sweep_page(coll, page)
                    page = {}
            if page:
                sent += await self._sweep_page(coll, page)
        return sent

    async def _sweep_page(self, coll: Collection, found: dict[Any, list[Entry]]) -> int:
        # What a write handed over goes out by the fresh path, right after the sweep, and what
        # went out already waits for its removal: sent here too, each would be published twice
        # (consumers drop the repeat, but every one costs a read, and under load a sweep meets
        # hundreds written a moment ago).
        fresh, sent, pending = self._fresh[coll.name], self._sent[coll.name], {}
        for doc_id, entries in found.items():
            handed = {entry["event_id"] for entry in fresh.get(doc_id, ())}
            handed |= {entry["event_id"] for entry in sent.get(doc_id, (0.0, ()))[1]}  # sent, removal to come
            if rest := [entry for entry in entries if entry["event_id"] not in handed]:
                pending[doc_id] = rest
        failed = await self._relay(coll, pending) if pending else {}
        return sum(len(entries) for doc_id, entries in pending.items() if doc_id not in failed)

    async def drain_once(self) -> int:
        """Publishes every pending entry once; returns how many went out."""
        sent = await self.drain_fresh()
        await self.settle()
        return sent + await self.sweep()

    async def run(self) -> None:
        try:
            await self._run()
        finally:  # at shutdown, what was published leaves its documents if it can within 5 s
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self.settle(), 5)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = 0.0
        while True:
            try:
                await self.drain_fresh()
                await self._remove_held()
                if loop.time() >= next_sweep:
                    await self.settle()  # a sweep must not find what was published a moment ago
                    started = loop.time()
                    await self.sweep()
                    next_sweep = loop.time() + next_sweep_after(loop.time() - started, self._sweep_seconds)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1.0)
            # What failed to publish is tried again within a second, not at the next sweep.
            wait = min(1.0, next_sweep - loop.time()) if self.waiting else next_sweep - loop.time()
            if (removal := self._next_removal_in()) is not None:
                wait = min(wait, removal)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, wait))
            except TimeoutError:
                pass
            self._wake.clear()
