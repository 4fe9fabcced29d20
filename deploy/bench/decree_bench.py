"""Decrees at scale: a decree of N beneficiaries drafted, issued, published and exported over
HTTP on the running stack, beside a raw read of the same rows from the database.

    .venv/bin/python deploy/bench/decree_bench.py [--decree 100000] [--out bench-results/decree.json]
    (bench.py runs it too: --decree N, 0 to skip)

N approved candidates are loaded straight into the decree service's database with the decree
service's own document mapping (CandidateStore.doc) and `insert_many` (unordered, 1,000 a
command): the ladder would take hours to approve that many. They carry a programme and period
no test or other bench phase uses (PIP, 2099-01), a region that does not exist (99.99.99.9999),
ids that start with `bench-decree-` and NIKs that start with 9999, and the bench removes all of
it at the start and the end (candidates, the decree, its entries, the roll and Cek Bansos
documents its own events made), once every consumer has read the decree's events. Registry and
verification hold no record of these proposals: they count each event in
`siks_events_unmatched_total` and store nothing.

For each step the decree process's resident memory before and its peak during the step are
read from /proc (the peak is reset before each step through /proc/<pid>/clear_refs).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook
from pymongo import AsyncMongoClient
from siks_contracts import topics
from siks_contracts.enums import EntryChange, Program, Relation, Role, Sex
from siks_contracts.events import HouseholdSnapshot, MemberSnapshot
from siks_kit.bus.lag import consumer_lag
from siks_kit.runtime.settings import DEVELOPMENT_JWT_SECRET
from siks_kit.web.auth import issue_token
from siks_decree.domain.decree import Candidate, Entry, decree_id_of
from siks_decree.store.repositories import CandidateStore

ROOT = Path(__file__).resolve().parents[2]
KAFKA = f"127.0.0.1:{os.environ.get('SIKS_KAFKA_PORT', 9092)}"
MONGO = f"mongodb://127.0.0.1:{os.environ.get('SIKS_MONGO_PORT', 27017)}"
DECREE_URL = f"http://127.0.0.1:{os.environ.get('SIKS_DECREE_PORT', 8004)}"
DB = "siks_decree"
PROGRAM, PERIOD = Program.PIP, "2099-01"
REGION, PREFIX = "99.99.99.9999", "bench-decree-"
LOAD_BATCH = 1000


def _stack():
    spec = importlib.util.spec_from_file_location("siks_local_stack_decree", ROOT / "deploy" / "local" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Memory:
    """The decree process's resident memory (MiB): now, and its peak since the last reset."""

    def __init__(self) -> None:
        self.pid = _stack().recorded("decree")

    def _status(self) -> dict[str, float]:
        if self.pid is None:
            return {}
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines())
        return {"rss_mb": int(fields["VmRSS"].split()[0]) / 1024, "peak_mb": int(fields["VmHWM"].split()[0]) / 1024}

    def reset_peak(self) -> float:
        if self.pid is not None:
            try:
                Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
            except OSError:
                pass
        return self._status().get("rss_mb", 0.0)

    def peak(self) -> float:
        return self._status().get("peak_mb", 0.0)


def candidate(i: int) -> Candidate:
    hid = f"{PREFIX}h{i:07d}"
    head = MemberSnapshot(nik=f"9999{i:012d}", name=f"Penerima Bench {i}", sex=Sex.M, birth_date=date(1980, 1, 1),
                          relation=Relation.HEAD)
    household = HouseholdSnapshot(household_id=hid, kk_number=f"9999{i:012d}", region_code=REGION, members=[head])
    entry = Entry(f"{PREFIX}p{i:07d}", hid, REGION, EntryChange.ADDED, household)
    return Candidate(entry, PROGRAM, PERIOD, datetime(2098, 12, 20, tzinfo=UTC), "BA-BENCH")


DELETE_CHUNK = 10_000  # FerretDB's SQLite backend deletes a match in one statement: 32,766 ids at most


async def delete_all(coll, where: dict[str, Any]) -> int:
    gone = 0
    while ids := [d["_id"] async for d in coll.find(where, {"_id": 1}).limit(DELETE_CHUNK)]:
        gone += (await coll.delete_many({"_id": {"$in": ids}})).deleted_count
    return gone


async def clean(db) -> dict[str, int]:
    decree_id = decree_id_of(PROGRAM, PERIOD)
    return {
        "candidates": await delete_all(db.candidates, {"program": PROGRAM.value, "period": PERIOD}),
        "entries": await delete_all(db.decree_entries, {"decree_id": decree_id}),
        "decrees": await delete_all(db.decrees, {"_id": decree_id}),
        "rolls": await delete_all(db.rolls, {"household_id": {"$regex": f"^{PREFIX}"}}),
        "public_status": await delete_all(db.public_status, {"region_code": REGION}),
    }


async def timed(memory: Memory, results: dict[str, Any], name: str, step) -> Any:
    before = memory.reset_peak()
    started = time.perf_counter()
    value = await step()
    results[name] = {"s": round(time.perf_counter() - started, 2), "rss_before_mb": round(before, 1),
                     "peak_mb": round(memory.peak(), 1)}
    return value


async def wait_for(probe, what: str, deadline_s: float, every_s: float = 0.5) -> Any:
    end = time.monotonic() + deadline_s
    while True:
        if found := await probe():
            return found
        if time.monotonic() > end:
            raise TimeoutError(f"{what}: not within {deadline_s:.0f} s")
        await asyncio.sleep(every_s)


