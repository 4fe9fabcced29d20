"""On real Kafka: `siks dead-letters` lists what the consumers parked (reasons, not values) and
replays it to its topic once; the replayed event then goes its normal way."""

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from siks_contracts import topics
from siks_kit.bus.kafka_access import client_args
from siks_testkit.testing import read_topic

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = f"127.0.0.1:{os.environ.get('SIKS_KAFKA_PORT', '9092')}"
VILLAGE = "32.01.02.2001"


async def siks(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(str(ROOT / ".venv" / "bin" / "siks"), "dead-letters", *args,
                                                "--bootstrap", BOOTSTRAP, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, out.decode(errors="replace")
    return out.decode()


def _line_of(listing: str, event_id: str) -> list[str]:
    return [line for line in listing.splitlines() if event_id in line]


async def test_a_parked_proposal_is_listed_without_its_data_and_replayed_once(ladder, proposed_again):
    # Parked as if verification had failed on it three times (the fix since deployed), and
    # as integration parks its own copy.
    family, household, parked = await proposed_again(VILLAGE)
    parked_id, event_id = parked["payload"]["proposal_id"], parked["event_id"]
    value = json.dumps(parked).encode()
    producer = AIOKafkaProducer(**client_args(BOOTSTRAP))  # as admin
    await producer.start()
    try:
        for consumer in ("verification", "integration"):
            await producer.send_and_wait(topics.dead_letter(topics.PROPOSALS), value, key=parked_id.encode(), headers=[
                ("event_id", event_id.encode()), ("event_type", parked["type"].encode()),
                ("dead_letter_reason", b"handler failed after 3 attempts: RuntimeError"),
                ("dead_letter_source", topics.PROPOSALS.encode()), ("dead_letter_consumer", consumer.encode())])
    finally:
        await producer.stop()

    listed = _line_of(await siks("list", "--topic", topics.PROPOSALS), event_id)
    assert len(listed) == 2 and all("waiting" in line and "RuntimeError" in line for line in listed)
    assert not any(m["nik"] in line or m["name"] in line for m in family["members"] for line in listed)
    assert await ladder.case(parked_id, VILLAGE) is None

    assert "replayed " in await siks("replay", "--topic", topics.PROPOSALS)
    case = await ladder.wait_case(parked_id, VILLAGE)
    assert case["checks_passed"] is not None and case["household_id"] == household["id"]
    replayed = await read_topic(BOOTSTRAP, topics.PROPOSALS, lambda r: r.key == parked_id.encode(), deadline_s=5)
    assert len(replayed) == 1  # two parked copies, one replay
    assert dict(replayed[0].headers)["replayed_from"].startswith(topics.dead_letter(topics.PROPOSALS).encode())

    listed = _line_of(await siks("list", "--topic", topics.PROPOSALS), event_id)
    assert len(listed) == 2 and all("handled" in line for line in listed)
    assert "replayed 0 dead letter(s)" in await siks("replay", "--topic", topics.PROPOSALS)


async def test_unreadable_dead_letters_stay_out_of_a_replay_unless_asked():
    marker = str(uuid.uuid4())
    producer = AIOKafkaProducer(**client_args(BOOTSTRAP))  # as admin
    await producer.start()
    try:
        await producer.send_and_wait(topics.dead_letter(topics.CASES), b"{not json", key=marker.encode(), headers=[
            ("event_id", marker.encode()), ("dead_letter_reason", b"invalid message: (root): Invalid JSON"),
            ("dead_letter_source", topics.CASES.encode()), ("dead_letter_consumer", b"decree")])
    finally:
        await producer.stop()
    out = await siks("replay", "--topic", topics.CASES)
    assert "replayed 0 dead letter(s)" in out and "1 unreadable left out" in out
    assert await read_topic(BOOTSTRAP, topics.CASES, lambda r: r.key == marker.encode(), deadline_s=3) == []
    assert "handled" in _line_of(await siks("list", "--topic", topics.CASES), marker)[0]
