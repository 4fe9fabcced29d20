"""Point 3 on the real stack: a case returned for correction is amended and resubmitted.

submit -> Dinas Sosial returns it -> the operator PATCHes the household (a member removed, the
address fixed) -> resubmits -> round 2 goes out on Kafka with the household as it is now, and
the removed member can be entered in another household."""

import json
import os

import httpx
import pytest
from siks_client.ladder import household_body
from siks_contracts import topics
from siks_contracts.enums import Role
from siks_testkit.testing import read_topic

pytestmark = pytest.mark.stack
VILLAGE = "32.04.05.2001"  # used by no other e2e file
BOOTSTRAP = f"127.0.0.1:{os.environ.get('SIKS_KAFKA_PORT', '9092')}"


async def test_a_returned_proposal_is_corrected_and_resubmitted_as_round_2(ladder):
    (family,) = await ladder.unregistered_families(VILLAGE, min_members=3)
    household = await ladder.register(family)
    proposal = await ladder.propose(household, "PKH")
    case = await ladder.wait_case(proposal["id"], VILLAGE)
    assert case["stage"] == "submitted"

    returned = await ladder.return_case(proposal["id"], VILLAGE, note="KK tidak sesuai")
    assert returned["stage"] == "returned"

    async def proposal_returned():
        p = await ladder.proposal(proposal["id"], VILLAGE)
        return p if p["status"] == "returned" else None

    assert (await ladder.wait_until(proposal_returned, "the registry hearing of the return"))["round"] == 1

    # The operator corrects: the last member (not the head) left the family; the street is fixed.
    body = household_body(family)
    kept, removed = body["members"][:-1], body["members"][-1]
    assert removed["relation"] != "head"
    before = await ladder.household(household["id"], VILLAGE)
    amended = await ladder.amend(household, before["version"], members=kept,
                                 address={**body["address"], "street": "Jl. Perbaikan No. 1"})
    assert amended["version"] == before["version"] + 1 and amended["address"]["street"] == "Jl. Perbaikan No. 1"
    assert [m["nik"] for m in amended["members"]] == [m["nik"] for m in kept]

    async with httpx.AsyncClient(base_url=ladder.endpoints.registry, timeout=30) as http:
        stale = await http.patch(f"/v1/households/{household['id']}", json={"version": before["version"]},
                                 headers=ladder.headers(Role.OPERATOR_DESA, VILLAGE))
        assert stale.status_code == 409 and stale.headers["content-type"] == "application/problem+json"

    again = await ladder.resubmit(proposal["id"], VILLAGE)
    assert again["status"] == "submitted" and again["round"] == 2 and again["id"] == proposal["id"]

    key = proposal["id"].encode()
    records = await read_topic(BOOTSTRAP, topics.PROPOSALS, lambda r: r.key == key, want=2)
    payloads = [json.loads(r.value)["payload"] for r in records]
    assert [p["round"] for p in payloads] == [1, 2]  # one event per round, none twice
    second = payloads[1]
    assert second["proposal_id"] == proposal["id"] and second["household_version"] == amended["version"]
    assert [m["nik"] for m in second["household"]["members"]] == [m["nik"] for m in kept]

    # The member who left is free to be entered elsewhere (their claim moved with them).
    moved = {**body, "members": [{**removed, "relation": "head"}]}
    elsewhere = await ladder._call("POST", f"{ladder.endpoints.registry}/v1/households", 201, json=moved,
                                   headers=ladder.headers(Role.OPERATOR_DESA, VILLAGE))
    assert [m["nik"] for m in elsewhere["members"]] == [removed["nik"]]

    # The case went back to `submitted`, its checks ran again on the amended household, and
    # its history shows both rounds.
    async def second_round_checked():
        case = await ladder.case(proposal["id"], VILLAGE)
        return case if case["checks_round"] == 2 and case["checks_passed"] is not None else None

    case = await ladder.wait_until(second_round_checked, "the checks of round 2")
    assert case["stage"] == "submitted" and case["round"] == 2
    assert [(h["stage"], h["round"]) for h in case["history"]] == [("submitted", 1), ("returned", 1),
                                                                   ("submitted", 2)]
    checks = await ladder.checks(proposal["id"], VILLAGE)
    assert checks["round"] == 2


async def test_resubmitting_a_proposal_that_was_not_returned_is_409_naming_its_status(ladder):
    (family,) = await ladder.unregistered_families(VILLAGE)
    household = await ladder.register(family)
    proposal = await ladder.propose(household, "BPNT")
    async with httpx.AsyncClient(base_url=ladder.endpoints.registry, timeout=30) as http:
        resp = await http.post(f"/v1/proposals/{proposal['id']}/resubmit",
                               headers=ladder.headers(Role.OPERATOR_DESA, VILLAGE))
        assert resp.status_code == 409 and resp.json()["proposal_status"] == "submitted"
        other = await http.post(f"/v1/proposals/{proposal['id']}/resubmit",
                                headers=ladder.headers(Role.OPERATOR_DESA, "32.04.06.2003"))
        assert other.status_code == 403