async def export(http: httpx.AsyncClient, decree_id: str, fmt: str, headers: dict[str, str]) -> dict[str, Any]:
    """Streams the export to a file on disk; counts its bytes and rows."""
    fd, path = tempfile.mkstemp(suffix=f".{fmt}")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async with http.stream("GET", f"{DECREE_URL}/v1/decrees/{decree_id}/beneficiaries",
                                   params={"format": fmt}, headers=headers) as resp:
                resp.raise_for_status()
                async for chunk in resp.aiter_bytes():
                    out.write(chunk)
                    size += len(chunk)
        if fmt == "csv":
            with open(path, "rb") as f:
                rows = sum(1 for _ in f) - 1
        else:
            book = load_workbook(path, read_only=True)
            rows = sum(1 for _ in book["beneficiaries"].iter_rows(values_only=True)) - 1
            book.close()
        return {"bytes": size, "rows": rows}
    finally:
        os.unlink(path)


async def run(n: int, deadline_s: float = 3600.0, consumers_s: float = 1800.0) -> dict[str, Any]:
    """The decree phase; returns its figures (also what bench.py records under "decree")."""
    print(f"decree bench: {n:,} beneficiaries ({PROGRAM.value} {PERIOD})", flush=True)
    client = AsyncMongoClient(MONGO, tz_aware=True)
    db = client[DB]
    memory = Memory()
    steps: dict[str, Any] = {}
    out: dict[str, Any] = {"beneficiaries": n, "program": PROGRAM.value, "period": PERIOD, "steps": steps,
                           "loaded_by": "insert_many(ordered=False) of CandidateStore.doc documents, "
                                        f"{LOAD_BATCH:,} a command, straight into {DB}.candidates"}
    token = issue_token(DEVELOPMENT_JWT_SECRET, sub="bench-mensos", role=Role.MENSOS, region=None)
    headers = {"Authorization": f"Bearer {token}"}
    decree_id = decree_id_of(PROGRAM, PERIOD)
    try:
        out["cleaned_before"] = await clean(db)
        started = time.perf_counter()
        for start in range(0, n, LOAD_BATCH):
            docs = [CandidateStore.doc(candidate(i)) for i in range(start, min(n, start + LOAD_BATCH))]
            await db.candidates.insert_many(docs, ordered=False)
        out["load_s"] = round(time.perf_counter() - started, 2)
        print(f"  loaded {n:,} candidates in {out['load_s']} s", flush=True)
        async with httpx.AsyncClient(timeout=3600) as http:
            async def draft():
                resp = await http.post(f"{DECREE_URL}/v1/decrees", json={"program": PROGRAM.value, "period": PERIOD},
                                       headers=headers)
                resp.raise_for_status()
                return resp.json()

            drafted = await timed(memory, steps, "draft", draft)
            print(f"  draft: {steps['draft']}", flush=True)

            async def issue():
                resp = await http.post(f"{DECREE_URL}/v1/decrees/{decree_id}/issue", headers=headers)
                resp.raise_for_status()
                return resp.json()

            issued = await timed(memory, steps, "issue", issue)
            print(f"  issue: {steps['issue']}", flush=True)

            async def published():
                async def done():
                    doc = await db.decrees.find_one({"_id": decree_id}, {"published_all": 1, "published": 1})
                    return doc if doc and doc.get("published_all") else None
                return await wait_for(done, "all beneficiary events published", deadline_s)

            sent = await timed(memory, steps, "publish", published)
            print(f"  publish: {steps['publish']} ({sent['published']:,} events)", flush=True)
            csv_out = await timed(memory, steps, "export_csv", lambda: export(http, decree_id, "csv", headers))
            steps["export_csv"].update(csv_out)
            print(f"  csv: {steps['export_csv']}", flush=True)
            xlsx_out = await timed(memory, steps, "export_xlsx", lambda: export(http, decree_id, "xlsx", headers))
            steps["export_xlsx"].update(xlsx_out)
            print(f"  xlsx: {steps['export_xlsx']}", flush=True)

        started = time.perf_counter()
        raw = 0
        async for _ in db.decree_entries.find({"decree_id": decree_id}, batch_size=1000).sort("proposal_id", 1):
            raw += 1
        out["raw_read"] = {"s": round(time.perf_counter() - started, 2), "rows": raw,
                           "how": "pymongo find({decree_id}) sorted by proposal_id, batch_size 1000, in this process"}
        print(f"  raw read: {out['raw_read']}", flush=True)
        out.update(count=drafted["count"], content_hash=issued["content_hash"], events_published=sent["published"])

        async def caught_up():
            lags = await consumer_lag(KAFKA)
            behind = {f"{lag.group}": lag.behind for lag in lags if lag.topic == topics.DECREES}
            return behind if behind and not any(behind.values()) else None

        started = time.perf_counter()
        try:
            await wait_for(caught_up, "registry, verification and decree read every decree event", consumers_s, 2.0)
            out["consumers_caught_up_s"] = round(time.perf_counter() - started, 2)
            print(f"  consumers caught up {out['consumers_caught_up_s']} s after the exports", flush=True)
        except TimeoutError:
            lags = await consumer_lag(KAFKA)
            out["consumers_behind"] = {lag.group: lag.behind for lag in lags if lag.topic == topics.DECREES}
            print(f"  consumers still behind after {consumers_s:.0f} s: {out['consumers_behind']} (they go on; "
                  "what decree writes for these rows later lands on the bench's own keys, removed by the next "
                  "run's clean-up)", flush=True)
    finally:
        out["cleaned_after"] = await clean(db)
        await client.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--decree", type=int, default=100_000, help="beneficiaries in the decree")
    ap.add_argument("--consumers-deadline", type=float, default=1800.0,
                    help="seconds to wait for the consumers to read every decree event before cleaning up")
    ap.add_argument("--out", type=Path, default=Path("bench-results/decree.json"))
    args = ap.parse_args()
    figures = asyncio.run(run(args.decree, consumers_s=args.consumers_deadline))
    print(json.dumps(figures, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
