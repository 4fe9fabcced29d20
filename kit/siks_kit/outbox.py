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

from . import tracing
from .store import Collection
from .transport import Transport

log = logging.getLogger(__name__)
PENDING = {"outbox.0": {"$exists": True}}


def outbox_entry(envelope: Envelope, key: str) -> dict[str, Any]:
    """What goes into a document's `outbox` array; captures the writer's trace context."""
    if envelope.trace is None:
        envelope = envelope.model_copy(update={"trace": tracing.current_trace_context()})
    return {"event_id": envelope.event_id, "topic": topic_of(envelope.type), "key": key,
            "value": envelope.model_dump_json()}


def push_outbox(*entries: dict[str, Any]) -> dict[str, Any]:
    """The `$push` clause that appends entries in order within the same update."""
    return {"outbox": {"$each": list(entries)}}


class OutboxRelay:
    def __init__(self, collections: Sequence[Collection], transport: Transport,
                 poll_seconds: float = 0.5, batch: int = 200) -> None:
        self._collections, self._transport = list(collections), transport
        self._poll, self._batch = poll_seconds, batch
        self._wake = asyncio.Event()
        self.published = 0

    def notify(self) -> None:
        """Called after every store write: there may be something to publish now."""
        self._wake.set()

    async def _publish(self, entry: dict[str, Any]) -> None:
        env = Envelope.model_validate_json(entry["value"])
        token = tracing.attach(env.trace)  # continue the trace of the write that made it
        try:
            headers = {"event_type": env.type, "event_id": env.event_id, "correlation_id": env.correlation_id}
            await self._transport.publish(entry["topic"], entry["key"], entry["value"].encode(), headers)
        finally:
            tracing.detach(token)

    async def drain_once(self) -> int:
        """Publishes every pending entry once; returns how many went out."""
        sent = 0
        for coll in self._collections:
            docs = await coll.find(PENDING, limit=self._batch, projection={"outbox": 1})
            for doc in docs:
                entries = doc.get("outbox", [])
                for entry in entries:  # in order: events of one aggregate keep their order
                    await self._publish(entry)
                # $pullAll of the exact entries read: FerretDB 1.x ignores $pull with a condition.
                await coll.update_one({"_id": doc["_id"]}, {"$pullAll": {"outbox": entries}})
                sent += len(entries)
        self.published += sent
        return sent

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                sent = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                sent = 0
                await asyncio.sleep(1.0)
            if sent:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except TimeoutError:
                pass
