"""Correction of a returned case, identity at the edge, decree effects and NIK claims under
concurrent requests: the registry over HTTP (fakes wired through bootstrap) and its handlers."""

import asyncio
import inspect
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from siks_contracts import topics
from siks_contracts.actor import Actor
from siks_contracts.enums import Program, Role
from siks_contracts.events import Beneficiary, BeneficiaryStatusChanged, CaseStageChanged, DecreeIssued
from siks_kit.observability.metrics import UNMATCHED
from siks_contracts.schedule import DEFAULT_CALENDAR
from siks_kit.runtime.clock import FixedClock
from siks_testkit.memory import MemoryDatabase, MemoryTransport, Record
from siks_kit.web.problems import Problem
from siks_testkit.testing import envelope
from siks_registry import handlers
from siks_registry.bootstrap import build_app
from siks_registry.commands import AmendHousehold, RegisterHousehold
from siks_registry.domain.refusals import Refused
from siks_registry.handlers import RegistryDeps

from siks_kit.web.auth import issue_token
from siks_kit.runtime.settings import DEVELOPMENT_JWT_SECRET

VILLAGE = "32.04.05.2001"
IN_WINDOW = datetime(2026, 12, 16, 2, tzinfo=UTC)  # 09:00 in Jakarta, bansos window (15-25)


def household(**over):
    body = {"kk_number": "3204050911230001", "region_code": VILLAGE,
            "address": {"street": "Kp. Sidomulyo", "rt": "003", "rw": "004"},
            "members": [
                {"nik": "3204052609800001", "name": "Agus", "sex": "M", "birth_date": "1980-09-26",
                 "birth_place": "Bandung", "relation": "head"},
                {"nik": "3204055912790001", "name": "Euis Oktaviani", "sex": "F", "birth_date": "1979-12-19",
                 "birth_place": "Bandung", "relation": "spouse"}]}
    body.update(over)
    return body


def auth(role=Role.OPERATOR_DESA, region=VILLAGE):
    return {"Authorization": "Bearer " + issue_token(DEVELOPMENT_JWT_SECRET, sub="t", role=role, region=region)}


AGUS, EUIS = household()["members"]
JOKO = {"nik": "3204051306000001", "name": "Joko", "sex": "M", "birth_date": "2000-06-13", "birth_place": "",
        "relation": "child"}
SITI = {"nik": "3204054101050001", "name": "Siti", "sex": "F", "birth_date": "2005-01-01", "birth_place": "",
        "relation": "head"}  # day 41 = 1 + 40
OTHER_VILLAGE = "32.04.06.2003"


@pytest.fixture
def env():
    db, bus, clock = MemoryDatabase(), MemoryTransport(), FixedClock(IN_WINDOW)
    with TestClient(build_app(database=db, transport=bus, clock=clock)) as client:
        yield client, db, bus, clock


def create(client, **over):
    resp = client.post("/v1/households", json=household(**over), headers=auth())
    assert resp.status_code == 201, resp.text
    return resp.json()


def propose(client, hid, kind="dtks_new", program="PKH"):
    resp = client.post("/v1/proposals", json={"household_id": hid, "kind": kind, "program": program}, headers=auth())
    assert resp.status_code == 201, resp.text
    return resp.json()


def deliver(client, bus, topic, payload, times=1):
    record = Record(topic, "k", envelope(payload).model_dump_json().encode(), {})
    for _ in range(times):
        client.portal.call(bus.deliver, record)


def stage(client, bus, proposal, stage, round=1, times=1):
    deliver(client, bus, topics.CASES, CaseStageChanged(
        proposal_id=proposal["id"], household_id=proposal["household_id"], program=proposal["program"],
        region_code=VILLAGE, stage=stage, at=IN_WINDOW, reason_code="data_tidak_padan", round=round), times)


def proposal_events(bus, proposal_id):
    return [json.loads(r.value)["payload"] for r in bus.on(topics.PROPOSALS) if r.key == proposal_id]


def drain(client):
    client.portal.call(client.app.state.runtime.relay.drain_once)


