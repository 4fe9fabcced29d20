"""The background task that asks outside systems again for check sets left pending.

Durable: what waits is in the database (each check set's `waiting` and `next_attempt_at`);
a sweep at start (and then rarely, as a safety net for other replicas' sets) finds it, and
the handlers hint each new pending set so no scan is needed in between. Each set is asked
again when its own backoff says so; the set's version guards against a new round or another
replica writing it meanwhile."""

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from siks_kit.bus.outbox import next_sweep_after

from .handlers import IntegrationDeps, retry_pending

log = logging.getLogger(__name__)


class Retrier:
    def __init__(self, deps: IntegrationDeps, *, sweep_seconds: float = 60.0, max_wait_s: float = 1.0,
                 parallel: int = 8, error_pause_s: float = 5.0) -> None:
        self.deps, self.sweep_seconds, self.max_wait_s = deps, sweep_seconds, max_wait_s
        self.error_pause_s = error_pause_s
        self._due: dict[str, datetime] = {}  # proposal id -> when to ask again
        self._parallel = asyncio.Semaphore(parallel)
        self._wake = asyncio.Event()

    @property
    def waiting(self) -> dict[str, datetime]:
        return dict(self._due)

    def hint(self, proposal_id: str, at: datetime) -> None:
        """A check set was stored with something pending: ask again at `at`."""
        self._due[proposal_id] = min(at, self._due.get(proposal_id, at))
        self._wake.set()

    async def sweep(self) -> int:
        """Finds every waiting check set in the database (after a restart, or left by another
        replica); each is looked at on the next pass, which reads its own next_attempt_at."""
        now = self.deps.clock.now()
        ids = await self.deps.checks.waiting()
        for proposal_id in ids:
            self._due.setdefault(proposal_id, now)
        return len(ids)

    async def _one(self, proposal_id: str) -> None:
        async with self._parallel:
            try:
                next_at = await retry_pending(self.deps, proposal_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retrying a pending check set failed; trying again later")
                next_at = self.deps.clock.now() + timedelta(seconds=self.error_pause_s)
        if next_at is None:
            self._due.pop(proposal_id, None)
        else:
            self._due[proposal_id] = next_at

    async def run_due(self) -> int:
        """Asks again for every set whose time has come; returns how many were asked."""
        now = self.deps.clock.now()
        due = [pid for pid, at in self._due.items() if at <= now]
        await asyncio.gather(*(self._one(pid) for pid in due))
        return len(due)

    def _seconds_to_next(self) -> float:
        if not self._due:
            return self.max_wait_s
        soonest = min(self._due.values())
        return max(0.0, min(self.max_wait_s, (soonest - self.deps.clock.now()).total_seconds()))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = 0.0
        while True:
            try:
                if loop.time() >= next_sweep:
                    started = loop.time()
                    await self.sweep()
                    next_sweep = loop.time() + next_sweep_after(loop.time() - started, self.sweep_seconds)
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pending-check retrier failed; going on")
                await asyncio.sleep(self.error_pause_s)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._seconds_to_next())
