"""Verification with fakes: the ladder, who may move it, and idempotent consumers."""

from datetime import UTC, datetime

import pytest
from siks_contracts import topics
from siks_contracts.actor import Actor
from siks_contracts.enums import Role
from siks_contracts.events import Beneficiary, BeneficiaryStatusChanged, CheckResult, ChecksCompleted, DecreeIssued
from siks_kit.runtime.clock import FixedClock
from siks_kit.bus.consumer import Consumer
from siks_testkit.memory import MemoryDatabase, MemoryTransport
from siks_kit.web.problems import Problem
from siks_testkit.samples import REGENCY, VILLAGE, proposal_submitted
from siks_testkit.testing import envelope
from siks_verification import handlers
from siks_verification.commands import Approve, Validate, Verify, WithReason
from siks_verification.handlers import VerificationDeps
from siks_verification.domain.ladder import Action
from siks_verification.api.routes import case_out
from siks_verification.messaging import subscriptions

SUPERVISOR = Actor(sub="dinsos", role=Role.SUPERVISOR_KABKOTA, region=REGENCY)
VALIDATOR = Actor(sub="bps", role=Role.VALIDATOR_BPS, region="32")
REGENT = Actor(sub="bupati", role=Role.KEPALA_DAERAH, region=REGENCY)
MENSOS = Actor(sub="menteri", role=Role.MENSOS)


@pytest.fixture
def world():
    db = MemoryDatabase()
    deps = VerificationDeps.build(db, FixedClock(datetime(2026, 12, 17, 2, tzinfo=UTC)))
    consumer = Consumer("verification", MemoryTransport(), subscriptions(deps))
    return deps, consumer, db


def outbox(db, case_id="p-1"):
    return [e["event_id"] for e in db.collection("cases")._raw.find_one({"_id": case_id})["outbox"]]


async def deliver(consumer, topic, env):
    await consumer.process(topic, env.model_dump_json().encode(), {"event_id": env.event_id})


def checks(passed=True):
    status = "passed" if passed else "failed"
    return ChecksCompleted(proposal_id="p-1", household_id="h-1", passed=passed, desil=2,
                           checks=[CheckResult(name="dukcapil", status=status)])


async def test_proposal_opens_one_case_however_often_it_arrives(world):
    deps, consumer, db = world
    env = envelope(proposal_submitted())
    await deliver(consumer, topics.PROPOSALS, env)
    await deliver(consumer, topics.PROPOSALS, env)
    case = case_out(await handlers.read_case(deps, SUPERVISOR, "p-1")).model_dump(mode="json")
    assert case["stage"] == "submitted" and len(case["history"]) == 1
    assert len(outbox(db)) == 0  # opening says nothing: the proposal_submitted said it


async def test_checks_are_recorded_once_and_unlock_verification(world):
    deps, consumer, db = world
    await deliver(consumer, topics.PROPOSALS, envelope(proposal_submitted()))
    with pytest.raises(Problem, match="have not all arrived"):
        await handlers.move_case(deps, SUPERVISOR, "p-1", Action.VERIFY, Verify())
    env = envelope(checks())
    await deliver(consumer, topics.CHECKS, env)
    await deliver(consumer, topics.CHECKS, env)
    raw = db.collection("cases")._raw.find_one({"_id": "p-1"})
    assert raw["check_round"]["passed"] is True and raw["version"] == 2  # recorded once
    assert (await handlers.move_case(deps, SUPERVISOR, "p-1", Action.VERIFY, Verify())).stage == "verified"


async def test_checks_before_the_case_wait_for_it_and_are_not_lost(world):
    deps, consumer, db = world
    early = envelope(checks())
    await deliver(consumer, topics.CHECKS, early)
    with pytest.raises(Problem):  # not a case yet: nobody can act on bare results
        await handlers.read_case(deps, SUPERVISOR, "p-1")
    proposal = envelope(proposal_submitted())
    for _ in range(2):
        await deliver(consumer, topics.PROPOSALS, proposal)
    await deliver(consumer, topics.CHECKS, early)
    case = case_out(await handlers.read_case(deps, SUPERVISOR, "p-1")).model_dump(mode="json")
    assert case["stage"] == "submitted" and case["checks_passed"] is True and len(case["history"]) == 1
    assert len(outbox(db)) == 0 and consumer._transport.published == []


