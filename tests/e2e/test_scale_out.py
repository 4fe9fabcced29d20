"""Scale-out on the real stack: a second replica of verification (deploy/local/stack.py
`up verification-2`: same Kafka principal, consumer group and database, its own port) joins
the group; the partitions of the proposals topic are split between the two; proposals pushed
through the registry are each processed once, by one replica or the other, and both work;
then the second replica is killed (SIGKILL, as a crash) in the middle of more proposals, and
the survivor takes every partition and everything sent arrives, once.

Counts: `siks_consumer_records_total{topic, partition}` on each replica's /metrics counts the
records it processed and acknowledged. While the group is stable, nothing is redelivered, so
the two replicas' counts add up to exactly the records the topic grew by. After the kill,
whatever the dead replica had taken but not committed comes again to the survivor
(at-least-once), so there the effects are asserted: every case exists, submitted once.

The extra replica is stopped in a `finally`, so the rest of the suite finds the stack as it was."""

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from prometheus_client.parser import text_string_to_metric_families
from siks_client.ladder import household_body
from siks_contracts import topics
from siks_contracts.enums import Role
from siks_kit.bus.kafka_access import client_args
from siks_kit.bus.lag import consumer_lag
from siks_kit.bus.offsets import partitions_of
from siks_testkit.testing import await_for

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = f"127.0.0.1:{os.environ.get('SIKS_KAFKA_PORT', '9092')}"
GROUP = "verification"
REPLICA = "verification-2"
PORT = int(os.environ.get("SIKS_VERIFICATION_PORT", "8002"))
REPLICA_PORT = int(os.environ.get("SIKS_VERIFICATION_2_PORT", str(PORT + 100)))  # stack.py's default
URLS = {GROUP: f"http://127.0.0.1:{PORT}", REPLICA: f"http://127.0.0.1:{REPLICA_PORT}"}
VILLAGE = "32.04.06.2003"
FIRST, SECOND = 30, 30  # proposals pushed with two replicas, then across the kill


async def stack(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "deploy" / "local" / "stack.py"), *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=240)
    assert proc.returncode == 0, f"stack.py {' '.join(args)} failed:\n{out.decode(errors='replace')[-2000:]}"


async def assignment(topic: str) -> list[set[int]]:
    """The partitions of `topic` held by each member of the group that holds any, as the
    group coordinator tells it (one member per replica: each replica has one consumer per topic)."""
    admin = AIOKafkaAdminClient(**client_args(BOOTSTRAP))
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([GROUP])
    finally:
        await admin.close()
    (group,) = response.groups
    error_code, state, members = group[0], group[2], group[5]
    if error_code or state != "Stable":
        return []
    held = []
    for member in members:
        raw = member[-1]  # member_assignment: the last field in every version
        if not raw:
            continue
        parts = {p for tp in ConsumerProtocolMemberAssignment.decode(raw).partitions() if tp.topic == topic
                 for p in [tp.partition]}
        if parts:
            held.append(parts)
    return held


def shape(held: list[set[int]]) -> list[list[int]]:
    return sorted(sorted(h) for h in held)


