"""Batch endpoints: many items in one request, one result per item (a created id or a
problem), the good items stored even when some are bad, and the same request sent twice
creating nothing twice.

Idempotency works at two levels. With an `Idempotency-Key` header each item's id is derived
from (caller, key, item index), so an item that was stored before a crash or a lost answer
is found again rather than made twice; and the results of a finished request are kept under
(caller, key), so a repeat gets the same answer. The same key with a different body is a
422, never a silent mix of two requests."""

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, ValidationError, WithJsonSchema

from siks_kit.observability import metrics
from siks_kit.store.documents import Collection, DuplicateKey
from siks_kit.web.problems import PROBLEM, Invalid, Problem, ProblemDetails, errors_from_loc, problem_body

MAX_ITEMS = 1000
MAX_KEY_LENGTH = 200
_ID_SPACE = uuid.UUID("0f5d3c7e-6a0b-4f1e-9d61-5b7f3c2a9e14")  # ours: ids derived from keys

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def items_of(model: type[BaseModel]) -> Any:
    """The type of a batch's `items`: raw objects, each validated on its own (a bad item is a
    problem in its result, not a 422 for the whole request), documented as `model`."""
    schema = {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS,
              "items": {"$ref": f"#/components/schemas/{model.__name__}"}}
    return Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_ITEMS), WithJsonSchema(schema)]


class ItemResult(BaseModel):
    index: int = Field(description="the item's position in `items`, from 0")
    id: str | None = Field(default=None, description="what the item created (or had created before)")
    problem: ProblemDetails | None = Field(default=None, description="why the item was not stored")


class BatchResults(BaseModel):
    results: list[ItemResult]


def item_id(kind: str, caller: str, key: str | None, index: int) -> str:
    """The id of a batch item: derived from the Idempotency-Key when there is one."""
    if key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_ID_SPACE, f"{kind}\x1f{caller}\x1f{key}\x1f{index}"))


def check_key(key: str | None) -> str | None:
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()):
        raise Invalid(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters",
                      errors=[{"pointer": "/Idempotency-Key", "detail": "bad key", "in": "header"}])
    return key


def _problem_of(index: int, exc: Problem, instance: str) -> ProblemDetails:
    """The item's problem, its field pointers made to point into the batch's body."""
    extra = dict(exc.extra)
    if errors := extra.get("errors"):
        extra["errors"] = [{**e, "pointer": f"/items/{index}{e['pointer']}"}
                           if e.get("in", "body") == "body" and str(e.get("pointer", "")).startswith("/") else e
                           for e in errors]
    return ProblemDetails.model_validate(problem_body(exc.status, exc.detail, instance, type_=exc.type,
                                                      title=exc.title, **extra))


def _invalid_item(index: int, exc: ValidationError, instance: str) -> ProblemDetails:
    errors = errors_from_loc({**e, "loc": ("body", *e["loc"])} for e in exc.errors())
    for e in errors:
        e.pop("loc", None)
    return _problem_of(index, Invalid(f"item {index} does not match the schema", errors=errors), instance)


async def run_items(raw: Sequence[dict[str, Any]], model: type[M], each: Callable[[int, M], Awaitable[str]],
                    *, instance: str, parallel: int = 16, first: int = 0) -> list[ItemResult]:
    """Validates each item, then `each(index, item)` side by side (up to `parallel`); a
    Problem it raises is that item's result. Anything else (the database away) fails the
    request: what was stored stays stored, and a repeat with the same key finds it. `first`:
    the index of raw[0] in the request's items (a slice of them)."""
    gate = asyncio.Semaphore(parallel)

    async def one(index: int, item: dict[str, Any]) -> ItemResult:
        try:
            cmd = model.model_validate(item)
        except ValidationError as exc:
            return ItemResult(index=index, problem=_invalid_item(index, exc, instance))
        async with gate:
            try:
                return ItemResult(index=index, id=await each(index, cmd))
            except Problem as exc:
                return ItemResult(index=index, problem=_problem_of(index, exc, instance))

    return list(await asyncio.gather(*(one(i, item) for i, item in enumerate(raw, first))))


# Given the valid items as (index, item), what each came to: its id, or why it was not stored.
BulkDecision = Callable[[list[tuple[int, M]]], Awaitable[dict[int, str | Problem]]]


TURN = 10  # items a batch decides before it lets other requests run


async def taking_turns(items: Sequence[T], every: int = TURN) -> AsyncIterator[T]:
    """The items one by one, letting the event loop run other requests every `every` items: a
    batch's own CPU work (validation, domain decisions for a thousand items) must not hold a
    single request up for its whole length."""
    for i, item in enumerate(items):
        if i and i % every == 0:
            await asyncio.sleep(0)
        yield item


