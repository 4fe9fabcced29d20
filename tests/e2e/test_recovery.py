"""Failures on the real stack lose nothing: a consumer that was down catches up from its
committed offsets; events stored while Kafka was down go out once it is back, even when the
service that stored them crashed meanwhile (its outbox sweep at start finds them); a record
that comes while the database is away stays unacknowledged and is processed once it is back,
while the HTTP API answers 503 with Retry-After.

These tests stop and start parts of the shared stack through deploy/local/stack.py, and put
everything back before they end, pass or fail."""

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from siks_client.ladder import household_body
from siks_contracts import topics
from siks_kit.bus.kafka_access import client_args
from siks_contracts.enums import Role
from siks_kit.bus.lag import consumer_lag
from siks_testkit.testing import await_for, read_topic

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = f"127.0.0.1:{os.environ.get('SIKS_KAFKA_PORT', '9092')}"
VILLAGE = "33.22.02.2001"
LOGS = Path(os.environ.get("SIKS_STATE", ROOT / "var" / "stack")) / "logs"


async def stack(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "deploy" / "local" / "stack.py"), *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=240)
    assert proc.returncode == 0, f"stack.py {' '.join(args)} failed:\n{out.decode(errors='replace')[-2000:]}"


async def integration_behind() -> int:
    (row,) = [r for r in await consumer_lag(BOOTSTRAP, ("integration",)) if r.topic == topics.PROPOSALS]
    return row.behind


async def integration_caught_up() -> bool:
    return await integration_behind() == 0


async def test_a_consumer_that_was_down_catches_up_and_emits_its_result_once(ladder, fresh):
    await stack("down", "integration")
    try:
        _, household = await fresh.register(VILLAGE)
        proposal = await ladder.propose(household, "PKH")
        opened = await ladder.wait_case(proposal["id"], VILLAGE, stage="submitted")
        assert opened["checks_passed"] is None  # nobody could run the checks
        assert await integration_behind() >= 1  # what ops see: `siks lag`
    finally:
        await stack("up")
    case = await ladder.wait_case(proposal["id"], VILLAGE, deadline_s=90)
    assert case["checks_passed"] is not None
    await await_for(integration_caught_up, "integration to catch up", 30)
    key = proposal["id"].encode()
    assert len(await read_topic(BOOTSTRAP, topics.CHECKS, lambda r: r.key == key, deadline_s=5)) == 1


async def test_an_event_stored_while_kafka_is_down_survives_a_crash_and_goes_out_after(ladder, fresh):
    _, household = await fresh.register(VILLAGE)
    await stack("down", "kafka")
    try:
        # The registry takes the proposal: the event waits in the proposal's outbox, since
        # no broker answers. Then the registry dies without any shutdown.
        proposal = await ladder.propose(household, "PKH")
        await stack("kill", "registry")
    finally:
        await stack("up")  # Kafka and the registry come back; the rest reconnects
    # Within 45 s: before the relay's once-a-minute sweep, so only its sweep at start can
    # have found the event (no hint survives the crash).
    case = await ladder.wait_case(proposal["id"], VILLAGE, deadline_s=45)
    assert case["checks_passed"] is not None
    key = proposal["id"].encode()
    assert len(await read_topic(BOOTSTRAP, topics.PROPOSALS, lambda r: r.key == key, deadline_s=5)) == 1
    assert len(await read_topic(BOOTSTRAP, topics.CHECKS, lambda r: r.key == key, deadline_s=5)) == 1
    assert (await ladder.household(household["id"], VILLAGE))["id"] == household["id"]


async def test_a_record_that_comes_while_the_database_is_away_is_processed_once_it_is_back(ladder, proposed_again):
    family, household, resent = await proposed_again(VILLAGE)
    resent_id = resent["payload"]["proposal_id"]
    verification_log = LOGS / "verification.log"
    seen_before = verification_log.read_text(errors="replace").count("it will be redelivered")

    await stack("down", "mongo")
    try:
        producer = AIOKafkaProducer(**client_args(BOOTSTRAP))  # as admin
        await producer.start()
        try:
            await producer.send_and_wait(topics.PROPOSALS, json.dumps(resent).encode(), key=resent_id.encode(),
                                         headers=[("event_id", resent["event_id"].encode())])
        finally:
            await producer.stop()

        async def verification_gave_it_back() -> bool:
            return verification_log.read_text(errors="replace").count("it will be redelivered") > seen_before

        await await_for(verification_gave_it_back, "verification to leave the record unacknowledged", 60)
        body = household_body(family)
        resp = await ladder.http.post(f"{ladder.endpoints.registry}/v1/households", json=body,
                                      headers=ladder.headers(Role.OPERATOR_DESA, VILLAGE))
        assert resp.status_code == 503 and resp.headers["retry-after"] == "5"
        assert resp.headers["content-type"] == "application/problem+json"
    finally:
        await stack("up")
    case = await ladder.wait_case(resent_id, VILLAGE, deadline_s=90)
    assert case["checks_passed"] is not None  # integration, too, did it once the database was back
    assert case["household_id"] == household["id"]
