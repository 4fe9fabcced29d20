"""Loads the proposal calendar: the default windows unless a deployment names its own file."""

from pathlib import Path

from siks_contracts.schedule import DEFAULT_CALENDAR, Calendar


def load_calendar(path: str | None) -> Calendar:
    if not path:
        return DEFAULT_CALENDAR
    return Calendar.model_validate_json(Path(path).read_text())
