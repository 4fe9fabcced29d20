"""A bus only its owners can write, on the real broker: SASL/SCRAM authentication and the
KRaft StandardAuthorizer's ACLs (deploy/local/acls.py) refuse anonymous clients and writes by
anyone but a topic's owner; the integrator reads every public topic and writes none; and an
event forged by someone who can write anyway (a super user) is refused by every consumer."""

import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (GroupAuthorizationFailedError, KafkaConnectionError, KafkaError,
                             TopicAuthorizationFailedError)
from siks_contracts import topics
from siks_contracts.actor import Actor
from siks_contracts.enums import Role
from siks_contracts.events import Beneficiary, DecreeIssued
from siks_kit.bus.kafka_access import KafkaAccess, for_tools
from siks_testkit.testing import envelope, read_topic

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "local"))
import acls  # noqa: E402

pytestmark = pytest.mark.stack
BOOTSTRAP = f"127.0.0.1:{os.environ.get('SIKS_KAFKA_PORT', '9092')}"
VILLAGE = "32.01.03.2001"


def principal(name: str) -> KafkaAccess:
    return for_tools(BOOTSTRAP, name)  # the local stack's generated credentials of that principal


async def _produce(access: KafkaAccess | dict, topic: str, value: bytes = b"{}", **kw) -> None:
    args = access.client_args() if isinstance(access, KafkaAccess) else access
    producer = AIOKafkaProducer(**args, request_timeout_ms=10_000, **kw)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"probe")
    finally:
        await producer.stop()


async def test_the_brokers_acls_are_the_table_acls_py_derives():
    admin = AIOKafkaAdminClient(**principal("admin").client_args())
    await admin.start()
    try:
        have = await acls.current(admin)
    finally:
        await admin.close()
    want = acls.wanted(acls.consumed_topics())
    assert {a for a in have if a.principal in acls.managed_principals()} == want


async def test_the_registry_cannot_produce_to_the_decrees_topic():
    # Idempotent, as the services produce: starting needs WRITE on some topic (KIP-679), and
    # the registry has that; the decrees topic is not among its topics.
    with pytest.raises(TopicAuthorizationFailedError):
        await _produce(principal("registry"), topics.DECREES, enable_idempotence=True, acks="all")


async def test_an_anonymous_client_cannot_connect():
    with pytest.raises(KafkaConnectionError):
        await _produce({"bootstrap_servers": BOOTSTRAP}, topics.DECREES)


async def test_a_wrong_password_cannot_connect():
    impostor = KafkaAccess(BOOTSTRAP, "SASL_PLAINTEXT", "SCRAM-SHA-512", "registry", "not-the-password")
    with pytest.raises(KafkaError):
        await _produce(impostor, topics.PROPOSALS)


async def test_the_integrator_reads_every_public_topic_and_writes_none(fresh):
    await fresh.register(VILLAGE)  # at least one record on the households topic
    integrator = principal("integrator")
    records = await read_topic(integrator, topics.HOUSEHOLDS, lambda r: True, deadline_s=20,
                               group=f"integrator-test-{uuid.uuid4().hex[:8]}")
    assert records and all(r.topic == topics.HOUSEHOLDS for r in records)
    for topic in topics.ALL:
        with pytest.raises(TopicAuthorizationFailedError):
            await _produce(integrator, topic)


async def test_the_integrator_uses_only_groups_named_integrator():
    consumer = AIOKafkaConsumer(topics.HOUSEHOLDS, **principal("integrator").client_args(),
                                group_id="registry", auto_offset_reset="earliest")
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await consumer.start()  # joining the group is refused
    finally:
        await consumer.stop()


async def test_a_forged_decree_is_dead_lettered_by_every_consumer_and_changes_nothing(ladder, fresh):
    family, household = await fresh.register(VILLAGE)  # never proposed, never decreed
    head = family["members"][0]
    household_before = await ladder.household(household["id"], VILLAGE)
    status_before = await ladder.public_status(head["nik"], head["name"])

    # Someone holding a super user's credentials writes a decree in the registry's name.
    forged = envelope(DecreeIssued(
        decree_id=str(uuid.uuid4()), number="SK-FORGED", program="PKH", period="2026-12",
        issued_at=datetime(2026, 12, 16, 2, tzinfo=UTC), count=1, content_hash="0" * 64,
        beneficiaries=[Beneficiary(proposal_id=str(uuid.uuid4()), household_id=household["id"],
                                   region_code=VILLAGE)]),
        producer="registry", actor=Actor(sub="forger", role=Role.MENSOS, region=None), region_code=None)
    producer = AIOKafkaProducer(**principal("admin").client_args())
    await producer.start()
    try:
        await producer.send_and_wait(topics.DECREES, forged.model_dump_json().encode(), key=household["id"].encode(),
                                     headers=[("event_id", str(forged.event_id).encode()),
                                              ("event_type", forged.type.encode())])
    finally:
        await producer.stop()

    consumers = {s for s, consumed in acls.consumed_topics().items() if topics.DECREES in consumed}
    assert len(consumers) >= 2
    event_id = str(forged.event_id).encode()
    parked = await read_topic(BOOTSTRAP, topics.dead_letter(topics.DECREES),
                              lambda r: dict(r.headers).get("event_id") == event_id, want=len(consumers), deadline_s=60)
    by = {dict(r.headers)["dead_letter_consumer"].decode(): dict(r.headers)["dead_letter_reason"].decode()
          for r in parked}
    assert set(by) == consumers
    assert all(reason == f"refused: producer 'registry' is not {topics.DECREES}'s owner (decree)"
               for reason in by.values())
    assert await ladder.household(household["id"], VILLAGE) == household_before
    assert await ladder.public_status(head["nik"], head["name"]) == status_before
