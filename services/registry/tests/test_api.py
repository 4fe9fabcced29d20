"""Registry over HTTP with fakes wired through bootstrap: shapes, errors, scope, window, outbox."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from siks_contracts import topics
from siks_contracts.enums import Role
from siks_kit.web.auth import issue_token
from siks_kit.runtime.clock import FixedClock
from siks_contracts.events import Beneficiary, CaseStageChanged, DecreeIssued
from siks_testkit.memory import MemoryDatabase, MemoryTransport, Record
from siks_kit.runtime.settings import DEVELOPMENT_JWT_SECRET
from siks_testkit.testing import envelope, wait_for
from siks_registry.bootstrap import build_app

VILLAGE = "32.04.05.2001"
IN_WINDOW = datetime(2026, 12, 16, 2, tzinfo=UTC)  # 09:00 in Jakarta, bansos window (15-25)
OUT_OF_WINDOW = datetime(2026, 12, 28, 2, tzinfo=UTC)


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


@pytest.fixture
def env():
    db, bus, clock = MemoryDatabase(), MemoryTransport(), FixedClock(IN_WINDOW)
    with TestClient(build_app(database=db, transport=bus, clock=clock)) as client:
        yield client, db, bus, clock


def stored(db) -> int:
    return db.collection("households")._raw.count_documents({})


def test_create_read_and_event_through_the_outbox(env):
    client, db, bus, _ = env
    resp = client.post("/v1/households", json=household(), headers=auth())
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["status"] == "registered" and created["version"] == 1 and created["id"]
    assert client.get(f"/v1/households/{created['id']}", headers=auth()).json()["kk_number"] == "3204050911230001"
    (event,) = wait_for(lambda: bus.on(topics.HOUSEHOLDS), "household event")
    assert event.key == created["id"] and event.headers["event_type"] == "registry.household_registered.v1"


def test_proposal_in_window_is_published_with_the_household_snapshot(env):
    client, _, bus, _ = env
    hid = client.post("/v1/households", json=household(), headers=auth()).json()["id"]
    resp = client.post("/v1/proposals", json={"household_id": hid, "kind": "dtks_new", "program": "PKH"},
                       headers=auth())
    assert resp.status_code == 201, resp.text
    proposal = resp.json()
    assert {k: proposal[k] for k in ("household_id", "kind", "program", "status")} == {
        "household_id": hid, "kind": "dtks_new", "program": "PKH", "status": "submitted"}
    (event,) = wait_for(lambda: bus.on(topics.PROPOSALS), "proposal event")
    assert b'"members"' in event.value and event.key == proposal["id"]
    again = client.post("/v1/proposals", json={"household_id": hid, "kind": "dtks_new", "program": "PKH"},
                        headers=auth())
    assert again.status_code == 409


def test_outside_the_window_is_409_naming_the_next_opening(env):
    client, _, bus, clock = env
    hid = client.post("/v1/households", json=household(), headers=auth()).json()["id"]
    clock.at = OUT_OF_WINDOW
    resp = client.post("/v1/proposals", json={"household_id": hid, "kind": "program", "program": "BPNT"},
                       headers=auth())
    assert resp.status_code == 409 and resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["next_opening"] == "2027-01-15T00:00:00+07:00"
    make_beneficiary(client, bus, hid, "BPNT")
    ineligible = client.post("/v1/proposals", json={"household_id": hid, "kind": "ineligibility", "program": "BPNT"},
                             headers=auth())
    assert ineligible.status_code == 201  # ineligibility reports are taken any day


def make_beneficiary(client, bus, hid, program):
    """The household becomes active in the programme by a decree (as the decree service would say)."""
    decree = DecreeIssued(decree_id=f"d-{program}", number=f"1/{program}/HUK/2026", program=program,
                          period="2026-12", issued_at=IN_WINDOW, count=1, content_hash="h",
                          beneficiaries=[Beneficiary(proposal_id=f"p-{program}", household_id=hid,
                                                     region_code=VILLAGE)])
    client.portal.call(bus.deliver, Record(topics.DECREES, hid, envelope(decree).model_dump_json().encode(), {}))


@pytest.mark.parametrize("body, where", [
    (household(members=[{**household()["members"][0], "nik": "3204052609800000"}]), "nik"),  # serial 0000
    (household(members=[{**household()["members"][0], "nik": "9999999999999999"}]), "nik"),
    (household(region_code="32.04.05.2999"), "region_code"),  # no such village
    (household(members=[{**household()["members"][0], "birth_date": "1980-02-30"}]), "birth_date"),
    (household(members="not a list"), "members"),
])
def test_bad_input_is_422_problem_details_and_nothing_is_stored(env, body, where):
    client, db, _, _ = env
    resp = client.post("/v1/households", json=body, headers=auth())
    assert resp.status_code == 422
    problem = resp.json()
    assert resp.headers["content-type"] == "application/problem+json" and problem["status"] == 422
    assert any(where in map(str, e["loc"]) for e in problem["errors"])
    assert "3204052609800000" not in resp.text and "Agus" not in resp.text  # input never echoed
    assert stored(db) == 0


def test_malformed_json_is_422(env):
    client, db, _, _ = env
    resp = client.post("/v1/households", content=b'{"kk_number": ', headers={**auth(), "content-type": "application/json"})
    assert resp.status_code == 422 and resp.json()["title"] == "Unprocessable content"
    assert stored(db) == 0


def test_household_rules_two_heads_is_422(env):
    client, db, _, _ = env
    members = household()["members"]
    members[1] = {**members[1], "relation": "head"}
    resp = client.post("/v1/households", json=household(members=members), headers=auth())
    assert resp.status_code == 422 and "exactly one head" in resp.json()["detail"]
    assert stored(db) == 0


def test_no_token_401_other_village_403_wrong_role_403(env):
    client, db, _, _ = env
    assert client.post("/v1/households", json=household()).status_code == 401
    assert client.post("/v1/households", json=household(), headers={"Authorization": "Bearer junk"}).status_code == 401
    other = client.post("/v1/households", json=household(), headers=auth(region="32.04.06.2003"))
    assert other.status_code == 403 and other.json()["status"] == 403
    supervisor = client.post("/v1/households", json=household(), headers=auth(Role.SUPERVISOR_KABKOTA, "32.04"))
    assert supervisor.status_code == 403
    assert stored(db) == 0


def test_same_person_in_two_households_is_409(env):
    client, db, _, _ = env
    assert client.post("/v1/households", json=household(), headers=auth()).status_code == 201
    resp = client.post("/v1/households", json=household(kk_number="3204050911230002"), headers=auth())
    assert resp.status_code == 409 and stored(db) == 1


def test_search_is_scoped_to_the_callers_region(env):
    client, _, _, _ = env
    client.post("/v1/households", json=household(), headers=auth())
    mine = client.get("/v1/households", params={"nik": "3204052609800001"}, headers=auth(Role.SUPERVISOR_KABKOTA, "32.04"))
    assert len(mine.json()["items"]) == 1
    theirs = client.get("/v1/households", params={"region": "32.04"}, headers=auth(Role.SUPERVISOR_KABKOTA, "33.22"))
    assert theirs.status_code == 403


def test_operational_endpoints(env):
    client, _, _, _ = env
    assert client.get("/healthz").json()["now"].startswith("2026-12-16")
    assert client.get("/readyz").status_code == 200
    doc = client.get("/asyncapi.json").json()
    assert doc["asyncapi"].startswith("3.") and "siks_registry_proposals_v1" in doc["channels"]
    schedule = client.get("/v1/schedule").json()
    assert [w["open"] for w in schedule["windows"]] == [False, True]


def test_a_claim_left_by_a_dead_registration_does_not_block_the_person(env):
    client, db, _, _ = env
    db.collection("nik_claims")._raw.insert_one({"_id": "3204052609800001", "household_id": "never-stored"})
    resp = client.post("/v1/households", json=household(), headers=auth())
    assert resp.status_code == 201
    claim = db.collection("nik_claims")._raw.find_one({"_id": "3204052609800001"})
    assert claim["household_id"] == resp.json()["id"]


def test_a_refused_household_leaves_no_claims(env):
    client, db, _, _ = env
    assert client.post("/v1/households", json=household(), headers=auth()).status_code == 201
    members = [{"nik": "3204051306000001", "name": "Joko", "sex": "M", "birth_date": "2000-06-13", "relation": "head"},
               household()["members"][1]]  # Joko is claimed first, then the spouse collides
    resp = client.post("/v1/households", json=household(kk_number="3204050911230002", members=members), headers=auth())
    assert resp.status_code == 409
    assert db.collection("nik_claims")._raw.find_one({"_id": "3204051306000001"}) is None


def test_a_returned_case_keeps_the_programme_slot_a_rejected_one_releases_it(env):
    client, _, bus, _ = env
    hid = client.post("/v1/households", json=household(), headers=auth()).json()["id"]
    first = client.post("/v1/proposals", json={"household_id": hid, "kind": "dtks_new", "program": "PKH"},
                        headers=auth()).json()

    def deliver(stage):
        change = CaseStageChanged(proposal_id=first["id"], household_id=hid, program="PKH", region_code=VILLAGE,
                                  stage=stage, at=IN_WINDOW, reason_code="tidak_padan", round=1)
        record = envelope(change).model_dump_json().encode()
        for _ in range(2):  # redelivered: the second changes nothing
            client.portal.call(bus.deliver, Record(topics.CASES, "k", record, {}))

    def propose_again():
        return client.post("/v1/proposals", json={"household_id": hid, "kind": "dtks_new", "program": "PKH"},
                           headers=auth())

    deliver("returned")
    assert client.get(f"/v1/proposals/{first['id']}", headers=auth()).json()["status"] == "returned"
    held = propose_again()  # the correction goes on under the returned proposal
    assert held.status_code == 409 and held.json()["proposal_id"] == first["id"]
    deliver("rejected")
    assert client.get(f"/v1/proposals/{first['id']}", headers=auth()).json()["status"] == "rejected"
    again = propose_again()
    assert again.status_code == 201 and again.json()["id"] != first["id"]


def test_search_by_nik_region_and_name_within_the_callers_scope(env):
    client, *_ = env
    hid = client.post("/v1/households", json=household(), headers=auth()).json()["id"]

    def search(params, headers=None):
        return client.get("/v1/households", params=params, headers=headers or auth())

    assert [h["id"] for h in search({"nik": "3204055912790001"}).json()["items"]] == [hid]
    assert search({"nik": "3204055912790001", "q": "agus"}).json()["items"][0]["id"] == hid
    assert search({"nik": "3204055912790001", "q": "budi"}).json()["items"] == []
    assert search({"nik": "3204052609800099"}).json()["items"] == []
    assert [h["id"] for h in search({"q": "EUIS"}).json()["items"]] == [hid]
    regency = auth(Role.SUPERVISOR_KABKOTA, "32.04")
    assert [h["id"] for h in search({}, regency).json()["items"]] == [hid]
    assert search({"nik": "3204055912790001"}, auth(region="32.04.06.2003")).json()["items"] == []  # not theirs
    refused = search({"region": VILLAGE}, auth(region="32.04.06.2003"))
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert search({"nik": "12345"}).status_code == 422


def test_every_registry_route_declares_a_response_model(env):
    client, *_ = env
    doc = client.get("/openapi.json").json()
    routes = {(method, path): op for path, ops in doc["paths"].items() if path.startswith("/v1/")
              for method, op in ops.items()}
    assert ("patch", "/v1/households/{household_id}") in routes and ("post", "/v1/proposals/{proposal_id}/resubmit") in routes
    for (method, path), op in routes.items():
        ok = next(code for code in op["responses"] if code.startswith("2"))
        schema = op["responses"][ok]["content"]["application/json"]["schema"]
        assert schema.get("$ref", "").startswith("#/components/schemas/"), (method, path, schema)
    proposal = doc["components"]["schemas"]["ProposalOut"]["properties"]
    assert {"id", "household_id", "kind", "program", "status", "submitted_at", "round"} <= set(proposal)
