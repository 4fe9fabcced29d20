"""Integration's application layer with fakes: fake outside systems that fail N times and then
answer, the memory store and transport, a clock moved by hand. No sleeps."""

import json
from datetime import UTC, datetime, timedelta

from siks_contracts import topics
from siks_contracts.actor import Actor
from siks_contracts.enums import Role
from siks_kit.runtime.clock import FixedClock
from siks_kit.bus.consumer import Consumer
from siks_testkit.memory import MemoryDatabase, MemoryTransport, Record
from siks_kit.bus.outbox import OutboxRelay
from siks_testkit.samples import household_snapshot, proposal_submitted
from siks_testkit.testing import envelope
from siks_integration import handlers
from siks_integration.domain.check_set import DukcapilAnswer
from siks_integration.handlers import Backoff, IntegrationDeps
from siks_integration.messaging import subscriptions
from siks_integration.outside.resilient import OutsideUnavailable
from siks_integration.retrier import Retrier

T0 = datetime(2026, 12, 16, 3, tzinfo=UTC)
AUDITOR = Actor(sub="a", role=Role.AUDITOR)


class FakeDukcapil:
    """Unavailable for the first `fail` calls, then answers `answer` for everyone."""

    def __init__(self, fail: int = 0, answer: DukcapilAnswer = DukcapilAnswer(True, True, True, True)) -> None:
        self.fail, self.answer, self.calls = fail, answer, 0

    async def verify(self, people) -> list[DukcapilAnswer]:
        self.calls += 1
        self.asked = getattr(self, "asked", 0) + len(people)
        if self.fail > 0:
            self.fail -= 1
            raise OutsideUnavailable("dukcapil", "HTTP 503")
        return [self.answer] * len(people)


class FakeDtsen:
    def __init__(self, desils: dict[str, int] | None = None, fail: int = 0) -> None:
        self.known = desils if desils is not None else {"3204052609800001": 4, "3204055912790001": 3}
        self.fail, self.calls = fail, 0

    async def desils(self, niks: list[str]) -> list[int | None]:
        self.calls += 1
        if self.fail > 0:
            self.fail -= 1
            raise OutsideUnavailable("dtsen", "timed out")
        return [self.known.get(nik) for nik in niks]


class World:
    def __init__(self, dukcapil=None, dtsen=None) -> None:
        self.db, self.bus, self.clock = MemoryDatabase(), MemoryTransport(), FixedClock(T0)
        self.dukcapil, self.dtsen = dukcapil or FakeDukcapil(), dtsen or FakeDtsen()
        self.deps = IntegrationDeps.build(self.db, self.clock, self.dukcapil, self.dtsen,
                                          Backoff(first_s=1.0, cap_s=8.0, rng=lambda: 1.0))
        self.retrier = Retrier(self.deps)
        self.deps.on_pending = self.retrier.hint
        self.consumer = Consumer("integration", self.bus, subscriptions(self.deps))
        self.relay = OutboxRelay([self.db.collection("checks")], self.bus)

    async def submit(self, p=None) -> None:
        env = envelope(p or proposal_submitted())
        await self.consumer.process(topics.PROPOSALS, env.model_dump_json().encode(), {})

    def doc(self, pid: str = "p-1") -> dict:
        return self.db.collection("checks")._raw.find_one({"_id": pid})

    async def published(self) -> list[dict]:
        await self.relay.drain_once()
        return [json.loads(r.value) for r in self.bus.on(topics.CHECKS)]

    def later(self, seconds: float) -> None:
        self.clock.at += timedelta(seconds=seconds)


async def test_checks_pass_with_desil_and_one_event_however_often_the_proposal_arrives():
    w = World()
    for _ in range(2):
        await w.submit()
    doc = w.doc()
    assert [c["name"] for c in doc["checks"]] == ["nik", "region", "dukcapil", "dtsen"]
    assert doc["passed"] is True and doc["desil"] == 3 and doc["round"] == 1
    assert doc["household"] is None  # no members kept once every system answered
    (event,) = await w.published()
    assert event["type"] == "integration.checks_completed.v1"
    assert event["payload"]["desil"] == 3 and event["payload"]["round"] == 1 and event["payload"]["passed"] is True
    assert (w.dukcapil.calls, w.dukcapil.asked, w.dtsen.calls) == (1, 2, 1)  # both members in one request each
    assert "3204052609800001" not in json.dumps(event["payload"]["checks"])  # evidence carries no NIK
    view = await handlers.read_checks(w.deps, AUDITOR, "p-1")
    assert view.passed is True and view.waiting_on == []


async def test_an_outage_leaves_the_check_pending_and_the_retrier_finishes_it_when_the_system_is_back():
    w = World(dukcapil=FakeDukcapil(fail=2))  # two rounds of asking fail
    await w.submit()
    doc = w.doc()
    assert doc["waiting"] and doc["waiting_on"] == ["dukcapil"] and doc["passed"] is None
    assert doc["next_attempt_at"] == T0 + timedelta(seconds=1)  # first retry after first_s
    (pending,) = await w.published()
    assert pending["type"] == "integration.checks_pending.v1" and pending["payload"]["waiting_on"] == ["dukcapil"]
    assert pending["causation_id"] is not None

    assert await w.retrier.run_due() == 0  # not due yet
    w.later(1)
    assert await w.retrier.run_due() == 1  # asked again: still down
    doc = w.doc()
    assert doc["failed_attempts"] == 2 and doc["next_attempt_at"] == T0 + timedelta(seconds=3)  # 1 s + 2 s
    assert len(await w.published()) == 1  # the same system still waited on: nothing new said

    w.later(2)
    await w.retrier.run_due()
    doc = w.doc()
    assert doc["passed"] is True and doc["waiting"] is False and doc["desil"] == 3
    events = await w.published()
    assert [e["type"] for e in events] == ["integration.checks_pending.v1", "integration.checks_completed.v1"]
    assert events[1]["correlation_id"] == events[0]["correlation_id"]  # still the proposal's story
    assert w.retrier.waiting == {}
    assert w.dtsen.calls == 1  # DTSEN answered the first time and is not asked again


