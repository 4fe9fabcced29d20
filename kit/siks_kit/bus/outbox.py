"""The transactional outbox: events ride inside the document whose change caused them (one
atomic write, no dual write), and the relay publishes them, then removes them.

At-least-once: a crash between publish and removal republishes; consumers are idempotent.
"""

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from siks_contracts.envelope import Envelope
from siks_contracts.events import topic_of

from siks_kit.observability import tracing
from siks_kit.store.documents import Collection
from siks_kit.bus.transport import Transport

log = logging.getLogger(__name__)
PENDING = {"outbox.0": {"$exists": True}}


def outbox_entry(envelope: Envelope, key: str) -> dict[str, Any]:
    """What goes into a document's `outbox` array; captures the writer's trace context."""
    if envelope.trace is None:
        envelope = envelope.model_copy(update={"trace": tracing.current_trace_context()})
    return {"event_id": envelope.event_id, "topic": topic_of(envelope.type), "key": key,
            "value": envelope.model_dump_json()}


SWEEP_SHARE = 0.02  # the most of the time a relay spends sweeping, whatever the data size


def next_sweep_after(took_s: float, base_s: float, share: float = SWEEP_SHARE) -> float:
    """Seconds until the next periodic sweep: `base_s`, stretched so that a sweep that took
    `took_s` is no more than `share` of the time. A sweep reads every document of the
    collection (FerretDB filters in Go, after decoding each one), so its cost grows with the
    data while what it finds (entries whose hint was lost) does not."""
    return max(base_s, took_s / share)


class OutboxRelay:
    """Publishes what the outbox arrays hold. The store tells it which document it just wrote
    (a hint, looked up by _id, kept until published). A sweep at start and then rarely finds
    the rest: entries left by a crash or by a replica that stopped. Sweeps scan, so they are
    kept rare, and rarer as the collections grow (next_sweep_after)."""

    def __init__(self, collections: Sequence[Collection], transport: Transport,
                 sweep_seconds: float = 60.0, batch: int = 200, parallel: int = 16) -> None:
        self._by_name = {c.name: c for c in collections}
        self._hints: dict[str, set[Any]] = {name: set() for name in self._by_name}
        self._transport, self._sweep_seconds, self._batch = transport, sweep_seconds, batch
        self._parallel = asyncio.Semaphore(parallel)
        self._wake = asyncio.Event()
        self.published = 0

    def notify(self, collection: str, doc_id: Any) -> None:
        """Called by the store after a write that added outbox entries to a document."""
        if collection in self._hints:
            self._hints[collection].add(doc_id)
            self._wake.set()

    async def _publish(self, entry: dict[str, Any]) -> None:
        env = Envelope.model_validate_json(entry["value"])
        token = tracing.attach(env.trace)  # continue the trace of the write that made it
        try:
            headers = {"event_type": env.type, "event_id": env.event_id, "correlation_id": env.correlation_id}
            await self._transport.publish(entry["topic"], entry["key"], entry["value"].encode(), headers)
        finally:
            tracing.detach(token)

    async def _drain_document(self, coll: Collection, doc: dict[str, Any]) -> int:
        entries = doc.get("outbox", [])
        async with self._parallel:  # documents side by side; within one, strictly in order
            for entry in entries:
                await self._publish(entry)
        # $pullAll of the exact entries read: FerretDB 1.x ignores $pull with a condition,
        # and entries appended meanwhile stay for the next round.
        await coll.update_one({"_id": doc["_id"]}, {"$pullAll": {"outbox": entries}})
        return len(entries)

    async def _drain(self, coll: Collection, docs: list[dict[str, Any]]) -> int:
        sent = sum(await asyncio.gather(*(self._drain_document(coll, d) for d in docs if d)))
        self.published += sent
        return sent

    async def drain_hinted(self) -> int:
        sent = 0
        for name, ids in self._hints.items():
            if not ids:
                continue
            self._hints[name] = set()
            coll = self._by_name[name]
            try:
                docs = await asyncio.gather(*(coll.find_one({"_id": i, **PENDING}, {"outbox": 1}) for i in ids))
                sent += await self._drain(coll, list(docs))
            except BaseException:
                self._hints[name] |= ids  # keep them for the next round: nothing waits for a sweep
                raise
        return sent

    async def sweep(self) -> int:
        """One pass over each collection in _id order, a page at a time. It does not start
        over until nothing is pending: under load there always is something (written a
        moment ago, its hint on the way), and each new start is a scan of the collection."""
        sent = 0
        for coll in self._by_name.values():
            page: dict[str, Any] = PENDING
            while docs := await coll.find(page, sort=[("_id", 1)], limit=self._batch, projection={"outbox": 1}):
                sent += await self._drain(coll, docs)
                if len(docs) < self._batch:
                    break
                page = {**PENDING, "_id": {"$gt": docs[-1]["_id"]}}
        return sent

    async def drain_once(self) -> int:
        """Publishes every pending entry once; returns how many went out."""
        return await self.drain_hinted() + await self.sweep()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = 0.0
        while True:
            try:
                await self.drain_hinted()
                if loop.time() >= next_sweep:
                    started = loop.time()
                    await self.sweep()
                    next_sweep = loop.time() + next_sweep_after(loop.time() - started, self._sweep_seconds)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1.0)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, next_sweep - loop.time()))
            except TimeoutError:
                pass
            self._wake.clear()
