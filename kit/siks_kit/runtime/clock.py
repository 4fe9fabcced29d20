"""The system's clock. SIKS_NOW starts it at a chosen moment and it runs on from there, so a
demo or a test can work inside a schedule window on any real date."""

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """Reads `start` at the real moment `anchor` (unix seconds) and advances with real time.

    Every process of one stack gets the same anchor, so their clocks agree to the millisecond
    however far apart they started."""

    def __init__(self, start: datetime, anchor: float | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("SIKS_NOW needs a UTC offset, e.g. 2026-01-15T08:00:00+07:00")
        self._offset = start.timestamp() - (anchor if anchor is not None else time.time())

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self._offset, UTC)


class FixedClock:
    """For tests: time moves only when the test says so."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def clock_from(siks_now: str | None, anchor: float | None = None) -> Clock:
    if not siks_now:
        return SystemClock()
    return ShiftedClock(datetime.fromisoformat(siks_now), anchor)
