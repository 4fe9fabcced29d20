"""Integration use cases: check a proposal's household against the outside world.

Load the check set, ask the outside systems what is still pending, let the CheckSet decide
what to say, and store state + outbox in one guarded write. An outside system that does not
answer leaves its check pending; the retrier (retrier.py) asks again later."""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from siks_contracts.actor import Actor, system_actor
from siks_contracts.envelope import Envelope, TraceContext, new_envelope
from siks_contracts.events import ProposalSubmitted
from siks_contracts.regions import load_regions
from siks_kit.observability import tracing
from siks_kit.web.auth import require_scope
from siks_kit.runtime.clock import Clock
from siks_kit.bus.consumer import Item
from siks_kit.bus.outbox import outbox_entry
from siks_kit.web.problems import NotFound
from siks_kit.store.documents import Database

from .domain.check_set import DTSEN, DUKCAPIL, CheckSet, Event, open_round
from .outside.dtsen import Dtsen
from .outside.dukcapil import Dukcapil
from .outside.resilient import OutsideUnavailable
from .store.checks import CheckStore

SERVICE = "integration"
log = logging.getLogger(__name__)


class ConcurrentWrite(Exception):
    """The check set changed under us too often; the event is processed again."""


@dataclass(frozen=True)
class Backoff:
    """When to ask an outside system again after the n-th round of asking failed:
    first_s * 2^(n-1), capped, with jitter (a random 50-100% of that), so check sets that
    failed together do not all come back at the same moment."""

    first_s: float = 1.0
    cap_s: float = 30.0
    rng: Callable[[], float] = field(default=random.random)

    def delay(self, failed_attempts: int) -> timedelta:
        base = min(self.cap_s, self.first_s * 2 ** max(0, failed_attempts - 1))
        return timedelta(seconds=base * (0.5 + 0.5 * self.rng()))


@dataclass
class IntegrationDeps:
    checks: CheckStore
    dukcapil: Dukcapil
    dtsen: Dtsen
    clock: Clock
    backoff: Backoff = field(default_factory=Backoff)
    # Called with (proposal_id, next_attempt_at) after a write that leaves something pending,
    # so the retrier need not scan for it (set by the composition root).
    on_pending: Callable[[str, datetime], None] = lambda _id, _at: None
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # clients opened for us

    @classmethod
    def build(cls, db: Database, clock: Clock, dukcapil: Dukcapil, dtsen: Dtsen,
              backoff: Backoff | None = None) -> "IntegrationDeps":
        return cls(CheckStore(db), dukcapil, dtsen, clock, backoff or Backoff())

    async def prepare(self) -> None:
        await asyncio.to_thread(load_regions)  # every check set's codes are checked against it
        await self.checks.prepare()

    async def close(self) -> None:
        for close in self.closers:
            await close()


# -- asking the outside systems what is still pending