# ------------------------------------------------------------------ identity at the edge
def test_a_member_whose_sex_contradicts_the_nik_is_422_naming_the_member_and_field(env):
    client, db, _, _ = env
    resp = client.post("/v1/households", json=household(members=[AGUS, {**EUIS, "sex": "M"}]), headers=auth())
    assert resp.status_code == 422 and resp.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in resp.json()["errors"]] == ["/members/1/sex"]
    assert EUIS["nik"] not in resp.text and "Euis" not in resp.text
    assert db.collection("households")._raw.count_documents({}) == 0


def test_a_birth_date_contradicting_the_nik_is_422(env):
    client, *_ = env
    resp = client.post("/v1/households", json=household(members=[{**AGUS, "birth_date": "1980-09-27"}, EUIS]),
                       headers=auth())
    assert resp.status_code == 422 and [e["pointer"] for e in resp.json()["errors"]] == ["/members/0/birth_date"]


def test_a_kk_number_of_another_province_is_422(env):
    client, *_ = env
    resp = client.post("/v1/households", json=household(kk_number="3304050911230001"), headers=auth())
    assert resp.status_code == 422 and [e["pointer"] for e in resp.json()["errors"]] == ["/kk_number"]


def test_names_and_reasons_refuse_hidden_characters(env):
    client, *_ = env
    bidi = client.post("/v1/households", json=household(members=[{**AGUS, "name": "Agus\u202e"}, EUIS]), headers=auth())
    assert bidi.status_code == 422 and "Agus" not in bidi.text
    hid = create(client)["id"]
    zero_width = client.post("/v1/proposals", json={"household_id": hid, "kind": "dtks_new", "program": "PKH",
                                                    "reason": "miskin\u200b"}, headers=auth())
    assert zero_width.status_code == 422


# ------------------------------------------------------------------ PATCH
def test_patch_with_the_version_read_amends_and_moves_the_claims(env):
    client, db, _, _ = env
    h = create(client)
    resp = client.patch(f"/v1/households/{h['id']}", headers=auth(), json={
        "version": 1, "members": [AGUS, JOKO], "address": {"street": "Jl. Baru", "rt": "001", "rw": "002"}})
    assert resp.status_code == 200, resp.text
    amended = resp.json()
    assert amended["version"] == 2 and [m["nik"] for m in amended["members"]] == [AGUS["nik"], JOKO["nik"]]
    assert amended["address"]["street"] == "Jl. Baru" and amended["kk_number"] == h["kk_number"]
    claims = {c["_id"]: c["household_id"] for c in db.collection("nik_claims")._raw.find({})}
    assert claims == {AGUS["nik"]: h["id"], JOKO["nik"]: h["id"]}  # Euis released, Joko claimed
    # The removed member can be entered elsewhere now.
    elsewhere = create(client, kk_number="3204050911230002", members=[{**EUIS, "relation": "head"}])
    assert elsewhere["members"][0]["nik"] == EUIS["nik"]


def test_patch_with_a_stale_version_is_409_and_changes_nothing(env):
    client, db, _, _ = env
    h = create(client)
    assert client.patch(f"/v1/households/{h['id']}", json={"version": 1, "housing": {"roof": "seng"}},
                        headers=auth()).status_code == 200
    stale = client.patch(f"/v1/households/{h['id']}", json={"version": 1, "members": [AGUS, JOKO]}, headers=auth())
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    assert db.collection("nik_claims")._raw.find_one({"_id": JOKO["nik"]}) is None  # its claim undone
    assert client.get(f"/v1/households/{h['id']}", headers=auth()).json()["housing"] == {"roof": "seng"}


