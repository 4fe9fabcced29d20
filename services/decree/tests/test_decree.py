"""Decree with fakes: candidates, draft, issue, the frozen list, Cek Bansos, idempotency."""

import csv
import io
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from siks_contracts import topics
from siks_contracts.actor import Actor
from siks_contracts.enums import Program, Role, Stage
from siks_contracts.envelope import Envelope
from siks_contracts.events import CaseStageChanged
from siks_kit.web.auth import issue_token
from siks_kit.runtime.clock import FixedClock
from siks_kit.bus.consumer import Consumer
from siks_testkit.memory import MemoryDatabase, MemoryTransport
from siks_kit.web.problems import Problem
from siks_testkit.samples import VILLAGE, household_snapshot
from siks_kit.runtime.settings import DEVELOPMENT_JWT_SECRET
from siks_testkit.testing import envelope
from siks_decree import handlers
from siks_decree.bootstrap import build_app
from siks_decree.api.routes import decree_out
from siks_decree.commands import DraftDecree
from siks_decree.handlers import DecreeDeps
from siks_decree.messaging import subscriptions

MENSOS = Actor(sub="menteri", role=Role.MENSOS)
NOW = datetime(2026, 12, 20, 3, tzinfo=UTC)


def approved(proposal_id="p-1", stage=Stage.APPROVED):
    return CaseStageChanged(proposal_id=proposal_id, household_id="h-1", program=Program.PKH, region_code=VILLAGE,
                            stage=stage, at=datetime(2026, 12, 18, 3, tzinfo=UTC), approval_reference="BA-1",
                            household=household_snapshot())


@pytest.fixture
def world():
    db = MemoryDatabase()
    deps = DecreeDeps.build(db, FixedClock(NOW))
    bus = MemoryTransport()
    return deps, Consumer("decree", bus, subscriptions(deps)), db


async def sent_beneficiaries(deps) -> list[bytes]:
    """What the publisher sends for the issued decrees not yet sent: one record per entry."""
    bus = MemoryTransport()
    await handlers.publish_beneficiaries(deps, bus)
    return [r.value for r in bus.on(topics.DECREES)]


async def issue_one(deps, consumer, db):
    env = envelope(approved())
    for _ in range(2):  # a redelivered approval adds no second candidate
        await consumer.process(topics.CASES, env.model_dump_json().encode(), {})
    await consumer.process(topics.CASES, envelope(approved("p-2", Stage.VALIDATED)).model_dump_json().encode(), {})
    draft = decree_out(await handlers.draft(deps, MENSOS, DraftDecree(program="PKH", period="2026-12")))
    issued = decree_out(await handlers.issue(deps, MENSOS, draft.id))
    (sent,) = await sent_beneficiaries(deps)
    return draft.model_dump(mode="json"), issued.model_dump(mode="json"), sent


async def test_candidates_are_counted_before_the_draft(world):
    deps, consumer, _ = world
    await consumer.process(topics.CASES, envelope(approved()).model_dump_json().encode(), {})
    waiting = await handlers.candidate_count(deps, MENSOS, Program.PKH, "2026-12")
    assert (waiting["count"], waiting["proposal_ids"]) == (1, ["p-1"])


async def test_draft_then_issue_freezes_a_numbered_hashed_list(world):
    deps, consumer, db = world
    draft, issued, _ = await issue_one(deps, consumer, db)
    assert draft["status"] == "draft" and draft["count"] == 1
    assert issued["status"] == "issued" and issued["number"] == "1/HUK/2026" and issued["count"] == 1
    assert issued["content_hash"] == draft["content_hash"] and issued["content_hash"].startswith("sha256:")
    (outbox,) = db.collection("decrees")._raw.find_one({"_id": draft["id"]})["outbox"]
    said = Envelope.model_validate_json(outbox["value"])
    assert said.type == "decree.decree_issued.v2" and said.payload["count"] == 1 and "beneficiaries" not in said.payload
    assert said.payload["list_url"] == f"/v1/decrees/{draft['id']}/beneficiaries"
    again = await handlers.issue(deps, MENSOS, draft["id"])  # harmless: the same SK, nothing published again
    assert again.number == issued["number"] and len(db.collection("decrees")._raw.find_one({"_id": draft["id"]})["outbox"]) == 1


