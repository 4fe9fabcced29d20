"""Monthly proposal windows (the seed: PBI JK days 1-11, bansos days 15-25, ineligibility any
day). Data, not code: a deployment passes its own calendar; this module only reasons about it."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, model_validator

from .enums import Program, ProposalKind


class Window(BaseModel):
    name: str
    programs: list[Program]
    first_day: int = Field(ge=1, le=31)
    last_day: int = Field(ge=1, le=31)  # inclusive; clipped to the month's length

    @model_validator(mode="after")
    def _ordered(self) -> "Window":
        if self.last_day < self.first_day:
            raise ValueError("last_day must not be before first_day")
        return self


class Calendar(BaseModel):
    timezone: str = "Asia/Jakarta"
    windows: list[Window]
    any_day_kinds: list[ProposalKind] = [ProposalKind.INELIGIBILITY]

    def _window_for(self, program: Program) -> Window | None:
        return next((w for w in self.windows if program in w.programs), None)

    def local(self, at: datetime) -> datetime:
        return at.astimezone(ZoneInfo(self.timezone))

    def is_open(self, kind: ProposalKind, program: Program, at: datetime) -> bool:
        if kind in self.any_day_kinds:
            return True
        window = self._window_for(program)
        if window is None:
            return False
        day = self.local(at).day
        return window.first_day <= day <= window.last_day

    def next_opening(self, program: Program, at: datetime) -> datetime | None:
        """Start of the next window for the programme strictly after `at` (local midnight)."""
        window = self._window_for(program)
        if window is None:
            return None
        local = self.local(at)
        year, month = local.year, local.month
        for _ in range(3):
            opening = datetime.combine(local.date().replace(year=year, month=month, day=window.first_day),
                                       time(0), tzinfo=local.tzinfo)
            if opening > local:
                return opening
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return None  # unreachable for days 1-28; a day-31 window in a short month never opens

    def window_of(self, program: Program) -> Window | None:
        return self._window_for(program)

    def closes_at(self, program: Program, at: datetime) -> datetime | None:
        """End (exclusive) of the window open at `at`, if one is."""
        window = self._window_for(program)
        if window is None:
            return None
        local = self.local(at)
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return start + timedelta(days=window.last_day)


DEFAULT_CALENDAR = Calendar(
    windows=[
        Window(name="pbi_jk", programs=[Program.PBI_JK], first_day=1, last_day=11),
        Window(
            name="bansos",
            programs=[Program.DTKS, Program.PKH, Program.BPNT, Program.PIP, Program.BLT_DD],
            first_day=15,
            last_day=25,
        ),
    ]
)