def test_patch_adding_a_person_held_elsewhere_is_409_without_naming_the_other_household(env):
    client, db, _, _ = env
    theirs = create(client)
    mine = create(client, kk_number="3204050911230002", members=[SITI])
    resp = client.patch(f"/v1/households/{mine['id']}", json={"version": 1, "members": [SITI, {**EUIS, "relation": "other"}]},
                        headers=auth())
    assert resp.status_code == 409 and [e["pointer"] for e in resp.json()["errors"]] == ["/members/1/nik"]
    assert theirs["id"] not in resp.text and VILLAGE not in resp.text and EUIS["nik"] not in resp.text
    assert db.collection("nik_claims")._raw.find_one({"_id": EUIS["nik"]})["household_id"] == theirs["id"]
    assert client.get(f"/v1/households/{mine['id']}", headers=auth()).json()["version"] == 1


def test_patch_is_for_the_operator_of_the_households_village(env):
    client, *_ = env
    h = create(client)
    body = {"version": 1, "housing": {"roof": "seng"}}
    assert client.patch(f"/v1/households/{h['id']}", json=body, headers=auth(region=OTHER_VILLAGE)).status_code == 403
    assert client.patch(f"/v1/households/{h['id']}", json=body,
                        headers=auth(Role.SUPERVISOR_KABKOTA, "32.04")).status_code == 403
    assert client.patch(f"/v1/households/{h['id']}", json=body).status_code == 401
    assert client.patch("/v1/households/nope", json=body, headers=auth()).status_code == 404


def test_patch_checks_identity_like_registration(env):
    client, *_ = env
    h = create(client)
    resp = client.patch(f"/v1/households/{h['id']}", json={"version": 1, "members": [AGUS, {**JOKO, "sex": "F"}]},
                        headers=auth())
    assert resp.status_code == 422 and [e["pointer"] for e in resp.json()["errors"]] == ["/members/1/sex"]


# ------------------------------------------------------------------ resubmit
def test_resubmit_sends_round_2_with_the_household_as_it_is_now(env):
    client, db, bus, _ = env
    h = create(client)
    p = propose(client, h["id"])
    early = client.post(f"/v1/proposals/{p['id']}/resubmit", headers=auth())
    assert early.status_code == 409 and early.json()["proposal_status"] == "submitted" and "submitted" in early.json()["detail"]
    stage(client, bus, p, "returned", times=2)
    assert client.get(f"/v1/proposals/{p['id']}", headers=auth()).json()["status"] == "returned"
    assert client.patch(f"/v1/households/{h['id']}", json={"version": 1, "members": [AGUS, JOKO]},
                        headers=auth()).status_code == 200
    assert client.post(f"/v1/proposals/{p['id']}/resubmit", headers=auth(region=OTHER_VILLAGE)).status_code == 403
    resp = client.post(f"/v1/proposals/{p['id']}/resubmit", headers=auth())
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "submitted" and resp.json()["round"] == 2 and resp.json()["id"] == p["id"]
    drain(client)
    first, second = proposal_events(bus, p["id"])
    assert (first["round"], second["round"]) == (1, 2) and second["household_version"] == 2
    assert [m["nik"] for m in second["household"]["members"]] == [AGUS["nik"], JOKO["nik"]]
    # A late `returned` of round 1 does not undo the resubmission.
    stage(client, bus, p, "returned", round=1)
    assert client.get(f"/v1/proposals/{p['id']}", headers=auth()).json()["status"] == "submitted"
    twice = client.post(f"/v1/proposals/{p['id']}/resubmit", headers=auth())
    assert twice.status_code == 409


def test_an_approved_update_ends_the_proposal_and_frees_the_slot(env):
    client, _, bus, _ = env
    h = create(client)
    p = propose(client, h["id"], kind="update")
    stage(client, bus, p, "approved", times=2)
    assert client.get(f"/v1/proposals/{p['id']}", headers=auth()).json()["status"] == "approved"
    assert client.get(f"/v1/households/{h['id']}", headers=auth()).json()["open_proposals"] == {}


# ------------------------------------------------------------------ decrees
def decree(hid, pid, change="added", decree_id="d1", reason=None):
    """One entry of an issued decree, as the decree service sends it (no names, no NIKs)."""
    return BeneficiaryStatusChanged(decree_id=decree_id, number=f"{decree_id}/HUK/2026", program="PKH",
                                    period="2026-12", issued_at=IN_WINDOW, proposal_id=pid, household_id=hid,
                                    region_code=VILLAGE, change=change, reason=reason)