async def test_only_the_minister_drafts(world):
    deps, _, _ = world
    regent = Actor(sub="b", role=Role.KEPALA_DAERAH, region="32.04")
    with pytest.raises(Problem) as refused:
        await handlers.draft(deps, regent, DraftDecree(program="PKH", period="2026-12"))
    assert refused.value.status == 403


async def test_own_decree_event_fills_cek_bansos_once(world):
    deps, consumer, db = world
    _, issued, entry = await issue_one(deps, consumer, db)
    for _ in range(2):
        await consumer.process(topics.DECREES, entry, {})
    assert (await handlers.public_status(deps, "3204052609800001", "  agus "))["status"] == "beneficiary"
    found = await handlers.public_status(deps, "3204052609800001", "Agus")
    assert found["status"] == "beneficiary" and found["programs"] == [
        {"program": "PKH", "period": "2026-12", "sk_number": issued["number"], "status": "active",
         "since_period": "2026-12", "reason": None}]
    assert found["name_masked"] == "A***" and "3204052609800001" not in str(found)
    wrong_name = await handlers.public_status(deps, "3204052609800001", "Budi")
    unknown = await handlers.public_status(deps, "3204052609800099", "Budi")
    assert wrong_name == unknown == {"name_masked": "B***", "programs": [], "status": "not_listed"}


def test_public_status_needs_no_token_validates_and_is_rate_limited():
    app = build_app(database=MemoryDatabase(), transport=MemoryTransport(), clock=FixedClock(NOW))
    app.state.public_rate_limit._limit = 3  # bad requests count too: no free probing
    params = {"nik": "3204052609800001", "name": "Agus"}
    with TestClient(app) as client:
        ok = client.post("/v1/public/status", json=params)
        assert ok.status_code == 200 and ok.json()["status"] == "not_listed"
        bad = client.get("/v1/public/status", params={"nik": "12", "name": "Agus"})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert client.get("/v1/public/status", params=params).status_code == 200
        limited = client.get("/v1/public/status", params=params)
        assert limited.status_code == 429 and limited.json()["retry_after"] > 0


async def test_one_decree_per_period_and_later_approvals_go_into_the_next(world):
    deps, consumer, db = world
    await issue_one(deps, consumer, db)
    with pytest.raises(Problem) as issued:
        await handlers.draft(deps, MENSOS, DraftDecree(program="PKH", period="2026-12"))
    assert issued.value.status == 409 and issued.value.extra["next_period"] == "2027-01"
    await consumer.process(topics.CASES, envelope(approved("p-3")).model_dump_json().encode(), {})
    assert (await handlers.candidate_count(deps, MENSOS, Program.PKH, "2027-01"))["proposal_ids"] == ["p-3"]
    with pytest.raises(Problem) as empty:
        await handlers.draft(deps, MENSOS, DraftDecree(program="PKH", period="2027-02"))
    assert empty.value.status == 409 and "no approved" in empty.value.detail
    assert db.collection("decrees")._raw.find_one({"_id": "PKH-2027-02"}) is None  # the empty draft left nothing


async def test_the_frozen_list_as_json_csv_and_xlsx_within_the_callers_region():
    db = MemoryDatabase()
    deps = DecreeDeps.build(db, FixedClock(NOW))
    draft, issued, _ = await issue_one(deps, Consumer("decree", MemoryTransport(), subscriptions(deps)), db)
    app = build_app(database=db, transport=MemoryTransport(), clock=FixedClock(NOW))

    def as_(role, region=None):
        return {"Authorization": "Bearer " + issue_token(DEVELOPMENT_JWT_SECRET, sub="t", role=role, region=region)}

    url = f"/v1/decrees/{draft['id']}/beneficiaries"
    with TestClient(app) as client:
        listed = client.get(url, headers=as_(Role.SUPERVISOR_KABKOTA, "32.04")).json()
        assert listed["count"] == 1 and listed["items"][0]["head_nik"] == "3204052609800001"
        assert client.get(url, headers=as_(Role.SUPERVISOR_KABKOTA, "33.22")).json()["count"] == 0  # not theirs

        as_csv = client.get(url, params={"format": "csv"}, headers=as_(Role.MENSOS))
        assert as_csv.headers["content-type"].startswith("text/csv")
        (row,) = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert row["head_nik"] == "3204052609800001" and row["proposal_id"] == "p-1"

        as_xlsx = client.get(url, params={"format": "xlsx"}, headers=as_(Role.MENSOS))
        assert as_xlsx.headers["content-disposition"].endswith(f'sk-{draft["id"]}.xlsx"')
        book = load_workbook(io.BytesIO(as_xlsx.content), read_only=True)
        header, first = list(book["beneficiaries"].iter_rows(values_only=True))
        assert header[4] == "head_nik" and first[4] == "3204052609800001"  # text: all 16 digits kept
        about = dict(book["decree"].iter_rows(values_only=True))
        assert about["number"] == issued["number"] and about["content_hash"] == issued["content_hash"]

        assert client.get(url, params={"format": "pdf"}, headers=as_(Role.MENSOS)).status_code == 422