async def run_items_in_bulk(raw: Sequence[dict[str, Any]], model: type[M], bulk: BulkDecision,
                            *, instance: str, first: int = 0) -> list[ItemResult]:
    """Validates each item, then hands all the valid ones to `bulk` at once (one read and one
    write for the lot where the service can); as run_items, anything but a Problem fails the
    request, and a repeat with the same key finds what was stored."""
    results: dict[int, ItemResult] = {}
    valid: list[tuple[int, M]] = []
    async for index, item in taking_turns(list(enumerate(raw, first))):
        try:
            valid.append((index, model.model_validate(item)))
        except ValidationError as exc:
            results[index] = ItemResult(index=index, problem=_invalid_item(index, exc, instance))
    for index, outcome in (await bulk(valid) if valid else {}).items():
        results[index] = (ItemResult(index=index, problem=_problem_of(index, outcome, instance))
                          if isinstance(outcome, Problem) else ItemResult(index=index, id=outcome))
    return [results[index] for index in range(first, first + len(raw))]


class BatchLedger:
    """The results of finished batch requests, by (caller, Idempotency-Key)."""

    def __init__(self, coll: Collection) -> None:
        self.coll = coll

    async def prepare(self) -> None:
        await self.coll.create_index([("at", 1)])  # for expiring old entries

    @staticmethod
    def _id(route: str, caller: str, key: str) -> str:
        return hashlib.sha256(f"{route}\x1f{caller}\x1f{key}".encode()).hexdigest()

    @staticmethod
    def fingerprint(items: Sequence[dict[str, Any]]) -> str:
        return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()

    async def answered(self, route: str, caller: str, key: str, fingerprint: str) -> list[ItemResult] | None:
        found = await self.coll.find_one({"_id": self._id(route, caller, key)})
        if found is None:
            return None
        if found["request"] != fingerprint:
            raise Problem(422, "this Idempotency-Key was used for a different request; use a new key",
                          type_=PROBLEM.idempotency_key_reused)
        return [ItemResult.model_validate(r) for r in found["results"]]

    async def record(self, route: str, caller: str, key: str, fingerprint: str, results: list[ItemResult],
                     at: datetime) -> None:
        try:
            await self.coll.insert_one({"_id": self._id(route, caller, key), "request": fingerprint, "at": at,
                                        "results": [r.model_dump(mode="json") for r in results]})
        except DuplicateKey:
            pass  # the same request ran twice at once; its items were made once, by their ids


SLICE = 10  # items let in at a time under an admission limit


class FollowingSingles:
    """The uploads' rate, set from how long single requests take: every WINDOW_S, when their
    p90 is above `target_s` the rate is halved (down to FLOOR); after GOOD_WINDOWS in a row well
    below it (p90 under half, none over twice) it grows by FLOOR. It grows slowly because what
    the uploads let in keeps the consumers busy for a second or two after, so the singles feel
    it late: growing by half each window swung between bursts and stops. After QUIET_WINDOWS
    without a single request it lets everything in (`ceiling`, 0: no limit); when singles come
    back then, it halves what went in meanwhile and follows them again."""

    WINDOW_S = 0.25
    SAMPLES = 5  # single requests a window needs before their p90 says anything
    FLOOR = 10.0  # items a second the uploads keep, whatever the singles say
    GOOD_WINDOWS = 4
    QUIET_WINDOWS = 8

    def __init__(self, target_s: float, ceiling: float, clock: Callable[[], float]) -> None:
        self.target_s, self.ceiling, self._clock = target_s, ceiling, clock
        self.per_second = self.FLOOR
        self._from, self._singles, self._admitted, self._good, self._quiet = clock(), [], 0, 0, 0

    def note(self, seconds: float) -> None:
        self.follow()  # closes the window before this one, if it is over
        self._singles.append(seconds)

    def admitted(self, items: int) -> None:
        self._admitted += items

    def follow(self) -> float:
        """The rate now (0: no limit), after closing the window if it is over."""
        now = self._clock()
        if (span := now - self._from) >= self.WINDOW_S:
            singles, let_in = sorted(self._singles), self._admitted / span
            self._from, self._singles, self._admitted = now, [], 0
            self._decide(singles, let_in)
            metrics.BATCH_ADMISSION_RATE.set(self.per_second)
        return self.per_second

    def _decide(self, singles: list[float], let_in: float) -> None:
        if not singles:
            self._quiet += 1
            if self._quiet >= self.QUIET_WINDOWS:
                self.per_second = self.ceiling
            return
        self._quiet = 0
        if self.per_second == 0:  # singles again after a quiet spell: what comes in now is unknown
            self.per_second, self._good = max(self.FLOOR, let_in / 2), 0
            return
        p90 = singles[int(0.9 * (len(singles) - 1))] if len(singles) >= self.SAMPLES else None
        if p90 is not None and p90 > self.target_s:
            self.per_second, self._good = max(self.FLOOR, min(self.per_second, let_in) / 2), 0
        elif (p90 is None or p90 < self.target_s / 2) and singles[-1] < 2 * self.target_s:
            self._good += 1
            if self._good >= self.GOOD_WINDOWS:
                grown = self.per_second + self.FLOOR
                self.per_second, self._good = min(grown, self.ceiling) if self.ceiling else grown, 0
        else:
            self._good = 0


