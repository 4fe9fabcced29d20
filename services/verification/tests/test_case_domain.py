"""The verification domain alone: the ladder table decides every move, in microseconds."""

from datetime import UTC, date, datetime

import pytest
from siks_contracts.actor import Actor, system_actor
from siks_contracts.enums import Program, ProposalKind, RemovalReason, Role, Stage
from siks_contracts.events import CheckResult, ChecksCompleted, ChecksPending
from siks_testkit.samples import REGENCY, VILLAGE, proposal_submitted
from siks_verification.domain.case import Case, CaseRules, Command, DecreeRef, Refused, Why
from siks_verification.domain.ladder import LADDER, Action, transition_for

OPERATOR = Actor(sub="op", role=Role.OPERATOR_DESA, region=VILLAGE)
SUPERVISOR = Actor(sub="dinsos-1", role=Role.SUPERVISOR_KABKOTA, region=REGENCY)
VALIDATOR = Actor(sub="bps-1", role=Role.VALIDATOR_BPS, region="32")
REGENT = Actor(sub="bupati-1", role=Role.KEPALA_DAERAH, region=REGENCY)
DECREE = system_actor("decree")
AT = datetime(2026, 12, 17, 2, tzinfo=UTC)  # 17 Dec, 09:00 in Jakarta
RULES = CaseRules()


def opened(kind=ProposalKind.DTKS_NEW, program=Program.PKH, *, desil=3, passed=True) -> Case:
    p = proposal_submitted(program=program).model_copy(update={"kind": kind})
    case = Case.open(p, OPERATOR, AT).case
    result = ChecksCompleted(proposal_id=case.proposal_id, household_id=case.household_id, passed=passed,
                             checks=[CheckResult(name="dukcapil", status="passed" if passed else "failed")], desil=desil)
    return case.record_checks(result).case


def climb(case: Case, *actions: tuple[Action, Actor, Command]) -> Case:
    for action, actor, cmd in actions:
        case = case.act(action, actor, AT, cmd, RULES).case
    return case


VERIFY = (Action.VERIFY, SUPERVISOR, Command())
VALIDATE = (Action.VALIDATE, VALIDATOR, Command())
APPROVE = (Action.APPROVE, REGENT, Command(reference="BA-1"))


def refusal(case: Case, action: Action, actor: Actor, cmd: Command = Command(), at: datetime = AT) -> Refused:
    with pytest.raises(Refused) as caught:
        case.act(action, actor, at, cmd, RULES)
    return caught.value


def test_every_kind_has_one_row_per_action_it_can_take():
    for kind in ProposalKind:
        for action in Action:
            rows = [t for t in LADDER if t.action == action and kind in t.kinds]
            assert len(rows) <= 1, (kind, action)
    assert transition_for(Action.VALIDATE, ProposalKind.INELIGIBILITY) is None
    assert transition_for(Action.DECREE, ProposalKind.UPDATE) is None


def test_a_new_household_climbs_to_decreed_with_one_event_per_step():
    case = climb(opened(), VERIFY, VALIDATE, APPROVE)
    assert case.stage is Stage.APPROVED and case.period == "2026-12" and case.desil == 3 and case.tier == 1
    decision = case.act(Action.DECREE, DECREE, AT, Command(decree=DecreeRef("d", "1/HUK/2026", Program.PKH)), RULES)
    assert decision.case.stage is Stage.DECREED and decision.case.decree_number == "1/HUK/2026"
    (event,) = decision.events
    assert event.stage is Stage.DECREED and event.previous_stage is Stage.APPROVED and event.kind is ProposalKind.DTKS_NEW
    assert [h.stage for h in decision.case.history] == ["submitted", "verified", "validated", "approved", "decreed"]


def test_the_approved_event_carries_what_the_decree_needs():
    case = climb(opened(), VERIFY, VALIDATE)
    (event,) = case.act(*APPROVE[:2], AT, APPROVE[2], RULES).events
    assert event.household is not None and event.period == "2026-12" and event.removal_reason is None


def test_ineligibility_is_verified_then_approved_and_leaves_with_its_reason():
    case = opened(ProposalKind.INELIGIBILITY, desil=8)
    assert refusal(climb(case, VERIFY), Action.VALIDATE, VALIDATOR).why is Why.NOT_ON_LADDER
    approved = climb(case, VERIFY, APPROVE)
    assert approved.stage is Stage.APPROVED and approved.removal_reason is RemovalReason.INELIGIBLE
    (event,) = climb(case, VERIFY).act(*APPROVE[:2], AT, APPROVE[2], RULES).events
    assert event.removal_reason is RemovalReason.INELIGIBLE and event.kind is ProposalKind.INELIGIBILITY


