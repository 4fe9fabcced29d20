"""Monthly proposal windows and approval deadlines (the seed: PBI JK proposals on days 1-11,
approved before the 12th; bansos proposals on days 15-25, approved before the month's last
day; ineligibility reports any day). Data, not code: a deployment passes its own calendar;
this module only reasons about it."""

import calendar as _months
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, model_validator

from .enums import Program, ProposalKind


class Window(BaseModel):
    name: str
    programs: list[Program]
    first_day: int = Field(ge=1, le=31)
    last_day: int = Field(ge=1, le=31)  # inclusive; clipped to the month's length
    # The last day of the month on which the period's approvals (pengesahan) may be dated,
    # inclusive. Negative counts from the month's end: -1 is the last day, -2 the day before
    # it (bansos: "before the month's last day", H-1). PBI JK: 11 (approved before the 12th).
    approval_last_day: int = Field(default=-2, ge=-28, le=31)

    @model_validator(mode="after")
    def _ordered(self) -> "Window":
        if self.last_day < self.first_day:
            raise ValueError("last_day must not be before first_day")
        if self.approval_last_day == 0:
            raise ValueError("approval_last_day is a day of the month (1-31) or counts back from its end (-1, -2, ...)")
        return self

    def approval_deadline(self, year: int, month: int) -> date:
        """The last day approvals of that month's period may carry."""
        length = _months.monthrange(year, month)[1]
        day = self.approval_last_day
        return date(year, month, min(day, length) if day > 0 else length + 1 + day)


@dataclass(frozen=True)
class ApprovalPlacement:
    """Where an approval dated `on` lands: its period, or why it is too late for it."""

    period: str | None  # "YYYY-MM"; None when the approval is too late and did not roll over
    deadline: date  # the last approval day of the period the date falls in
    next_period: str
    next_deadline: date
    rolled_over: bool = False

    @property
    def too_late(self) -> bool:
        return self.period is None


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

    def place_approval(self, program: Program, on: date, *, roll_over: bool = False) -> ApprovalPlacement:
        """The decree period an approval dated `on` (a local date) goes into. On or before the
        month's deadline: that month. After it: too late (period None) unless `roll_over`,
        which puts it into the next month's period. A programme with no window has no
        deadline: its approvals go into their own month."""
        window = self._window_for(program)
        year, month = on.year, on.month
        nyear, nmonth = (year + 1, 1) if month == 12 else (year, month + 1)
        this, following = f"{year:04d}-{month:02d}", f"{nyear:04d}-{nmonth:02d}"
        if window is None:
            last = date(year, month, _months.monthrange(year, month)[1])
            return ApprovalPlacement(this, last, following, date(nyear, nmonth, _months.monthrange(nyear, nmonth)[1]))
        deadline, next_deadline = window.approval_deadline(year, month), window.approval_deadline(nyear, nmonth)
        if on <= deadline:
            return ApprovalPlacement(this, deadline, following, next_deadline)
        return ApprovalPlacement(following if roll_over else None, deadline, following, next_deadline,
                                 rolled_over=roll_over)



DEFAULT_CALENDAR = Calendar(
    windows=[
        Window(name="pbi_jk", programs=[Program.PBI_JK], first_day=1, last_day=11, approval_last_day=11),
        Window(
            name="bansos",
            programs=[Program.DTKS, Program.PKH, Program.BPNT, Program.PIP, Program.BLT_DD],
            first_day=15,
            last_day=25,
            approval_last_day=-2,
        ),
    ]
)
