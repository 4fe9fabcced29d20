import asyncio
import json

import pytest
from opentelemetry import trace
from siks_contracts.envelope import Envelope
from siks_contracts.events import HouseholdRegistered
from siks_kit.observability import tracing
from siks_testkit.memory import MemoryDatabase, MemoryTransport
from siks_kit.bus.outbox import OutboxRelay, next_sweep_after, outbox_entry, publish_entry
from siks_testkit.testing import await_for, envelope


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
    # The record carries the writer's span as its parent: the consumer's span continues it.
    bus = MemoryTransport()
    await publish_entry(bus, entry)
    assert bus.published[0].headers["traceparent"] == stored.traceparent


async def test_an_entry_read_back_is_sent_with_the_same_headers_as_one_from_memory():
    tracing.setup_tracing("test")
    with trace.get_tracer("test").start_as_current_span("operator submit"):
        entry = outbox_entry(_registered(1), "h1")
    read_back = dict(entry)  # what a sweep finds: the stored fields only
    assert not hasattr(read_back, "headers") and set(read_back) == {"event_id", "topic", "key", "value"}
    bus = MemoryTransport()
    await publish_entry(bus, entry)
    await publish_entry(bus, read_back)
    from_memory, from_store = (r.headers for r in bus.published)
    assert from_memory == from_store
    assert {"event_type", "event_id", "correlation_id", "traceparent"} <= set(from_store)
    assert from_store["event_type"] == "registry.household_registered.v1"


async def test_relay_wakes_on_write_without_waiting_for_the_sweep():
    db, bus = MemoryDatabase(), MemoryTransport()
    coll = db.collection("households")
    relay = OutboxRelay([coll], bus, sweep_seconds=30)
    db.on_write = relay.notify
    task = asyncio.create_task(relay.run())
    try:
        await coll.insert_one({"_id": "h2", "outbox": [outbox_entry(_registered(1), "h2")]})
        await coll.update_one({"_id": "h2"}, {"$push": {"outbox": outbox_entry(_registered(2), "h2")}})
        await await_for(lambda: _count(bus, 2), "both events published")
        assert [r.key for r in bus.published] == ["h2", "h2"]
    finally:
        task.cancel()


async def _count(bus, n):
    return len(bus.published) >= n


async def test_sweep_finds_entries_no_write_handed_over():
    db, bus = MemoryDatabase(), MemoryTransport()
    coll = db.collection("households")  # written before the relay existed: a crash, say
    await coll.insert_one({"_id": "h3", "outbox": [outbox_entry(_registered(1), "h3")]})
    relay = OutboxRelay([coll], bus)
    assert await relay.drain_fresh() == 0
    assert await relay.sweep() == 1 and bus.published[0].key == "h3"


async def test_a_sweep_makes_one_pass_page_by_page():
    db, bus = MemoryDatabase(), MemoryTransport()
    coll = db.collection("households")
    for i in range(5):
        await coll.insert_one({"_id": f"h{i}", "outbox": [outbox_entry(_registered(1), f"h{i}")]})
    relay = OutboxRelay([coll], bus, batch=2)
    reads, pages = [], []
    iterate, relay_page = coll.iterate, relay._relay

    def counting_iterate(*args, **kwargs):
        reads.append(args[0])
        return iterate(*args, **kwargs)

    async def counting_relay(c, pending, **kwargs):
        pages.append(len(pending))
        return await relay_page(c, pending, **kwargs)

    coll.iterate, relay._relay = counting_iterate, counting_relay
    assert await relay.sweep() == 5
    assert sorted(r.key for r in bus.published) == [f"h{i}" for i in range(5)]
    assert len(reads) == 1 and pages == [2, 2, 1]  # one read of the collection, published 2, 2 and 1 at a time


async def test_a_sweep_leaves_what_a_write_handed_over_to_the_fresh_path():
    db, bus = MemoryDatabase(), MemoryTransport()
    coll = db.collection("households")
    old, new = outbox_entry(_registered(1), "h1"), outbox_entry(_registered(2), "h1")
    await coll.insert_one({"_id": "h1", "outbox": [old]})  # left by a crash: nobody handed it over
    relay = OutboxRelay([coll], bus)
    db.on_write = relay.notify
    await coll.update_one({"_id": "h1"}, {"$push": {"outbox": new}})  # handed over, not yet published
    assert await relay.sweep() == 1
    assert await relay.drain_fresh() == 1
    sent = [json.loads(r.value)["event_id"] for r in bus.published]
    assert sent == [old["event_id"], new["event_id"]]  # each once, in the document's order


def test_sweeps_grow_rarer_as_they_grow_longer():
    assert next_sweep_after(0.1, base_s=60) == 60  # small collections: the base interval
    assert next_sweep_after(3.0, base_s=60) == pytest.approx(150)  # a 3 s sweep: 2% of the time
    assert next_sweep_after(30.0, base_s=60) == pytest.approx(1500)