def removal(proposal_id="p-9", at=datetime(2027, 1, 18, 3, tzinfo=UTC)):
    from siks_contracts.enums import ProposalKind, RemovalReason
    return approved(proposal_id).model_copy(update={"kind": ProposalKind.INELIGIBILITY, "at": at, "period": "2027-01",
                                                    "removal_reason": RemovalReason.INELIGIBLE})


async def test_an_ineligibility_removes_the_household_at_the_next_decree_and_cek_bansos_says_since_when_and_why(world):
    deps, consumer, db = world
    _, first, entry = await issue_one(deps, consumer, db)
    await consumer.process(topics.DECREES, entry, {})
    await consumer.process(topics.CASES, envelope(removal()).model_dump_json().encode(), {})
    second = await handlers.draft(deps, MENSOS, DraftDecree(program="PKH", period="2027-01"))
    assert [(e.change, e.reason) async for e in deps.entries.listed(second.id)] == [("removed", "ineligible")]
    await handlers.issue(deps, MENSOS, second.id)
    (raw,) = await sent_beneficiaries(deps)
    assert b'"change":"removed"' in raw and b'"reason":"ineligible"' in raw
    await consumer.process(topics.DECREES, raw, {})
    await consumer.process(topics.DECREES, entry, {})  # the older decree heard again: no change
    found = await handlers.public_status(deps, "3204052609800001", "Agus")
    assert found["status"] == "not_listed"
    (pkh,) = found["programs"]
    assert (pkh["status"], pkh["sk_number"], pkh["reason"], pkh["since_period"]) == ("inactive", "2/HUK/2026",
                                                                                     "ineligible", "2027-01")
    standing, _ = await deps.rolls.get(Program.PKH, "h-1")
    assert standing.status == "inactive" and standing.sk_number == "2/HUK/2026"


async def test_drafting_twice_is_one_draft_and_a_failed_draft_releases_its_cases(world, monkeypatch):
    deps, consumer, db = world
    await consumer.process(topics.CASES, envelope(approved("p-1")).model_dump_json().encode(), {})
    first = await handlers.draft(deps, MENSOS, DraftDecree(program="PKH", period="2026-12"))
    await consumer.process(topics.CASES, envelope(approved("p-2")).model_dump_json().encode(), {})
    again = await handlers.draft(deps, MENSOS, DraftDecree(program="PKH", period="2026-12"))
    assert again.id == first.id and [e.proposal_id async for e in deps.entries.listed(again.id)] == ["p-1", "p-2"]
    assert again.count == 2 and db.collection("decree_entries")._raw.count_documents({}) == 2  # replaced, not doubled
    released = await handlers.abandon(deps, MENSOS, again.id)
    assert released == 2 and (await handlers.candidate_count(deps, MENSOS, Program.PKH, "2026-12"))["count"] == 2

    async def broken(decree_id):
        raise RuntimeError("database went away half-way")
        yield  # an async generator, as the store's
    monkeypatch.setattr(deps.candidates, "claimed", broken)
    with pytest.raises(RuntimeError):
        await handlers.draft(deps, MENSOS, DraftDecree(program="PKH", period="2026-12"))
    assert (await handlers.candidate_count(deps, MENSOS, Program.PKH, "2026-12"))["count"] == 2  # none stranded
    assert db.collection("decrees")._raw.find_one({"_id": "PKH-2026-12"}) is None
    assert db.collection("decree_entries")._raw.count_documents({}) == 0  # its entries went with it
