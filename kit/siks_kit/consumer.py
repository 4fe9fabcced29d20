"""Turns Kafka records into handler calls: parse the envelope, dispatch by type, dead-letter
what can never be processed, and let infrastructure failures redeliver.

Handlers are idempotent by construction (each state change is one conditional write that
records the event id, or an insert under a deterministic id), so redelivery is safe.
"""

import logging
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ValidationError
from pymongo.errors import ConnectionFailure
from siks_contracts import topics
from siks_contracts.envelope import Envelope
from siks_contracts.events import UnknownEventType, parse_payload

from .transport import Transport

log = logging.getLogger(__name__)
Handler = Callable[[Envelope, BaseModel], Awaitable[None]]
INVALID = "invalid message"
UNKNOWN_TYPE = "unknown event type"  # how UnknownEventType's message begins
UNREADABLE_REASONS = (INVALID, UNKNOWN_TYPE)  # dead-letter reasons of records that are no event we know


class Rejected(Exception):
    """A handler's verdict that this event can never apply (not a passing failure)."""


def describe(exc: ValidationError) -> str:
    # Locations and messages only: the input values may be personal data.
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors())


class Consumer:
    def __init__(self, service: str, transport: Transport, handlers: dict[str, Handler],
                 attempts: int = 3) -> None:
        self._service, self._transport = service, transport
        self._handlers, self._attempts = handlers, attempts
        self.dead_lettered = 0

    def on_topic(self, topic: str) -> Callable[[bytes, dict[str, str]], Awaitable[None]]:
        async def callback(value: bytes, headers: dict[str, str]) -> None:
            await self.process(topic, value, headers)

        return callback

    async def process(self, topic: str, value: bytes, headers: dict[str, str]) -> None:
        try:
            envelope = Envelope.model_validate_json(value)
            payload = parse_payload(envelope)
        except ValidationError as exc:
            return await self._dead_letter(topic, value, headers, f"{INVALID}: {describe(exc)}")
        except UnknownEventType as exc:
            return await self._dead_letter(topic, value, headers, str(exc))
        handler = self._handlers.get(envelope.type)
        if handler is None:
            return  # a topic carries several types; this service wants only some
        for attempt in range(1, self._attempts + 1):
            try:
                await handler(envelope, payload)
                return
            except Rejected as exc:
                return await self._dead_letter(topic, value, headers, f"rejected: {exc}")
            except ConnectionFailure:
                raise  # the database is away: do not ack; Kafka redelivers once it is back
            except Exception as exc:
                if attempt == self._attempts:
                    log.exception("handler for %s failed %d times", envelope.type, attempt)
                    return await self._dead_letter(
                        topic, value, headers, f"handler failed after {attempt} attempts: {type(exc).__name__}")

    async def _dead_letter(self, topic: str, value: bytes, headers: dict[str, str], reason: str) -> None:
        self.dead_lettered += 1
        log.warning("dead-lettering a record from %s: %s", topic, reason)
        dl_headers = {**headers, "dead_letter_reason": reason, "dead_letter_source": topic,
                      "dead_letter_consumer": self._service}
        await self._transport.publish(topics.dead_letter(topic), headers.get("event_id", "unknown"),
                                      value, dl_headers)
