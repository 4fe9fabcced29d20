"""Integration with a fake Dukcapil: which checks run, what they say, and idempotency."""

from datetime import UTC, date, datetime

import pytest
from siks_contracts import topics
from siks_contracts.actor import Actor
from siks_contracts.enums import Role, Sex
from siks_kit.clock import FixedClock
from siks_kit.consumer import Consumer
from siks_kit.memory import MemoryDatabase, MemoryTransport
from siks_kit.samples import household_snapshot, proposal_submitted
from siks_kit.testing import envelope
from siks_integration import handlers
from siks_integration.domain.checks import nik_check, region_check
from siks_integration.handlers import IntegrationDeps
from siks_integration.messaging import subscriptions
from siks_integration.outside.dukcapil import DukcapilAnswer, OutsideUnavailable


class FakeDukcapil:
    def __init__(self, answer=DukcapilAnswer(True, True, True, True), fail=False):
        self.answer, self.fail, self.calls = answer, fail, 0

    async def verify(self, nik: str, name: str, birth_date: date) -> DukcapilAnswer:
        self.calls += 1
        if self.fail:
            raise OutsideUnavailable("Dukcapil did not answer after 3 attempts")
        return self.answer


def make(dukcapil):
    db = MemoryDatabase()
    deps = IntegrationDeps.build(db, FixedClock(datetime(2026, 12, 16, 3, tzinfo=UTC)), dukcapil)
    return deps, Consumer("integration", MemoryTransport(), subscriptions(deps)), db


async def test_checks_pass_and_one_event_is_stored_however_often_the_proposal_arrives():
    dukcapil = FakeDukcapil()
    deps, consumer, db = make(dukcapil)
    env = envelope(proposal_submitted())
    for _ in range(2):
        await consumer.process(topics.PROPOSALS, env.model_dump_json().encode(), {})
    doc = db.collection("checks")._raw.find_one({"_id": "p-1"})
    assert [c["name"] for c in doc["checks"]] == ["nik", "region", "dukcapil"] and doc["passed"]
    assert len(doc["outbox"]) == 1 and dukcapil.calls == 2  # two members, asked once
    auditor = Actor(sub="a", role=Role.AUDITOR)
    assert (await handlers.read_checks(deps, auditor, "p-1"))["passed"] is True


@pytest.mark.parametrize("answer, phrase", [
    (DukcapilAnswer(False, None, None, None), "tidak padan"),
    (DukcapilAnswer(True, False, True, True), "name differs"),
    (DukcapilAnswer(True, True, True, False), "deceased"),
])
async def test_dukcapil_mismatches_fail_the_checks(answer, phrase):
    _, consumer, db = make(FakeDukcapil(answer))
    await consumer.process(topics.PROPOSALS, envelope(proposal_submitted()).model_dump_json().encode(), {})
    doc = db.collection("checks")._raw.find_one({"_id": "p-1"})
    dukcapil = doc["checks"][2]
    assert not doc["passed"] and dukcapil["status"] == "failed" and phrase in dukcapil["detail"]
    assert "Agus" not in dukcapil["detail"] and "3204052609800001" not in dukcapil["detail"]


async def test_unreachable_dukcapil_is_an_error_result_not_a_lost_proposal():
    _, consumer, db = make(FakeDukcapil(fail=True))
    await consumer.process(topics.PROPOSALS, envelope(proposal_submitted()).model_dump_json().encode(), {})
    doc = db.collection("checks")._raw.find_one({"_id": "p-1"})
    assert doc["checks"][2]["status"] == "error" and doc["passed"] is False


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
