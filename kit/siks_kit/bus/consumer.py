"""Turns Kafka records into handler calls: parse the envelope, refuse what does not belong on
the topic, dispatch by type, retry what failed for a passing reason, dead-letter what can
never be processed, and let an outage that lasts redeliver.

Records arrive in batches. Records of one key (one household, proposal or case) are handled
one after another in their order; different keys side by side, up to `parallel` at once, so
the waits on the database and on outside systems overlap. A record that cannot be processed
is dead-lettered alone; the rest of its batch goes on. Only a transient failure that outlasts
its budget fails the batch, which then comes again whole (handled records are no-ops then).

- Refused (dead-lettered, never handled): an envelope whose `producer` is not the topic's owner
  (topics.OWNER) or whose `type` does not belong on the topic (events.types_on). The broker's
  ACLs already keep other services off a topic; this guards against whoever holds a super
  user's credentials, a replay gone wrong, or a bug in a producer.
- Transient database errors (connection lost, network timeout, not primary, SQLite busy behind
  FerretDB) are retried with exponential backoff and jitter (tenacity) within a time budget;
  past it the record stays unacknowledged and Kafka redelivers it. They are never
  dead-lettered: the message is fine, the database is away.
- Any other failure is retried a few times (a race with a concurrent write heals so), then the
  record is dead-lettered with the reason; NIKs (any run of 16 digits) are masked in it.

Handlers are idempotent by construction (each state change is one conditional write that
records the event id, or an insert under a deterministic id), so redelivery is safe.

A type whose handler is `Batched` is handled in bulk: the first event of each key in the batch
goes to its `many` handler together with the others (one read and one write for the lot, one
call to an outside system), which says per event whether it was settled; an event it could not
settle goes through `one`, with the retries and dead-lettering above. Each key's later events
follow, one at a time, in order.
"""

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError
from siks_contracts import topics
from siks_contracts.envelope import Envelope
from siks_contracts.events import EVENTS, parse_payload, types_on
from siks_contracts.identity import mask_nik
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_random_exponential

from siks_kit.bus.transport import BatchCallback, Record, Transport
from siks_kit.observability import tracing
from siks_kit.observability.metrics import DEAD_LETTERS

log = logging.getLogger(__name__)
Handler = Callable[[Envelope, BaseModel], Awaitable[None]]


@dataclass(frozen=True)
class Item:
    """One event of a batch, read and accepted, with what its record carried."""

    topic: str
    envelope: Envelope
    payload: BaseModel
    value: bytes
    headers: dict[str, str]

    def traced(self) -> contextlib.AbstractContextManager[None]:
        """The span of handling this event, in its own trace: a batch handler decides and
        writes each event's outcome inside it, so what it publishes continues that trace."""
        return tracing.consuming(self.topic, self.headers, self.envelope.trace)


# Per event, in the order given: None when it was settled, or why not (it then goes through
# the one-at-a-time handler).
BatchHandler = Callable[[Sequence[Item]], Awaitable[Sequence[BaseException | None]]]


@dataclass(frozen=True)
class Batched:
    """A handler that takes many events of its type at once, and the one-at-a-time handler
    for each event it could not settle."""

    one: Handler
    many: BatchHandler
INVALID = "invalid message"
UNKNOWN_TYPE = "unknown event type"  # how UnknownEventType's message begins
REFUSED = "refused"  # a producer or type that does not belong on the topic
# Dead-letter reasons of records that are no event we know, or none we accept from that
# topic: sent back, they would only be parked again.
UNREADABLE_REASONS = (INVALID, UNKNOWN_TYPE, REFUSED)
_DIGIT_RUN = re.compile(r"(?<!\d)\d{16}(?!\d)")  # a NIK or a KK number
MAX_REASON = 500


def describe(exc: ValidationError) -> str:
    # Locations and messages only: the input values may be personal data.
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors())


def mask_identifiers(text: str) -> str:
    """Every 16-digit run (NIK or KK number) masked as Cek Bansos shows a NIK."""
    return _DIGIT_RUN.sub(lambda m: mask_nik(m.group()), text)


def reason_kind(reason: str) -> str:
    """A dead-letter reason's kind, for a metric label (the reason itself is free text)."""
    for kind in UNREADABLE_REASONS:
        if reason.startswith(kind):
            return kind.replace(" ", "_")
    return "handler_failed"


def never_transient(exc: BaseException) -> bool:
    """The default: no failure passes by itself. The composition root passes the store's rule."""
    return False


