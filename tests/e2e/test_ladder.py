"""Point 5 of the foundation on the real stack: one household climbs the whole ladder."""


import httpx
import pytest
from siks_client.ladder import household_body
from siks_contracts import topics
from siks_contracts.enums import Role
from siks_testkit.testing import read_topic

pytestmark = pytest.mark.stack
VILLAGE = "33.22.01.2001"  # Tajuk, Getasan, Kab. Semarang
REGENCY = "33.22"


async def test_one_household_climbs_from_operator_to_decree_and_cek_bansos(ladder, fresh, kafka_bootstrap):
    family, household = await fresh.register(VILLAGE, desil_at_most=4)  # PKH takes desil 1-4
    proposal = await ladder.propose(household, "PKH")
    assert proposal["status"] == "submitted" and proposal["household_id"] == household["id"]

    case = await ladder.wait_case(proposal["id"], VILLAGE)
    assert case["stage"] == "submitted" and case["checks_passed"] is True
    assert case["dtsen_desil"] == family["desil"] and case["waiting_on"] == ["supervisor_kabkota"]
    checks = await ladder.checks(proposal["id"], VILLAGE)
    assert {c["name"]: c["status"] for c in checks["checks"]} == {"nik": "passed", "region": "passed",
                                                                  "dukcapil": "passed", "dtsen": "passed"}

    assert (await ladder.verify(proposal["id"], VILLAGE))["stage"] == "verified"
    assert (await ladder.validate(proposal["id"], VILLAGE))["stage"] == "validated"  # confirms DTSEN's desil
    approval = await ladder.approve(REGENCY, [proposal["id"]], reference="BA-E2E-001")
    assert approval["approved"] == [proposal["id"]]
    period = approval["period"]

    draft, issued = await ladder.decree_through(proposal["id"], "PKH")
    assert issued["status"] == "issued" and issued["number"].endswith("/HUK/2026")
    assert issued["count"] >= 1 and issued["content_hash"] == draft["content_hash"]
    assert (await ladder.issue_decree(draft["id"]))["number"] == issued["number"]  # issuing twice is harmless
    listed = await ladder.beneficiaries(draft["id"])
    ours = next(b for b in listed["items"] if b["proposal_id"] == proposal["id"])
    assert ours["change"] == "added"
    sheet = await ladder.http.get(f"{ladder.endpoints.decree}/v1/decrees/{draft['id']}/beneficiaries",
                                  params={"format": "xlsx"}, headers=ladder.headers(Role.MENSOS))
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"  # an XLSX is a zip

    # On Kafka: the issued event carries no list; this household's entry is an event of its own,
    # keyed by the household, with no NIK or name in it.
    def said(record, type_):
        return dict(record.headers or ()).get("event_type") == type_.encode()
    (entry,) = await read_topic(kafka_bootstrap, topics.DECREES, lambda r: said(r, "decree.beneficiary_status_changed.v1")
                                and r.key == household["id"].encode())
    assert proposal["id"].encode() in entry.value and issued["number"].encode() in entry.value
    assert not any(m["nik"].encode() in entry.value or m["name"].encode() in entry.value for m in family["members"])
    (summary,) = await read_topic(kafka_bootstrap, topics.DECREES, lambda r: r.key == draft["id"].encode()
                                  and said(r, "decree.decree_issued.v2") and issued["number"].encode() in r.value)
    assert b'"list_url"' in summary.value and b'"beneficiaries"' not in summary.value

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
    assert head["nik"] not in str(status) and "*" in status["name_masked"]
    (pkh,) = [p for p in status["programs"] if p["program"] == "PKH"]
    assert (pkh["status"], pkh["sk_number"], pkh["period"]) == ("active", issued["number"], draft["period"])
    assert draft["period"] >= period


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
        # A valid body, from an operator of another village: refused for scope alone.
        valid = household_body(family)
        other = await http.post("/v1/households", json=valid, headers=ladder.headers("operator_desa", "33.22.01.2001"))
        assert other.status_code == 403 and other.headers["content-type"] == "application/problem+json"
        found = await http.get("/v1/households", params={"nik": "3322021313800001"},
                               headers=ladder.headers("auditor"))
        assert found.json()["items"] == []
        still = await http.get(f"/v1/households/{household['id']}", headers=headers)
        assert still.status_code == 200 and still.json()["version"] == 1
