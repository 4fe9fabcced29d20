"""A per-client fixed-window limit for public endpoints (per process; a gateway does the rest)."""

import time
from collections.abc import Callable

from fastapi import Request

from siks_kit.web.problems import Problem


class RateLimited(Problem):
    def __init__(self, retry_after: int) -> None:
        super().__init__(429, f"too many requests; try again in {retry_after} s", retry_after=retry_after)


class RateLimit:
    def __init__(self, per_minute: int, now: Callable[[], float] = time.monotonic) -> None:
        self._limit, self._now = per_minute, now
        self._windows: dict[str, tuple[int, int]] = {}

    def check(self, client: str) -> None:
        window = int(self._now() // 60)
        start, count = self._windows.get(client, (window, 0))
        if start != window:
            start, count = window, 0
        if count >= self._limit:
            raise RateLimited(retry_after=60 - int(self._now() % 60))
        self._windows[client] = (start, count + 1)
        if len(self._windows) > 100_000:  # forget old windows rather than grow without bound
            self._windows = {k: v for k, v in self._windows.items() if v[0] == window}

    def __call__(self, request: Request) -> None:
        self.check(request.client.host if request.client else "unknown")
