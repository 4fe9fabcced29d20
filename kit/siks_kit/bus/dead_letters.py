"""Dead letters: what the consumers parked on `<topic>.dlq`, listed without their values (an
event may hold NIKs and names), and replayed to the topic they came from once their cause is
fixed.

Replay keeps its place with the consumer group `siks-dead-letter-replay`, offsets committed
per dead-letter partition: each parked record is dealt with once. Consumers are idempotent,
so the ones that had processed it change nothing; one that fails again parks it again, as a
new record with the new reason. Records that are no event at all (unreadable) are left out
unless asked for: sent back, they would only be parked again. So are records a consumer
refused (a producer or event type that does not belong on the topic).
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from siks_contracts import topics

from siks_kit.bus.consumer import UNREADABLE_REASONS
from siks_kit.bus.kafka_access import KafkaAccess, client_args
from siks_kit.bus.offsets import committed, partitions_of

REPLAY_GROUP = "siks-dead-letter-replay"
DEAD_LETTER_HEADERS = ("dead_letter_reason", "dead_letter_source", "dead_letter_consumer")


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    source: str
    consumer: str
    reason: str
    event_id: str
    event_type: str
    handled: bool  # replayed, or left out of a replay as unreadable


def source_of(dead_letter_topic: str) -> str:
    return dead_letter_topic.removesuffix(".dlq")


def _headers(record) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in record.headers}


async def _read_all(consumer: AIOKafkaConsumer, starts: dict[TopicPartition, int]):
    """Yields every record from each partition's start up to its end as it was when asked."""
    ends = await consumer.end_offsets(list(starts))
    for tp, start in starts.items():
        consumer.seek(tp, start)
    pending = {tp for tp in starts if ends[tp] > starts[tp]}
    while pending:
        batch = await consumer.getmany(*pending, timeout_ms=1000)
        for tp, records in batch.items():
            for record in records:
                if record.offset < ends[tp]:
                    yield tp, record
            if records and records[-1].offset + 1 >= ends[tp]:
                pending.discard(tp)
        for tp in list(pending):
            if await consumer.position(tp) >= ends[tp]:
                pending.discard(tp)


async def list_dead_letters(bootstrap: str | KafkaAccess, sources: tuple[str, ...] = topics.ALL) -> list[DeadLetter]:
    admin = AIOKafkaAdminClient(**client_args(bootstrap))
    consumer = AIOKafkaConsumer(**client_args(bootstrap), enable_auto_commit=False, auto_offset_reset="earliest")
    await admin.start()
    await consumer.start()
    found: list[DeadLetter] = []
    try:
        for source in sources:
            partitions = await partitions_of(admin, topics.dead_letter(source))
            if not partitions:
                continue
            consumer.assign(partitions)
            done = await committed(admin, REPLAY_GROUP, partitions)
            async for tp, r in _read_all(consumer, {tp: 0 for tp in partitions}):
                h = _headers(r)
                found.append(DeadLetter(
                    topic=tp.topic, partition=tp.partition, offset=r.offset, timestamp_ms=r.timestamp,
                    source=h.get("dead_letter_source", source), consumer=h.get("dead_letter_consumer", "?"),
                    reason=h.get("dead_letter_reason", "?"), event_id=h.get("event_id", "?"),
                    event_type=h.get("event_type", "?"), handled=r.offset < done.get(tp, 0)))
    finally:
        await consumer.stop()
        await admin.close()
    return found


@dataclass
class Replay:
    waiting: int = 0  # records not dealt with before this replay
    sent: int = 0  # records sent back to the source topic
    copies: int = 0  # further copies of a record already sent (one per consumer that parked it)
    unreadable: int = 0  # not an event at all, or of a type no one knows: left out unless asked


def unreadable(reason: str) -> bool:
    """Parked because the bytes are no event we know: sending them back changes nothing."""
    return reason.startswith(UNREADABLE_REASONS)


async def replay(bootstrap: str | KafkaAccess, source: str, *, dry_run: bool = False, include_unreadable: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> Replay:
    """Sends every record of `source`'s dead-letter topic not dealt with before back to
    `source` (same key, the headers but the dead-letter ones, plus `replayed_from`): each
    record once however many consumers parked it, unreadable ones only when asked."""
    admin = AIOKafkaAdminClient(**client_args(bootstrap))
    consumer = AIOKafkaConsumer(**client_args(bootstrap), group_id=REPLAY_GROUP, enable_auto_commit=False,
                                auto_offset_reset="earliest")  # records past retention: start at the oldest kept
    producer = AIOKafkaProducer(**client_args(bootstrap), acks="all", enable_idempotence=True)
    await admin.start()
    await consumer.start()
    await producer.start()
    result = Replay()
    try:
        partitions = await partitions_of(admin, topics.dead_letter(source))
        if not partitions:
            return result
        consumer.assign(partitions)
        done = await committed(admin, REPLAY_GROUP, partitions)
        starts = {tp: done.get(tp, 0) for tp in partitions}
        ends = await consumer.end_offsets(partitions)
        result.waiting = sum(max(0, ends[tp] - starts[tp]) for tp in partitions)
        if dry_run or result.waiting == 0:
            return result
        sent_digests: set[bytes] = set()
        handled = 0
        async for tp, record in _read_all(consumer, starts):
            digest = hashlib.sha256(record.value or b"").digest()
            if unreadable(_headers(record).get("dead_letter_reason", "")) and not include_unreadable:
                result.unreadable += 1
            elif digest in sent_digests:
                result.copies += 1
            else:
                headers = [(k, v) for k, v in record.headers if k not in DEAD_LETTER_HEADERS]
                headers.append(("replayed_from", f"{tp.topic}:{tp.partition}:{record.offset}".encode()))
                await producer.send_and_wait(source, record.value, key=record.key, headers=headers)
                sent_digests.add(digest)
                result.sent += 1
            # Committed one by one: a replay cut short resumes where it stopped (the one record
            # in flight may go twice; consumers are idempotent).
            await consumer.commit({tp: record.offset + 1})
            handled += 1
            if progress:
                progress(handled, result.waiting)
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.close()
    return result
