"""Helpers for tests of any service: envelopes, waiting on a condition with a deadline, and
reading what a topic holds."""

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from pydantic import BaseModel
from siks_contracts.actor import Actor
from siks_contracts.enums import Role
from siks_contracts import topics
from siks_contracts.envelope import Envelope, new_envelope
from siks_contracts.events import topic_of, type_of

from siks_kit.bus.kafka_access import KafkaAccess, client_args

T = TypeVar("T")
OPERATOR = Actor(sub="op-1", role=Role.OPERATOR_DESA, region="32.04.05.2001")


def envelope(payload: BaseModel, *, actor: Actor = OPERATOR, producer: str | None = None,
             region_code: str | None = "32.04.05.2001", at: datetime | None = None) -> Envelope:
    """An envelope as the payload's rightful producer (its topic's owner) would write it;
    consumers refuse any other producer."""
    if producer is None:
        producer = topics.OWNER.get(topic_of(type_of(type(payload))), "test")
    return new_envelope(payload=payload, occurred_at=at or datetime(2026, 12, 16, 2, tzinfo=UTC),
                        producer=producer, actor=actor, region_code=region_code)


def wait_for(probe: Callable[[], T], what: str, deadline_s: float = 10.0) -> T:
    """Polls a synchronous probe until it returns something truthy; fails after the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        if result := probe():
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(0.01)


async def await_for(probe: Callable[[], Awaitable[Any] | Any], what: str, deadline_s: float = 10.0) -> Any:
    """Polls a probe, a coroutine function or a plain one (state the event loop moves on),
    until it gives something truthy, letting other tasks run between tries; fails after the
    deadline."""
    end = time.monotonic() + deadline_s
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")
        await asyncio.sleep(0.01)


async def read_topic(bootstrap: str | KafkaAccess, topic: str, match: Callable[[ConsumerRecord], bool], *,
                     deadline_s: float = 30.0, want: int = 1, group: str | None = None) -> list[ConsumerRecord]:
    """Reads `topic` from the beginning with a throwaway group until `want` records match, then
    on to the end, so that a late duplicate is seen too. A bare bootstrap authenticates as the
    tools do (siks_kit.bus.kafka_access.for_tools: the local stack's admin)."""
    consumer = AIOKafkaConsumer(topic, **client_args(bootstrap), group_id=group or f"test-{uuid.uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and len(found) < want:
            batch = await consumer.getmany(timeout_ms=500)
            found += [r for rs in batch.values() for r in rs if match(r)]
        ends = await consumer.end_offsets(list(consumer.assignment()))
        for tp, end_offset in ends.items():
            while await consumer.position(tp) < end_offset and time.monotonic() < end + deadline_s:
                batch = await consumer.getmany(tp, timeout_ms=500)
                found += [r for rs in batch.values() for r in rs if match(r)]
    finally:
        await consumer.stop()
    return found
