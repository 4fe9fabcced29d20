"""How integration calls any outside system: a few quick attempts with exponential backoff
and jitter (tenacity) on timeouts, refused connections, 5xx and 429, all behind that
system's circuit breaker. What still fails is OutsideUnavailable: the check stays pending and
the background retrier asks again later. Reasons never carry a URL (a DTSEN path holds a NIK)."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from siks_kit.observability import metrics
from siks_kit.runtime.breaker import CircuitBreaker, CircuitOpen, State
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

log = logging.getLogger(__name__)


class OutsideUnavailable(Exception):
    """The system did not give a usable answer now; ask again later."""

    def __init__(self, system: str, reason: str) -> None:
        super().__init__(f"{system}: {reason}")
        self.system, self.reason = system, reason


class _Busy(Exception):
    """A 5xx or 429: the far end is there but cannot serve now (retried)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _Unexpected(Exception):
    """A 4xx we did not expect: our request is at fault, not the far end (not retried)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"unexpected HTTP {status}")


RETRYABLE = (_Busy, httpx.TransportError)
BREAKER_VALUES = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}  # TransportError covers timeouts and refused connections


def _reason(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    if isinstance(exc, httpx.TransportError):
        return f"transport error ({type(exc).__name__})"
    return str(exc)  # _Busy / _Unexpected: the status only


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    initial_s: float = 0.1
    max_s: float = 1.0


class OutsideSystem:
    """One outside system: its HTTP client, its breaker and its retry policy."""

    def __init__(self, name: str, client: httpx.AsyncClient, breaker: CircuitBreaker,
                 policy: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.name, self.client, self.breaker, self.policy, self._sleep = name, client, breaker, policy, sleep
        metrics.on_scrape(self._breaker_state)

    def _breaker_state(self):
        yield ("siks_breaker_state", "an outside system's circuit breaker: 0 closed, 1 half open, 2 open",
               {"system": self.name}, BREAKER_VALUES[self.breaker.state])
        yield ("siks_breaker_held", "calls to an outside system waiting for its half-open trial",
               {"system": self.name}, self.breaker.held)

    async def request(self, method: str, url: str, *, answers: tuple[int, ...] = (), **kw: Any) -> httpx.Response:
        """The response of a 2xx or of a status listed in `answers` (e.g. 404 "not found"),
        or OutsideUnavailable."""
        started, outcome = time.perf_counter(), "unavailable"
        try:
            response = await self.breaker.call(lambda: self._attempts(method, url, answers, kw))
            outcome = "answered"
            return response
        except CircuitOpen as exc:
            outcome = "circuit_open"
            raise OutsideUnavailable(self.name, f"circuit open, next trial in {exc.retry_in_s:.0f}s") from None
        except (*RETRYABLE, _Unexpected) as exc:
            if isinstance(exc, _Unexpected):
                log.warning("%s answered %s", self.name, exc)
            raise OutsideUnavailable(self.name, _reason(exc)) from None
        finally:
            metrics.OUTSIDE_DURATION.labels(self.name, outcome).observe(time.perf_counter() - started)

    async def _attempts(self, method: str, url: str, answers: tuple[int, ...], kw: dict[str, Any]) -> httpx.Response:
        p = self.policy
        retrying = AsyncRetrying(stop=stop_after_attempt(p.attempts),
                                 wait=wait_exponential_jitter(multiplier=p.initial_s, max=p.max_s, jitter=p.initial_s),
                                 retry=retry_if_exception_type(RETRYABLE), reraise=True, sleep=self._sleep)
        async for attempt in retrying:
            with attempt:
                resp = await self.client.request(method, url, **kw)
                if resp.status_code == 429 or resp.status_code >= 500:
                    raise _Busy(resp.status_code)
                if resp.status_code >= 400 and resp.status_code not in answers:
                    raise _Unexpected(resp.status_code)
        return resp


def is_outage(exc: BaseException) -> bool:
    """What counts against a breaker: the far end failing, not our own bad request."""
    return isinstance(exc, RETRYABLE)
