import asyncio

from opentelemetry import trace
from siks_contracts.envelope import Envelope
from siks_contracts.events import HouseholdRegistered
from siks_kit import tracing
from siks_kit.memory import MemoryDatabase, MemoryTransport
from siks_kit.outbox import OutboxRelay, outbox_entry
from siks_kit.testing import envelope


def _registered(n: int) -> Envelope:
    return envelope(HouseholdRegistered(household_id="h1", region_code="32.04.05.2001", member_count=n, version=n))


async def test_relay_publishes_in_order_then_empties_the_outbox():
    db, bus = MemoryDatabase(), MemoryTransport()
    coll = db.collection("households")
    events = [_registered(i) for i in (1, 2, 3)]
    await coll.insert_one({"_id": "h1", "outbox": [outbox_entry(e, "h1") for e in events]})
    relay = OutboxRelay([coll], bus)
    assert await relay.drain_once() == 3
    assert [r.headers["event_id"] for r in bus.published] == [e.event_id for e in events]
    assert {r.key for r in bus.published} == {"h1"}
    assert (await coll.find_one({"_id": "h1"}))["outbox"] == []
    assert await relay.drain_once() == 0  # nothing published twice


async def test_outbox_entry_keeps_the_writers_trace_and_relay_continues_it():
    tracing.setup_tracing("test")
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("operator submit") as span:
        entry = outbox_entry(_registered(1), "h1")
        trace_id = span.get_span_context().trace_id
    stored = Envelope.model_validate_json(entry["value"]).trace
    assert stored is not None and stored.traceparent.split("-")[1] == f"{trace_id:032x}"


async def test_relay_wakes_on_write_without_waiting_for_the_poll():
    db, bus = MemoryDatabase(), MemoryTransport()
    coll = db.collection("households")
    relay = OutboxRelay([coll], bus, poll_seconds=30)
    db.on_write = relay.notify
    task = asyncio.create_task(relay.run())
    try:
        await coll.insert_one({"_id": "h2", "outbox": [outbox_entry(_registered(1), "h2")]})
        for _ in range(500):
            if bus.published:
                break
            await asyncio.sleep(0.01)
        assert len(bus.published) == 1
    finally:
        task.cancel()
