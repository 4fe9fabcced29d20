"""Admission of batch requests: each batch books the next free moment for its items and waits
for it, so uploads go in at the configured rate whatever their clients send."""

from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel

from siks_kit.web.batch import BatchAdmission, BatchLedger, answer_batch
from siks_testkit.memory import MemoryDatabase


class Item(BaseModel):
    n: int


class FakeTime:
    def __init__(self) -> None:
        self.now, self.slept = 0.0, []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


async def test_batches_wait_for_their_turn_at_the_configured_rate():
    t = FakeTime()
    admission = BatchAdmission(100, clock=t.clock, sleep=t.sleep)
    assert await admission.admit(100, "household") == 0  # the first goes at once
    assert await admission.admit(100, "household") == pytest.approx(1.0)  # its 100 items take a second
    t.now = 0.5
    assert await admission.admit(50, "proposal") == pytest.approx(1.5)  # after both, due at 2.0
    t.now = 10.0
    assert await admission.admit(1000, "household") == 0  # a quiet spell: no debt carried
    assert t.slept == [pytest.approx(1.0), pytest.approx(1.5)]
    waited = REGISTRY.get_sample_value("siks_batch_admission_wait_seconds_count", {"batch": "proposal"})
    assert waited is not None and waited >= 1


async def test_no_limit_lets_everything_in_at_once():
    t = FakeTime()
    admission = BatchAdmission(0, clock=t.clock, sleep=t.sleep)
    assert [await admission.admit(1000, "household") for _ in range(5)] == [0.0] * 5
    assert t.slept == []


def test_a_negative_rate_is_refused():
    with pytest.raises(ValueError):
        BatchAdmission(-1)


async def test_under_a_limit_a_batch_goes_in_ten_items_at_a_time_and_its_results_keep_their_places():
    """A hundred items let in at once held the database, and single requests behind it, for
    their whole burst: under a limit each slice of ten takes its own turn."""
    seen: list[list[int]] = []

    async def bulk(valid):
        seen.append([index for index, _ in valid])
        return {index: f"id-{item.n}" for index, item in valid}

    t = FakeTime()
    admission = BatchAdmission(10, clock=t.clock, sleep=t.sleep)
    raw = [{"n": i} for i in range(25)]
    raw[13] = {"n": "thirteen"}
    answer = await answer_batch(BatchLedger(MemoryDatabase().collection("batches")), route="r", caller="c", key=None,
                                raw=raw, model=Item, now=datetime(2026, 12, 16, tzinfo=UTC), instance="/r",
                                bulk=bulk, admission=admission)
    assert seen == [list(range(10)), [10, 11, 12, 14, 15, 16, 17, 18, 19], list(range(20, 25))]
    assert t.slept == [pytest.approx(1.0), pytest.approx(2.0)]  # the clock stands still: each slice books a second
    assert [r.index for r in answer.results] == list(range(25))
    assert answer.results[24].id == "id-24" and answer.results[13].id is None
    assert answer.results[13].problem.errors[0].pointer == "/items/13/n"  # its place in the request


async def test_without_a_limit_a_batch_goes_in_whole():
    seen = []

    async def bulk(valid):
        seen.append(len(valid))
        return {index: "x" for index, _ in valid}

    await answer_batch(BatchLedger(MemoryDatabase().collection("batches")), route="r", caller="c", key=None,
                       raw=[{"n": i} for i in range(250)], model=Item, now=datetime(2026, 12, 16, tzinfo=UTC),
                       instance="/r", bulk=bulk)
    assert seen == [250]


async def test_a_yielding_admission_halves_the_uploads_while_single_requests_are_slow_and_grows_them_slowly():
    t = FakeTime()
    admission = BatchAdmission(0, single_p90_ms=50, clock=t.clock, sleep=t.sleep)
    follow = admission.following

    def window(latency: float | list[float], items: int = 0) -> None:
        """A quarter of a second of single requests (ten of `latency`, or those listed) and of
        uploads let in."""
        start = t.now
        t.now += 0.01
        for seconds in latency if isinstance(latency, list) else [latency] * 10:
            admission.note_single(seconds)
        follow.admitted(items)
        t.now = start + 0.25
        follow.follow()

    assert follow.per_second == 10 and admission.slice_of(100) == 10  # a cautious start, ten at a time
    window(0.2, items=40)  # operators waiting 200 ms while uploads went in at 160 a second
    assert follow.per_second == 10  # halved, but not below the floor
    for _ in range(3):
        window(0.001)
    assert follow.per_second == 10  # three good windows: not yet
    window(0.001)
    assert follow.per_second == 20  # the fourth: ten more a second
    window(0.001), window(0.04), window(0.001), window(0.001), window(0.001)
    assert follow.per_second == 20  # one window near the target starts the count again
    window(0.001)
    assert follow.per_second == 30
    for _ in range(3):
        window(0.001)
    window([0.001] * 9 + [0.11])
    assert follow.per_second == 30  # fast but for one over twice the target: not a good window
    window(0.2, items=5)  # slow again, with 20 a second going in: half of that
    assert follow.per_second == 10


async def test_a_yielding_admission_lets_everything_in_while_nobody_waits_and_halves_when_someone_comes():
    t = FakeTime()
    admission = BatchAdmission(0, single_p90_ms=50, clock=t.clock, sleep=t.sleep)
    for step in range(1, 9):
        t.now = step * 0.25
        assert await admission.admit(1, "household") >= 0
    assert admission.per_second == 0 and admission.slice_of(100) == 100  # two quiet seconds: no limit
    assert await admission.admit(100, "household") == 0
    t.now += 0.1
    admission.note_single(0.01)
    t.now += 0.15  # 101 items went in in that quarter second: about 400 a second
    assert await admission.admit(10, "household") == 0
    assert admission.per_second == pytest.approx(101 / 0.25 / 2, rel=0.01)
    assert admission.slice_of(100) == 10


async def test_a_yielding_admission_keeps_a_floor_and_its_ceiling():
    t = FakeTime()
    admission = BatchAdmission(50, single_p90_ms=50, clock=t.clock, sleep=t.sleep)
    for step in range(1, 10):
        t.now = step * 0.25
        for _ in range(5):
            admission.note_single(1.0)
    assert admission.following.per_second == 10  # the floor: uploads never stop
    for step in range(10, 40):
        t.now = step * 0.25
        admission.note_single(0.001)  # one a window: too few to tell, and none slow
    assert admission.following.per_second == 50  # back to the ceiling ops set, not past it


async def test_single_requests_are_timed_for_the_admission_batch_and_operational_ones_are_not():
    from siks_kit.web.batch import TimingSingles
    noted = []

    class Noting(BatchAdmission):
        def note_single(self, seconds):
            noted.append(seconds)

    async def app(scope, receive, send):
        pass

    timed = TimingSingles(app, Noting(single_p90_ms=50))
    for path in ("/v1/households", "/v1/households/batch", "/metrics", "/v1/households/h-1"):
        await timed({"type": "http", "path": path}, None, None)
    await timed({"type": "lifespan"}, None, None)
    assert len(noted) == 2
