"""Batch endpoints with fakes wired through bootstrap: one result per item, the good stored
beside the bad, and a repeat with the same Idempotency-Key creating nothing twice."""

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from siks_contracts.enums import Role
from siks_kit.runtime.clock import FixedClock
from siks_kit.runtime.settings import DEVELOPMENT_JWT_SECRET
from siks_kit.web.auth import issue_token
from siks_kit.web.batch import item_id
from siks_registry.bootstrap import build_app
from siks_registry.commands import RegisterHousehold
from siks_registry import handlers
from siks_contracts import topics
from siks_testkit.memory import CommandLog, MemoryDatabase, MemoryTransport
from siks_testkit.testing import wait_for

VILLAGE = "32.04.05.2001"
IN_WINDOW = datetime(2026, 12, 16, 2, tzinfo=UTC)


def family(n: int) -> dict:
    """A valid household whose head was born on day n of January 1980 (NIK and date agree)."""
    return {"kk_number": f"320405091123{n:04d}", "region_code": VILLAGE,
            "address": {"street": "Kp. Sidomulyo", "rt": "003", "rw": "004"},
            "members": [{"nik": f"320405{n:02d}0180{n:04d}", "name": f"Warga {chr(64 + n)}", "sex": "M",
                         "birth_date": f"1980-01-{n:02d}", "birth_place": "Bandung", "relation": "head"}]}


def auth(sub: str = "op-1", **extra) -> dict:
    token = issue_token(DEVELOPMENT_JWT_SECRET, sub=sub, role=Role.OPERATOR_DESA, region=VILLAGE)
    return {"Authorization": f"Bearer {token}", **extra}


@pytest.fixture
def env():
    db, bus, clock = MemoryDatabase(), MemoryTransport(), FixedClock(IN_WINDOW)
    app = build_app(database=db, transport=bus, clock=clock)
    with TestClient(app) as client:
        yield client, db, app


def households_stored(db) -> int:
    return db.collection("households")._raw.count_documents({})


def test_each_item_gets_its_own_result_and_the_good_are_stored_beside_the_bad(env):
    client, db, _ = env
    bad_nik = {**family(2), "members": [{**family(2)["members"][0], "nik": "12"}]}
    same_person = {**family(3), "members": family(1)["members"]}  # the head of item 0 again
    resp = client.post("/v1/households/batch", json={"items": [family(1), bad_nik, same_person, family(4)]},
                       headers=auth())
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert results[0]["id"] and results[3]["id"] and results[0]["problem"] is None
    invalid = results[1]["problem"]
    assert invalid["status"] == 422 and invalid["type"].endswith("/validation")
    assert [e["pointer"] for e in invalid["errors"]] == ["/items/1/members/0/nik"]
    taken = results[2]["problem"]
    assert taken["status"] == 409 and results[2]["id"] is None
    assert [e["pointer"] for e in taken["errors"]] == ["/items/2/members/0/nik"]  # which member, never whose
    assert households_stored(db) == 2
    assert client.get(f"/v1/households/{results[3]['id']}", headers=auth()).status_code == 200


def test_the_same_request_with_the_same_key_creates_nothing_twice(env):
    client, db, _ = env
    body = {"items": [family(1), family(2)]}
    first = client.post("/v1/households/batch", json=body, headers=auth(**{"Idempotency-Key": "k-1"})).json()
    again = client.post("/v1/households/batch", json=body, headers=auth(**{"Idempotency-Key": "k-1"})).json()
    assert first == again and all(r["id"] for r in first["results"])
    assert households_stored(db) == 2
    other = client.post("/v1/households/batch", json={"items": [family(3)]},
                        headers=auth(**{"Idempotency-Key": "k-1"}))
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
    # Another operator's key is another request.
    theirs = client.post("/v1/households/batch", json={"items": [family(3)]},
                         headers=auth("op-2", **{"Idempotency-Key": "k-1"}))
    assert theirs.status_code == 200 and theirs.json()["results"][0]["id"]


def test_a_repeat_after_a_lost_answer_finds_what_the_first_attempt_stored(env):
    client, db, app = env
    deps = app.state.runtime.deps
    # The first attempt stored item 0, then its answer was lost (no results were kept).
    actor_headers = auth(**{"Idempotency-Key": "lost"})
    from siks_contracts.actor import Actor

    actor = Actor(sub="op-1", role=Role.OPERATOR_DESA, region=VILLAGE)
    earlier = client.portal.call(handlers.register_household, deps, actor,
                                 RegisterHousehold.model_validate(family(1)), item_id("household", "op-1", "lost", 0))
    resp = client.post("/v1/households/batch", json={"items": [family(1), family(2)]}, headers=actor_headers)
    results = resp.json()["results"]
    assert results[0]["id"] == earlier.id and results[0]["problem"] is None and results[1]["id"]
    assert households_stored(db) == 2


