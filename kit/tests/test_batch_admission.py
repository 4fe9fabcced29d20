"""Admission of batch requests: each batch books the next free moment for its items and waits
for it, so uploads go in at the configured rate whatever their clients send."""

import pytest
from prometheus_client import REGISTRY

from siks_kit.web.batch import BatchAdmission


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