async def test_pending_sets_survive_a_restart_the_sweep_finds_them():
    w = World(dukcapil=FakeDukcapil(fail=1))
    await w.submit()
    restarted = Retrier(w.deps)  # a new process: nothing hinted, only the database
    assert await restarted.sweep() == 1
    w.later(1)
    await restarted.run_due()
    assert w.doc()["passed"] is True


async def test_backoff_grows_to_its_cap():
    b = Backoff(first_s=1.0, cap_s=8.0, rng=lambda: 1.0)
    assert [b.delay(n).total_seconds() for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    assert Backoff(first_s=2.0, rng=lambda: 0.0).delay(1).total_seconds() == 1.0  # jitter: 50-100 %


async def test_a_new_round_gets_a_fresh_check_set_on_the_household_it_carries():
    w = World()
    await w.submit()
    hh = household_snapshot()
    hh.members = hh.members[1:]  # the head was removed before resubmitting
    await w.submit(proposal_submitted().model_copy(update={"round": 2, "household": hh}))
    await w.submit(proposal_submitted())  # round 1 redelivered late: changes nothing
    doc = w.doc()
    assert doc["round"] == 2 and doc["desil"] == 3 and doc["passed"] is True
    assert "1 member(s) matched" in doc["checks"][2]["detail"]
    events = await w.published()
    assert [(e["type"], e["payload"]["round"]) for e in events] == [
        ("integration.checks_completed.v1", 1), ("integration.checks_completed.v1", 2)]


async def test_a_new_round_overtakes_a_pending_retry_of_the_old_one():
    w = World(dukcapil=FakeDukcapil(fail=1))
    await w.submit()
    await w.submit(proposal_submitted().model_copy(update={"round": 2}))
    doc = w.doc()
    assert doc["round"] == 2 and doc["passed"] is True
    w.later(60)
    await w.retrier.run_due()  # the old hint finds nothing waiting any more
    assert w.retrier.waiting == {}
    assert [e["payload"]["round"] for e in await w.published()] == [1, 2]


async def test_both_systems_down_then_one_back_says_pending_again_with_the_one_still_waited_on():
    w = World(dukcapil=FakeDukcapil(fail=100), dtsen=FakeDtsen(fail=1))
    await w.submit()
    w.later(1)
    await w.retrier.run_due()
    events = await w.published()
    assert [e["payload"]["waiting_on"] for e in events] == [["dukcapil", "dtsen"], ["dukcapil"]]
    view = await handlers.read_checks(w.deps, AUDITOR, "p-1")
    assert view.desil == 3 and view.passed is None


async def test_a_household_unknown_to_dtsen_passes_with_a_warning_and_no_desil():
    w = World(dtsen=FakeDtsen(desils={}))
    await w.submit()
    doc = w.doc()
    assert doc["passed"] is True and doc["desil"] is None and doc["checks"][3]["status"] == "warning"


async def test_a_v1_record_without_round_or_version_is_read_and_left_alone():
    w = World()
    await w.db.collection("checks").insert_one({
        "_id": "p-1", "household_id": "h-1", "region_code": "32.04.05.2001", "program": "PKH",
        "checks": [{"name": "dukcapil", "status": "error", "detail": "x"}], "passed": False, "checked_at": T0})
    await w.submit()  # round 1 again: that round has its result
    view = await handlers.read_checks(w.deps, AUDITOR, "p-1")
    assert view.round == 1 and view.passed is False and view.waiting_on == []
    await w.submit(proposal_submitted().model_copy(update={"round": 2}))
    assert w.doc()["round"] == 2 and w.doc()["version"] == 1


async def test_a_batch_of_proposals_asks_each_outside_system_once_and_writes_the_first_rounds_together():
    w = World()
    await w.submit(proposal_submitted().model_copy(update={"proposal_id": "p-old"}))  # its set exists already
    calls_before = (w.dukcapil.calls, w.dtsen.calls)
    batch = [proposal_submitted().model_copy(update={"proposal_id": f"p-{i}"}) for i in range(5)]
    batch.append(proposal_submitted().model_copy(update={"proposal_id": "p-old", "round": 2}))
    records = [Record(topics.PROPOSALS, p.proposal_id, envelope(p).model_dump_json().encode(), {}) for p in batch]
    records.append(records[0])  # a redelivery inside the same batch
    await w.consumer.process_batch(topics.PROPOSALS, records)
    # Five new sets: one request to each system for all ten members; the new round of p-old
    # goes one at a time (its set exists), and so does the repeat of p-0 (a redelivery).
    assert (w.dukcapil.calls - calls_before[0], w.dtsen.calls - calls_before[1]) == (2, 2)
    assert w.dukcapil.asked == 2 + 10 + 2
    assert [w.doc(f"p-{i}")["passed"] for i in range(5)] == [True] * 5 and w.doc("p-old")["round"] == 2
    events = await w.published()
    assert sorted((e["payload"]["proposal_id"], e["payload"]["round"]) for e in events) == sorted(
        [(f"p-{i}", 1) for i in range(5)] + [("p-old", 1), ("p-old", 2)])
    assert all(e["causation_id"] for e in events) and w.bus.on(topics.dead_letter(topics.PROPOSALS)) == []
