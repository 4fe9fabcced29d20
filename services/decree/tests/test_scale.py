"""Decrees at scale, with fakes: entries as rows hashed while streaming, the issued event that
carries no list, one beneficiary event per entry with ids that derive from what they say, the
publisher resuming from its checkpoint, and exports whose memory does not grow with the list."""

import asyncio
import csv
import io
import json
import tracemalloc
from datetime import UTC, datetime

from openpyxl import load_workbook
from siks_contracts import topics
from siks_contracts.actor import Actor
from siks_contracts.enums import EntryChange, Program, RemovalReason, Role
from siks_contracts.envelope import Envelope
from siks_contracts.events import MemberSnapshot
from siks_kit.runtime.clock import FixedClock
from siks_testkit.memory import MemoryDatabase, MemoryTransport
from siks_testkit.samples import VILLAGE, household_snapshot
from siks_testkit.testing import await_for
from siks_decree import handlers
from siks_decree.api import exports
from siks_decree.commands import DraftDecree
from siks_decree.domain.decree import (Candidate, Decree, Entry, ListHash, beneficiary_event_id, content_hash,
                                       issued_event_id)
from siks_decree.handlers import DecreeDeps

MENSOS = Actor(sub="menteri", role=Role.MENSOS)
NOW = datetime(2026, 12, 20, 3, tzinfo=UTC)


def entry(i: int, removed: bool = False) -> Entry:
    return Entry(f"p-{i:06d}", f"h-{i:06d}", VILLAGE, EntryChange.REMOVED if removed else EntryChange.ADDED,
                 household_snapshot(), RemovalReason.DECEASED if removed else None)


def test_the_streamed_hash_is_the_hash_of_the_whole_sorted_list_and_refuses_disorder():
    entries = [entry(i, removed=i % 3 == 0) for i in (5, 1, 4, 2, 3)]
    rows = sorted((e.proposal_id, e.household_id, e.region_code, e.change.value, e.reason.value if e.reason else "")
                  for e in entries)
    import hashlib
    whole = json.dumps({"program": "PKH", "period": "2026-12", "entries": rows}, separators=(",", ":"), sort_keys=True)
    assert content_hash("PKH", "2026-12", entries) == "sha256:" + hashlib.sha256(whole.encode()).hexdigest()
    streamed = ListHash("PKH", "2026-12")
    streamed.add(entry(1))
    try:
        streamed.add(entry(1))
    except ValueError:
        pass
    else:
        raise AssertionError("an entry twice must be refused")


def test_issue_says_count_hash_and_where_to_read_and_each_entry_its_own_event():
    listed = ListHash("PKH", "2026-12")
    for i in range(3):
        listed.add(entry(i))
    draft = Decree.start(Program.PKH, "2026-12", MENSOS, NOW).drafted(listed, MENSOS, NOW)
    issued, event = draft.issue(7, MENSOS, NOW)
    assert (event.count, event.content_hash, event.list_url) == (3, draft.content_hash,
                                                                 "/v1/decrees/PKH-2026-12/beneficiaries")
    assert "beneficiaries" not in event.model_dump()
    one = issued.beneficiary_changed(entry(1))
    assert (one.proposal_id, one.household_id, one.number, one.change) == ("p-000001", "h-000001", "7/HUK/2026", "added")
    assert "nik" not in one.model_dump_json() and "Agus" not in one.model_dump_json()  # no personal data on Kafka
    assert beneficiary_event_id("PKH-2026-12", "p-1") == beneficiary_event_id("PKH-2026-12", "p-1")
    assert beneficiary_event_id("PKH-2026-12", "p-1") != beneficiary_event_id("PKH-2026-12", "p-2")
    assert issued_event_id("PKH-2026-12") != beneficiary_event_id("PKH-2026-12", "issued")


async def seeded(n: int) -> tuple[DecreeDeps, MemoryDatabase]:
    db = MemoryDatabase()
    deps = DecreeDeps.build(db, FixedClock(NOW))
    for i in range(n):
        c = Candidate(entry(i), Program.PKH, "2026-12", NOW, "BA-1")
        await deps.candidates.add(c)
    return deps, db


async def test_a_draft_writes_one_row_per_entry_and_issue_puts_only_the_summary_in_the_outbox():
    deps, db = await seeded(25)
    draft = await handlers.draft(deps, MENSOS, DraftDecree(program="PKH", period="2026-12"))
    assert draft.count == 25 and draft.content_hash == content_hash("PKH", "2026-12", [entry(i) for i in range(25)])
    rows = list(db.collection("decree_entries")._raw.find({}, sort=[("_id", 1)]))
    assert len(rows) == 25 and rows[0]["_id"] == "PKH-2026-12|p-000000" and rows[0]["decree_id"] == draft.id
    assert "entries" not in db.collection("decrees")._raw.find_one({"_id": draft.id})
    await handlers.issue(deps, MENSOS, draft.id)
    (outbox,) = db.collection("decrees")._raw.find_one({"_id": draft.id})["outbox"]
    said = Envelope.model_validate_json(outbox["value"])
    assert said.type == "decree.decree_issued.v2" and said.event_id == issued_event_id(draft.id)
    assert len(outbox["value"]) < 2000  # the same size for a list of any length


class Crashing(MemoryTransport):
    """Kafka that goes away after `ok` records."""

    def __init__(self, ok: int) -> None:
        super().__init__()
        self.ok = ok

    async def publish(self, topic, key, value, headers):
        if len(self.published) >= self.ok:
            raise ConnectionError("broker away")
        await super().publish(topic, key, value, headers)


