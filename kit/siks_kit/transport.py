"""How events leave and enter a service. KafkaTransport runs FastStream with aiokafka and its
Kafka telemetry middleware; MemoryTransport (siks_kit.memory) serves unit tests."""

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger(__name__)

# Called with the raw value and headers; returns normally when the record may be acked.
RecordCallback = Callable[[bytes, dict[str, str]], Awaitable[None]]


class Transport(Protocol):
    async def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str]) -> None: ...
    def subscribe(self, topic: str, group: str, callback: RecordCallback) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def ping(self) -> bool: ...


class KafkaTransport:
    def __init__(self, bootstrap: str, client_id: str, tracer_provider: TracerProvider | None) -> None:
        self.broker = KafkaBroker(
            bootstrap,
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
        @self.broker.subscriber(topic, group_id=group, auto_offset_reset="earliest",
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
