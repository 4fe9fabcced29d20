"""A circuit breaker for calls to a system that may be down.

closed: calls go through; `failure_threshold` failures in a row open it.
open: calls are refused at once (CircuitOpen) until `reset_timeout_s` has passed since it
opened; then it is half-open.
half-open: up to `half_open_calls` trial calls go through at a time; a success closes the
circuit, a failure opens it again for another cool-down. Other calls are refused meanwhile,
or, with `wait_for_trial`, wait for the trial's outcome (going through if it closed the
circuit): a burst of calls after a cool-down then needs no second round.

The clock is a callable returning seconds (time.monotonic by default), so tests move time
by hand and never sleep. Not thread-safe; meant for one asyncio event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")

__all__ = ["CircuitBreaker", "CircuitOpen", "State"]


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    """Refused without calling: the circuit is open (or half-open with its trial in flight)."""

    def __init__(self, name: str, retry_in_s: float) -> None:
        super().__init__(f"circuit {name!r} is open; next trial in {retry_in_s:.1f}s")
        self.name, self.retry_in_s = name, retry_in_s


class CircuitBreaker:
    def __init__(self, name: str, *, failure_threshold: int = 5, reset_timeout_s: float = 30.0,
                 half_open_calls: int = 1, wait_for_trial: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 is_failure: Callable[[BaseException], bool] = lambda exc: isinstance(exc, Exception)) -> None:
        if failure_threshold < 1 or half_open_calls < 1 or reset_timeout_s < 0:
            raise ValueError("failure_threshold and half_open_calls must be >= 1, reset_timeout_s >= 0")
        self.name = name
        self._threshold, self._reset_s, self._half_open_calls = failure_threshold, reset_timeout_s, half_open_calls
        self._clock, self._is_failure = clock, is_failure
        self._state = State.CLOSED
        self._failures = 0  # in a row, while closed
        self._opened_at = 0.0
        self._trials = 0  # in flight, while half-open
        self._wait_for_trial = wait_for_trial
        self._trial_done: asyncio.Event | None = None  # set when the trials in flight end
        self._held = 0  # calls waiting for the trials in flight to end

    @property
    def state(self) -> State:
        if self._state is State.OPEN and self._clock() - self._opened_at >= self._reset_s:
            self._state, self._trials = State.HALF_OPEN, 0
        return self._state

    @property
    def held(self) -> int:
        """Calls waiting for a half-open trial's outcome (wait_for_trial): callers piling up."""
        return self._held

    def retry_in(self) -> float:
        """Seconds until an open circuit lets a trial through (0 when it would now)."""
        if self.state is not State.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._reset_s - self._clock())

    def acquire(self) -> None:
        """Claims the right to make one call, or raises CircuitOpen. Pair with `success` or
        `failure` (or `release` when the outcome says nothing about the far end)."""
        state = self.state
        if state is State.OPEN:
            raise CircuitOpen(self.name, self.retry_in())
        if state is State.HALF_OPEN:
            if self._trials >= self._half_open_calls:
                raise CircuitOpen(self.name, 0.0)
            self._trials += 1

    def _trials_end(self) -> None:
        if self._trial_done is not None:
            self._trial_done.set()
            self._trial_done = None

    def success(self) -> None:
        self._state, self._failures, self._trials = State.CLOSED, 0, 0
        self._trials_end()

    def failure(self) -> None:
        if self._state is State.HALF_OPEN:
            self._open()
            return
        self._failures += 1
        if self._state is State.CLOSED and self._failures >= self._threshold:
            self._open()

    def release(self) -> None:
        """The call ended without telling whether the far end works (e.g. it was cancelled)."""
        if self._state is State.HALF_OPEN and self._trials:
            self._trials -= 1
            if not self._trials:
                self._trials_end()

    def _open(self) -> None:
        self._state, self._opened_at, self._failures, self._trials = State.OPEN, self._clock(), 0, 0
        self._trials_end()

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Runs `fn` through the breaker: CircuitOpen when refused; an exception for which
        `is_failure` holds counts as a failure and is raised on."""
        while True:
            try:
                self.acquire()
                break
            except CircuitOpen:
                if not (self._wait_for_trial and self._state is State.HALF_OPEN and self._trials):
                    raise
                if self._trial_done is None:
                    self._trial_done = asyncio.Event()
                self._held += 1
                try:
                    await self._trial_done.wait()  # then try again: closed goes, open refuses
                finally:
                    self._held -= 1
        try:
            result = await fn()
        except BaseException as exc:
            if self._is_failure(exc):
                self.failure()
            else:
                self.release()
            raise
        self.success()
        return result
