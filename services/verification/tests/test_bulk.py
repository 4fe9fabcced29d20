"""Verification's bulk handlers, through the consumer as the service wires it: first
submissions open their cases in one write, results for many cases are read in one, and what
the bulk leaves (a resubmission, results before their case, a redelivery) still comes out
as the one-at-a-time path would have it."""

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from siks_contracts import topics
from siks_contracts.enums import Role
from siks_contracts.events import CheckResult, ChecksCompleted, ChecksPending
from siks_kit.bus.consumer import Consumer
from siks_kit.bus.outbox import OutboxRelay
from siks_kit.observability import tracing
from siks_kit.runtime.clock import FixedClock
from siks_kit.runtime.settings import DEVELOPMENT_JWT_SECRET
from siks_kit.web.auth import issue_token
from siks_testkit.memory import CommandLog, MemoryDatabase, MemoryTransport, Record
from siks_testkit.samples import proposal_submitted
from siks_testkit.testing import envelope
from siks_verification.bootstrap import build_app
from siks_verification.handlers import VerificationDeps
from siks_verification.messaging import subscriptions

T0 = datetime(2026, 12, 16, 3, tzinfo=UTC)


def _record(topic: str, key: str, payload, producer: str) -> Record:
    return Record(topic, key, envelope(payload, producer=producer).model_dump_json().encode(), {})


def _checks(pid: str) -> ChecksCompleted:
    return ChecksCompleted(proposal_id=pid, household_id="h-1", passed=True, desil=3,
                           checks=[CheckResult(name="nik", status="passed")])


async def test_first_submissions_open_in_one_write_and_results_for_them_are_read_in_one():
    db, bus = MemoryDatabase(), MemoryTransport()
    counting = CommandLog(db)
    deps = VerificationDeps.build(db, FixedClock(T0))
    consumer = Consumer("verification", bus, subscriptions(deps))
    relay = OutboxRelay([db.collection("cases")], bus)
    db.on_write = relay.notify
    ids = [f"p-{i}" for i in range(6)]
    # p-5's results come first: a placeholder waits for its proposal.
    await consumer.process_batch(topics.CHECKS, [_record(topics.CHECKS, "p-5", _checks("p-5"), "integration")])
    counting.clear()
    await consumer.process_batch(topics.PROPOSALS, [_record(topics.PROPOSALS, pid, proposal_submitted(pid), "registry")
                                                    for pid in ids])
    # The five new cases in one write; p-5 collides with its placeholder and opens onto it.
    assert counting.of() == ["insert_each", "find", "update_each"], counting.of()
    counting.clear()
    await consumer.process_batch(topics.CHECKS, [_record(topics.CHECKS, pid, _checks(pid), "integration")
                                                 for pid in ids[:5]])
    assert counting.of().count("find") == 1 and "find_one" not in counting.of()  # one read for all five
    assert counting.of().count("update_each") == 1 and "update_one" not in counting.of()  # and one write
    counting.clear()
    await consumer.process_batch(topics.CHECKS, [_record(topics.CHECKS, pid, _checks(pid), "integration")
                                                 for pid in ids[:5]])
    assert counting.of() == ["find"], counting.of()  # a redelivered batch is read and changes nothing
    for pid in ids:
        case = await deps.cases.get(pid)
        assert case is not None and case.checks.passed is True and case.checks.desil == 3, pid
    await relay.drain_once()
    assert bus.on(topics.CASES) == []  # opening and recording results say nothing (proposal_submitted did)
    assert bus.on(topics.dead_letter(topics.PROPOSALS)) == [] and bus.on(topics.dead_letter(topics.CHECKS)) == []