async def test_the_publisher_sends_each_entry_once_in_batches_and_resumes_from_its_checkpoint(monkeypatch):
    monkeypatch.setattr(handlers, "PUBLISH_BATCH", 10)
    deps, db = await seeded(35)
    draft = await handlers.draft(deps, MENSOS, DraftDecree(program="PKH", period="2026-12"))
    await handlers.issue(deps, MENSOS, draft.id)
    first = Crashing(ok=25)  # two batches go through, the third fails half-way
    try:
        await handlers.publish_beneficiaries(deps, first)
    except ConnectionError:
        pass
    doc = db.collection("decrees")._raw.find_one({"_id": draft.id})
    assert (doc["published_through"], doc["published"], doc["published_all"]) == ("p-000019", 20, False)

    second = MemoryTransport()  # after the restart: from the checkpoint on
    assert await handlers.publish_beneficiaries(deps, second) == 15
    envs = [Envelope.model_validate_json(r.value) for r in first.published + second.published]
    assert {e.type for e in envs} == {"decree.beneficiary_status_changed.v1"}
    assert [e.payload["proposal_id"] for e in envs[25:]] == [f"p-{i:06d}" for i in range(20, 35)]
    again = {e.payload["proposal_id"]: e.event_id for e in envs}  # the overlap (20-24) carries the same ids
    assert len(again) == 35 and all(again[p] == beneficiary_event_id(draft.id, p) for p in again)
    assert [r.key for r in second.published][:2] == ["h-000020", "h-000021"]  # keyed by household
    assert db.collection("decrees")._raw.find_one({"_id": draft.id})["published_all"] is True
    assert await handlers.publish_beneficiaries(deps, MemoryTransport()) == 0  # nothing twice


async def test_the_publisher_wakes_on_an_issue():
    deps, _ = await seeded(3)
    bus = MemoryTransport()
    task = asyncio.create_task(handlers.run_publisher(deps, bus))
    try:
        draft = await handlers.draft(deps, MENSOS, DraftDecree(program="PKH", period="2026-12"))
        await handlers.issue(deps, MENSOS, draft.id)
        async def all_three() -> bool:
            return len(bus.on(topics.DECREES)) >= 3
        await await_for(all_three, "the three beneficiary events", deadline_s=5)
    finally:
        task.cancel()


def _rows(n: int):
    members = [MemberSnapshot(nik=f"3204052609{i:06d}", name=f"Nama Panjang Sekali {i}", sex="M",
                              birth_date="1980-09-26", relation="head") for i in range(1)]

    async def gen():
        for i in range(n):
            yield {"proposal_id": f"p-{i:08d}", "household_id": f"h-{i:08d}", "region_code": VILLAGE,
                   "kk_number": f"32040509112{i:05d}", "head_nik": members[0].nik, "head_name": f"=Nama {i}",
                   "members": 4, "change": "added", "reason": ""}
    return gen()


async def _peak(make) -> int:
    tracemalloc.start()
    try:
        await make()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_exports_stream_with_memory_flat_in_the_lists_size(tmp_path):
    async def csv_of(n):
        lines = 0
        async for chunk in exports.csv_stream(_rows(n)):
            lines += chunk.count(b"\n")
        assert lines == n + 1

    async def xlsx_of(n):
        path = await exports.xlsx_file({"id": "d", "count": n}, _rows(n))
        size = 0
        async for chunk in exports.file_stream(path):
            size += len(chunk)
        assert size > 0

    async def json_of(n):
        count = 0
        async for chunk in exports.json_stream({"id": "d"}, _rows(n)):
            count += chunk.count(b'"proposal_id"')
        assert count == n

    for export in (csv_of, xlsx_of, json_of):
        small, large = await _peak(lambda: export(2_000)), await _peak(lambda: export(20_000))
        assert large < small * 1.5 + 200_000, (export.__name__, small, large)


async def test_streamed_files_read_back_whole_and_neutralised():
    body = b"".join([c async for c in exports.csv_stream(_rows(3))])
    back = list(csv.DictReader(io.StringIO(body.decode())))
    assert [r["head_name"] for r in back] == ["'=Nama 0", "'=Nama 1", "'=Nama 2"]
    path = await exports.xlsx_file({"id": "d", "content_hash": "=x"}, _rows(3))
    data = b"".join([c async for c in exports.file_stream(path)])
    book = load_workbook(io.BytesIO(data))
    rows = list(book["beneficiaries"].iter_rows(values_only=True))
    assert len(rows) == 4 and rows[1][4] == "3204052609000000" and rows[1][5] == "'=Nama 0"
    listed = json.loads(b"".join([c async for c in exports.json_stream({"id": "d"}, _rows(3))]))
    assert listed["count"] == 3 and listed["items"][2]["proposal_id"] == "p-00000002"


async def test_a_case_that_arrived_during_the_issue_goes_into_the_next_period():
    deps, _ = await seeded(2)
    draft = await handlers.draft(deps, MENSOS, DraftDecree(program="PKH", period="2026-12"))
    await handlers.issue(deps, MENSOS, draft.id)
    late = Candidate(entry(99), Program.PKH, "2026-12", NOW, "BA-2")  # routed before the issue was seen
    await deps.candidates.add(late)
    await handlers.publish_beneficiaries(deps, MemoryTransport())
    assert await deps.candidates.where("p-000099") == ("PKH", "2027-01", None)