async def test_failed_checks_block_verify_but_allow_return(world):
    deps, consumer, _ = world
    await deliver(consumer, topics.PROPOSALS, envelope(proposal_submitted()))
    await deliver(consumer, topics.CHECKS, envelope(checks(passed=False)))
    with pytest.raises(Problem, match="did not pass"):
        await handlers.move_case(deps, SUPERVISOR, "p-1", Action.VERIFY, Verify())
    returned = await handlers.move_case(deps, SUPERVISOR, "p-1", Action.RETURN, WithReason(reason_code="tidak_padan"))
    assert returned.stage == "returned" and returned.history[-1].reason == "tidak_padan"


async def test_full_climb_roles_scope_and_decree(world):
    deps, consumer, db = world
    await deliver(consumer, topics.PROPOSALS, envelope(proposal_submitted()))
    await deliver(consumer, topics.CHECKS, envelope(checks()))
    with pytest.raises(Problem) as wrong_role:
        await handlers.move_case(deps, VALIDATOR, "p-1", Action.VERIFY, Verify())
    assert wrong_role.value.status == 403
    other_regency = Actor(sub="x", role=Role.SUPERVISOR_KABKOTA, region="33.22")
    with pytest.raises(Problem) as out_of_scope:
        await handlers.move_case(deps, other_regency, "p-1", Action.VERIFY, Verify())
    assert out_of_scope.value.status == 403
    await handlers.move_case(deps, SUPERVISOR, "p-1", Action.VERIFY, Verify())
    validated = await handlers.move_case(deps, VALIDATOR, "p-1", Action.VALIDATE, Validate(desil=2))
    assert validated.desil == 2
    approved, period = await handlers.approve_batch(deps, REGENT, Approve(case_ids=["p-1"], reference="BA-01"))
    assert [c.proposal_id for c in approved] == ["p-1"] and period == "2026-12"
    decree = envelope(BeneficiaryStatusChanged(decree_id="d-1", number="1/HUK/2026", program="PKH",
                                               period="2026-12", issued_at=datetime(2026, 12, 20, tzinfo=UTC),
                                               proposal_id="p-1", household_id="h-1", region_code=VILLAGE),
                      actor=MENSOS, producer="decree")
    replayed_v1 = envelope(DecreeIssued(decree_id="d-1", number="1/HUK/2026", program="PKH", period="2026-12",
                                        issued_at=datetime(2026, 12, 20, tzinfo=UTC), count=1, content_hash="sha256:x",
                                        beneficiaries=[Beneficiary(proposal_id="p-1", household_id="h-1",
                                                                   region_code=VILLAGE)]), actor=MENSOS, producer="decree")
    await deliver(consumer, topics.DECREES, decree)
    await deliver(consumer, topics.DECREES, replayed_v1)  # an old record replayed: the same decree, nothing new
    events_before = len(outbox(db))
    await deliver(consumer, topics.DECREES, decree)
    case = case_out(await handlers.read_case(deps, SUPERVISOR, "p-1")).model_dump(mode="json")
    assert [h["stage"] for h in case["history"]] == ["submitted", "verified", "validated", "approved", "decreed"]
    assert len(outbox(db)) == events_before == 4  # verified, validated, approved, decreed


async def test_batch_approval_is_all_or_nothing(world):
    deps, consumer, _ = world
    await deliver(consumer, topics.PROPOSALS, envelope(proposal_submitted()))
    with pytest.raises(Problem) as refused:
        await handlers.approve_batch(deps, REGENT, Approve(case_ids=["p-1", "nope"], reference="BA-02"))
    assert refused.value.status == 409 and len(refused.value.extra["cases"]) == 2
    assert (await handlers.read_case(deps, SUPERVISOR, "p-1")).stage == "submitted"