async def test_many_cases_are_read_in_one_request_and_one_read_each_as_its_caller_may_see_it():
    db = MemoryDatabase()
    deps = VerificationDeps.build(db, FixedClock(T0))
    consumer = Consumer("verification", MemoryTransport(), subscriptions(deps))
    await consumer.process_batch(topics.PROPOSALS, [_record(topics.PROPOSALS, pid, proposal_submitted(pid), "registry")
                                                    for pid in ("p-1", "p-2", "p-3")])
    counting = CommandLog(db)
    app = build_app(database=db, transport=MemoryTransport(), clock=FixedClock(T0))

    def as_(region):
        return {"Authorization": "Bearer " + issue_token(DEVELOPMENT_JWT_SECRET, sub="t", role=Role.SUPERVISOR_KABKOTA,
                                                         region=region)}

    with TestClient(app) as client:
        ids = {"proposal_id": ["p-3", "nope", "p-1", "p-3"]}
        counting.clear()
        theirs = client.get("/v1/cases", params=ids, headers=as_("32.04")).json()
        assert [c["proposal_id"] for c in theirs["items"]] == ["p-3", "p-1"]  # as asked, each once
        assert theirs["not_found"] == ["nope"] and theirs["forbidden"] == []
        assert theirs["items"][0]["stage"] == "submitted" and theirs["items"][0]["checks_passed"] is None
        assert counting.of() == ["find"]  # one read for the lot
        elsewhere = client.get("/v1/cases", params=ids, headers=as_("33.22")).json()
        assert elsewhere["items"] == [] and elsewhere["forbidden"] == ["p-3", "p-1"]
        too_many = client.get("/v1/cases", params={"proposal_id": [f"p-{i}" for i in range(101)]}, headers=as_("32.04"))
        assert too_many.status_code == 422 and too_many.headers["content-type"] == "application/problem+json"
        assert client.get("/v1/cases", headers=as_("32.04")).status_code == 422


async def test_results_before_their_cases_wait_in_one_write_and_the_cases_open_onto_them_in_one_more(monkeypatch):
    """Under load integration often answers before verification has opened the case (the two
    topics are consumed side by side): hundreds of results a batch would otherwise each cost a
    read and a write, and their proposals as many more. Each result is still handled in a span
    of its own trace (the e2e trace test follows a household into verification by it)."""
    db, bus = MemoryDatabase(), MemoryTransport()
    counting = CommandLog(db)
    deps = VerificationDeps.build(db, FixedClock(T0))
    consumer = Consumer("verification", bus, subscriptions(deps))
    ids = [f"p-{i}" for i in range(5)]
    spans, consuming = [], tracing.consuming

    def recording(topic, headers, stored):
        spans.append(topic)
        return consuming(topic, headers, stored)
    monkeypatch.setattr(tracing, "consuming", recording)
    await consumer.process_batch(topics.CHECKS, [_record(topics.CHECKS, pid, _checks(pid), "integration") for pid in ids])
    assert counting.of() == ["find", "insert_each"], counting.of()  # one read, the placeholders in one write
    assert spans == [topics.CHECKS] * 5
    counting.clear()
    await consumer.process_batch(topics.CHECKS, [_record(topics.CHECKS, pid, _checks(pid), "integration") for pid in ids])
    assert counting.of().count("update_one") == 5  # a redelivery: each placeholder rewritten as it was, one at a time
    counting.clear()
    await consumer.process_batch(topics.PROPOSALS, [_record(topics.PROPOSALS, pid, proposal_submitted(pid), "registry")
                                                    for pid in ids])
    assert counting.of() == ["insert_each", "find", "update_each"], counting.of()
    for pid in ids:
        case = await deps.cases.get(pid)
        assert case is not None and case.stage == "submitted" and case.checks.passed is True and case.checks.desil == 3
    assert bus.on(topics.dead_letter(topics.PROPOSALS)) == [] and bus.on(topics.dead_letter(topics.CHECKS)) == []


async def test_results_added_to_a_placeholder_while_its_case_opens_are_not_lost():
    """A case opens onto its placeholder only as it read it: results written meanwhile (the
    pending round, then the completed one) send it round again, and it opens with them."""
    db = MemoryDatabase()
    deps = VerificationDeps.build(db, FixedClock(T0))
    consumer = Consumer("verification", MemoryTransport(), subscriptions(deps))
    await consumer.process_batch(topics.CHECKS, [_record(topics.CHECKS, "p-1", ChecksPending(
        proposal_id="p-1", household_id="h-1", waiting_on=["dukcapil"], checks=[]), "integration")])
    real_open = deps.cases.open_onto_placeholders

    async def completed_meanwhile(opening):
        await deps.cases.keep_early("p-1", "completed", _checks("p-1").model_dump(mode="json"))
        return await real_open(opening)

    deps.cases.open_onto_placeholders = completed_meanwhile
    await consumer.process_batch(topics.PROPOSALS, [_record(topics.PROPOSALS, "p-1", proposal_submitted("p-1"), "registry")])
    case = await deps.cases.get("p-1")
    assert case is not None and case.checks.passed is True and case.checks.desil == 3
