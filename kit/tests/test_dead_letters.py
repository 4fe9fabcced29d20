"""Which dead letters a replay leaves out: the reasons the consumer writes for records that
are no event we know, and only those."""

import json

from siks_contracts import topics
from siks_contracts.events import HouseholdRegistered
from siks_kit.bus.consumer import Consumer
from siks_kit.bus.dead_letters import unreadable
from siks_testkit.memory import MemoryTransport
from siks_testkit.testing import envelope

EVENT = envelope(HouseholdRegistered(household_id="h1", region_code="32.04.05.2001", member_count=1, version=1))


async def _reason(value: bytes, handler=None) -> str:
    bus = MemoryTransport()
    handlers = {"registry.household_registered.v1": handler} if handler else {}
    await Consumer("t", bus, handlers).process(topics.HOUSEHOLDS, value, {})
    (parked,) = bus.published
    return parked.headers["dead_letter_reason"]


async def test_records_that_are_no_event_we_know_are_unreadable():
    assert unreadable(await _reason(b"not json"))
    assert unreadable(await _reason(b'{"event_id": "x"}'))
    unknown = EVENT.model_dump(mode="json") | {"type": "registry.household_moved.v9"}
    assert unreadable(await _reason(json.dumps(unknown).encode()))


async def test_records_refused_on_that_topic_are_left_out_too():
    forged = EVENT.model_dump(mode="json") | {"producer": "decree"}
    assert unreadable(await _reason(json.dumps(forged).encode()))


async def test_events_a_handler_failed_on_are_replayable():
    async def fails(env, payload):
        raise RuntimeError("bug")

    value = EVENT.model_dump_json().encode()
    assert not unreadable(await _reason(value, fails))
