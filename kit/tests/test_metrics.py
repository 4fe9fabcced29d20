"""The kit's metrics: dead letters by topic and kind of reason, the outbox's backlog and what
it published, by collection (GET /metrics on a service: services/registry/tests)."""

from prometheus_client.parser import text_string_to_metric_families
from siks_contracts import topics
from siks_kit.bus.consumer import Consumer
from siks_kit.bus.outbox import OutboxRelay, outbox_entry
from siks_kit.observability import metrics
from siks_testkit.memory import MemoryDatabase, MemoryTransport
from siks_testkit.testing import envelope
from siks_contracts.events import HouseholdRegistered


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


async def test_dead_letters_and_outbox_show_by_topic_kind_and_collection():
    before = metrics.render().decode()
    bus, db = MemoryTransport(), MemoryDatabase()
    await Consumer("t", bus, {}).process(topics.HOUSEHOLDS, b"{not json", {"event_id": "e1"})
    coll = db.collection("households")
    relay = OutboxRelay([coll], bus)
    db.on_write = relay.notify
    event = envelope(HouseholdRegistered(household_id="h1", region_code="32.04.05.2001", member_count=1, version=1))
    await coll.insert_one({"_id": "h1", "outbox": [outbox_entry(event, "h1")]})
    waiting = metrics.render().decode()
    assert value(waiting, "siks_outbox_pending", collection="households") == 1
    assert await relay.drain_once() == 1
    after = metrics.render().decode()
    assert value(after, "siks_dead_letters_total", topic=topics.HOUSEHOLDS, reason="invalid_message") == \
        value(before, "siks_dead_letters_total", topic=topics.HOUSEHOLDS, reason="invalid_message") + 1
    assert value(after, "siks_outbox_published_total", collection="households") >= 1
    assert value(after, "siks_outbox_pending", collection="households") == 0