class CountingCollection:
    """Wraps a collection and counts the commands the relay sends it."""

    def __init__(self, inner) -> None:
        self._inner, self.name, self.calls = inner, inner.name, []

    def __getattr__(self, name):
        method = getattr(self._inner, name)

        async def counted(*args, **kwargs):
            self.calls.append(name)
            return await method(*args, **kwargs)

        return counted


async def test_handed_over_entries_go_out_from_memory_and_are_removed_in_one_write():
    db, bus = MemoryDatabase(), MemoryTransport()
    raw = db.collection("households")
    coll = CountingCollection(raw)
    relay = OutboxRelay([coll], bus)
    db.on_write = relay.notify
    for i in range(20):
        await raw.insert_one({"_id": f"h{i}", "outbox": [outbox_entry(_registered(1), f"h{i}")]})
    await raw.update_one({"_id": "h0"}, {"$push": {"outbox": {"$each": [outbox_entry(_registered(n), "h0") for n in (2, 3)]}}})
    assert relay.waiting == 22
    assert await relay.drain_fresh() == 22
    await relay.settle()  # the removal runs beside the next round
    assert coll.calls == ["update_many"]  # no read back, one removal statement
    assert await raw.count({"outbox.0": {"$exists": True}}) == 0
    first = [json.loads(r.value)["payload"]["version"] for r in bus.published if r.key == "h0"]
    assert first == [1, 2, 3]  # one document's entries in the order written


async def test_a_failed_publish_keeps_its_entries_for_the_next_round_in_order():
    db, bus = MemoryDatabase(), MemoryTransport()
    coll = db.collection("households")
    relay = OutboxRelay([coll], bus)
    db.on_write = relay.notify
    publish, refused = bus.publish, []

    async def flaky(topic, key, value, headers):
        if key == "h1" and not refused:
            refused.append(key)
            raise ConnectionError("broker away")
        await publish(topic, key, value, headers)

    bus.publish = flaky
    await coll.insert_one({"_id": "h1", "outbox": [outbox_entry(_registered(1), "h1")]})
    await coll.insert_one({"_id": "h2", "outbox": [outbox_entry(_registered(1), "h2")]})
    assert await relay.drain_fresh() == 1 and relay.waiting == 1
    await relay.settle()
    assert (await coll.find_one({"_id": "h2"}))["outbox"] == []
    await coll.update_one({"_id": "h1"}, {"$push": {"outbox": outbox_entry(_registered(2), "h1")}})
    assert await relay.drain_fresh() == 2
    await relay.settle()
    assert [json.loads(r.value)["payload"]["version"] for r in bus.published if r.key == "h1"] == [1, 2]
    assert (await coll.find_one({"_id": "h1"}))["outbox"] == []


async def test_an_update_soon_after_publishing_removes_the_entries_and_saves_the_relay_its_write():
    db, bus = MemoryDatabase(), MemoryTransport()
    raw = db.collection("households")
    coll = CountingCollection(raw)
    relay = OutboxRelay([coll], bus, removal_delay_s=3600)
    db.on_write, db.published = relay.notify, relay
    for i in range(3):
        await raw.insert_one({"_id": f"h{i}", "outbox": [outbox_entry(_registered(1), f"h{i}")]})
    assert await relay.drain_fresh() == 3
    assert coll.calls == []  # published; held a moment for a write that comes anyway
    assert await raw.update_one({"_id": "h0"}, {"$set": {"slot": "p0"}})
    assert await raw.update_each([({"_id": "h1", "slot": "taken"}, {"$set": {"slot": "p1"}})]) == [False]
    assert [d["_id"] for d in await raw.find({"outbox.0": {"$exists": True}}, sort=[("_id", 1)])] == ["h1", "h2"]
    await relay.settle()  # what no update took (h2) or took in vain (h1): the relay's one removal
    assert coll.calls == ["update_many"]
    assert await raw.count({"outbox.0": {"$exists": True}}) == 0
    assert len(bus.published) == 3


async def test_published_entries_no_update_takes_are_removed_after_the_delay():
    db, bus = MemoryDatabase(), MemoryTransport()
    coll = db.collection("households")
    relay = OutboxRelay([coll], bus, sweep_seconds=3600, removal_delay_s=0.05)
    db.on_write, db.published = relay.notify, relay
    task = asyncio.create_task(relay.run())
    try:
        await coll.insert_one({"_id": "h1", "outbox": [outbox_entry(_registered(1), "h1")]})

        async def removed():
            return len(bus.published) == 1 and await coll.count({"outbox.0": {"$exists": True}}) == 0

        await await_for(removed, "the published entry removed by the relay")
    finally:
        task.cancel()


async def test_a_sweep_does_not_send_again_what_waits_for_its_removal():
    db, bus = MemoryDatabase(), MemoryTransport()
    coll = db.collection("households")
    relay = OutboxRelay([coll], bus, removal_delay_s=3600)
    db.on_write, db.published = relay.notify, relay
    await coll.insert_one({"_id": "h1", "outbox": [outbox_entry(_registered(1), "h1")]})
    assert await relay.drain_fresh() == 1
    assert await coll.count({"outbox.0": {"$exists": True}}) == 1  # sent; its removal is to come
    assert await relay.sweep() == 0
    assert len(bus.published) == 1
