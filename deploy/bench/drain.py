"""How fast one service's consumers drain a backlog of proposals: the per-partition figure
behind the capacity arithmetic in docs/operations.md.

    .venv/bin/python deploy/bench/drain.py [--records 2000] [--partition 0] [--group verification] [--pause integration]

Puts `--records` real-sized `registry.proposal_submitted.v1` envelopes (new proposal ids, as
bench.py makes them) on the proposals topic as fast as a batching producer can, all on one
partition (`--partition`) or spread by key over every partition (`--partition -1`), and times
until the consumer group `--group` has committed past the last of them. Services named with
`--pause` (default: integration, which consumes the same topic and would share the cores) are
stopped for the run and started again after it; they then work through the backlog. Then it
counts the proposals whose case (verification) or check set (integration) was stored, and
exits 1 when any is missing: a commit past a record is not proof it came to anything.

A measurement, not a test. It writes cases for synthetic proposals into the stack's database
and leaves them there: run it on a scratch stack (its own SIKS_STATE), not the one the tests use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from siks_client.ladder import Ladder
from siks_contracts import topics
from siks_kit.bus.kafka_access import client_args
from siks_kit.bus.lag import consumer_lag

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (its payloads, its CPU accounting and its handle on the local stack)

KAFKA = bench.KAFKA


async def behind(group: str) -> int | None:
    """Records of the proposals topic the group has not committed past; None: it never committed there."""
    rows = [r for r in await consumer_lag(KAFKA, (group,)) if r.topic == topics.PROPOSALS]
    return rows[0].behind if rows else None


async def drain(records: int, partition: int | None, group: str) -> dict[str, float]:
    ladder = Ladder()
    try:
        families = await ladder.families(limit=min(records, 10_000))
    finally:
        await ladder.close()
    events = [bench.proposal_event(families[i % len(families)]) for i in range(records)]
    while await behind(group) not in (0, None):  # start from a group with nothing left to do
        await asyncio.sleep(0.5)
    group_pids = {n for n in bench.stack_processes() if n == group or n.startswith(f"{group}-")}
    cpu_before = bench.cpu_seconds()
    producer = AIOKafkaProducer(**client_args(KAFKA), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    started = time.monotonic()
    try:
        for value, headers in events:
            key = json.loads(value)["payload"]["proposal_id"].encode()
            await producer.send(topics.PROPOSALS, value, key=key, partition=partition,
                                headers=[(k, v.encode()) for k, v in headers.items()])
        await producer.flush()
    finally:
        await producer.stop()
    produced = time.monotonic() - started
    while await behind(group) != 0:
        await asyncio.sleep(0.25)
    took = time.monotonic() - started
    cpu_after = bench.cpu_seconds()
    cpu = sum(cpu_after[n] - cpu_before[n] for n in group_pids if n in cpu_before and n in cpu_after)
    db_cpu = cpu_after.get("mongo", 0) - cpu_before.get("mongo", 0)
    ids = [json.loads(value)["payload"]["proposal_id"] for value, _ in events]
    return {"db_cpu_ms_per_record": 1000 * db_cpu / records, "records": records, "produce_s": produced, "drain_s": took, "records_per_s": records / took,
            "cpu_ms_per_record": 1000 * cpu / records, "replicas": len(group_pids), "stored": await stored(group, ids)}


# What each group stores per proposal: a commit past a record says it was handled, not that it
# came to anything (a dead-lettered record is committed too).
STORED_AS = {"verification": ("siks_verification", "cases"), "integration": ("siks_integration", "checks")}


async def stored(group: str, proposal_ids: list[str]) -> int | None:
    """How many of the proposals have their document in the group's database (None: unknown group)."""
    if group not in STORED_AS:
        return None
    database, collection = STORED_AS[group]
    client = AsyncMongoClient(bench.MONGO, serverSelectionTimeoutMS=5000)
    try:
        coll = client[database][collection]
        return sum([await coll.count_documents({"_id": {"$in": proposal_ids[i:i + 1000]}})
                    for i in range(0, len(proposal_ids), 1000)])
    finally:
        await client.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--partition", type=int, default=0, help="-1: spread by key over every partition")
    ap.add_argument("--group", default="verification")
    ap.add_argument("--pause", nargs="*", default=["integration"])
    args = ap.parse_args()
    paused = [n for n in args.pause if bench.STACK.recorded(n) is not None]
    bench.STACK.down(paused)
    try:
        result = asyncio.run(drain(args.records, None if args.partition < 0 else args.partition, args.group))
    finally:
        if paused:
            bench.STACK.up(paused)
    where = "all on partition %d" % args.partition if args.partition >= 0 else "spread by key"
    print(f"{args.group}: {result['records']} records ({where}), {result['replicas']} replica(s): "
          f"drained in {result['drain_s']:.1f}s (produced in {result['produce_s']:.1f}s) = "
          f"{result['records_per_s']:.1f} records/s; {result['cpu_ms_per_record']:.1f} ms CPU per record "
          f"in the group's processes, {result['db_cpu_ms_per_record']:.1f} ms in the database; "
          f"host: {os.cpu_count()} cores")
    if result["stored"] is not None:
        print(f"  stored: {result['stored']} of {result['records']} proposals have their {STORED_AS[args.group][1]} document")
    return 0 if result["stored"] in (None, result["records"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