def test_proposals_in_a_batch_and_again(env):
    client, db, _ = env
    ids = [r["id"] for r in client.post("/v1/households/batch", json={"items": [family(1), family(2)]},
                                        headers=auth()).json()["results"]]
    body = {"items": [{"household_id": ids[0], "program": "PKH", "kind": "dtks_new"},
                      {"household_id": ids[1], "program": "PKH", "kind": "dtks_new"},
                      {"household_id": "nobody", "program": "PKH", "kind": "dtks_new"}]}
    first = client.post("/v1/proposals/batch", json=body, headers=auth(**{"Idempotency-Key": "p-1"})).json()
    assert [bool(r["id"]) for r in first["results"]] == [True, True, False]
    assert first["results"][2]["problem"]["status"] == 404
    again = client.post("/v1/proposals/batch", json=body, headers=auth(**{"Idempotency-Key": "p-1"})).json()
    assert again == first
    assert db.collection("proposals")._raw.count_documents({}) == 2


def test_a_batch_holds_two_programmes_of_one_household_and_refuses_a_second_of_one(env):
    client, db, _ = env
    hid = client.post("/v1/households/batch", json={"items": [family(1)]}, headers=auth()).json()["results"][0]["id"]
    body = {"items": [{"household_id": hid, "program": "PKH", "kind": "dtks_new"},
                      {"household_id": hid, "program": "BPNT", "kind": "dtks_new"},
                      {"household_id": hid, "program": "PKH", "kind": "dtks_new"}]}
    results = client.post("/v1/proposals/batch", json=body, headers=auth()).json()["results"]
    assert results[0]["id"] and results[1]["id"], results
    assert results[2]["id"] is None and results[2]["problem"]["status"] == 409, results[2]
    slots = db.collection("households")._raw.find_one({"_id": hid})["open_proposals"]
    assert slots == {"PKH": results[0]["id"], "BPNT": results[1]["id"]}
    assert db.collection("proposals")._raw.count_documents({"status": "submitted"}) == 2


def test_a_batch_of_more_than_a_thousand_items_or_none_is_refused_whole(env):
    client, db, _ = env
    too_many = client.post("/v1/households/batch", json={"items": [family(1)] * 1001}, headers=auth())
    assert too_many.status_code == 422 and too_many.headers["content-type"] == "application/problem+json"
    assert client.post("/v1/households/batch", json={"items": []}, headers=auth()).status_code == 422
    assert households_stored(db) == 0


def test_only_operators_submit_batches(env):
    client, _, _ = env
    token = issue_token(DEVELOPMENT_JWT_SECRET, sub="s", role=Role.SUPERVISOR_KABKOTA, region="32.04")
    resp = client.post("/v1/households/batch", json={"items": [family(1)]},
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403


def test_the_openapi_document_describes_each_item_as_its_single_form(env):
    client, _, _ = env
    doc = client.get("/openapi.json").json()
    batch = doc["components"]["schemas"]["HouseholdBatch"]["properties"]["items"]
    assert batch["items"] == {"$ref": "#/components/schemas/RegisterHousehold"} and batch["maxItems"] == 1000
    operation = doc["paths"]["/v1/households/batch"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation["parameters"])
    assert "BatchResults" in operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]


def writes(commands: CommandLog, name: str) -> list[str]:
    return [m for m in commands.of(name) if not m.startswith(("find", "count"))]


