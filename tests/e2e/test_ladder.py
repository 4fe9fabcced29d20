"""Point 5 of the foundation on the real stack: one household climbs the whole ladder."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from siks_client.ladder import LadderError
from siks_contracts.enums import Role

pytestmark = pytest.mark.stack
VILLAGE = "33.22.01.2001"  # Tajuk, Getasan, Kab. Semarang
REGENCY = "33.22"


async def test_one_household_climbs_from_operator_to_decree_and_cek_bansos(ladder, fresh):
    family, household = await fresh.register(VILLAGE)
    proposal = await ladder.propose(household, "PKH")
    assert proposal["status"] == "submitted" and proposal["household_id"] == household["id"]

    case = await ladder.wait_case(proposal["id"], VILLAGE)
    assert case["stage"] == "submitted" and case["checks_passed"] is True
    checks = await ladder.checks(proposal["id"], VILLAGE)
    assert {c["name"]: c["status"] for c in checks["checks"]} == {"nik": "passed", "region": "passed",
                                                                  "dukcapil": "passed", "dtsen": "passed"}
    assert checks["desil"] == family["desil"] and checks["round"] == 1

    assert (await ladder.verify(proposal["id"], VILLAGE))["stage"] == "verified"
    assert (await ladder.validate(proposal["id"], VILLAGE, desil=family["desil"]))["stage"] == "validated"
    approval = await ladder.approve(REGENCY, [proposal["id"]], reference="BA-E2E-001")
    assert approval["approved"] == [proposal["id"]]

    schedule = await ladder.schedule()
    period = datetime.fromisoformat(schedule["now"]).astimezone(ZoneInfo("Asia/Jakarta")).strftime("%Y-%m")

    async def drafted_with_our_case():
        # The approval reaches the decree service over Kafka; draft once it is there.
        try:
            draft = await ladder.draft_decree("PKH", period)
        except LadderError as exc:
            problem = json.loads(str(exc).split(": ", 1)[1])
            if problem.get("decree_id"):  # a draft left open by someone else: issue it, go on
                await ladder.issue_decree(problem["decree_id"])
            elif "no approved" not in problem["detail"]:
                raise
            return None
        listed = await ladder.beneficiaries(draft["id"])
        if any(b["proposal_id"] == proposal["id"] for b in listed["items"]):
            return draft
        await ladder.issue_decree(draft["id"])  # other people's cases only: issue, try again
        return None

    draft = await ladder.wait_until(drafted_with_our_case, "a draft holding our approved case")
    issued = await ladder.issue_decree(draft["id"])
    assert issued["status"] == "issued" and issued["number"].endswith(f"/HUK/{period[:4]}")
    assert issued["count"] >= 1 and issued["content_hash"] == draft["content_hash"]
    sheet = await ladder.http.get(f"{ladder.endpoints.decree}/v1/decrees/{draft['id']}/beneficiaries",
                                  params={"format": "xlsx"}, headers=ladder.headers(Role.MENSOS))
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"  # an XLSX is a zip

    decreed = await ladder.wait_case(proposal["id"], VILLAGE, stage="decreed")
    assert [h["stage"] for h in decreed["history"]] == ["submitted", "verified", "validated", "approved", "decreed"]

    async def beneficiary():
        hh = await ladder.household(household["id"], VILLAGE)
        return hh if hh["status"] == "beneficiary" else None

    hh = await ladder.wait_until(beneficiary, "the registry marking the household a beneficiary")
    assert hh["programs"][0]["decree_number"] == issued["number"]

    head = next(m for m in family["members"] if m["relation"] == "head")

    async def public():
        status = await ladder.public_status(head["nik"], head["name"])
        return status if status["status"] == "beneficiary" else None

    status = await ladder.wait_until(public, "Cek Bansos showing the head as a beneficiary")
    assert status["nik"] != head["nik"] and "*" in status["nik"] and "*" in status["name"]
    assert {"program": "PKH", "period": period, "decree_number": issued["number"], "status": "active"} in status["programs"]


async def test_bad_input_on_the_real_stack_is_refused_and_nothing_is_stored(ladder, fresh):
    family, household = await fresh.register("33.22.02.2001")
    body = {"kk_number": family["kk_number"], "region_code": "33.22.02.2001", "address": family["address"],
            "members": [{"nik": "3322021313800001", "name": "X", "sex": "M", "birth_date": "1980-13-13",
                         "relation": "head"}]}
    headers = ladder.headers("operator_desa", "33.22.02.2001")
    async with httpx.AsyncClient(base_url=ladder.endpoints.registry) as http:
        bad = await http.post("/v1/households", json=body, headers=headers)
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert (await http.post("/v1/households", json=body)).status_code == 401
        other = await http.post("/v1/households", json=body, headers=ladder.headers("operator_desa", "33.22.01.2001"))
        assert other.status_code in (403, 422)
        found = await http.get("/v1/households", params={"nik": "3322021313800001"},
                               headers=ladder.headers("auditor"))
        assert found.json()["items"] == []
        still = await http.get(f"/v1/households/{household['id']}", headers=headers)
        assert still.status_code == 200 and still.json()["version"] == 1
