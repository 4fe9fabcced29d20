"""An outside system that is down delays a case; it never fails it. On the real stack:
Dukcapil's outage knob on, a household registered and proposed, its checks wait on Dukcapil
(pending, ChecksPending on the bus), the outage ends, and the service's own retrier finishes
the checks (ChecksCompleted with DTSEN's desil) so the case's checks pass; the same when
integration restarts while the checks wait (what waits is in the database). The knobs are
put back whatever happens."""

import asyncio
import os
import sys
from pathlib import Path

import pytest
from siks_contracts import topics
from siks_contracts.enums import Role
from siks_contracts.regions import regency_of
from siks_testkit.testing import await_for, read_topic

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = f"127.0.0.1:{os.environ.get('SIKS_KAFKA_PORT', '9092')}"
VILLAGE = "32.01.03.2001"


async def knob(ladder, system: str, **knobs) -> None:
    r = await ladder.http.put(f"{ladder.endpoints.standins}/_knobs/{system}", json=knobs)
    assert r.status_code == 200, r.text


async def reset_knobs(ladder) -> None:
    r = await ladder.http.delete(f"{ladder.endpoints.standins}/_knobs")
    assert r.status_code == 200 and not r.json()["dukcapil"]["outage"]


async def stack(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "deploy" / "local" / "stack.py"), *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=240)
    assert proc.returncode == 0, f"stack.py {' '.join(args)} failed:\n{out.decode(errors='replace')[-2000:]}"


async def checks(ladder, proposal_id: str) -> dict | None:
    try:
        r = await ladder.http.get(f"{ladder.endpoints.integration}/v1/checks/{proposal_id}",
                                  headers=ladder.headers(Role.SUPERVISOR_KABKOTA, regency_of(VILLAGE)))
    except Exception:  # noqa: BLE001 - integration restarting: not there yet
        return None
    return r.json() if r.status_code == 200 else None


async def propose_during_outage(ladder, fresh) -> tuple[dict, dict]:
    """Dukcapil down, a fresh household proposed; returns (family, proposal) once its checks
    are stored waiting on Dukcapil."""
    await knob(ladder, "dukcapil", outage=True)
    family, household = await fresh.register(VILLAGE)
    proposal = await ladder.propose(household, "PKH")
    pending = await await_for(lambda: checks(ladder, proposal["id"]), "the check set to be stored", deadline_s=30)
    assert pending["passed"] is None and pending["waiting_on"] == ["dukcapil"] and pending["round"] == 1
    statuses = {c["name"]: c["status"] for c in pending["checks"]}
    assert statuses == {"nik": "passed", "region": "passed", "dukcapil": "pending", "dtsen": "passed"}
    assert pending["desil"] == family["desil"]  # DTSEN answered all the same

    async def case_waiting_on_dukcapil():
        case = await ladder.case(proposal["id"], VILLAGE)
        return case if case and case["waiting_on"] == ["dukcapil"] else None

    case = await await_for(case_waiting_on_dukcapil, "the case to show it waits on Dukcapil", deadline_s=30)
    assert case["checks_passed"] is None and case["stage"] == "submitted"  # waiting, not failed
    return family, proposal


async def completes(ladder, proposal_id: str) -> None:
    async def completed():
        body = await checks(ladder, proposal_id)
        return body if body and body["passed"] is not None else None

    done = await await_for(completed, "the checks to complete after the outage", deadline_s=90)
    assert done["passed"] is True and done["waiting_on"] == []
    assert {c["name"]: c["status"] for c in done["checks"]}["dukcapil"] == "passed"
    case = await ladder.wait_case(proposal_id, VILLAGE, deadline_s=30)
    assert case["checks_passed"] is True and case["waiting_on"] == ["supervisor_kabkota"]
    key = proposal_id.encode()
    records = await read_topic(BOOTSTRAP, topics.CHECKS, lambda r: r.key == key, want=2)
    types = [dict(r.headers)["event_type"].decode() for r in records]
    assert types == ["integration.checks_pending.v1", "integration.checks_completed.v1"]


async def test_a_dukcapil_outage_leaves_the_checks_pending_and_they_complete_once_it_is_back(ladder, fresh):
    try:
        _, proposal = await propose_during_outage(ladder, fresh)
        await knob(ladder, "dukcapil", outage=False)
        await completes(ladder, proposal["id"])
    finally:
        await reset_knobs(ladder)


async def test_checks_pending_when_integration_restarts_complete_after_it(ladder, fresh):
    try:
        _, proposal = await propose_during_outage(ladder, fresh)
        await stack("down", "integration")
        await knob(ladder, "dukcapil", outage=False)
        await stack("up")  # a new process: only the database knows what waits
        await completes(ladder, proposal["id"])
    finally:
        await stack("up")
        await reset_knobs(ladder)
