"""On real Kafka: a redelivered event changes nothing and emits nothing twice; a poison
message goes to the dead-letter topic with its reason and the consumers go on."""

import os
import uuid

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from siks_contracts import topics
from siks_kit.bus.kafka_access import client_args
from siks_testkit.testing import await_for, read_topic

pytestmark = pytest.mark.stack
BOOTSTRAP = f"127.0.0.1:{os.environ.get('SIKS_KAFKA_PORT', '9092')}"
VILLAGE = "32.01.03.2001"


async def _records(topic: str, match, deadline_s: float = 30.0, want: int = 1) -> list:
    return await read_topic(BOOTSTRAP, topic, match, deadline_s=deadline_s, want=want)


async def _consumed_past(group: str, tp: TopicPartition, offset: int, deadline_s: float = 30.0) -> None:
    admin = AIOKafkaAdminClient(**client_args(BOOTSTRAP))
    await admin.start()
    try:
        async def committed_past() -> bool:
            committed = (await admin.list_consumer_group_offsets(group)).get(tp)
            return committed is not None and committed.offset > offset

        await await_for(committed_past, f"{group} to consume offset {offset} of {tp}", deadline_s)
    finally:
        await admin.close()


async def test_redelivered_proposal_changes_nothing_and_emits_nothing_twice(ladder, fresh):
    _, household = await fresh.register(VILLAGE)
    proposal = await ladder.propose(household, "PKH")
    before = await ladder.wait_case(proposal["id"], VILLAGE)
    checks_before = await ladder.checks(proposal["id"], VILLAGE)

    key = proposal["id"].encode()
    (original,) = await _records(topics.PROPOSALS, lambda r: r.key == key)
    producer = AIOKafkaProducer(**client_args(BOOTSTRAP))  # as admin
    await producer.start()
    try:
        meta = await producer.send_and_wait(topics.PROPOSALS, original.value, key=original.key,
                                            headers=list(original.headers))
    finally:
        await producer.stop()
    tp = TopicPartition(meta.topic, meta.partition)
    await _consumed_past("integration", tp, meta.offset)
    await _consumed_past("verification", tp, meta.offset)

    after = await ladder.case(proposal["id"], VILLAGE)
    assert after["history"] == before["history"] and after["version"] == before["version"]
    assert await ladder.checks(proposal["id"], VILLAGE) == checks_before
    checks_events = await _records(topics.CHECKS, lambda r: r.key == key, deadline_s=5)
    case_events = await _records(topics.CASES, lambda r: r.key == key, deadline_s=5)
    assert len(checks_events) == 1
    assert case_events == []  # an opened case says nothing: the proposal_submitted said it


async def test_poison_message_is_dead_lettered_with_reason_and_consumers_go_on(ladder, fresh):
    marker = str(uuid.uuid4())
    producer = AIOKafkaProducer(**client_args(BOOTSTRAP))  # as admin
    await producer.start()
    try:
        await producer.send_and_wait(topics.PROPOSALS, b'{"this is": "not an envelope"}', key=marker.encode(),
                                     headers=[("event_id", marker.encode())])
    finally:
        await producer.stop()
    dead = await _records(topics.dead_letter(topics.PROPOSALS), lambda r: r.key == marker.encode(), want=2)
    by_consumer = {dict(r.headers)["dead_letter_consumer"].decode(): dict(r.headers) for r in dead}
    assert set(by_consumer) == {"integration", "verification"}
    assert all(b"invalid message" in h["dead_letter_reason"] for h in by_consumer.values())

    _, household = await fresh.register(VILLAGE)  # the consumers went on past the poison
    proposal = await ladder.propose(household, "PKH")
    assert (await ladder.wait_case(proposal["id"], VILLAGE))["checks_passed"] is not None
