"""When a proposal may be submitted: the monthly windows, one open proposal per programme."""

from datetime import datetime

from siks_contracts.enums import Program, ProposalKind, Stage
from siks_contracts.schedule import Calendar

SUBMITTED = "submitted"
DECREED = "decreed"
# Verification stages that end a proposal before any decree: the operator may propose again.
CLOSING_STAGES = frozenset({Stage.RETURNED, Stage.REJECTED})


class WindowClosed(Exception):
    def __init__(self, program: Program, next_opening: datetime | None) -> None:
        self.program, self.next_opening = program, next_opening
        when = next_opening.isoformat() if next_opening else "no window is configured"
        super().__init__(f"proposals for {program} are closed now; the next window opens {when}")


def require_open_window(calendar: Calendar, kind: ProposalKind, program: Program, now: datetime) -> None:
    if not calendar.is_open(kind, program, now):
        raise WindowClosed(program, calendar.next_opening(program, now))