class Consumer:
    def __init__(self, service: str, transport: Transport, handlers: dict[str, Handler | Batched], *,
                 attempts: int = 3, transient: Callable[[BaseException], bool] = never_transient,
                 transient_budget_s: float = 20.0, backoff_initial_s: float = 0.05, backoff_max_s: float = 2.0,
                 parallel: int = 32) -> None:
        self._service, self._transport, self._parallel = service, transport, parallel
        self._handlers = {t: h.one if isinstance(h, Batched) else h for t, h in handlers.items()}
        self._batched = {t: h.many for t, h in handlers.items() if isinstance(h, Batched)}
        self._attempts, self._transient = attempts, transient
        self._budget, self._initial, self._max = transient_budget_s, backoff_initial_s, backoff_max_s
        self.dead_lettered = 0
        self.retries = 0  # handler calls made again after a failure (transient or not)

    def on_topic(self, topic: str) -> BatchCallback:
        async def callback(records: Sequence[Record]) -> None:
            await self.process_batch(topic, records)

        return callback

    async def process_batch(self, topic: str, records: Sequence[Record]) -> None:
        """Every record of the batch, each key's in order; raises (after all have run) when a
        record's failure was transient, so the batch is not acknowledged."""
        by_key: dict[str, list[Item]] = {}
        for record in records:
            if (item := await self._accept(topic, record.value, record.headers)) is not None:
                by_key.setdefault(record.key, []).append(item)
        # The first event of each key whose type is handled in bulk goes in this round's bulk.
        bulk: dict[str, list[Item]] = {}
        for items in by_key.values():
            if items[0].envelope.type in self._batched:
                bulk.setdefault(items[0].envelope.type, []).append(items[0])
        unsettled: set[int] = set()  # each goes through its one-at-a-time handler, retries and all
        for type_, items in bulk.items():
            try:
                outcomes = await self._batched[type_](items)
            except Exception as exc:
                if self._transient(exc):
                    raise  # the database stays away: do not ack; Kafka redelivers the batch
                log.warning("bulk handler for %s failed (%s); one event at a time", type_, type(exc).__name__)
                outcomes = [exc] * len(items)
            unsettled.update(id(item) for item, outcome in zip(items, outcomes, strict=True) if outcome is not None)
        gate = asyncio.Semaphore(self._parallel)

        async def one_key(items: list[Item]) -> None:
            async with gate:
                for item in items:
                    if item.envelope.type in self._batched and item is items[0] and id(item) not in unsettled:
                        continue  # settled in bulk
                    await self._handle(item)

        outcomes = await asyncio.gather(*(one_key(items) for items in by_key.values()), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def process(self, topic: str, value: bytes, headers: dict[str, str]) -> None:
        if (item := await self._accept(topic, value, headers)) is not None:
            await self._handle(item)

    async def _accept(self, topic: str, value: bytes, headers: dict[str, str]) -> Item | None:
        """The record as an event this service handles; None when it was dead-lettered or
        is of a type this service does not want."""
        try:
            envelope = Envelope.model_validate_json(value)
        except ValidationError as exc:
            return await self._dead_letter(topic, value, headers, f"{INVALID}: {describe(exc)}")
        if envelope.type not in EVENTS:
            return await self._dead_letter(topic, value, headers, f"{UNKNOWN_TYPE} {envelope.type!r}")
        if refusal := self._refusal(topic, envelope):
            return await self._dead_letter(topic, value, headers, f"{REFUSED}: {refusal}")
        try:
            payload = parse_payload(envelope)
        except ValidationError as exc:
            return await self._dead_letter(topic, value, headers, f"{INVALID}: {describe(exc)}")
        if envelope.type not in self._handlers:
            return None  # a topic carries several types; this service wants only some
        return Item(topic, envelope, payload, value, headers)

    async def _handle(self, item: Item) -> None:
        handler = self._handlers[item.envelope.type]
        try:
            with item.traced():
                await self._call(handler, item.envelope, item.payload)
        except Exception as exc:
            if self._transient(exc):
                raise  # the database stays away: do not ack; Kafka redelivers the record
            log.error("handler for %s failed %d times: %s", item.envelope.type, self._attempts, type(exc).__name__)
            what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            await self._dead_letter(item.topic, item.value, item.headers,
                                    f"handler failed after {self._attempts} attempts: {what}")

    @staticmethod
    def _refusal(topic: str, envelope: Envelope) -> str | None:
        owner = topics.OWNER.get(topic)
        if envelope.type not in types_on(topic):
            return f"event type {envelope.type!r} does not belong on {topic}"
        if owner is not None and envelope.producer != owner:
            return f"producer {envelope.producer!r} is not {topic}'s owner ({owner})"
        return None

    async def _call(self, handler: Handler, envelope: Envelope, payload: BaseModel) -> None:
        """Transient failures: retried with backoff within the time budget. Others: `attempts`
        times in all, with the same backoff."""
        failures = 0

        def retry_worthy(exc: BaseException) -> bool:
            nonlocal failures
            if self._transient(exc):
                return True
            failures += 1
            return failures < self._attempts

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(retry_worthy),
            stop=stop_after_delay(self._budget) | stop_after_attempt(10_000),
            wait=wait_random_exponential(multiplier=self._initial, max=self._max),  # "full jitter"
            before_sleep=self._before_retry, reraise=True,
        ):
            with attempt:
                await handler(envelope, payload)

    def _before_retry(self, state) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.warning("handler attempt %d failed (%s); retrying", state.attempt_number, type(exc).__name__)

    async def _dead_letter(self, topic: str, value: bytes, headers: dict[str, str], reason: str) -> None:
        """Parks the record with the reason (None, for `return await` in _accept)."""
        self.dead_lettered += 1
        DEAD_LETTERS.labels(topic, reason_kind(reason)).inc()
        reason = mask_identifiers(reason)[:MAX_REASON]
        log.warning("dead-lettering a record from %s: %s", topic, reason)
        dl_headers = {**headers, "dead_letter_reason": reason, "dead_letter_source": topic,
                      "dead_letter_consumer": self._service}
        await self._transport.publish(topics.dead_letter(topic), headers.get("event_id", "unknown"),
                                      value, dl_headers)