async def _gather(calls: list[Any]) -> tuple[list[Any], OutsideUnavailable | None]:
    """All the members' answers, or the first unavailability (every call is awaited, none is
    left running on its own)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, OutsideUnavailable):
            raise r
    unavailable = [r for r in results if isinstance(r, OutsideUnavailable)]
    return results, (unavailable[0] if unavailable else None)


def _members(cs: CheckSet) -> list[Any]:
    return cs.household.members if cs.household else []


async def _ask(sets: Sequence[CheckSet], system: str, ask: Callable[[list[Any]], Awaitable[list[Any]]],
               record: Callable[[CheckSet, list[Any]], None]) -> None:
    """One request (the adapter splits it per thousand) for every member of every set; the
    answers go back to each set, or each set learns the system is away."""
    members = [m for cs in sets for m in _members(cs)]
    try:
        answers = await ask(members) if members else []
    except OutsideUnavailable as unavailable:
        for cs in sets:
            cs.mark_unavailable(system, unavailable.reason)
        return
    for cs, own in zip(sets, _split(answers, sets), strict=True):
        record(cs, own)


async def _ask_dukcapil(deps: IntegrationDeps, sets: Sequence[CheckSet]) -> None:
    await _ask(sets, DUKCAPIL, lambda ms: deps.dukcapil.verify([(m.nik, m.name, m.birth_date) for m in ms]),
               CheckSet.record_dukcapil)


async def _ask_dtsen(deps: IntegrationDeps, sets: Sequence[CheckSet]) -> None:
    await _ask(sets, DTSEN, lambda ms: deps.dtsen.desils([m.nik for m in ms]), CheckSet.record_dtsen)


def _split(answers: list[Any], sets: Sequence[CheckSet]) -> list[list[Any]]:
    """Answers for everyone asked, back to each set (its members' share, in order)."""
    out, start = [], 0
    for cs in sets:
        count = len(_members(cs))
        out.append(answers[start:start + count])
        start += count
    return out


ASK = {DUKCAPIL: _ask_dukcapil, DTSEN: _ask_dtsen}


async def ask_outside(deps: IntegrationDeps, sets: Sequence[CheckSet]) -> list[list[Event]]:
    """Asks every system what the sets still wait on (one request per system for them all,
    side by side), then lets each set decide; its events, per set."""
    asking = {system: [cs for cs in sets if cs.household is not None and system in cs.waiting_on] for system in ASK}
    await asyncio.gather(*(ASK[system](deps, group) for system, group in asking.items() if group))
    now = deps.clock.now()
    decided = []
    for cs in sets:
        decided.append(cs.decide(now))
        if not cs.complete:
            cs.schedule_retry(now + deps.backoff.delay(cs.failed_attempts + 1))
    return decided


def _envelopes(events: list[Event], cs: CheckSet, now: datetime, *, causation: Envelope | None = None,
               correlation_id: str | None = None, causation_id: str | None = None) -> list[dict[str, Any]]:
    out = []
    for event in events:
        env = new_envelope(payload=event, occurred_at=now, producer=SERVICE, actor=system_actor(SERVICE),
                           region_code=cs.region_code, causation=causation, correlation_id=correlation_id)
        if causation is None and causation_id is not None:
            env = env.model_copy(update={"causation_id": causation_id})
        out.append(outbox_entry(env, cs.proposal_id))
    return out


# -- use cases

async def on_proposal_submitted(deps: IntegrationDeps, envelope: Envelope, p: ProposalSubmitted) -> None:
    for _ in range(5):
        stored = await deps.checks.load(p.proposal_id)
        cs = open_round(stored.check_set if stored else None, p, deps.clock.now())
        if cs is None:
            return  # this round (or a later one) is in hand: a redelivery changes nothing
        (events,) = await ask_outside(deps, [cs])
        if await deps.checks.save(cs, stored.version if stored else 0,
                                  _envelopes(events, cs, cs.checked_at, causation=envelope), **_origin(envelope)):
            _announce_pending(deps, cs)
            return
    raise ConcurrentWrite(f"check set of proposal {p.proposal_id} kept changing")


async def on_proposals_submitted(deps: IntegrationDeps, items: Sequence[Item]) -> list[BaseException | None]:
    """A batch of proposals: one read of their check sets, one request per outside system for
    all of them, one write of the first rounds. A proposal whose set exists already (a new
    round, a redelivery) or was written meanwhile goes through on_proposal_submitted."""
    stored = await deps.checks.load_many([item.payload.proposal_id for item in items])
    now = deps.clock.now()
    outcomes: list[BaseException | None] = [None] * len(items)
    fresh: list[tuple[int, CheckSet]] = []
    for i, item in enumerate(items):
        if item.payload.proposal_id in stored:
            outcomes[i] = ConcurrentWrite("a check set exists: decided one at a time")
        elif (cs := open_round(None, item.payload, now)) is not None:
            fresh.append((i, cs))
    decided = await ask_outside(deps, [cs for _, cs in fresh])
    writes = []
    for (i, cs), events in zip(fresh, decided, strict=True):
        with items[i].traced():  # the events continue each proposal's own trace
            writes.append((cs, _envelopes(events, cs, cs.checked_at, causation=items[i].envelope),
                           _origin(items[i].envelope)))
    for (i, cs), went_in in zip(fresh, await deps.checks.add_many(writes), strict=True):
        if went_in:
            _announce_pending(deps, cs)
        else:
            outcomes[i] = ConcurrentWrite(f"check set of proposal {cs.proposal_id} was written meanwhile")
    return outcomes


def _origin(envelope: Envelope) -> dict[str, Any]:
    """What the retrier needs to continue a proposal's trace and causation later."""
    trace = tracing.current_trace_context()
    return {"correlation_id": envelope.correlation_id, "causation_id": envelope.event_id,
            "trace": trace.model_dump() if trace else None}


def _announce_pending(deps: IntegrationDeps, cs: CheckSet) -> None:
    if cs.next_attempt_at is not None:
        deps.on_pending(cs.proposal_id, cs.next_attempt_at)


async def retry_pending(deps: IntegrationDeps, proposal_id: str) -> datetime | None:
    """Asks again for one check set if it is due. Returns when it should be asked next
    (None: nothing waits any more, or someone else holds it now)."""
    stored = await deps.checks.load(proposal_id)
    if stored is None or stored.check_set.complete:
        return None
    cs = stored.check_set
    if not cs.due(deps.clock.now()):
        return cs.next_attempt_at
    token = tracing.attach(TraceContext.model_validate(stored.trace) if stored.trace else None)
    try:
        (events,) = await ask_outside(deps, [cs])
        outbox = _envelopes(events, cs, cs.checked_at, correlation_id=stored.correlation_id,
                            causation_id=stored.causation_id)
        if not await deps.checks.save(cs, stored.version, outbox):
            return None  # a new round or another replica wrote it: theirs stands
    finally:
        tracing.detach(token)
    if cs.complete:
        log.info("check set of round %d completed after %d failed attempt(s)", cs.round, cs.failed_attempts)
    return cs.next_attempt_at


async def read_checks(deps: IntegrationDeps, actor: Actor, proposal_id: str) -> CheckSet:
    stored = await deps.checks.load(proposal_id)
    if stored is None:
        raise NotFound(f"checks for proposal {proposal_id}")
    require_scope(actor, stored.check_set.region_code)
    return stored.check_set
