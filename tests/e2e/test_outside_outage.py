"""An outside system that is down delays a case; it never fails it. On the real stack:
Dukcapil's outage knob on, a household registered and proposed, its checks wait on Dukcapil
(pending, ChecksPending on the bus), the outage ends, and the service's own retrier finishes
the checks (ChecksCompleted with DTSEN's desil) so the case's checks pass. The knobs are put
back whatever happens."""

import os

import pytest
from siks_contracts import topics
from siks_contracts.enums import Role
from siks_contracts.regions import regency_of
from siks_kit.testing import await_for, read_topic

pytestmark = pytest.mark.stack
BOOTSTRAP = f"127.0.0.1:{os.environ.get('SIKS_KAFKA_PORT', '9092')}"
VILLAGE = "32.01.03.2001"


async def knob(ladder, system: str, **knobs) -> None:
    r = await ladder.http.put(f"{ladder.endpoints.standins}/_knobs/{system}", json=knobs)
    assert r.status_code == 200, r.text


async def test_a_dukcapil_outage_leaves_the_checks_pending_and_they_complete_once_it_is_back(ladder, fresh):
    try:
        await knob(ladder, "dukcapil", outage=True)
        family, household = await fresh.register(VILLAGE)
        proposal = await ladder.propose(household, "PKH")

        async def checks_pending():
            r = await ladder.http.get(f"{ladder.endpoints.integration}/v1/checks/{proposal['id']}",
                                      headers=ladder.headers(Role.SUPERVISOR_KABKOTA, regency_of(VILLAGE)))
            return r.json() if r.status_code == 200 else None

        pending = await await_for(checks_pending, "the check set to be stored", deadline_s=30)
        assert pending["passed"] is None and pending["waiting_on"] == ["dukcapil"]
        statuses = {c["name"]: c["status"] for c in pending["checks"]}
        assert statuses == {"nik": "passed", "region": "passed", "dukcapil": "pending", "dtsen": "passed"}
        assert pending["desil"] == family["desil"]  # DTSEN answered all the same

        case = await await_for(lambda: ladder.case(proposal["id"], VILLAGE), "the case", deadline_s=30)
        assert case["checks_passed"] is None  # waiting, not failed

        await knob(ladder, "dukcapil", outage=False)

        async def completed():
            body = await checks_pending()
            return body if body and body["passed"] is not None else None

        done = await await_for(completed, "the checks to complete after the outage", deadline_s=90)
        assert done["passed"] is True and done["waiting_on"] == [] and done["round"] == 1
        assert {c["name"]: c["status"] for c in done["checks"]}["dukcapil"] == "passed"
        case = await ladder.wait_case(proposal["id"], VILLAGE, deadline_s=30)
        assert case["checks_passed"] is True

        key = proposal["id"].encode()
        records = await read_topic(BOOTSTRAP, topics.CHECKS, lambda r: r.key == key, want=2)
        types = [dict(r.headers)["event_type"].decode() for r in records]
        assert types == ["integration.checks_pending.v1", "integration.checks_completed.v1"]
    finally:
        r = await ladder.http.delete(f"{ladder.endpoints.standins}/_knobs")
        assert r.status_code == 200 and not r.json()["dukcapil"]["outage"]
