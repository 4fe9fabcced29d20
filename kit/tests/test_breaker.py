"""The circuit breaker, with a clock moved by hand: no sleeps."""

import asyncio

import pytest
from siks_kit.runtime.breaker import CircuitBreaker, CircuitOpen, State
from siks_testkit.testing import await_for


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Boom(Exception):
    pass


async def fail() -> None:
    raise Boom


async def ok() -> str:
    return "ok"


def breaker(clock: FakeClock, **kw) -> CircuitBreaker:
    return CircuitBreaker("far-end", failure_threshold=3, reset_timeout_s=10, clock=clock, **kw)


async def test_opens_after_n_consecutive_failures_and_then_refuses_without_calling():
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(2):
        with pytest.raises(Boom):
            await b.call(fail)
    assert b.state is State.CLOSED
    with pytest.raises(Boom):
        await b.call(fail)
    assert b.state is State.OPEN
    called = []

    async def spy() -> None:
        called.append(1)

    with pytest.raises(CircuitOpen) as refused:
        await b.call(spy)
    assert called == [] and refused.value.retry_in_s == pytest.approx(10)


async def test_a_success_resets_the_count_of_failures_in_a_row():
    b = breaker(FakeClock())
    for _ in range(2):
        with pytest.raises(Boom):
            await b.call(fail)
    assert await b.call(ok) == "ok"
    for _ in range(2):
        with pytest.raises(Boom):
            await b.call(fail)
    assert b.state is State.CLOSED  # 2, 1 success, 2: never 3 in a row


async def test_half_open_after_the_cool_down_and_a_good_trial_closes_it():
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(3):
        with pytest.raises(Boom):
            await b.call(fail)
    clock.t += 9.9
    assert b.state is State.OPEN and b.retry_in() == pytest.approx(0.1)
    clock.t += 0.1
    assert b.state is State.HALF_OPEN
    assert await b.call(ok) == "ok"
    assert b.state is State.CLOSED


async def test_a_failed_trial_opens_it_for_another_full_cool_down():
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(3):
        with pytest.raises(Boom):
            await b.call(fail)
    clock.t += 10
    with pytest.raises(Boom):
        await b.call(fail)  # one failure is enough when half-open
    assert b.state is State.OPEN and b.retry_in() == pytest.approx(10)


async def test_half_open_lets_only_one_trial_through_at_a_time():
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(3):
        with pytest.raises(Boom):
            await b.call(fail)
    clock.t += 10
    gate, started = asyncio.Event(), asyncio.Event()

    async def slow() -> str:
        started.set()
        await gate.wait()
        return "late"

    trial = asyncio.create_task(b.call(slow))
    await asyncio.wait_for(started.wait(), 5)  # the trial holds its slot
    with pytest.raises(CircuitOpen):
        await b.call(ok)
    gate.set()
    assert await trial == "late" and b.state is State.CLOSED


async def test_exceptions_that_are_no_failure_of_the_far_end_do_not_count():
    b = breaker(FakeClock(), is_failure=lambda exc: not isinstance(exc, ValueError))

    async def bad_request() -> None:
        raise ValueError("our own mistake")

    for _ in range(5):
        with pytest.raises(ValueError):
            await b.call(bad_request)
    assert b.state is State.CLOSED


def test_refuses_nonsense_settings():
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=0)


async def test_with_wait_for_trial_calls_during_a_trial_go_through_once_it_succeeds():
    clock = FakeClock()
    b = breaker(clock, wait_for_trial=True)
    for _ in range(3):
        with pytest.raises(Boom):
            await b.call(fail)
    clock.t += 10
    gate, started = asyncio.Event(), asyncio.Event()

    async def slow() -> str:
        started.set()
        await gate.wait()
        return "trial"

    trial = asyncio.create_task(b.call(slow))
    await asyncio.wait_for(started.wait(), 5)  # the trial holds its slot
    waiting = [asyncio.create_task(b.call(ok)) for _ in range(3)]
    await await_for(lambda: b.held == 3, "the three calls held behind the trial")
    assert not any(t.done() for t in waiting)  # held, not refused
    gate.set()
    assert await trial == "trial" and [await t for t in waiting] == ["ok"] * 3


async def test_with_wait_for_trial_calls_during_a_failing_trial_are_refused():
    clock = FakeClock()
    b = breaker(clock, wait_for_trial=True)
    for _ in range(3):
        with pytest.raises(Boom):
            await b.call(fail)
    clock.t += 10
    gate, started = asyncio.Event(), asyncio.Event()

    async def slow_fail() -> None:
        started.set()
        await gate.wait()
        raise Boom

    trial = asyncio.create_task(b.call(slow_fail))
    await asyncio.wait_for(started.wait(), 5)  # the trial holds its slot
    waiting = asyncio.create_task(b.call(ok))
    await await_for(lambda: b.held == 1, "the call held behind the trial")
    gate.set()
    with pytest.raises(Boom):
        await trial
    with pytest.raises(CircuitOpen):
        await waiting
    assert b.state is State.OPEN