def test_an_update_ends_at_approved_and_is_never_decreed():
    case = climb(opened(ProposalKind.UPDATE, desil=9), VERIFY, VALIDATE, APPROVE)  # no programme rule on updates
    assert case.stage is Stage.APPROVED and case.waiting_on == []
    assert refusal(case, Action.DECREE, DECREE, Command(decree=DecreeRef("d", "1", Program.PKH))).why is Why.NOT_ON_LADDER


def test_roles_area_and_stage_are_refused_with_their_own_reason():
    case = opened()
    assert refusal(case, Action.VERIFY, VALIDATOR).why is Why.ROLE
    assert refusal(case, Action.VERIFY, Actor(sub="x", role=Role.SUPERVISOR_KABKOTA, region="33.22")).why is Why.AREA
    assert refusal(case, Action.VALIDATE, VALIDATOR).why is Why.STAGE
    assert refusal(case, Action.RETURN, SUPERVISOR).why is Why.INPUT  # a reason code is required


def test_checks_that_failed_or_wait_block_verification_and_say_why():
    assert "did not pass" in refusal(opened(passed=False), Action.VERIFY, SUPERVISOR).detail
    waiting = Case.open(proposal_submitted(), OPERATOR, AT).case.record_pending(
        ChecksPending(proposal_id="p-1", household_id="h-1", waiting_on=["dukcapil"],
                      checks=[CheckResult(name="dukcapil", status="pending")])).case
    assert waiting.waiting_on == ["dukcapil"]
    refused = refusal(waiting, Action.VERIFY, SUPERVISOR)
    assert refused.why is Why.CHECKS and "dukcapil" in refused.detail


def test_separation_of_duties_verifier_may_not_validate_validator_may_not_approve():
    both = Actor(sub="same-person", role=Role.VALIDATOR_BPS, region="32")
    verified = opened().act(Action.VERIFY, SUPERVISOR.model_copy(update={"sub": "same-person"}), AT, Command(), RULES).case
    refused = refusal(verified, Action.VALIDATE, both)
    assert refused.why is Why.SEPARATION_OF_DUTIES and "separation of duties" in refused.detail
    validated = climb(opened(), VERIFY, (Action.VALIDATE, VALIDATOR.model_copy(update={"sub": "bupati-1"}), Command()))
    assert refusal(validated, Action.APPROVE, REGENT, Command(reference="BA")).why is Why.SEPARATION_OF_DUTIES
    relaxed = CaseRules(separation_of_duties=False)
    assert verified.act(Action.VALIDATE, both, AT, Command(), relaxed).case.stage is Stage.VALIDATED


def test_the_validator_confirms_dtsen_desil_or_overrides_it_with_a_reason():
    verified = climb(opened(desil=3), VERIFY)
    refused = refusal(verified, Action.VALIDATE, VALIDATOR, Command(desil=2))
    assert refused.why is Why.INPUT and refused.facts["pointer"] == "/desil_reason"
    overridden = verified.act(Action.VALIDATE, VALIDATOR, AT, Command(desil=2, desil_reason="resurvey"), RULES).case
    assert (overridden.desil, overridden.desil_reason) == (2, "resurvey")


def test_programme_rules_refuse_validation_and_approval_naming_the_rule():
    refused = refusal(climb(opened(desil=5), VERIFY), Action.VALIDATE, VALIDATOR)
    assert refused.why is Why.PROGRAMME_RULE and "PKH: desil 1-4" in refused.detail
    assert climb(opened(program=Program.BPNT, desil=5), VERIFY, VALIDATE).stage is Stage.VALIDATED
    blt = climb(opened(program=Program.BLT_DD, desil=3), VERIFY, VALIDATE)
    assert blt.tier == 2
    stricter = CaseRules(programs=RULES.programs.model_copy(update={"rules": [
        r.model_copy(update={"desil_tiers": [[1, 2]]}) if r.program == Program.PKH else r for r in RULES.programs.rules]}))
    validated = climb(opened(desil=3), VERIFY, VALIDATE)
    with pytest.raises(Refused) as at_approval:  # the rule changed between validation and approval
        validated.act(Action.APPROVE, REGENT, AT, Command(reference="BA"), stricter)
    assert at_approval.value.why is Why.PROGRAMME_RULE


def test_pip_takes_households_with_a_member_aged_6_to_21():
    refused = refusal(climb(opened(program=Program.PIP, desil=None), VERIFY), Action.VALIDATE, VALIDATOR)
    assert refused.why is Why.PROGRAMME_RULE and "PIP" in refused.detail  # the sample's members are 46 and 47