def test_a_batch_stores_its_households_claims_and_proposals_in_a_write_per_step_and_every_event_goes_out():
    db, bus, clock = MemoryDatabase(), MemoryTransport(), FixedClock(IN_WINDOW)
    commands = CommandLog(db, ignore=lambda name, method, args:  # not the relay's bookkeeping
                          method == "update_many" and "$pullAll" in args[1])
    app = build_app(database=db, transport=bus, clock=clock)
    with TestClient(app) as client:
        commands.clear()
        resp = client.post("/v1/households/batch", json={"items": [family(n) for n in range(1, 21)]}, headers=auth())
        ids = [r["id"] for r in resp.json()["results"]]
        assert all(ids)
        assert writes(commands, "nik_claims") == ["insert_each"]  # the claims first,
        assert writes(commands, "households") == ["insert_each"]  # then the households, visible, with their events
        assert [name for name, attr in commands.sent if attr == "insert_each"][:2] == ["nik_claims", "households"]
        commands.clear()
        body = {"items": [{"household_id": i, "program": "PKH", "kind": "dtks_new"} for i in ids]}
        proposals = [r["id"] for r in client.post("/v1/proposals/batch", json=body, headers=auth()).json()["results"]]
        assert all(proposals)
        assert [c for c, attr in commands.sent if attr.startswith("find")].count("households") == 1  # one read,
        assert writes(commands, "households") == ["update_each"]  # one write reserves the twenty slots,
        assert writes(commands, "proposals") == ["insert_each"]  # then the proposals, visible, with their events
        assert [c for c, attr in commands.sent if attr in ("update_each", "insert_each")] == ["households", "proposals"]
        wait_for(lambda: len(bus.on(topics.PROPOSALS)) == 20 and len(bus.on(topics.HOUSEHOLDS)) == 20 or None,
                 "every event relayed")
        submitted = {json.loads(r.value)["payload"]["proposal_id"] for r in bus.on(topics.PROPOSALS)}
        assert submitted == set(proposals)
        assert all(client.get(f"/v1/proposals/{p}", headers=auth()).json()["status"] == "submitted" for p in proposals)


def test_a_batch_that_fails_half_way_leaves_no_claim_and_no_household_behind(env, monkeypatch):
    client, db, app = env
    deps = app.state.runtime.deps

    async def database_gone(new):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(deps.households, "add_many", database_gone)
    with pytest.raises(ConnectionError):
        client.post("/v1/households/batch", json={"items": [family(1), family(2)]}, headers=auth())
    assert households_stored(db) == 0 and db.collection("nik_claims")._raw.count_documents({}) == 0
    monkeypatch.undo()
    again = client.post("/v1/households/batch", json={"items": [family(1), family(2)]}, headers=auth()).json()
    assert all(r["id"] for r in again["results"])  # the same people register: nothing was left holding them


def test_batch_requests_take_their_turn_at_the_rate_ops_set(monkeypatch):
    """SIKS_BATCH_ITEMS_PER_SECOND reaches the batch endpoints: a second batch right after a
    first waits for the first's items to have had their time (the wait itself is
    BatchAdmission's, tested in the kit; here the clock stands still and the wait is noted, not slept)."""
    monkeypatch.setenv("SIKS_BATCH_ITEMS_PER_SECOND", "2")
    db, bus, clock = MemoryDatabase(), MemoryTransport(), FixedClock(IN_WINDOW)
    app = build_app(database=db, transport=bus, clock=clock)
    with TestClient(app) as client:
        admission = app.state.runtime.deps.admission
        assert admission.per_second == 2
        waits = []

        async def no_sleep(seconds):
            waits.append(seconds)
        admission._sleep, admission._clock = no_sleep, lambda: 0.0  # both requests at one moment
        for n in (1, 3):
            resp = client.post("/v1/households/batch", json={"items": [family(n), family(n + 1)]}, headers=auth())
            assert resp.status_code == 200 and all(r["id"] for r in resp.json()["results"]), resp.text
        assert waits == [1.0]  # two items at two a second: the second batch waited its second
        assert households_stored(db) == 4


def test_a_repeat_of_an_item_whose_first_attempt_stopped_after_its_claims_waits_out_the_lease(env):
    """The first attempt took the item's claims (under its own token) and stopped before
    storing the household: the repeat is told to come back while that attempt could still
    finish, is not kept in the ledger, and goes through once the claims are past the lease."""
    client, db, app = env
    clock = app.state.runtime.deps.clock
    household_id = item_id("household", "op-1", "k-crash", 0)
    nik = family(1)["members"][0]["nik"]
    db.collection("nik_claims")._raw.insert_one({"_id": nik, "household_id": household_id, "at": clock.now(),
                                                 "token": "the first attempt"})
    body, headers = {"items": [family(1)]}, auth(**{"Idempotency-Key": "k-crash"})
    first = client.post("/v1/households/batch", json=body, headers=headers).json()["results"][0]
    assert first["id"] is None and first["problem"]["status"] == 409
    assert first["problem"]["type"].endswith("/in-progress") and households_stored(db) == 0
    clock.at += app.state.runtime.deps.lease
    again = client.post("/v1/households/batch", json=body, headers=headers).json()["results"][0]
    assert again["id"] == household_id and again["problem"] is None
    assert db.collection("nik_claims")._raw.find_one({"_id": nik})["token"] != "the first attempt"
    assert client.get(f"/v1/households/{household_id}", headers=auth()).status_code == 200


