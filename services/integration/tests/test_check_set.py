"""The CheckSet aggregate on its own: no I/O, no clock, microseconds per test."""

from datetime import UTC, date, datetime, timedelta

import pytest
from siks_contracts.enums import Sex
from siks_contracts.events import CheckResult, ChecksCompleted, ChecksPending
from siks_testkit.samples import household_snapshot, proposal_submitted
from siks_integration.domain.check_set import CheckSet, DukcapilAnswer, open_round
from siks_integration.domain.checks import nik_check, region_check

NOW = datetime(2026, 12, 16, 2, tzinfo=UTC)
MATCH = DukcapilAnswer(True, True, True, True)


def fresh(round: int = 1) -> CheckSet:
    p = proposal_submitted().model_copy(update={"round": round})
    return CheckSet.open(p, NOW)


def test_a_new_round_decides_the_pure_checks_and_waits_on_the_outside_systems():
    cs = fresh()
    assert [(c.name, c.status) for c in cs.checks] == [
        ("nik", "passed"), ("region", "passed"), ("dukcapil", "pending"), ("dtsen", "pending")]
    assert cs.waiting_on == ["dukcapil", "dtsen"] and cs.passed is None and cs.household is not None


def test_all_answers_in_completes_once_with_round_verdict_and_the_lowest_desil():
    cs = fresh(round=2)
    cs.record_dukcapil([MATCH, MATCH])
    cs.record_dtsen([4, 2])
    (event,) = cs.decide(NOW)
    assert isinstance(event, ChecksCompleted)
    assert event.round == 2 and event.passed is True and event.desil == 2
    dtsen = next(c for c in event.checks if c.name == "dtsen")
    assert dtsen.status == "passed" and dtsen.evidence == {"desil": 2, "members_found": 2}
    assert cs.household is None  # the members are not kept once nobody needs asking
    assert cs.decide(NOW) == []  # said once


def test_a_household_dtsen_does_not_know_is_a_warning_and_still_passes():
    cs = fresh()
    cs.record_dukcapil([MATCH, MATCH])
    cs.record_dtsen([None, None])
    (event,) = cs.decide(NOW)
    assert event.passed is True and event.desil is None
    assert cs.check("dtsen").status == "warning" and cs.check("dtsen").evidence["desil"] is None


def test_desil_counts_only_members_dtsen_knows():
    cs = fresh()
    cs.record_dtsen([None, 7])
    assert cs.desil == 7 and cs.check("dtsen").evidence == {"desil": 7, "members_found": 1}


def test_an_unavailable_system_keeps_its_check_pending_and_says_so_once():
    cs = fresh()
    cs.record_dtsen([3, 3])
    cs.mark_unavailable("dukcapil", "HTTP 503")
    (event,) = cs.decide(NOW)
    assert isinstance(event, ChecksPending) and event.waiting_on == ["dukcapil"] and event.round == 1
    assert cs.check("dukcapil").status == "pending" and "HTTP 503" in cs.check("dukcapil").detail
    cs.mark_unavailable("dukcapil", "circuit open")
    assert cs.decide(NOW) == []  # still the same system: nothing new to say
    cs.record_dukcapil([MATCH, MATCH])
    (done,) = cs.decide(NOW + timedelta(minutes=1))
    assert isinstance(done, ChecksCompleted) and done.passed is True and done.desil == 3


def test_the_pending_event_names_again_when_the_systems_waited_on_change():
    cs = fresh()
    cs.mark_unavailable("dukcapil", "timed out")
    cs.mark_unavailable("dtsen", "timed out")
    assert cs.decide(NOW)[0].waiting_on == ["dukcapil", "dtsen"]
    cs.record_dtsen([5, 5])
    (again,) = cs.decide(NOW)
    assert isinstance(again, ChecksPending) and again.waiting_on == ["dukcapil"]


def test_dukcapil_mismatch_fails_the_round_naming_members_by_position_only():
    cs = fresh()
    cs.record_dukcapil([MATCH, DukcapilAnswer(True, True, True, alive=False)])
    cs.record_dtsen([1, 1])
    (event,) = cs.decide(NOW)
    assert event.passed is False
    detail = cs.check("dukcapil").detail
    assert "member 2: deceased" in detail and "Euis" not in detail and "3204055912790001" not in detail


def test_an_answer_in_is_not_undone_by_a_late_unavailability():
    cs = fresh()
    cs.record_dukcapil([MATCH, MATCH])
    cs.mark_unavailable("dukcapil", "timed out")
    assert cs.check("dukcapil").status == "passed"


def test_retry_schedule_and_due():
    cs = fresh()
    cs.mark_unavailable("dukcapil", "x")
    cs.mark_unavailable("dtsen", "x")
    cs.decide(NOW)
    cs.schedule_retry(NOW + timedelta(seconds=2))
    assert cs.failed_attempts == 1 and not cs.due(NOW) and cs.due(NOW + timedelta(seconds=2))
    cs.record_dukcapil([MATCH, MATCH])
    cs.record_dtsen([2, 2])
    cs.decide(NOW)
    assert cs.next_attempt_at is None and not cs.due(NOW + timedelta(days=1))
    with pytest.raises(ValueError):
        cs.schedule_retry(NOW)


def test_a_redelivered_or_older_round_opens_nothing_and_a_new_round_opens_fresh_checks():
    first = fresh(round=1)
    first.record_dukcapil([MATCH, MATCH])
    first.record_dtsen([2, 2])
    first.decide(NOW)
    p = proposal_submitted()
    assert open_round(first, p, NOW) is None  # same round again
    hh = household_snapshot()
    hh.members = hh.members[:1]  # the operator removed a member before resubmitting
    second = open_round(first, p.model_copy(update={"round": 2, "household": hh}), NOW)
    assert second is not None and second.round == 2 and second.waiting_on == ["dukcapil", "dtsen"]
    assert len(second.household.members) == 1 and second.desil is None
    assert open_round(second, p.model_copy(update={"round": 1}), NOW) is None  # a stale round
    assert open_round(None, p, NOW) is not None


def test_nik_check_catches_sex_and_birth_date_that_disagree_with_the_nik():
    hh = household_snapshot()
    hh.members[0] = hh.members[0].model_copy(update={"sex": Sex.F})
    hh.members[1] = hh.members[1].model_copy(update={"birth_date": date(1979, 12, 18)})
    result = nik_check(hh)
    assert result.status == "failed"
    assert "member 1: NIK encodes sex M" in result.detail and "member 2: NIK birth date" in result.detail


def test_region_check():
    hh = household_snapshot()
    assert region_check(hh).status == "passed"
    hh.region_code = "32.04.05.2999"
    assert region_check(hh).status == "failed"


def test_a_failed_pure_check_still_waits_for_the_outside_systems_before_completing():
    p = proposal_submitted()
    p.household.region_code = "32.04.05.2999"
    cs = CheckSet.open(p, NOW)
    assert cs.passed is None
    cs.record_dukcapil([MATCH, MATCH])
    cs.record_dtsen([1, 1])
    (event,) = cs.decide(NOW)
    assert event.passed is False


def test_a_checks_fields_are_what_its_validated_result_dumps():
    cs = fresh()
    cs.record_dukcapil([MATCH, MATCH])
    for check in cs.checks:
        validated = CheckResult.model_validate(check.fields())
        assert check.fields() == validated.model_dump() == check.result().model_dump()
    assert any(check.evidence for check in cs.checks)  # evidence is compared too
