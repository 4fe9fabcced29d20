from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from siks_contracts.enums import Program, ProposalKind
from siks_contracts.schedule import DEFAULT_CALENDAR as CAL, Calendar, Window


def jkt(y, m, d, h=9):
    return datetime(y, m, d, h - 7, tzinfo=UTC)  # Asia/Jakarta is UTC+7


@pytest.mark.parametrize("program, day, is_open", [
    (Program.PBI_JK, 1, True), (Program.PBI_JK, 11, True), (Program.PBI_JK, 12, False),
    (Program.PKH, 14, False), (Program.PKH, 15, True), (Program.BPNT, 25, True), (Program.DTKS, 26, False),
])
def test_windows_by_programme_in_jakarta_time(program, day, is_open):
    assert CAL.is_open(ProposalKind.PROGRAM, program, jkt(2026, 12, day)) is is_open


def test_the_day_turns_at_jakarta_midnight_not_utc():
    just_after_midnight = datetime(2026, 12, 14, 17, 30, tzinfo=UTC)  # 15 Dec 00:30 in Jakarta
    assert CAL.is_open(ProposalKind.PROGRAM, Program.PKH, just_after_midnight)


def test_ineligibility_reports_any_day():
    assert CAL.is_open(ProposalKind.INELIGIBILITY, Program.PKH, jkt(2026, 12, 28))


def test_next_opening_rolls_over_the_year():
    assert CAL.next_opening(Program.PKH, jkt(2026, 12, 28)).isoformat() == "2027-01-15T00:00:00+07:00"
    assert CAL.next_opening(Program.PBI_JK, jkt(2026, 12, 5)).isoformat() == "2027-01-01T00:00:00+07:00"


def test_a_calendar_is_data_and_refuses_nonsense():
    custom = Calendar.model_validate_json(
        '{"timezone": "Asia/Makassar", "windows": [{"name": "all", "programs": ["PKH"], "first_day": 1, "last_day": 28}]}')
    assert custom.is_open(ProposalKind.PROGRAM, Program.PKH, jkt(2026, 12, 20))
    assert not custom.is_open(ProposalKind.PROGRAM, Program.BPNT, jkt(2026, 12, 20))
    with pytest.raises(ValidationError):
        Window(name="bad", programs=[Program.PKH], first_day=20, last_day=10)


@pytest.mark.parametrize("program, on, period, deadline", [
    (Program.PBI_JK, "2026-12-11", "2026-12", "2026-12-11"),  # approved before the 12th
    (Program.PBI_JK, "2026-12-12", None, "2026-12-11"),
    (Program.PKH, "2027-02-27", "2027-02", "2027-02-27"),  # H-1: the day before the month's last day
    (Program.PKH, "2027-02-28", None, "2027-02-27"),
    (Program.PKH, "2026-12-30", "2026-12", "2026-12-30"),
    (Program.PKH, "2026-12-31", None, "2026-12-30"),
])
def test_approval_deadlines_follow_the_calendar(program, on, period, deadline):
    from datetime import date
    placed = CAL.place_approval(program, date.fromisoformat(on))
    assert placed.period == period and placed.deadline.isoformat() == deadline
    assert placed.too_late is (period is None)


def test_a_late_approval_rolls_into_the_next_period_when_asked():
    from datetime import date
    placed = CAL.place_approval(Program.PKH, date(2026, 12, 31), roll_over=True)
    assert (placed.period, placed.rolled_over, placed.next_deadline.isoformat()) == ("2027-01", True, "2027-01-30")