def decree_v1(hid, pid, decree_id="d1"):
    """A deprecated v1 record holding the whole list, as a replay of old records brings it."""
    return DecreeIssued(decree_id=decree_id, number=f"{decree_id}/HUK/2026", program="PKH", period="2026-12",
                        issued_at=IN_WINDOW, count=1, content_hash="h",
                        beneficiaries=[Beneficiary(proposal_id=pid, household_id=hid, region_code=VILLAGE)])


def test_a_replayed_v1_decree_record_has_the_same_effect(env):
    client, _, bus, _ = env
    h = create(client)
    p = propose(client, h["id"])
    deliver(client, bus, topics.DECREES, decree_v1(h["id"], p["id"]), times=2)
    after = client.get(f"/v1/households/{h['id']}", headers=auth()).json()
    assert after["status"] == "beneficiary" and after["version"] == 2 and after["open_proposals"] == {}
    assert client.get(f"/v1/proposals/{p['id']}", headers=auth()).json()["status"] == "decreed"


def test_the_decree_frees_the_slot_in_the_write_that_makes_the_household_active(env, monkeypatch):
    """Whoever sees the household active may propose at once (an ineligibility report, say):
    the slot goes in the same write, not in one after it, so nothing is left held when that
    later write never comes."""
    client, _, bus, _ = env
    h = create(client)
    p = propose(client, h["id"])
    deps = client.app.state.runtime.deps

    async def never(*_args, **_kwargs):
        return False
    monkeypatch.setattr(deps.households, "release_slot", never)
    deliver(client, bus, topics.DECREES, decree(h["id"], p["id"]))
    after = client.get(f"/v1/households/{h['id']}", headers=auth()).json()
    assert after["programs"][0]["status"] == "active" and after["open_proposals"] == {}
    propose(client, h["id"], kind="ineligibility")  # 201, not "already has an open PKH proposal"


def test_an_entry_about_a_household_never_registered_here_is_counted_not_dead_lettered(env):
    client, _, bus, _ = env
    before = UNMATCHED.labels("decree.beneficiary_status_changed.v1")._value.get()
    deliver(client, bus, topics.DECREES, decree("h-elsewhere", "p-elsewhere"), times=2)
    assert UNMATCHED.labels("decree.beneficiary_status_changed.v1")._value.get() == before + 2
    assert bus.on(topics.dead_letter(topics.DECREES)) == []


def test_a_decree_adds_then_removes_the_household_and_ends_the_proposals(env):
    client, _, bus, _ = env
    h = create(client)
    p = propose(client, h["id"])
    deliver(client, bus, topics.DECREES, decree(h["id"], p["id"]), times=2)  # redelivered: applied once
    after = client.get(f"/v1/households/{h['id']}", headers=auth()).json()
    assert after["status"] == "beneficiary" and after["version"] == 2 and after["open_proposals"] == {}
    assert after["programs"] == [{"program": "PKH", "status": "active", "period": "2026-12", "decree_number": "d1/HUK/2026",
                                  "decree_id": "d1", "proposal_id": p["id"], "reason": None}]
    assert client.get(f"/v1/proposals/{p['id']}", headers=auth()).json()["status"] == "decreed"

    out = propose(client, h["id"], kind="ineligibility")
    drain(client)
    (event,) = proposal_events(bus, out["id"])
    assert event["removal_reason"] == "ineligible" and event["kind"] == "ineligibility"
    deliver(client, bus, topics.DECREES, decree(h["id"], out["id"], "removed", "d2", "ineligible"))
    gone = client.get(f"/v1/households/{h['id']}", headers=auth()).json()
    assert gone["status"] == "registered" and gone["programs"][0]["status"] == "inactive"
    assert gone["programs"][0]["reason"] == "ineligible" and gone["programs"][0]["decree_number"] == "d2/HUK/2026"
    assert client.get(f"/v1/proposals/{out['id']}", headers=auth()).json()["status"] == "decreed"


