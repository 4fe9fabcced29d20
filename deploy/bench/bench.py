"""End-to-end throughput of the skeleton next to raw Kafka and raw database baselines.

    .venv/bin/python deploy/bench/bench.py [--households 1000] [--concurrency 32] [--out bench-results/bench.json]

A benchmark, not a test: it measures and reports, it asserts nothing about time. Needs the
local stack running with SIKS_NOW inside the bansos window (days 15-25). See README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient, MongoClient, UpdateOne
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from siks_client.ladder import Endpoints, Ladder, LadderError, household_body
from siks_contracts import topics
from siks_contracts.actor import Actor
from siks_contracts.enums import ProposalKind, Program, Role
from siks_contracts.envelope import TraceContext, new_envelope
from siks_contracts.events import HouseholdRegistered, HouseholdSnapshot, ProposalSubmitted, topic_of
from siks_kit.bus.kafka_access import client_args  # the local stack's admin (SASL/SCRAM), as every tool

import decree_bench  # deploy/bench/decree_bench.py: a decree of --decree beneficiaries

ROOT = Path(__file__).resolve().parents[2]
KAFKA = f"127.0.0.1:{os.environ.get('SIKS_KAFKA_PORT', 9092)}"
MONGO = f"mongodb://127.0.0.1:{os.environ.get('SIKS_MONGO_PORT', 27017)}"
RAW_TOPIC, SCRATCH_DB = "siks.bench.raw", "siks_bench"
KAFKA_LINGER_MS = 5
BULK_SIZES = (100, 1000)
RESET_HINT = "reset the stack: make down && rm -rf var/stack && make up (with SIKS_NOW in days 15-25)"
console = Console(width=None if sys.stdout.isatty() else 120)  # logs and pipes get whole rows


def progress() -> Progress:
    return Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


# ---------------------------------------------------------------- realistic payloads


def _actor(family: dict[str, Any]) -> Actor:
    return Actor(sub="bench-operator", role=Role.OPERATOR_DESA, region=family["region_code"])


def proposal_event(family: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """One real registry.proposal_submitted.v1 envelope, as the registry's outbox relay sends it."""
    body = household_body(family)
    now = datetime.now(UTC)
    snapshot = HouseholdSnapshot(household_id=str(uuid.uuid4()), kk_number=body["kk_number"],
                                 region_code=body["region_code"], members=body["members"])
    payload = ProposalSubmitted(proposal_id=str(uuid.uuid4()), household_id=snapshot.household_id,
                                kind=ProposalKind.DTKS_NEW, program=Program.PKH, submitted_at=now, household=snapshot)
    env = new_envelope(payload=payload, occurred_at=now, producer="registry", actor=_actor(family),
                       region_code=body["region_code"])
    env = env.model_copy(update={"trace": TraceContext(traceparent=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01")})
    headers = {"event_type": env.type, "event_id": env.event_id, "correlation_id": env.correlation_id}
    return env.model_dump_json().encode(), headers


def household_doc(family: dict[str, Any]) -> dict[str, Any]:
    """A household document shaped as the registry stores it, outbox entry included."""
    body, now, hid = household_body(family), datetime.now(UTC), str(uuid.uuid4())
    event = new_envelope(payload=HouseholdRegistered(household_id=hid, region_code=body["region_code"],
                                                     member_count=len(body["members"]), version=1),
                         occurred_at=now, producer="registry", actor=_actor(family), region_code=body["region_code"])
    entry = {"event_id": event.event_id, "topic": topic_of(event.type), "key": hid, "value": event.model_dump_json()}
    return {"_id": hid, "version": 1, "status": "registered", **body, "programs": [], "documents": [],
            "created_at": now, "updated_at": now, "created_by": "bench-operator", "seen": [], "outbox": [entry]}


# ---------------------------------------------------------------- preflight


async def preflight(ladder: Ladder) -> dict[str, Any]:
    ep = ladder.endpoints
    for name in ("registry", "verification", "integration", "decree", "standins"):
        url = f"{getattr(ep, name)}/readyz"
        try:
            ok = (await ladder.http.get(url, timeout=5)).status_code == 200
        except httpx.HTTPError:
            ok = False
        if not ok:
            sys.exit(f"{name} is not ready ({url}); start the stack: "
                     "SIKS_NOW=2026-12-16T09:00:00+07:00 make up")
    schedule = await ladder.schedule()
    if not any(w["name"] == "bansos" and w["open"] for w in schedule["windows"]):
        sys.exit(f"the bansos proposal window is closed at the stack's clock ({schedule['now']}), so PKH proposals "
                 "would be refused. Restart the stack with SIKS_NOW inside days 15-25, e.g. "
                 "SIKS_NOW=2026-12-16T09:00:00+07:00 make up")
    return schedule


def unregistered_families(all_families: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Families none of whose KK number or NIKs the registry already holds."""
    with MongoClient(MONGO, serverSelectionTimeoutMS=5000) as client:
        docs = list(client.siks_registry.households.find({}, {"kk_number": 1, "members.nik": 1}))
    kks = {d.get("kk_number") for d in docs}
    niks = {m["nik"] for d in docs for m in d.get("members", [])}
    return [f for f in all_families
            if f["kk_number"] not in kks and not any(m["nik"] in niks for m in f["members"])]


# ---------------------------------------------------------------- raw baselines


async def kafka_baseline(n: int, value: bytes, headers: dict[str, str]) -> dict[str, float]:
    admin = AIOKafkaAdminClient(**client_args(KAFKA))
    await admin.start()
    try:
        if RAW_TOPIC not in await admin.list_topics():
            await admin.create_topics([NewTopic(RAW_TOPIC, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    kheaders = [(k, v.encode()) for k, v in headers.items()]
    # Batching as a tuned producer does it: send without awaiting each, linger a few ms.
    producer = AIOKafkaProducer(**client_args(KAFKA), acks="all", enable_idempotence=True, linger_ms=KAFKA_LINGER_MS)
    await producer.start()
    try:
        # Where this run's records start, so older runs' records on the topic are not counted.
        start = {TopicPartition(RAW_TOPIC, p): None for p in await producer.partitions_for(RAW_TOPIC)}
        await producer.send_and_wait(RAW_TOPIC, value, headers=kheaders)  # warm-up: leaders known, connected
        with progress() as bar:
            task = bar.add_task("kafka produce", total=n, rate="")
            t0 = time.perf_counter()
            futures = []
            for i in range(n):
                futures.append(await producer.send(RAW_TOPIC, value, key=uuid.uuid4().bytes, headers=kheaders))
                if i % 500 == 0:
                    bar.update(task, completed=i)
            await producer.flush()
            metas = await asyncio.gather(*futures)
            produce_s = time.perf_counter() - t0
            bar.update(task, completed=n, rate=f"{n / produce_s:,.0f} msg/s")
    finally:
        await producer.stop()
    for m in metas:
        tp = TopicPartition(m.topic, m.partition)
        start[tp] = m.offset if start[tp] is None else min(start[tp], m.offset)

    assigned_at: list[float] = []

    class SeekToRun(ConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked):
            pass

        async def on_partitions_assigned(self, tps):
            for tp in tps:
                if start.get(tp) is not None:
                    consumer.seek(tp, start[tp])
            assigned_at.append(time.perf_counter())  # fetching starts here

    consumer = AIOKafkaConsumer(**client_args(KAFKA), group_id=f"siks-bench-{uuid.uuid4().hex[:8]}",
                                enable_auto_commit=False, auto_offset_reset="latest")
    t_join = time.perf_counter()
    await consumer.start()
    consumer.subscribe([RAW_TOPIC], listener=SeekToRun())
    got = 0
    try:
        with progress() as bar:
            task = bar.add_task("kafka consume (fresh group)", total=n, rate="")
            while got < n:
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=500, max_records=2000), 60)
                got += sum(len(records) for records in batch.values())
                bar.update(task, completed=min(got, n))
            join_s, consume_s = assigned_at[0] - t_join, time.perf_counter() - assigned_at[0]
            bar.update(task, rate=f"{n / consume_s:,.0f} msg/s")
    finally:
        await consumer.stop()
    return {"messages": n, "message_bytes": len(value), "linger_ms": KAFKA_LINGER_MS,
            "produce_s": produce_s, "produce_msgs_per_s": n / produce_s,
            "group_join_s": join_s, "consume_s": consume_s, "consume_msgs_per_s": n / consume_s,
            "round_trip_msgs_per_s": n / (produce_s + consume_s)}


async def db_baseline(n: int, families: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    client = AsyncMongoClient(MONGO, tz_aware=True, serverSelectionTimeoutMS=5000)
    out: dict[str, Any] = {"documents": n}
    try:
        await client.drop_database(SCRATCH_DB)
        coll = client[SCRATCH_DB]["households"]
        # The registry's indexes, so each insert maintains what a real one does.
        await coll.create_index([("region_code", 1)])
        await coll.create_index([("members.nik", 1)])
        docs = [household_doc(families[i % len(families)]) for i in range(n)]
        out["document_bytes"] = len(json.dumps(docs[0], default=str))
        for label, workers in ((f"concurrency_{concurrency}", concurrency), ("single", 1)):
            pending = iter([{**d, "_id": f"{label}-{d['_id']}"} for d in docs])
            with progress() as bar:
                task = bar.add_task(f"db insert_one x{workers}", total=n, rate="")

                async def worker() -> None:
                    for doc in pending:
                        await coll.insert_one(doc)
                        bar.advance(task)

                t0 = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(workers)))
                elapsed = time.perf_counter() - t0
                bar.update(task, rate=f"{n / elapsed:,.0f} doc/s")
            out[label] = {"workers": workers, "seconds": elapsed, "docs_per_s": n / elapsed}
        for size in BULK_SIZES:
            out[f"insert_many_{size}"] = await _bulk(
                f"db insert_many x{size}", n, size,
                lambda chunk, size=size: coll.insert_many([{**d, "_id": f"many{size}-{d['_id']}"} for d in chunk],
                                                          ordered=False), docs)
        ids = [f"single-{d['_id']}" for d in docs]  # what the one-at-a-time run stored
        for size in BULK_SIZES:
            out[f"bulk_update_{size}"] = await _bulk(
                f"db bulk_write x{size} updates", n, size,
                lambda chunk: coll.bulk_write([UpdateOne({"_id": i}, {"$set": {"updated_at": datetime.now(UTC)},
                                                                      "$inc": {"version": 1}}) for i in chunk],
                                              ordered=False), ids)
    finally:
        await client.drop_database(SCRATCH_DB)
        await client.close()
    return out


async def _bulk(label: str, n: int, size: int, write, items: list[Any]) -> dict[str, Any]:
    """`write` called on consecutive chunks of `size` items, one after another."""
    with progress() as bar:
        task = bar.add_task(label, total=n, rate="")
        t0 = time.perf_counter()
        for start in range(0, n, size):
            await write(items[start:start + size])
            bar.advance(task, min(size, n - start))
        elapsed = time.perf_counter() - t0
        bar.update(task, rate=f"{n / elapsed:,.0f} doc/s")
    return {"batch": size, "seconds": elapsed, "docs_per_s": n / elapsed}


# ---------------------------------------------------------------- end to end


class ChecksWatcher:
    """Hears integration's check results on Kafka, so a household is polled on verification
    only once its results are on the way: polling alone, from 32 workers, was most of the
    database's load and so measured itself."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._seen: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task | None = None

    def _event(self, proposal_id: str) -> asyncio.Event:
        return self._seen.setdefault(proposal_id, asyncio.Event())

    async def start(self) -> None:
        # A fresh group reading from "latest": only what this run causes.
        self._consumer = AIOKafkaConsumer(topics.CHECKS, **client_args(self._bootstrap),
                                          group_id=f"siks-bench-watch-{uuid.uuid4().hex[:8]}",
                                          auto_offset_reset="latest", enable_auto_commit=False)
        await self._consumer.start()
        while not self._consumer.assignment():  # joined: every later record reaches us
            await self._consumer.getmany(timeout_ms=100)
        for tp in self._consumer.assignment():
            await self._consumer.position(tp)  # fixes "latest" now, before any household starts
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        async for record in self._consumer:
            self._event(record.key.decode()).set()

    async def wait(self, proposal_id: str, timeout_s: float) -> None:
        await asyncio.wait_for(self._event(proposal_id).wait(), timeout_s)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self._consumer.stop()


WATCHER = ChecksWatcher(KAFKA)


@dataclass
class Run:
    register_s: float = 0.0
    submit_s: float = 0.0
    case_opened_s: float | None = None  # submit -> first poll that finds the case (no checks yet)
    latency_s: float | None = None  # submit -> first poll that finds the checks
    polls: int = 0
    done_at: float | None = None  # perf_counter when the checks were seen
    checks_passed: bool | None = None
    error: str | None = None


@dataclass
class E2E:
    runs: list[Run] = field(default_factory=list)
    skipped_families: int = 0
    stopped_early: bool = False  # Ctrl-C or --time-budget: no new households, in-flight ones finished
    first_register: float = 0.0
    last_checks: float = 0.0


def _status(exc: LadderError) -> int | None:
    found = re.search(r" -> (\d{3}):", str(exc))
    return int(found.group(1)) if found else None


POLL_CAP_S = 0.5


async def register_fresh(ladder: Ladder, queue: list[dict[str, Any]], result: E2E) -> tuple[dict[str, Any], float]:
    """Registers the next family; one registered meanwhile (409) or refused (422) is skipped, not counted."""
    while queue:
        family, t0 = queue.pop(), time.perf_counter()
        result.first_register = result.first_register or t0
        try:
            return await ladder.register(family), t0
        except LadderError as exc:
            if _status(exc) not in (409, 422):
                raise
            result.skipped_families += 1
    raise LadderError(f"out of unregistered families; {RESET_HINT}")


async def follow(ladder: Ladder, run: Run, proposal_id: str, region: str, t_submit: float,
                 poll_s: float, deadline_s: float) -> None:
    """Waits for the check results on Kafka, then polls the case until it holds them (the
    interval backs off from `poll_s` to POLL_CAP_S)."""
    try:
        await WATCHER.wait(proposal_id, deadline_s)
    except TimeoutError:
        raise LadderError(f"integration published no checks within {deadline_s:.0f}s") from None
    interval = poll_s
    while True:
        try:
            case = await ladder.case(proposal_id, region)
        except httpx.TransportError:
            case = None  # a dropped poll is a missed poll, not a failed household
        run.polls += 1
        now = time.perf_counter()
        if case is not None and run.case_opened_s is None:
            run.case_opened_s = now - t_submit
        if case is not None and case["checks_passed"] is not None:
            run.latency_s, run.checks_passed, run.done_at = now - t_submit, case["checks_passed"], now
            return
        if now - t_submit > deadline_s:
            seen = "the case is open" if run.case_opened_s is not None else "no case either"
            raise LadderError(f"no checks within {deadline_s:.0f}s ({seen})")
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, POLL_CAP_S)


async def end_to_end(ladder: Ladder, families: list[dict[str, Any]], households: int, concurrency: int,
                     poll_s: float, deadline_s: float, budget_s: float | None) -> E2E:
    result, queue, slots = E2E(), list(reversed(families)), [households]
    stop, loop = asyncio.Event(), asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # stop starting households; report what finished
        loop.add_signal_handler(sig, stop.set)
    if budget_s:
        loop.call_later(budget_s, stop.set)

    async def worker(bar: Progress, task: Any) -> None:
        while slots[0] > 0 and not stop.is_set():
            slots[0] -= 1
            run = Run()
            result.runs.append(run)
            try:
                household, t0 = await register_fresh(ladder, queue, result)
                t_submit = time.perf_counter()
                run.register_s = t_submit - t0
                proposal = await ladder.propose(household, "PKH")
                run.submit_s = time.perf_counter() - t_submit
                await follow(ladder, run, proposal["id"], household["region_code"], t_submit, poll_s, deadline_s)
                result.last_checks = max(result.last_checks, run.done_at)
            except (LadderError, httpx.HTTPError) as exc:
                run.error = f"{type(exc).__name__}: {exc}"[:300]
            done = [r.latency_s for r in result.runs if r.latency_s is not None]
            rate = len(done) / (time.perf_counter() - result.first_register)
            bar.update(task, completed=sum(r.latency_s is not None or r.error is not None for r in result.runs),
                       rate=f"{rate:,.1f} hh/s, p50 {pct(done, 50) * 1000:,.0f} ms" if done else "")

    with progress() as bar:
        task = bar.add_task("e2e households", total=households, rate="")
        await asyncio.gather(*(worker(bar, task) for _ in range(concurrency)))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    result.stopped_early = slots[0] > 0
    return result


def nik_of(village: str, born: date, serial: int, *, female: bool = False) -> str:
    """A NIK that agrees with its holder: region, DDMMYY of birth (women: day + 40), serial."""
    return f"{village.replace('.', '')[:6]}{born.day + (40 if female else 0):02d}{born:%m%y}{serial:04d}"


def kk_of(village: str, issued: date, serial: int) -> str:
    """A KK number: region, DDMMYY of issue (never ahead), serial."""
    return f"{village.replace('.', '')[:6]}{issued:%d%m%y}{serial:04d}"


def synthetic_household(village: str, n: int) -> dict[str, Any]:
    """A valid household no stand-in family holds: its head's NIK agrees with the birth date
    and sex, and its serial (9000 and up) is one the stand-ins do not use."""
    born = date(1950, 1, 1) + timedelta(days=n % 18_000)
    return {"kk_number": kk_of(village, date(2000, 1, 1) + timedelta(days=n % 7_000), 9000 + n // 7_000),
            "region_code": village, "address": {"street": "Jl. Beban Uji", "rt": "001", "rw": "001"},
            "members": [{"nik": nik_of(village, born, 9000 + n // 18_000), "name": "Warga Uji", "sex": "M",
                         "birth_date": born.isoformat(), "birth_place": "Bandung", "relation": "head"}]}


async def open_loop(rate: float, done: Callable[[], bool], call: Callable[[int], Awaitable[str]]) -> dict[str, Any]:
    """`call(i)` started on a schedule, `rate` a second, whether or not earlier calls have
    answered (open loop: a slow server cannot lower its own load), until `done()`; the
    latency of each and a count of what each answered (the string `call` returns)."""
    latencies: list[float] = []
    outcomes: dict[str, int] = {}

    async def timed(i: int) -> None:
        t0 = time.perf_counter()
        try:
            outcome = await call(i)
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        latencies.append((time.perf_counter() - t0) * 1000)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    started, t0, n = [], time.perf_counter(), 0
    while not done():
        started.append(asyncio.create_task(timed(n)))
        n += 1
        await asyncio.sleep(max(0.0, t0 + n / rate - time.perf_counter()))  # the schedule, not the answers
    offered_s = time.perf_counter() - t0
    await asyncio.gather(*started)
    return {"offered_per_s": rate, "sent": n, "offered_s": offered_s, "outcomes": outcomes,
            "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99), "max_ms": max(latencies, default=0.0)}


async def open_loop_creates(ladder: Ladder, village: str, rate: float, stop: asyncio.Event,
                            first: int) -> dict[str, Any]:
    """Households created one by one, `rate` a second, until `stop`."""
    headers = ladder.headers(Role.OPERATOR_DESA, village)

    async def create(i: int) -> str:
        resp = await ladder.http.post(f"{ladder.endpoints.registry}/v1/households",
                                      json=synthetic_household(village, first + i), headers=headers)
        return str(resp.status_code)

    return await open_loop(rate, stop.is_set, create)


OPERATOR_CHILD = "--operator-child"  # argv[1] of the process that plays the operator beside the bulk phase
WARM_UP = 20  # households the operator creates before its schedule starts, not measured


class OperatorProcess:
    """The operator beside a bulk phase, creating households one by one in a process of its own:
    on the bench's event loop, the bulk driver's work (batch bodies built and answers parsed,
    Kafka heard, progress drawn) delayed the operator's clock, and so its latencies."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc

    @classmethod
    async def start(cls, rate: float, village: str, first: int) -> OperatorProcess:
        spec = json.dumps({"rate": rate, "village": village, "first": first})
        proc = await asyncio.create_subprocess_exec(sys.executable, __file__, OPERATOR_CHILD, spec,
                                                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        if (await proc.stdout.readline()).strip() != b"ready":
            raise RuntimeError("the operator process did not start; see its error above")
        return cls(proc)

    async def stop(self) -> dict[str, Any]:
        """Ends its schedule (its stdin closes) and returns what it measured."""
        self._proc.stdin.close()
        out = await self._proc.stdout.read()
        if await self._proc.wait() != 0:
            raise RuntimeError("the operator process failed; see its error above")
        return json.loads(out.decode().strip().splitlines()[-1])


async def operator_child(spec: dict[str, Any]) -> None:
    """OperatorProcess's side: creates until stdin closes, then prints its results as JSON."""
    ladder = Ladder(endpoints=Endpoints(), timeout=60)
    await ladder.http.aclose()
    ladder.http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=256, keepalive_expiry=2.0))
    stop, loop = asyncio.Event(), asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

    async def until_stdin_closes() -> None:
        await stdin.read()
        stop.set()

    closing = asyncio.create_task(until_stdin_closes())
    for i in range(WARM_UP):  # services restarted for the phase answer their first requests slowly
        await ladder.http.post(f"{ladder.endpoints.registry}/v1/households", headers=ladder.headers(
            Role.OPERATOR_DESA, spec["village"]), json=synthetic_household(spec["village"], spec["first"] + 40_000 + i))
    print("ready", flush=True)
    try:
        result = await open_loop_creates(ladder, spec["village"], spec["rate"], stop, spec["first"])
    finally:
        closing.cancel()
        await ladder.close()
    print(json.dumps(result), flush=True)


LOOKUP_VILLAGE = "32.04.05.2001"
LOOKUP_SERIAL = 5000  # serials of the loaded people: no stand-in family or synthetic household uses them


def _loaded_member(i: int, relation: str) -> dict[str, Any]:
    """Person i of the lookup load: NIK, sex and birth date agree."""
    born = date(1940, 1, 1) + timedelta(days=i % 20_000)
    female = relation == "spouse" or (relation == "child" and bool(i % 2))
    return {"nik": nik_of(LOOKUP_VILLAGE, born, LOOKUP_SERIAL + i // 20_000, female=female), "name": "Warga Muat",
            "sex": "F" if female else "M", "birth_date": born.isoformat(), "birth_place": "Bandung",
            "relation": relation}


def _loaded_kk(household: int) -> str:
    return kk_of(LOOKUP_VILLAGE, date(2000, 1, 1) + timedelta(days=household % 7_000), household // 7_000)


async def load_members(target: int) -> dict[str, Any]:
    """Stores households of four until the registry holds `target` loaded people, through the
    registry's own domain and document mapping, written with insert_many (households, then
    their NIK claims). Resumes where an earlier run stopped; returns how long it took."""
    from siks_registry.domain.household import Address, Household, Member, Relation, Sex
    from siks_registry.store.repositories import household_doc

    client = AsyncMongoClient(MONGO, tz_aware=True, serverSelectionTimeoutMS=5000)
    db = client["siks_registry"]
    try:
        have = await db.bench_load.find_one({"_id": "members"}) or {"people": 0}
        start, t0, now = have["people"], time.perf_counter(), datetime.now(UTC)
        with progress() as bar:
            task = bar.add_task("load members for lookups", total=target, completed=start, rate="")
            for first in range(start, target, 4_000):
                households, claims = [], []
                for h in range(first, min(target, first + 4_000), 4):
                    people = [_loaded_member(h + k, rel) for k, rel in enumerate(("head", "spouse", "child", "child"))]
                    household = Household.register(
                        f"load-{h // 4:07d}", kk_number=_loaded_kk(h // 4),
                        region_code=LOOKUP_VILLAGE, address=Address("Jl. Muat", "001", "001"),
                        members=tuple(Member(nik=m["nik"], name=m["name"], sex=Sex(m["sex"]),
                                             birth_date=date.fromisoformat(m["birth_date"]),
                                             relation=Relation(m["relation"]), birth_place=m["birth_place"])
                                      for m in people),
                        housing={}, assets={}, by="bench-loader", now=now).household
                    households.append({"_id": household.id, **household_doc(household), "open_proposals": {}})
                    claims += [{"_id": m["nik"], "household_id": household.id, "at": now, "token": None} for m in people]
                await db.households.insert_many(households, ordered=False)
                await db.nik_claims.insert_many(claims, ordered=False)
                done = min(target, first + 4_000)
                await db.bench_load.update_one({"_id": "members"}, {"$set": {"people": done}}, upsert=True)
                elapsed = time.perf_counter() - t0
                bar.update(task, completed=done, rate=f"{(done - start) / elapsed:,.0f} people/s")
        return {"people": target, "loaded_now": target - start, "load_s": time.perf_counter() - t0}
    finally:
        await client.close()


async def open_loop_lookups(ladder: Ladder, people: int, rate: float, seconds: float) -> dict[str, Any]:
    """GET /v1/households?nik= for random loaded people, `rate` a second for `seconds`."""
    import random

    headers, rng, until = ladder.headers(Role.AUDITOR), random.Random(7), time.perf_counter() + seconds

    async def lookup(_: int) -> str:
        i = rng.randrange(people)
        nik = _loaded_member(i, ("head", "spouse", "child", "child")[i % 4])["nik"]
        resp = await ladder.http.get(f"{ladder.endpoints.registry}/v1/households", params={"nik": nik},
                                     headers=headers)
        return "found" if resp.status_code == 200 and len(resp.json()["items"]) == 1 else str(resp.status_code)

    return {"people": people, **await open_loop(rate, lambda: time.perf_counter() >= until, lookup)}


def _by_hundred(proposals: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """(village, up to 100 proposal ids of it) in the order they were submitted."""
    chunks: list[tuple[str, list[str]]] = []
    for proposal_id, village in proposals:
        if not chunks or chunks[-1][0] != village or len(chunks[-1][1]) == 100:
            chunks.append((village, []))
        chunks[-1][1].append(proposal_id)
    return chunks


async def bulk_end_to_end(ladder: Ladder, families: list[dict[str, Any]], size: int, parallel: int,
                          deadline_s: float, operator_rate: float = 0.0, operator_first: int = 0) -> dict[str, Any]:
    """Households and their proposals through the batch endpoints (a village's operator sends
    up to `size` at a time, `parallel` villages at once), until every case holds its checks.
    Meanwhile an operator creates households one by one at `operator_rate` a second."""
    by_village: dict[str, list[dict[str, Any]]] = {}
    for family in families:
        by_village.setdefault(family["region_code"], []).append(family)
    chunks = [(village, fams[i:i + size]) for village, fams in by_village.items() for i in range(0, len(fams), size)]
    proposals: list[tuple[str, str]] = []  # (proposal id, village)
    refused: dict[str, int] = {}
    gate = asyncio.Semaphore(parallel)
    http_s: list[float] = []

    async def send(path: str, village: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        t0 = time.perf_counter()
        answer = await ladder._call("POST", f"{ladder.endpoints.registry}{path}", 200, json={"items": items},
                                    headers={**ladder.headers(Role.OPERATOR_DESA, village),
                                             "Idempotency-Key": uuid.uuid4().hex})
        http_s.append(time.perf_counter() - t0)
        for r in answer["results"]:
            if r["problem"]:
                refused[r["problem"]["type"].rsplit("/", 1)[-1]] = refused.get(r["problem"]["type"].rsplit("/", 1)[-1], 0) + 1
        return answer["results"]

    async def one_chunk(village: str, fams: list[dict[str, Any]], bar: Progress, task: Any) -> None:
        async with gate:
            made = await send("/v1/households/batch", village, [household_body(f) for f in fams])
            ids = [r["id"] for r in made if r["id"]]
            if ids:
                items = [{"household_id": i, "program": "PKH", "kind": "dtks_new"} for i in ids]
                proposals.extend((r["id"], village) for r in await send("/v1/proposals/batch", village, items) if r["id"])
            bar.advance(task, len(fams))

    beside = await OperatorProcess.start(operator_rate, families[0]["region_code"], operator_first) \
        if operator_rate else None
    t0 = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(f"bulk submit x{size}", total=len(families), rate="")
        await asyncio.gather(*(one_chunk(v, f, bar, task) for v, f in chunks))
    submitted_s = time.perf_counter() - t0
    operator = await beside.stop() if beside else None
    with progress() as bar:
        task = bar.add_task("bulk: cases with checks", total=len(proposals), rate="")
        done = 0
        for village, chunk in _by_hundred(proposals):
            ids = chunk
            for proposal_id in ids:
                await WATCHER.wait(proposal_id, deadline_s)  # heard on Kafka: then the cases, a hundred a read
            while ids:  # the case records its checks moments after Kafka has them
                cases = await ladder.cases(ids, village)
                ids = [i for i in ids if cases.get(i, {}).get("checks_passed") is None]
                if ids:
                    await asyncio.sleep(0.05)
            done += len(chunk)
            bar.update(task, completed=done)
    wall = time.perf_counter() - t0
    return {"households": len(families), "proposals": len(proposals), "batch_size": size, "parallel": parallel,
            "refused": refused, "submit_s": submitted_s, "wall_s": wall, "operator_api": operator,
            "households_per_s": len(proposals) / wall if proposals else 0.0,
            "request_ms_p50": pct([x * 1000 for x in http_s], 50), "request_ms_p99": pct([x * 1000 for x in http_s], 99)}


def summarize_e2e(e: E2E, households: int, concurrency: int, poll_s: float) -> dict[str, Any]:
    ok = [r for r in e.runs if r.latency_s is not None]
    lat = [r.latency_s * 1000 for r in ok]
    opened = [r.case_opened_s * 1000 for r in ok if r.case_opened_s is not None]
    wall = (e.last_checks - e.first_register) if ok else float("nan")
    # Throughput per quarter of the run: does it hold up as the collections grow?
    quarters = [0.0] * 4
    if ok:
        for r in ok:
            quarters[min(3, int(4 * (r.done_at - e.first_register) / wall))] += 1
        quarters = [q / (wall / 4) for q in quarters]
    errors: dict[str, int] = {}
    for r in e.runs:
        if r.error:
            errors[r.error] = errors.get(r.error, 0) + 1
    return {
        "households_requested": households, "households_completed": len(ok), "failed": len(e.runs) - len(ok),
        "stopped_early": e.stopped_early,
        "errors": errors, "skipped_families": e.skipped_families, "concurrency": concurrency,
        "poll_interval_ms": poll_s * 1000, "wall_s": wall, "households_per_s": len(ok) / wall if ok else 0.0,
        "households_per_s_by_quarter": quarters,
        "checks_passed": sum(1 for r in ok if r.checks_passed),
        "latency_ms": {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99), "max": max(lat, default=0),
                       "mean": statistics.fmean(lat) if lat else float("nan")},
        "case_opened_ms": {"p50": pct(opened, 50), "p90": pct(opened, 90), "max": max(opened, default=0)},
        "register_ms_p50": pct([r.register_s * 1000 for r in ok], 50),
        "submit_ms_p50": pct([r.submit_s * 1000 for r in ok], 50),
        "polls_per_household_mean": statistics.fmean(r.polls for r in ok) if ok else 0,
    }


# ---------------------------------------------------------------- where the CPU went

def _load_stack():
    """deploy/local/stack.py, the one that keeps the record of what runs (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("siks_local_stack", ROOT / "deploy" / "local" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


STACK = _load_stack()


SAMPLED = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
ADMITTED = "SIKS_BATCH_ITEMS_PER_SECOND"  # the registry's admission of batch items (kit.web.batch)
ADMITTED_OPERATOR_FIRST = 50_000  # synthetic households of the second operator phase: none of the first's
YIELDING = "SIKS_BATCH_SINGLE_P90_MS"  # uploads that follow the single requests' latency (kit.web.batch)
YIELDING_OPERATOR_FIRST = 100_000  # and of the third


def restart_services(env: dict[str, str]) -> None:
    """The four services again, with `env` set (and unset when empty): the standard
    OTEL_TRACES_SAMPLER variables decide their sampling from start-up."""
    STACK.down(list(STACK.SERVICES))
    for name in (*SAMPLED, ADMITTED, YIELDING):
        os.environ.pop(name, None)
    os.environ.update(env)
    STACK.up()


async def operator_phase(ladder: Ladder, args: argparse.Namespace, families: list[dict[str, Any]],
                         env: dict[str, str], operator_first: int) -> dict[str, Any]:
    """The bulk phase once more with the services restarted under `env`, the operator beside it;
    the services are restarted as they were afterwards."""
    console.print(f"restarting the services with {' '.join(f'{k}={v}' for k, v in env.items())} "
                  "for the operator phase again")
    restart_services(env)
    try:
        await quiet(f"operator beside uploads, {' '.join(env)}")
        await WATCHER.start()
        try:
            return await bulk_end_to_end(ladder, families, args.bulk_size, args.bulk_parallel, args.deadline,
                                         args.operator_rate, operator_first)
        finally:
            await WATCHER.stop()
    finally:
        restart_services({})


def stack_processes() -> dict[str, int]:
    """Name -> pid of every process the stack recorded that still runs, and of this bench."""
    names = [c.name for c in STACK.components_names()] + STACK.recorded_replicas()
    found = {name: pid for name in names if (pid := STACK.recorded(name)) is not None}
    found["bench (this process)"] = os.getpid()
    return found


def cpu_seconds() -> dict[str, float]:
    """User+system CPU seconds of each stack process and of this bench.

    On a 2-core machine every component shares the same cores, so CPU per household, not
    wall time, tells which one to make cheaper (or give its own machine)."""
    tick, out = os.sysconf("SC_CLK_TCK"), {}
    for name, pid in stack_processes().items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


QUIET_SHARE, QUIET_HOLD_S, QUIET_DEADLINE_S = 0.15, 1.0, 30.0
QUIET_WAITS: dict[str, float] = {}  # seconds each measurement waited for the machine to calm down


async def quiet(label: str) -> None:
    """Waits (at most QUIET_DEADLINE_S) until the whole machine has used under QUIET_SHARE of its
    CPU for QUIET_HOLD_S, so that a measurement does not pay for the one before it: Kafka still
    writing the baseline's records, consumers catching up, services just restarted. Every
    baseline and every phase starts this way, so their ratios compare like with like."""
    t0 = time.perf_counter()
    busy, total = _machine_ticks()
    while time.perf_counter() - t0 < QUIET_DEADLINE_S:
        await asyncio.sleep(QUIET_HOLD_S)
        busy2, total2 = _machine_ticks()
        share = (busy2 - busy) / max(1, total2 - total)
        busy, total = busy2, total2
        if share < QUIET_SHARE:
            break
    QUIET_WAITS[label] = round(time.perf_counter() - t0, 1)


def memory_mb() -> dict[str, dict[str, float]]:
    """Resident memory of each stack process now, and its peak since it started (VmHWM)."""
    out = {}
    for name, pid in stack_processes().items():
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        except OSError:
            continue
        out[name] = {"rss": int(status["VmRSS"].split()[0]) / 1024, "peak": int(status["VmHWM"].split()[0]) / 1024}
    return out


def cpu_per_household(before: dict[str, float], after: dict[str, float], households: int) -> dict[str, float]:
    used = {name: after[name] - before[name] for name in after if name in before}
    return {name: 1000 * s / max(households, 1) for name, s in sorted(used.items(), key=lambda kv: -kv[1])}


# ---------------------------------------------------------------- report


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def report(results: dict[str, Any]) -> None:
    k, d, e = results["kafka"], results["database"], results["e2e"]
    conc = d[f"concurrency_{e['concurrency']}"]
    lat, ratios = e["latency_ms"], results["ratios"]
    t = Table(title=f"SIKS-NG bench  {results['meta']['date']}  commit {results['meta']['git_commit']}  "
                    f"{results['meta']['cores']} cores")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("notes")
    rows = [
        ("Kafka produce", f"{k['produce_msgs_per_s']:,.0f} msg/s", f"{k['messages']:,} x {k['message_bytes']:,} B, acks=all"),
        ("Kafka consume", f"{k['consume_msgs_per_s']:,.0f} msg/s", f"fresh group (join {k['group_join_s']:.2f} s not counted)"),
        ("Kafka round trip", f"{k['round_trip_msgs_per_s']:,.0f} msg/s", "N / (produce s + consume s)"),
        (f"DB insert_one x{conc['workers']}", f"{conc['docs_per_s']:,.0f} doc/s", f"{d['documents']:,} household docs of ~{d['document_bytes']:,} B"),
        ("DB insert_one x1", f"{d['single']['docs_per_s']:,.0f} doc/s", "one at a time, one task"),
        *((f"DB insert_many x{size}", f"{d[f'insert_many_{size}']['docs_per_s']:,.0f} doc/s",
           f"batches of {size}, unordered, one after another") for size in BULK_SIZES),
        *((f"DB bulk_write x{size}", f"{d[f'bulk_update_{size}']['docs_per_s']:,.0f} upd/s",
           f"UpdateOne by _id ($set, $inc) in batches of {size}") for size in BULK_SIZES),
        ("e2e households", f"{e['households_completed']:,} / {e['households_requested']:,}",
         f"{e['failed']} failed, {e['skipped_families']} families skipped, concurrency {e['concurrency']}"),
        ("e2e rate", f"{e['households_per_s']:,.1f} hh/s", f"first register -> last case with checks, {e['wall_s']:.1f} s"),
        ("e2e rate by quarter", " / ".join(f"{q:.1f}" for q in e["households_per_s_by_quarter"]),
         "hh/s in each quarter of the wall time"),
        ("latency p50", f"{lat['p50']:,.0f} ms", "submit proposal -> case holds its checks"),
        ("latency p90", f"{lat['p90']:,.0f} ms", f"includes polling granularity ({e['poll_interval_ms']:.0f} ms backing off to {POLL_CAP_S * 1000:.0f} ms)"),
        ("latency p99", f"{lat['p99']:,.0f} ms", ""),
        ("latency max", f"{lat['max']:,.0f} ms", ""),
        ("case opened p50", f"{e['case_opened_ms']['p50']:,.0f} ms", "submit -> case exists in verification (no checks yet)"),
        ("register / submit p50", f"{e['register_ms_p50']:,.0f} / {e['submit_ms_p50']:,.0f} ms", "HTTP round trips"),
        *((f"e2e / {BASELINE_NAMES[name.removeprefix('e2e_vs_')]}", f"{ratio * 100:.2f} %",
           "households/s as a share of that baseline" + (" (target: 30%)" if name == "e2e_vs_db_insert" else ""))
          for name, ratio in ratios.items()),
    ]
    cpu = results["cpu_ms_per_household"]
    rows.append(("CPU per household", f"{sum(cpu.values()):,.0f} ms",
                 f"all processes; {results['meta']['cores']} cores give {results['meta']['cores'] * 1000 / max(sum(cpu.values()), 1):.1f} hh/s at most"))
    mem = results["memory_mb"]

    def memory(name: str) -> str:
        if name not in mem["before"] or name not in mem["after"]:
            return ""
        before, after = mem["before"][name], mem["after"][name]
        return f"RSS {before['rss']:,.0f} -> {after['rss']:,.0f} MB, peak {after['peak']:,.0f} MB"

    rows += [(f"  {name}", f"{ms:,.0f} ms", memory(name)) for name, ms in cpu.items() if ms >= 1]
    if b := results.get("bulk"):
        rows += [
            ("bulk e2e households", f"{b['proposals']:,} / {b['households']:,}",
             f"batches of {b['batch_size']}, {b['parallel']} at once; refused: {b['refused'] or 'none'}"),
            ("bulk e2e rate", f"{b['households_per_s']:,.1f} hh/s",
             f"first batch sent -> last case with checks, {b['wall_s']:.1f} s (all sent in {b['submit_s']:.1f} s)"),
            ("bulk request p50 / p99", f"{b['request_ms_p50']:,.0f} / {b['request_ms_p99']:,.0f} ms", "one batch request"),
            *((f"bulk / {BASELINE_NAMES[name.removeprefix('e2e_vs_')]}", f"{ratio * 100:.2f} %",
               "households/s as a share of that baseline" + (" (target: 30%)" if name == "e2e_vs_db_insert" else ""))
              for name, ratio in b["ratios"].items() if name in ("e2e_vs_db_insert", "e2e_vs_db_insert_many_100",
                                                                 "e2e_vs_db_insert_many_1000")),
            ("bulk CPU per household", f"{sum(b['cpu_ms_per_household'].values()):,.0f} ms",
             ", ".join(f"{n} {ms:,.0f}" for n, ms in b["cpu_ms_per_household"].items() if ms >= 1)),
        ]
        if sampled := b.get("sampled_10_percent"):
            traced_cpu, sampled_cpu = sum(b["cpu_ms_per_household"].values()), sum(sampled["cpu_ms_per_household"].values())
            rows += [
                ("bulk, 10% of traces", f"{sampled['households_per_s']:,.1f} hh/s",
                 f"{sampled['proposals']:,} households; OTEL_TRACES_SAMPLER=parentbased_traceidratio, ARG 0.1"),
                ("bulk CPU, 10% of traces", f"{sampled_cpu:,.0f} ms",
                 ", ".join(f"{n} {ms:,.0f}" for n, ms in sampled["cpu_ms_per_household"].items() if ms >= 1)),
                ("cost of tracing everything", f"{traced_cpu - sampled_cpu:,.0f} ms",
                 f"CPU per household, all traces minus 10% ({(traced_cpu - sampled_cpu) / max(traced_cpu, 1) * 100:.0f}% of it)"),
            ]
    for phase, label, how in (
            ("with_operator", "", "beside the bulk phase run once more"),
            ("with_operator_admitted", ", admitted", "beside it again, uploads admitted at {items_per_second:g} items/s"),
            ("with_operator_yielding", ", yielding",
             "beside it again, uploads yielding while single requests' p90 > {single_p90_ms:g} ms")):
        if (beside := (results.get("bulk") or {}).get(phase)) and (op := beside.get("operator_api")):
            rows += [(f"operator create p50 / p99{label}", f"{op['p50_ms']:,.0f} / {op['p99_ms']:,.0f} ms",
                      f"open loop at {op['offered_per_s']:.0f}/s {how.format(**beside)}, {op['sent']:,} "
                      f"sent; answers {op['outcomes']} (target p99 <= 100 ms)"),
                     (f"bulk rate beside it{label}", f"{beside['households_per_s']:,.1f} hh/s",
                      f"{beside['proposals']:,} households; batch request p50 {beside['request_ms_p50']:,.0f} ms")]
    if lk := results.get("lookups"):
        rows.append(("lookup by NIK p50 / p99", f"{lk['p50_ms']:,.0f} / {lk['p99_ms']:,.0f} ms",
                     f"{lk['people']:,} people stored; open loop {lk['offered_per_s']:.0f}/s, {lk['sent']:,} sent; "
                     f"{lk['outcomes']} (target p99 <= 30 ms); loaded {lk['loaded_now']:,} in {lk['load_s']:,.0f} s"))
    for row in rows:
        t.add_row(*row)
    console.print(t)
    if e["stopped_early"]:
        console.print(f"[yellow]stopped early: {e['households_completed']} of {e['households_requested']} households[/]")
    if e["errors"]:
        console.print("[yellow]errors:[/]", e["errors"])


BASELINE_NAMES = {"db_insert": "DB insert_one concurrent", "db_insert_single": "DB insert_one x1",
                  **{f"db_insert_many_{n}": f"DB insert_many x{n}" for n in BULK_SIZES},
                  **{f"db_bulk_update_{n}": f"DB bulk_write x{n}" for n in BULK_SIZES},
                  "kafka_round_trip": "Kafka round trip"}


def ratios_to_baselines(rate: float, kafka: dict[str, Any], database: dict[str, Any], concurrency: int) -> dict[str, float]:
    """A system figure as a share of each raw baseline measured in the same run; keys name
    the baseline (`db_insert` is the concurrent insert_one the throughput target is set on)."""
    baselines = {"db_insert": database[f"concurrency_{concurrency}"]["docs_per_s"],
                 "db_insert_single": database["single"]["docs_per_s"],
                 **{f"db_insert_many_{n}": database[f"insert_many_{n}"]["docs_per_s"] for n in BULK_SIZES},
                 **{f"db_bulk_update_{n}": database[f"bulk_update_{n}"]["docs_per_s"] for n in BULK_SIZES},
                 "kafka_round_trip": kafka["round_trip_msgs_per_s"]}
    return {f"e2e_vs_{name}": rate / value for name, value in baselines.items()}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--messages", type=int, default=5000, help="N for the raw Kafka and DB baselines")
    ap.add_argument("--poll-ms", type=float, default=25, help="first case polling interval; it backs off")
    ap.add_argument("--deadline", type=float, default=300, help="seconds a household may take before it counts as failed")
    ap.add_argument("--time-budget", type=float, help="seconds after which no new household starts (Ctrl-C or SIGTERM do the same)")
    ap.add_argument("--bulk", type=int, default=1000, help="households through the batch endpoints after the loop (0: none)")
    ap.add_argument("--bulk-size", type=int, default=100, help="items per batch request")
    ap.add_argument("--bulk-parallel", type=int, default=4, help="batch requests under way at once")
    ap.add_argument("--operator-rate", type=float, default=100.0,
                    help="households a second an operator creates one by one beside one more bulk phase (0: none)")
    ap.add_argument("--admitted-rate", type=float, default=20.0,
                    help=f"batch items a second the registry lets in ({ADMITTED}) for one more operator phase (0: none)")
    ap.add_argument("--admitted-bulk", type=int, default=300, help="households through the batch endpoints in that phase")
    ap.add_argument("--yielding-p90-ms", type=float, default=50.0,
                    help=f"one more operator phase, the uploads following the single requests ({YIELDING}; 0: none)")
    ap.add_argument("--yielding-bulk", type=int, default=1000, help="households through the batch endpoints in that phase")
    ap.add_argument("--lookup-members", type=int, default=0,
                    help="load this many people (households of four, by insert_many; kept for later runs) "
                         "and time lookups by NIK, 50 a second for 20 s")
    ap.add_argument("--sampled", action=argparse.BooleanOptionalAction, default=True,
                    help="the bulk phase again with every service sampling 10%% of traces (parent-based)")
    ap.add_argument("--decree", type=int, default=100_000, help="beneficiaries in the decree phase (0: none)")
    ap.add_argument("--out", type=Path, default=Path("bench-results/bench.json"))
    return ap.parse_args()


async def main() -> None:
    args = parse_args()
    meta = {"date": datetime.now().astimezone().isoformat(timespec="seconds"), "households": args.households,
            "concurrency": args.concurrency, "messages": args.messages,
            "git_commit": git("rev-parse", "--short", "HEAD"), "git_dirty": bool(git("status", "--porcelain")),
            "cores": os.cpu_count(), "python": sys.version.split()[0]}
    ladder = Ladder(endpoints=Endpoints(), timeout=60)
    await ladder.http.aclose()  # room for every worker's connection, however many
    # Idle connections are dropped before the server's 5 s keep-alive ends: a request sent on a
    # connection the server is closing fails with a ReadError that says nothing about the system.
    ladder.http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=max(64, 2 * args.concurrency),
                                                                    keepalive_expiry=2.0))
    try:
        meta["stack_clock"] = (await preflight(ladder))["now"]
        families = await ladder.families(limit=10000)
        fresh = unregistered_families(families)
        console.print(f"stack ready, clock {meta['stack_clock']}, bansos window open; "
                      f"{len(fresh):,} of {len(families):,} stand-in families not yet registered")
        if len(families) < args.households:
            sys.exit(f"the stand-ins serve only {len(families)} families, {args.households} needed: they run an older "
                     f"population; restart the stack to get the current one, or run with --households {len(fresh)}. "
                     f"To start afresh, {RESET_HINT}")
        if len(fresh) < args.households:
            sys.exit(f"only {len(fresh)} unregistered families remain, {args.households} needed. "
                     f"Run with --households {len(fresh)} or fewer, or {RESET_HINT}")
        typical = next((f for f in fresh if len(household_body(f)["members"]) == 4), fresh[0])
        await quiet("kafka baseline")
        kafka = await kafka_baseline(args.messages, *proposal_event(typical))
        await quiet("database baseline")
        database = await db_baseline(args.messages, fresh, args.concurrency)
        await quiet("end to end")
        await WATCHER.start()
        cpu_before, memory_before = cpu_seconds(), memory_mb()
        try:
            runs = await end_to_end(ladder, fresh, args.households, args.concurrency, args.poll_ms / 1000,
                                    args.deadline, args.time_budget)
        finally:
            await WATCHER.stop()
        cpu = cpu_per_household(cpu_before, cpu_seconds(), sum(r.latency_s is not None for r in runs.runs))
        memory = {"before": memory_before, "after": memory_mb()}
        e2e = summarize_e2e(runs, args.households, args.concurrency, args.poll_ms / 1000)
        bulk: dict[str, Any] = {}
        spare = fresh[len(fresh) - min(args.bulk, len(fresh) - args.households - 50):] if args.bulk else []
        if spare:  # families the closed loop did not reach (it takes them from the front)
            await quiet("bulk")
            await WATCHER.start()
            cpu_before = cpu_seconds()
            try:
                bulk = await bulk_end_to_end(ladder, spare, args.bulk_size, args.bulk_parallel, args.deadline)
            finally:
                await WATCHER.stop()
            bulk["cpu_ms_per_household"] = cpu_per_household(cpu_before, cpu_seconds(), bulk["proposals"])
        taken = len(fresh) - len(spare)
        sampled_families = fresh[max(args.households + 50, taken - args.bulk):taken] if args.sampled and spare else []
        if sampled_families:  # the bulk phase again, every service sampling 10% of traces
            console.print(f"restarting the services with {SAMPLED} for the bulk phase again")
            restart_services(SAMPLED)
            try:
                await quiet("bulk, 10% of traces")
                await WATCHER.start()
                cpu_before = cpu_seconds()
                try:
                    sampled = await bulk_end_to_end(ladder, sampled_families, args.bulk_size, args.bulk_parallel,
                                                    args.deadline)
                finally:
                    await WATCHER.stop()
                sampled["cpu_ms_per_household"] = cpu_per_household(cpu_before, cpu_seconds(), sampled["proposals"])
                bulk["sampled_10_percent"] = sampled
            finally:
                restart_services({})  # as the stack was: every trace kept
        used = len(fresh) - len(spare) - len(sampled_families)
        beside_families = fresh[max(args.households + 50, used - args.bulk):used] if args.operator_rate and spare else []
        if beside_families:  # the bulk phase once more, an operator creating households one by one beside it
            await quiet("operator beside uploads")
            await WATCHER.start()
            try:
                bulk["with_operator"] = await bulk_end_to_end(ladder, beside_families, args.bulk_size,
                                                              args.bulk_parallel, args.deadline, args.operator_rate)
            finally:
                await WATCHER.stop()
        left = used - len(beside_families)
        if beside_families and args.admitted_rate:  # once more, the uploads let in at a rate that leaves the operator room
            admitted_families = fresh[max(args.households + 50, left - args.admitted_bulk):left]
            left -= len(admitted_families)
            bulk["with_operator_admitted"] = {**await operator_phase(
                ladder, args, admitted_families, {ADMITTED: f"{args.admitted_rate:g}"}, ADMITTED_OPERATOR_FIRST),
                "items_per_second": args.admitted_rate}
        if beside_families and args.yielding_p90_ms:  # and once more, the uploads taking what the operator leaves
            yielding_families = fresh[max(args.households + 50, left - args.yielding_bulk):left]
            bulk["with_operator_yielding"] = {**await operator_phase(
                ladder, args, yielding_families, {YIELDING: f"{args.yielding_p90_ms:g}"}, YIELDING_OPERATOR_FIRST),
                "single_p90_ms": args.yielding_p90_ms}
        lookups: dict[str, Any] = {}
        if args.lookup_members:  # last: a million more people would change what the phases above measure
            lookups = {**await load_members(args.lookup_members),
                       **await open_loop_lookups(ladder, args.lookup_members, 50.0, 20.0)}
    finally:
        await ladder.close()

    meta["quiet_waits_s"] = QUIET_WAITS
    results = {"meta": meta, "kafka": kafka, "database": database, "e2e": e2e, "cpu_ms_per_household": cpu,
               "memory_mb": memory, "ratios": ratios_to_baselines(e2e["households_per_s"], kafka, database, args.concurrency),
               "bulk": bulk, "lookups": lookups}
    if bulk:
        bulk["ratios"] = ratios_to_baselines(bulk["households_per_s"], kafka, database, args.concurrency)
    results["decree"] = await decree_bench.run(args.decree) if args.decree else {}
    report(results)
    console.print(f"each baseline and phase started once the machine had used under {QUIET_SHARE:.0%} of its CPU "
                  f"for {QUIET_HOLD_S:g} s; seconds waited: {QUIET_WAITS}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    console.print(f"written to {args.out}  (latency includes polling granularity: {args.poll_ms:.0f} ms backing off to {POLL_CAP_S * 1000:.0f} ms)")


if __name__ == "__main__":
    if sys.argv[1:2] == [OPERATOR_CHILD]:
        asyncio.run(operator_child(json.loads(sys.argv[2])))
    else:
        asyncio.run(main())