async def topic_end() -> dict[int, int]:
    consumer = AIOKafkaConsumer(**client_args(BOOTSTRAP), enable_auto_commit=False)
    await consumer.start()
    try:
        admin = AIOKafkaAdminClient(**client_args(BOOTSTRAP))
        await admin.start()
        try:
            tps = await partitions_of(admin, topics.PROPOSALS)
        finally:
            await admin.close()
        return {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def handled(http: httpx.AsyncClient, name: str) -> dict[int, float]:
    """Records of the proposals topic this replica processed and acknowledged, per partition."""
    text = (await http.get(f"{URLS[name]}/metrics")).text
    return {int(s.labels["partition"]): s.value for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "siks_consumer_records_total" and s.labels.get("topic") == topics.PROPOSALS}


def delta(after: dict[int, float], before: dict[int, float]) -> dict[int, float]:
    return {p: n - before.get(p, 0) for p, n in after.items() if n - before.get(p, 0)}


async def caught_up() -> bool:
    rows = [r for r in await consumer_lag(BOOTSTRAP, (GROUP,)) if r.topic == topics.PROPOSALS]
    if not rows:  # the group never committed on the topic: caught up only if it is empty
        return not any((await topic_end()).values())
    return rows[0].behind == 0


async def push(ladder, families: list[dict]) -> list[str]:
    """Registers the families and proposes each for PKH, through the registry's batch
    endpoints (one request each); returns the proposal ids."""
    headers = ladder.headers(Role.OPERATOR_DESA, VILLAGE)
    registry = ladder.endpoints.registry
    resp = await ladder.http.post(f"{registry}/v1/households/batch", headers=headers,
                                  json={"items": [household_body(f) for f in families]})
    assert resp.status_code == 200, resp.text[:500]
    household_ids = [r["id"] for r in resp.json()["results"] if r.get("id")]
    assert len(household_ids) == len(families), resp.text[:1000]
    resp = await ladder.http.post(f"{registry}/v1/proposals/batch", headers=headers, json={"items": [
        {"household_id": h, "kind": "dtks_new", "program": "PKH"} for h in household_ids]})
    assert resp.status_code == 200, resp.text[:500]
    proposal_ids = [r["id"] for r in resp.json()["results"] if r.get("id")]
    assert len(proposal_ids) == len(families), resp.text[:1000]
    return proposal_ids


async def submitted_once(ladder, proposal_ids: list[str]) -> None:
    async def all_opened() -> bool:
        cases = await asyncio.gather(*(ladder.case(p, VILLAGE) for p in proposal_ids))
        return all(cases)

    await await_for(all_opened, f"{len(proposal_ids)} cases to open", 90)
    for pid in proposal_ids:
        case = await ladder.case(pid, VILLAGE)
        stages = [h["stage"] for h in case["history"]]
        assert stages.count("submitted") == 1, (pid, stages)


async def test_two_replicas_split_the_partitions_and_one_carries_on_after_the_other_is_killed(ladder):
    families = await ladder.unregistered_families(VILLAGE, want=FIRST + SECOND)
    partitions = set(await topic_end())
    assert len(partitions) >= 2, "a split needs SIKS_TOPIC_PARTITIONS >= 2"
    async with httpx.AsyncClient(timeout=10) as http:
        await stack("up", REPLICA)
        try:
            # The group rebalances: each replica's proposals consumer holds some partitions.
            async def split() -> list[set[int]] | None:
                held = await assignment(topics.PROPOSALS)
                if len(held) == 2 and all(held) and set.union(*held) == partitions and not held[0] & held[1]:
                    return held
                return None

            held = await await_for(split, "the two replicas to split the proposals partitions", 60)
            await await_for(caught_up, "verification to catch up before counting", 60)
            before = {name: await handled(http, name) for name in URLS}
            end_before = await topic_end()

            first = await push(ladder, families[:FIRST])
            await submitted_once(ladder, first)
            await await_for(caught_up, "verification to catch up", 60)
            # No rebalance since `before`: nothing came twice, so the counts are exact.
            assert shape(await assignment(topics.PROPOSALS)) == shape(held)
            sent = delta(await topic_end(), end_before)
            by_replica = {name: delta(await handled(http, name), before[name]) for name in URLS}
            print(f"\nsplit {held}; sent per partition {sent}; handled per replica {by_replica}")
            assert all(by_replica.values()), f"one replica did nothing: {by_replica}"
            assert not set(by_replica[GROUP]) & set(by_replica[REPLICA]), "a partition worked by both"
            combined = {p: by_replica[GROUP].get(p, 0) + by_replica[REPLICA].get(p, 0) for p in partitions}
            assert {p: n for p, n in combined.items() if n} == sent  # each record once, by one replica
            assert sum(sent.values()) >= FIRST

            # A crash in the middle: half the next proposals go, the replica dies, the rest go.
            survivor_before = await handled(http, GROUP)
            end_before = await topic_end()
            second = await push(ladder, families[FIRST:FIRST + SECOND // 2])
            await stack("kill", REPLICA)
            killed_at, end_at_kill = time.monotonic(), await topic_end()
            second += await push(ladder, families[FIRST + SECOND // 2:FIRST + SECOND])

            async def took_over() -> bool:
                return shape(await assignment(topics.PROPOSALS)) == shape([partitions])

            await await_for(took_over, "the survivor to take every partition", 60)
            takeover_s = time.monotonic() - killed_at
            await submitted_once(ladder, first + second)
            await await_for(caught_up, "the survivor to catch up", 60)
            end_now = await topic_end()
            sent = delta(end_now, end_before)
            survivor = delta(await handled(http, GROUP), survivor_before)
            print(f"took over {takeover_s:.1f}s after the kill; sent per partition {sent}; "
                  f"survivor handled {survivor}")
            # Everything after the kill went through the survivor, including the partitions
            # the dead replica held (whatever it had not committed comes again: at-least-once).
            orphaned = next(h for h in held if not h & set(by_replica[GROUP]))
            after_kill = delta(end_now, end_at_kill)
            assert all(survivor.get(p, 0) >= after_kill.get(p, 0) for p in orphaned), (orphaned, survivor, after_kill)
            own = set(partitions) - orphaned
            assert all(survivor.get(p, 0) >= sent.get(p, 0) for p in own), (own, survivor, sent)
        finally:
            await stack("down", REPLICA)