class BatchAdmission:
    """Lets batch items in at most `per_second` a second in this process (0: no limit), so that
    uploads queue rather than take the cores single requests need: each batch books the next
    free moment for its items (`len / per_second` long) and waits for it, holding no CPU. The
    first batch after a quiet spell goes at once. Ops size it per replica, from the CPU a
    household costs and the share of the cores the uploads may have (docs/operations.md).

    With `single_p90_ms`, the limit follows the single requests instead (`note_single`,
    FollowingSingles), up to `per_second` if set: uploads get what the operators leave,
    without ops sizing it."""

    def __init__(self, per_second: float = 0.0, *, single_p90_ms: float = 0.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        if per_second < 0 or single_p90_ms < 0:
            raise ValueError("batch items per second and the singles' p90 must be 0 (none) or more")
        self.per_second, self._clock, self._sleep = per_second, clock, sleep
        self.following = FollowingSingles(single_p90_ms / 1000, per_second, clock) if single_p90_ms else None
        self._free_at = 0.0

    @property
    def yields(self) -> bool:
        return self.following is not None

    def slice_of(self, items: int) -> int:
        """How many of a batch's items go in at a time: under a limit, a slice of SLICE, each
        on its turn; a hundred let in at once held the database, and the single requests
        behind it, for the length of their burst. Without a limit, the whole batch."""
        limit = self.following.follow() if self.following else self.per_second
        return min(items, SLICE) if limit else max(items, 1)

    def note_single(self, seconds: float) -> None:
        """A single (not batch) request took this long: what a yielding admission follows."""
        if self.following:
            self.following.note(seconds)

    async def admit(self, items: int, route: str) -> float:
        """Waits for this batch's turn; how long it waited, in seconds."""
        if self.following:
            self.per_second = self.following.follow()
            self.following.admitted(items)
        if self.per_second == 0:
            return 0.0
        now = self._clock()
        start = max(now, self._free_at)
        self._free_at = start + items / self.per_second
        if (wait := start - now) > 0:
            await self._sleep(wait)
        metrics.BATCH_ADMISSION_WAIT.labels(route).observe(wait)
        return wait


class TimingSingles:
    """ASGI middleware: tells a yielding admission how long each single API request took (not
    the batch ones, not the operational endpoints)."""

    def __init__(self, app: Any, admission: BatchAdmission) -> None:
        self.app, self.admission = app, admission

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/v1/") or path.endswith("/batch"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.note_single(time.perf_counter() - started)


NO_LIMIT = BatchAdmission()


async def answer_batch(ledger: BatchLedger, *, route: str, caller: str, key: str | None,
                       raw: Sequence[dict[str, Any]], model: type[M], now: datetime, instance: str,
                       each: Callable[[int, M], Awaitable[str]] | None = None,
                       bulk: BulkDecision | None = None, admission: BatchAdmission = NO_LIMIT) -> BatchResults:
    """A batch request from start to end: a repeat answered from the ledger, else the items,
    after their turn (`admission`), `each` one at a time (side by side) or all of them in `bulk`."""
    key = check_key(key)
    fingerprint = BatchLedger.fingerprint(raw) if key else ""
    if key and (earlier := await ledger.answered(route, caller, key, fingerprint)) is not None:
        return BatchResults(results=earlier)
    if bulk is None and each is None:
        raise TypeError("answer_batch needs `each` or `bulk`")
    results: list[ItemResult] = []
    step = admission.slice_of(len(raw))
    for first in range(0, len(raw), step):
        part = raw[first:first + step]
        await admission.admit(len(part), route)
        results += (await run_items_in_bulk(part, model, bulk, instance=instance, first=first) if bulk is not None
                    else await run_items(part, model, each, instance=instance, first=first))
    if key and not any(_worth_repeating(r) for r in results):
        await ledger.record(route, caller, key, fingerprint, results, now)
    return BatchResults(results=results)


def _worth_repeating(result: ItemResult) -> bool:
    """An item whose answer a repeat may change (an earlier attempt still under way, or a
    passing failure): the batch's answer is not kept, so the repeat runs its items again
    (those stored meanwhile answer with what they stored)."""
    return result.problem is not None and (result.problem.status >= 500 or result.problem.type == PROBLEM.in_progress)
