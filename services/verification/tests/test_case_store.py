"""The case document mapping on its own: what a save writes reads back as the same case."""

from datetime import UTC, datetime

from siks_contracts.actor import Actor
from siks_contracts.enums import Role
from siks_contracts.events import CheckResult, ChecksCompleted
from siks_testkit.samples import VILLAGE, proposal_submitted
from siks_verification.domain.case import Case
from siks_verification.store.cases import from_doc, to_doc

AT = datetime(2026, 12, 17, 2, tzinfo=UTC)


def test_checks_are_stored_as_their_model_dumps_them_and_read_back_equal():
    case = Case.open(proposal_submitted(), Actor(sub="op", role=Role.OPERATOR_DESA, region=VILLAGE), AT).case
    checks = [CheckResult(name="dukcapil", status="passed", detail="4 member(s) matched", evidence={"members": 4}),
              CheckResult(name="dtsen", status="warning", evidence={"desil": 2, "found": True, "note": None})]
    case = case.record_checks(ChecksCompleted(proposal_id=case.proposal_id, household_id=case.household_id,
                                              passed=True, checks=checks, desil=2)).case
    doc = to_doc(case)
    assert doc["check_round"]["checks"] == [c.model_dump(mode="json") for c in checks]
    assert from_doc(doc) == case
