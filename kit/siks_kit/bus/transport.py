"""How events leave and enter a service. KafkaTransport runs FastStream with aiokafka and its
Kafka telemetry middleware; MemoryTransport (siks_testkit.memory) serves unit tests."""

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, Topic
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from opentelemetry.sdk.trace import TracerProvider

from siks_kit.bus.kafka_access import KafkaAccess

log = logging.getLogger(__name__)

# Called with the raw value and headers; returns normally when the record may be acked.
RecordCallback = Callable[[bytes, dict[str, str]], Awaitable[None]]


class Transport(Protocol):
    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None: ...
    def subscribe(self, topic: str, group: str, callback: RecordCallback) -> None: ...
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
    def __init__(self, access: KafkaAccess | str, client_id: str, tracer_provider: TracerProvider | None) -> None:
        access = access if isinstance(access, KafkaAccess) else KafkaAccess(access)
        self.broker = KafkaBroker(
            access.bootstrap,
            security=security_of(access),  # the service's own principal: the broker's ACLs apply
            client_id=client_id,
            acks="all",  # an event is only gone from the outbox once every replica has it
            enable_idempotence=True,
            middlewares=[KafkaTelemetryMiddleware(tracer_provider=tracer_provider)],
            log_level=logging.DEBUG,  # FastStream's per-message lines; ours say what matters
        )

    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None:
        await self.broker.publish(value, topic, key=key.encode(), headers=headers,
                                  correlation_id=headers.get("correlation_id"))

    def subscribe(self, topic: str, group: str, callback: RecordCallback) -> None:
        # declare=False: the deployment creates topics (a service may not: the ACLs say so).
        @self.broker.subscriber(Topic(topic, declare=False), group_id=group, auto_offset_reset="earliest",
                                ack_policy=AckPolicy.MANUAL)
        async def on_record(message: KafkaMessage) -> None:
            # Explicit ack after the callback: at-least-once, never FastStream's ack-first.
            try:
                await callback(message.body, dict(message.headers))
            except Exception:
                log.exception("record on %s not processed; it will be redelivered", topic)
                await message.nack()
                raise
            await message.ack()

    async def start(self) -> None:
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()

    async def ping(self) -> bool:
        return await self.broker.ping(timeout=2.0)