async def test_a_resubmission_reopens_the_returned_case_for_a_new_round_of_checks(world):
    deps, consumer, db = world
    await deliver(consumer, topics.PROPOSALS, envelope(proposal_submitted()))
    await deliver(consumer, topics.CHECKS, envelope(checks()))
    await handlers.move_case(deps, SUPERVISOR, "p-1", Action.RETURN, WithReason(reason_code="kk_salah"))
    again = envelope(proposal_submitted().model_copy(update={"round": 2}), producer="registry")
    await deliver(consumer, topics.PROPOSALS, again)
    await deliver(consumer, topics.PROPOSALS, again)  # redelivered: nothing twice
    case = case_out(await handlers.read_case(deps, SUPERVISOR, "p-1"))
    assert (case.stage, case.round, case.checks_round, case.checks_passed) == ("submitted", 2, 2, None)
    await deliver(consumer, topics.CHECKS, envelope(checks()))  # round 1's results, late: ignored
    assert (await handlers.read_case(deps, SUPERVISOR, "p-1")).checks.passed is None
    await deliver(consumer, topics.CHECKS, envelope(checks().model_copy(update={"round": 2})))
    case = case_out(await handlers.read_case(deps, SUPERVISOR, "p-1"))
    assert case.checks_passed is True and case.waiting_on == ["supervisor_kabkota"]
    assert [(h.stage, h.round) for h in case.history] == [("submitted", 1), ("returned", 1), ("submitted", 2)]
    assert len(outbox(db)) == 2  # returned, and submitted again (round 2)


async def test_pending_checks_show_which_outside_system_the_case_waits_for(world):
    from siks_contracts.events import ChecksPending
    deps, consumer, _ = world
    await deliver(consumer, topics.PROPOSALS, envelope(proposal_submitted()))
    await deliver(consumer, topics.CHECKS, envelope(ChecksPending(
        proposal_id="p-1", household_id="h-1", waiting_on=["dukcapil"],
        checks=[CheckResult(name="dukcapil", status="pending")])))
    case = case_out(await handlers.read_case(deps, SUPERVISOR, "p-1"))
    assert case.waiting_on == ["dukcapil"] and case.checks_passed is None


async def test_refusals_become_problems_that_name_the_rule(world):
    deps, consumer, _ = world
    await deliver(consumer, topics.PROPOSALS, envelope(proposal_submitted()))
    await deliver(consumer, topics.CHECKS, envelope(checks().model_copy(update={"desil": 6})))
    await handlers.move_case(deps, SUPERVISOR, "p-1", Action.VERIFY, Verify())
    with pytest.raises(Problem) as refused:
        await handlers.move_case(deps, VALIDATOR, "p-1", Action.VALIDATE, Validate())
    assert refused.value.status == 409 and refused.value.extra["rule"] == "PKH: desil 1-4"
    with pytest.raises(Problem) as unreasoned:
        await handlers.move_case(deps, VALIDATOR, "p-1", Action.VALIDATE, Validate(desil=2))
    assert unreasoned.value.status == 422 and unreasoned.value.extra["errors"][0]["pointer"] == "/desil_reason"


async def test_results_that_arrive_just_before_the_insert_are_kept_and_the_case_opens(world, monkeypatch):
    """The two topics are consumed side by side: check results may make their placeholder
    after the proposal's handler decided to open the case and before it stores it."""
    deps, consumer, _ = world
    real_insert, calls = deps.cases.insert, []

    async def results_arrive_first(case, outbox, extra, placeholder):
        if not calls:
            calls.append(case.proposal_id)
            await deps.cases.keep_early(case.proposal_id, "completed", checks().model_dump(mode="json"))
        return await real_insert(case, outbox, extra, placeholder=placeholder)

    monkeypatch.setattr(deps.cases, "insert", results_arrive_first)
    await deliver(consumer, topics.PROPOSALS, envelope(proposal_submitted()))
    case = await deps.cases.get("p-1")
    assert case is not None and case.stage == "submitted" and case.checks.passed is True
