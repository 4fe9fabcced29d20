"""How events leave and enter a service. KafkaTransport runs FastStream with aiokafka;
MemoryTransport (siks_testkit.memory) serves unit tests.

Tracing is ours rather than FastStream's telemetry middleware: a record carries the context of
the write that caused it in its `traceparent` header, and each consumer makes one span per
event (siks_kit.bus.consumer), a child of that write's span. With batches, the middleware makes
one span per batch that only links its records' traces, so a household's trace would lose its
consumer steps; it also made two spans per record sent. We make none for sending: a send is
not a step anyone follows one record at a time (the outbox's backlog and age are metrics), and
a span per record sent was a tenth of a service's CPU under load, half of it in the export.

Records come in batches (whatever the partitions hold, up to `max_records`), and a batch is
acknowledged as one: one offset commit when the whole batch is processed, or a rewind to its
first records when any of it could not be, so all of it comes again (consumers are idempotent)."""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, Topic
from faststream.kafka.annotations import KafkaMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from siks_kit.bus.kafka_access import KafkaAccess
from siks_kit.observability import tracing
from siks_kit.observability.metrics import BATCH_SIZE, CONSUMED, CONSUMER_LAG

log = logging.getLogger(__name__)



@dataclass
class Record:
    topic: str
    key: str
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)


# Called with a batch of records of one topic, in partition order; returns normally when the
# whole batch may be acknowledged.
BatchCallback = Callable[[Sequence[Record]], Awaitable[None]]
MAX_BATCH = 500  # records per poll: enough to amortise a commit, few enough to redo after a crash


def _observe(topic: str, raws: Sequence[Any], consumer: Any) -> None:
    """The batch's size, the records of each partition, and how far each partition is behind its end."""
    BATCH_SIZE.labels(topic).observe(len(raws))
    last: dict[int, int] = {}
    for raw in raws:
        last[raw.partition] = max(raw.offset, last.get(raw.partition, -1))
        CONSUMED.labels(topic, str(raw.partition)).inc()
    highwater = getattr(consumer, "highwater", None)
    for partition, offset in last.items():
        end = highwater(TopicPartition(topic, partition)) if highwater else None
        if end is not None:
            CONSUMER_LAG.labels(topic, str(partition)).set(max(0, end - offset - 1))


def record_of(raw: Any) -> Record:
    """aiokafka's ConsumerRecord as ours: key and header values as text."""
    headers = {k: v.decode(errors="replace") if isinstance(v, bytes) else str(v) for k, v in raw.headers or ()}
    key = raw.key.decode(errors="replace") if isinstance(raw.key, bytes) else (raw.key or "")
    return Record(raw.topic, key, raw.value or b"", headers)


class Transport(Protocol):
    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None: ...
    def subscribe(self, topic: str, group: str, callback: BatchCallback) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def ping(self) -> bool: ...


def security_of(access: KafkaAccess) -> BaseSecurity | None:
    """FastStream's form of a principal's credentials (None: an unauthenticated broker)."""
    if not access.authenticated:
        return None
    kinds = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}
    try:
        kind = kinds[(access.sasl_mechanism or "").upper()]
    except KeyError:
        raise ValueError(f"unsupported SASL mechanism {access.sasl_mechanism!r}; one of {', '.join(kinds)}") from None
    return kind(access.username or "", access.password or "", use_ssl=access.security_protocol == "SASL_SSL")


class KafkaTransport:
    def __init__(self, access: KafkaAccess | str, client_id: str) -> None:
        access = access if isinstance(access, KafkaAccess) else KafkaAccess(access)
        self.broker = KafkaBroker(
            access.bootstrap,
            security=security_of(access),  # the service's own principal: the broker's ACLs apply
            client_id=client_id,
            acks="all",  # an event is only gone from the outbox once every replica has it
            enable_idempotence=True,
            log_level=logging.DEBUG,  # FastStream's per-message lines; ours say what matters
        )

    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        """Sends one record; without a `traceparent` in `headers`, it carries the current trace."""
        if "traceparent" not in headers:
            headers = {**headers, **tracing.current_headers()}
        await self.broker.publish(value, topic, key=key.encode(), headers=headers,
                                  correlation_id=headers.get("correlation_id"))

    def subscribe(self, topic: str, group: str, callback: BatchCallback) -> None:
        # declare=False: the deployment creates topics (a service may not: the ACLs say so).
        # batch: aiokafka's getmany; it answers at once with what is there, up to max_records.
        @self.broker.subscriber(Topic(topic, declare=False), group_id=group, auto_offset_reset="earliest",
                                ack_policy=AckPolicy.MANUAL, batch=True, max_records=MAX_BATCH,
                                batch_timeout_ms=200)
        async def on_batch(message: KafkaMessage) -> None:
            # Explicit ack after the callback: at-least-once, never FastStream's ack-first.
            records = [record_of(raw) for raw in message.raw_message]
            try:
                await callback(records)
            except Exception:
                log.exception("a batch of %d records on %s not processed; it will be redelivered", len(records), topic)
                await message.nack()  # rewinds each partition to the batch's first record there
                raise
            await message.ack()  # one offset commit for the whole batch
            _observe(topic, message.raw_message, getattr(message, "consumer", None))

    async def start(self) -> None:
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()

    async def ping(self) -> bool:
        return await self.broker.ping(timeout=2.0)