def test_an_approval_after_the_deadline_is_refused_naming_the_next_window_or_rolls_over():
    validated = climb(opened(), VERIFY, VALIDATE)
    late = datetime(2026, 12, 31, 2, tzinfo=UTC)  # the month's last day: too late for bansos
    refused = refusal(validated, Action.APPROVE, REGENT, Command(reference="BA"), at=late)
    assert refused.why is Why.DEADLINE and refused.facts["next_period"] == "2027-01"
    assert "2026-12-30" in refused.detail and "roll_over" in refused.detail
    rolled = validated.act(Action.APPROVE, REGENT, late, Command(reference="BA", roll_over=True), RULES).case
    assert rolled.period == "2027-01"
    backdated = validated.act(Action.APPROVE, REGENT, late, Command(reference="BA", approval_date=date(2026, 12, 30)),
                              RULES).case
    assert backdated.period == "2026-12"
    future = refusal(validated, Action.APPROVE, REGENT, Command(reference="BA", approval_date=date(2027, 1, 2)))
    assert future.why is Why.INPUT


def test_pbi_jk_approvals_close_on_the_11th():
    validated = climb(opened(program=Program.PBI_JK), VERIFY, VALIDATE)
    twelfth = datetime(2027, 1, 12, 2, tzinfo=UTC)
    assert refusal(validated, Action.APPROVE, REGENT, Command(reference="BA"), at=twelfth).facts["next_period"] == "2027-02"


def test_a_returned_case_resubmitted_goes_back_to_submitted_for_new_checks_and_keeps_its_history():
    returned = climb(opened(), (Action.RETURN, SUPERVISOR, Command(reason_code="data_salah")))
    again = proposal_submitted().model_copy(update={"round": 2})
    resubmitted = returned.act(Action.RESUBMIT, OPERATOR.model_copy(update={"role": Role.SYSTEM}), AT,
                               Command(proposal=again), RULES).case
    assert resubmitted.stage is Stage.SUBMITTED and resubmitted.round == 2
    assert resubmitted.checks.round == 2 and resubmitted.checks.passed is None
    assert [(h.stage, h.round) for h in resubmitted.history] == [(Stage.SUBMITTED, 1), (Stage.RETURNED, 1),
                                                                 (Stage.SUBMITTED, 2)]
    stale = ChecksCompleted(proposal_id="p-1", household_id="h-1", passed=True, checks=[], round=1)
    assert resubmitted.record_checks(stale).case is resubmitted  # round 1's results change nothing now


def test_a_later_rounds_results_that_come_before_its_resubmission_wait_for_it():
    returned = climb(opened(), (Action.RETURN, SUPERVISOR, Command(reason_code="data_salah")))
    early = ChecksCompleted(proposal_id="p-1", household_id="h-1", passed=True, checks=[], round=2, desil=3)
    kept = returned.record_checks(early).case
    assert kept.stage is Stage.RETURNED and kept.round == 1 and kept.checks == returned.checks
    assert kept.next_checks is not None and kept.next_checks.passed is True and kept.version == returned.version + 1
    assert kept.record_checks(early).case is kept  # heard again: no change
    again = proposal_submitted().model_copy(update={"round": 2})
    resubmitted = kept.act(Action.RESUBMIT, OPERATOR.model_copy(update={"role": Role.SYSTEM}), AT,
                           Command(proposal=again), RULES).case
    assert resubmitted.round == 2 and resubmitted.checks.passed is True and resubmitted.checks.desil == 3
    assert resubmitted.next_checks is None


def test_a_decree_of_another_programme_cannot_decree_the_case():
    approved = climb(opened(), VERIFY, VALIDATE, APPROVE)
    cmd = Command(decree=DecreeRef("d", "1/HUK/2026", Program.BPNT))
    assert refusal(approved, Action.DECREE, DECREE, cmd).why is Why.STAGE


def test_a_case_survives_its_document_with_every_field():
    from siks_verification.store.cases import from_doc, to_doc

    returned = climb(opened(), (Action.RETURN, SUPERVISOR, Command(reason_code="data_salah")))
    early = ChecksCompleted(proposal_id="p-1", household_id="h-1", passed=False, checks=[], round=2, desil=4)
    for case in (returned, returned.record_checks(early).case, climb(opened(), VERIFY, VALIDATE, APPROVE)):
        assert from_doc(to_doc(case)) == case


def test_opening_a_case_publishes_nothing_the_proposal_submitted_said_it():
    opened = Case.open(proposal_submitted(), OPERATOR, AT)
    assert opened.events == () and opened.case.stage is Stage.SUBMITTED and len(opened.case.history) == 1