def test_ineligibility_for_a_household_not_in_the_programme_is_409(env):
    client, *_ = env
    h = create(client)
    resp = client.post("/v1/proposals", json={"household_id": h["id"], "kind": "ineligibility", "program": "PKH"},
                       headers=auth())
    assert resp.status_code == 409 and "not" in resp.json()["detail"]


# ------------------------------------------------------------------ concurrency, in-process
class YieldingDatabase:
    """The fake store, with the event loop let in before every operation (a seeded number of
    times), so that concurrent requests interleave between their reads and writes as they do
    against a real server."""

    def __init__(self, seed: int) -> None:
        self._inner, self._rng = MemoryDatabase(), random.Random(seed)

    def collection(self, name):
        inner, rng = self._inner.collection(name), self._rng

        class Yielding:
            def __getattr__(self, attr):
                method = getattr(inner, attr)
                if not inspect.iscoroutinefunction(method):
                    return method  # attributes, and iterate (an async generator)

                async def call(*args, **kwargs):
                    for _ in range(rng.randint(0, 3)):
                        await asyncio.sleep(0)
                    return await method(*args, **kwargs)
                return call
        return Yielding()


OPERATOR = Actor(sub="op", role=Role.OPERATOR_DESA, region=VILLAGE)


def deps_on(db) -> RegistryDeps:
    return RegistryDeps.build(db, FixedClock(IN_WINDOW), DEFAULT_CALENDAR, timedelta(seconds=60))


async def outcome(call):
    try:
        return await call
    except (Problem, Refused) as exc:
        return exc.status


@pytest.mark.parametrize("seed", range(8))
async def test_concurrent_registrations_sharing_a_nik_exactly_one_wins(seed):
    db = YieldingDatabase(seed)
    deps = deps_on(db)
    bodies = [RegisterHousehold.model_validate(household(kk_number=f"32040509112300{10 + i:02d}",
                                                         members=[AGUS, {**EUIS, "nik": f"32040559127900{10 + i:02d}"}]))
              for i in range(6)]
    results = await asyncio.gather(*(outcome(handlers.register_household(deps, OPERATOR, b)) for b in bodies))
    winners = [r for r in results if not isinstance(r, int)]
    assert len(winners) == 1 and sorted(r for r in results if isinstance(r, int)) == [409] * 5
    claim = await db.collection("nik_claims").find_one({"_id": AGUS["nik"]})
    assert claim["household_id"] == winners[0].id
    visible = await deps.households.search(region_prefix=VILLAGE, q=None, limit=50, skip=0)
    assert [h.id for h in visible] == [winners[0].id]  # the losers' pending households are gone
    losers_claims = await db.collection("nik_claims").count({"household_id": {"$ne": winners[0].id}})
    assert losers_claims == 0


@pytest.mark.parametrize("seed", range(8))
async def test_concurrent_patches_moving_a_member_leave_the_nik_in_one_household(seed):
    db = YieldingDatabase(seed)
    deps = deps_on(db)
    a = await handlers.register_household(deps, OPERATOR, RegisterHousehold.model_validate(household()))
    b = await handlers.register_household(deps, OPERATOR, RegisterHousehold.model_validate(
        household(kk_number="3204050911230002", members=[SITI])))
    c = await handlers.register_household(deps, OPERATOR, RegisterHousehold.model_validate(
        household(kk_number="3204050911230003", members=[{**JOKO, "relation": "head"}])))
    euis = {**EUIS, "relation": "other"}
    patches = [
        (a.id, AmendHousehold(version=1, members=[AGUS])),  # Euis leaves a ...
        (b.id, AmendHousehold(version=1, members=[SITI, euis])),  # ... for b, or for c
        (c.id, AmendHousehold(version=1, members=[{**JOKO, "relation": "head"}, euis])),
    ]
    await asyncio.gather(*(outcome(handlers.amend_household(deps, OPERATOR, hid, cmd)) for hid, cmd in patches))
    holding = [h for h in (await deps.households.search(region_prefix=VILLAGE, q=None, limit=50, skip=0))
               if h.holds(EUIS["nik"])]
    assert len(holding) <= 1
    claim = await deps.niks.holder(EUIS["nik"])
    assert claim == (holding[0].id if holding else None)