def test_another_household_may_not_take_a_person_claimed_by_a_registration_under_way(env):
    client, db, app = env
    nik = family(1)["members"][0]["nik"]
    db.collection("nik_claims")._raw.insert_one({"_id": nik, "household_id": "not-stored-yet",
                                                 "at": app.state.runtime.deps.clock.now(), "token": "t"})
    resp = client.post("/v1/households", json=family(1), headers=auth())
    assert resp.status_code == 409 and "already registered in another household" in resp.json()["detail"], resp.text
    assert households_stored(db) == 0


def test_one_registration_whose_insert_fails_lets_its_claims_go(env, monkeypatch):
    client, db, app = env

    async def database_gone(household, outbox):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(app.state.runtime.deps.households, "add", database_gone)
    with pytest.raises(ConnectionError):
        client.post("/v1/households", json=family(1), headers=auth())
    assert db.collection("nik_claims")._raw.count_documents({}) == 0
    monkeypatch.undo()
    assert client.post("/v1/households", json=family(1), headers=auth()).status_code == 201


def test_with_a_singles_p90_set_uploads_follow_the_single_requests(monkeypatch):
    """SIKS_BATCH_SINGLE_P90_MS reaches the admission, and single requests are timed for it
    (how it follows them is BatchAdmission's, tested in the kit)."""
    monkeypatch.setenv("SIKS_BATCH_SINGLE_P90_MS", "50")
    app = build_app(database=MemoryDatabase(), transport=MemoryTransport(), clock=FixedClock(IN_WINDOW))
    with TestClient(app) as client:
        admission = app.state.runtime.deps.admission
        noted = []
        admission.note_single = noted.append
        assert admission.yields and admission.following.target_s == 0.05
        assert client.post("/v1/households", json=family(1), headers=auth()).status_code == 201
        assert client.post("/v1/households/batch", json={"items": [family(2)]}, headers=auth()).status_code == 200
        assert len(noted) == 1 and noted[0] > 0


def registered(client) -> str:
    return client.post("/v1/households", json=family(1), headers=auth()).json()["id"]


def take_slot(db, household_id: str, proposal_id: str, at) -> None:
    db.collection("households")._raw.update_one({"_id": household_id}, {"$set": {
        "open_proposals.PKH": proposal_id, "open_proposals_at.PKH": at}})


def test_a_repeat_of_a_proposal_whose_first_attempt_stopped_after_its_slot_goes_through(env):
    client, db, app = env
    household_id = registered(client)
    take_slot(db, household_id, item_id("proposal", "op-1", "k-slot", 0), app.state.runtime.deps.clock.now())
    body = {"items": [{"household_id": household_id, "program": "PKH", "kind": "dtks_new"}]}
    result = client.post("/v1/proposals/batch", json=body, headers=auth(**{"Idempotency-Key": "k-slot"})).json()
    assert result["results"][0]["id"] == item_id("proposal", "op-1", "k-slot", 0), result
    assert client.get(f"/v1/proposals/{result['results'][0]['id']}", headers=auth()).json()["status"] == "submitted"


def test_a_slot_taken_by_a_submission_never_stored_is_held_for_a_lease_then_free(env):
    client, db, app = env
    household_id = registered(client)
    clock = app.state.runtime.deps.clock
    take_slot(db, household_id, "storing-meanwhile", clock.now())
    body = {"household_id": household_id, "program": "PKH", "kind": "dtks_new"}
    assert client.post("/v1/proposals", json=body, headers=auth()).status_code == 409
    clock.at += app.state.runtime.deps.lease
    resp = client.post("/v1/proposals", json=body, headers=auth())
    assert resp.status_code == 201, resp.text
    assert db.collection("households")._raw.find_one({"_id": household_id})["open_proposals"]["PKH"] == resp.json()["id"]


def test_a_proposal_whose_insert_fails_lets_its_slot_go(env, monkeypatch):
    client, db, app = env
    household_id = registered(client)

    async def database_gone(*args):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(app.state.runtime.deps.proposals, "add", database_gone)
    body = {"household_id": household_id, "program": "PKH", "kind": "dtks_new"}
    with pytest.raises(ConnectionError):
        client.post("/v1/proposals", json=body, headers=auth())
    assert not db.collection("households")._raw.find_one({"_id": household_id}).get("open_proposals")
    monkeypatch.undo()
    assert client.post("/v1/proposals", json=body, headers=auth()).status_code == 201
