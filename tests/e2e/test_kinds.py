"""Every proposal kind does what it says, on the real stack: an ineligibility report climbs
the short ladder (verify, approve) and the next decree removes the household from the
programme's roll with the reason; Cek Bansos then says since which SK and why."""

import pytest

pytestmark = pytest.mark.stack
VILLAGE = "33.22.01.2001"  # Tajuk, Getasan, Kab. Semarang
REGENCY = "33.22"


async def test_an_ineligibility_report_removes_the_beneficiary_at_the_next_decree(ladder, fresh):
    family, household = await fresh.register(VILLAGE, desil_at_most=5)  # BPNT takes desil 1-5
    joined = await ladder.propose(household, "BPNT")
    await ladder.wait_case(joined["id"], VILLAGE)
    await ladder.verify(joined["id"], VILLAGE)
    await ladder.validate(joined["id"], VILLAGE)
    await ladder.approve(REGENCY, [joined["id"]], reference="BA-E2E-KIND-1")
    _, added = await ladder.decree_through(joined["id"], "BPNT")

    async def active_in_bpnt():
        hh = await ladder.household(household["id"], VILLAGE)
        return hh if any(p["program"] == "BPNT" and p["status"] == "active" for p in hh["programs"]) else None

    await ladder.wait_until(active_in_bpnt, "the household active in BPNT")

    report = await ladder.propose(household, "BPNT", kind="ineligibility")
    case = await ladder.wait_case(report["id"], VILLAGE)
    assert case["kind"] == "ineligibility" and case["removal_reason"] == "ineligible"
    await ladder.verify(report["id"], VILLAGE)
    refused = await ladder.http.post(f"{ladder.endpoints.verification}/v1/cases/{report['id']}/validate",
                                     json={}, headers=ladder.headers("validator_bps", REGENCY))
    assert refused.status_code == 409  # BPS has no step on this ladder
    approved = await ladder.approve(REGENCY, [report["id"]], reference="BA-E2E-KIND-2")
    assert approved["approved"] == [report["id"]]
    draft, removed = await ladder.decree_through(report["id"], "BPNT")
    assert removed["number"] != added["number"]
    rows = {r["proposal_id"]: r for r in (await ladder.beneficiaries(draft["id"]))["items"]}
    assert (rows[report["id"]]["change"], rows[report["id"]]["reason"]) == ("removed", "ineligible")

    head = next(m for m in family["members"] if m["relation"] == "head")

    async def delisted():
        answer = await ladder.public_status(head["nik"], head["name"])
        bpnt = [p for p in answer["programs"] if p["program"] == "BPNT"]
        return bpnt[0] if bpnt and bpnt[0]["status"] == "inactive" else None

    bpnt = await ladder.wait_until(delisted, "Cek Bansos showing BPNT ended")
    assert (bpnt["sk_number"], bpnt["reason"]) == (removed["number"], "ineligible")
    decreed = await ladder.wait_case(report["id"], VILLAGE, stage="decreed")
    assert [h["stage"] for h in decreed["history"]] == ["submitted", "verified", "approved", "decreed"]