@pytest.mark.parametrize("seed", range(8))
async def test_two_patches_of_one_household_taking_the_same_person_leave_their_claim_with_the_winner(seed):
    """The e2e race that found it: both requests read version 1; the loser's undo must not
    release the claim the winner's stored household relies on."""
    db = YieldingDatabase(seed)
    deps = deps_on(db)
    b = await handlers.register_household(deps, OPERATOR, RegisterHousehold.model_validate(
        household(kk_number="3204050911230002", members=[SITI])))
    joko = {**JOKO, "relation": "other"}
    same = AmendHousehold(version=1, members=[SITI, joko])
    results = await asyncio.gather(*(outcome(handlers.amend_household(deps, OPERATOR, b.id, same)) for _ in range(2)))
    stored = await deps.households.get(b.id)
    if stored.holds(JOKO["nik"]):
        assert await deps.niks.holder(JOKO["nik"]) == b.id
    else:
        assert await deps.niks.holder(JOKO["nik"]) is None
    assert sum(not isinstance(r, int) for r in results) <= 1 and all(r == 409 for r in results if isinstance(r, int))


@pytest.mark.parametrize("seed", range(8))
async def test_two_attempts_at_the_same_item_store_one_household_and_one_proposal_that_keep_their_claims(seed):
    """A batch item repeated while its first attempt still runs (same ids): one household and
    one proposal are stored; every answer is that one or 'repeat shortly' (409); the NIK claims
    and the programme slot name what was stored."""
    from siks_registry.commands import SubmitProposal
    db = YieldingDatabase(seed)
    deps = deps_on(db)
    body = RegisterHousehold.model_validate(household())
    results = await asyncio.gather(*(outcome(handlers.register_household(deps, OPERATOR, body, household_id="h-item"))
                                     for _ in range(2)))
    assert all(r == 409 if isinstance(r, int) else r.id == "h-item" for r in results) and not all(
        isinstance(r, int) for r in results)
    stored = await deps.households.get("h-item")
    for nik in stored.niks:
        assert (await db.collection("nik_claims").find_one({"_id": nik}))["household_id"] == "h-item"
    proposal = SubmitProposal.model_validate({"household_id": "h-item", "program": "PKH", "kind": "dtks_new"})
    results = await asyncio.gather(*(outcome(handlers.submit_proposal(deps, OPERATOR, proposal, proposal_id="p-item"))
                                     for _ in range(2)))
    assert all(r == 409 if isinstance(r, int) else r.id == "p-item" for r in results) and not all(
        isinstance(r, int) for r in results)
    assert await db.collection("proposals").count({}) == 1
    assert (await deps.households.get("h-item")).slot_holder(Program.PKH) == "p-item"


async def test_a_household_stored_meanwhile_by_an_earlier_attempt_is_the_answer_and_keeps_the_claims():
    """The earlier attempt's insert lands between this one's claims and its insert (it stalled
    past the lease, its claims were taken over): the stored household is the answer, and the
    claims, which name it, stay."""
    from siks_kit.store.documents import DuplicateKey
    db = MemoryDatabase()
    deps = deps_on(db)
    add = deps.households.add

    async def earlier_attempt_first(household, outbox):
        await add(household, outbox)
        raise DuplicateKey("E11000 duplicate key")

    deps.households.add = earlier_attempt_first
    body = RegisterHousehold.model_validate(household())
    answer = await handlers.register_household(deps, OPERATOR, body, household_id="h-item")
    assert answer.id == "h-item"
    stored = await deps.households.get("h-item")
    for nik in stored.niks:
        assert (await db.collection("nik_claims").find_one({"_id": nik}))["household_id"] == "h-item"
