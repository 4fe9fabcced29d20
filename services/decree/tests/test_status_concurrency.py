"""Cek Bansos on the real database: concurrent updates of one NIK lose nothing. Each update is
a conditional write on the version it read, read again and reapplied when another got there
first (before, a lost insert race was swallowed).

On FerretDB 1.x a conditional update is only atomic within one process (its SQLite backend
updates by read, change, write back; kit/siks_kit/store/documents.py queues a process's writes), so a
service runs one replica on FerretDB; MongoDB makes the same writes atomic across replicas."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from siks_contracts.enums import EntryChange, Program
from siks_kit.runtime.clock import FixedClock
from siks_testkit.samples import VILLAGE, household_snapshot
from siks_kit.store.documents import MongoDatabase
from siks_decree import handlers
from siks_decree.domain.decree import Entry
from siks_decree.domain.roll import DecreeRef
from siks_decree.handlers import DecreeDeps

pytestmark = pytest.mark.stack
PROGRAMS = [Program.PKH, Program.BPNT, Program.PBI_JK, Program.PIP, Program.BLT_DD, Program.DTKS]


async def test_concurrent_decrees_of_one_person_are_all_listed(mongo_url):
    name = f"siks_test_status_{uuid.uuid4().hex[:8]}"
    dbs = [MongoDatabase(mongo_url, name)]
    deps = [DecreeDeps.build(dbs[0], FixedClock(datetime(2026, 12, 20, tzinfo=UTC)))] * 2
    await deps[0].prepare()
    entry = Entry("p-1", "h-1", VILLAGE, EntryChange.ADDED, household_snapshot())
    nik = "3204052609800001"
    try:
        updates = []
        for i, program in enumerate(PROGRAMS * 2):  # each programme twice: a redelivery changes nothing
            ref = DecreeRef.of(f"{program}-2026-12", f"{i % 6 + 1}/HUK/2026", "2026-12",
                               datetime(2026, 12, 20, i % 6, tzinfo=UTC))
            updates.append(handlers.apply_status(deps[i % 2], nik, "agus", VILLAGE, program, entry, ref))
        await asyncio.gather(*updates)
        status = await deps[0].status.get(nik)
        assert sorted(s.program for s in status.programs) == sorted(PROGRAMS)
        assert all(s.status == "active" for s in status.programs) and status.version == len(PROGRAMS)
    finally:
        for db in dbs:
            await db.close()
