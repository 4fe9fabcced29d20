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
