import pytest
from pymongo.errors import AutoReconnect, OperationFailure
from siks_contracts import topics
from siks_contracts.events import HouseholdRegistered
from siks_kit.consumer import Consumer, Rejected
from siks_kit.memory import MemoryTransport
from siks_kit.testing import envelope

TYPE = "registry.household_registered.v1"


def _record(member_count: int = 2) -> bytes:
    return envelope(HouseholdRegistered(household_id="h", region_code="32.04.05.2001", member_count=member_count,
                                        version=1)).model_dump_json().encode()


async def test_valid_event_reaches_its_handler():
    seen = []

    async def handler(env, payload):
        seen.append(payload.member_count)

    bus = MemoryTransport()
    await Consumer("t", bus, {TYPE: handler}).process(topics.HOUSEHOLDS, _record(3), {})
    assert seen == [3] and bus.published == []


@pytest.mark.parametrize("value, reason", [
    (b"{not json", "invalid message"),
    (b'{"type": "registry.nothing.v1"}', "invalid message"),
])
async def test_malformed_records_are_dead_lettered_with_the_reason(value, reason):
    bus = MemoryTransport()
    await Consumer("t", bus, {}).process(topics.HOUSEHOLDS, value, {"event_id": "e1"})
    (dead,) = bus.on(topics.dead_letter(topics.HOUSEHOLDS))
    assert dead.value == value and reason in dead.headers["dead_letter_reason"]
    assert dead.headers["dead_letter_source"] == topics.HOUSEHOLDS


async def test_payload_errors_name_the_field_but_not_the_value():
    raw = _record().decode().replace('"member_count":2', '"member_count":"Siti Aminah"').encode()
    bus = MemoryTransport()
    await Consumer("t", bus, {}).process(topics.HOUSEHOLDS, raw, {})
    (dead,) = bus.published
    assert "member_count" in dead.headers["dead_letter_reason"]
    assert "Siti" not in dead.headers["dead_letter_reason"]


async def test_unknown_event_type_is_dead_lettered():
    raw = _record().decode().replace(TYPE, "registry.household_vanished.v1").encode()
    bus = MemoryTransport()
    await Consumer("t", bus, {}).process(topics.HOUSEHOLDS, raw, {})
    assert "unknown event type" in bus.published[0].headers["dead_letter_reason"]


async def test_rejected_and_repeatedly_failing_handlers_dead_letter():
    async def rejects(env, payload):
        raise Rejected("household belongs to no village")

    async def crashes(env, payload):
        raise ZeroDivisionError

    bus = MemoryTransport()
    await Consumer("t", bus, {TYPE: rejects}).process(topics.HOUSEHOLDS, _record(), {})
    await Consumer("t", bus, {TYPE: crashes}).process(topics.HOUSEHOLDS, _record(), {})
    reasons = [r.headers["dead_letter_reason"] for r in bus.published]
    assert reasons == ["rejected: household belongs to no village", "handler failed after 3 attempts: ZeroDivisionError"]


async def test_database_outage_is_not_acked_and_not_dead_lettered():
    async def db_down(env, payload):
        raise AutoReconnect("no primary")

    bus = MemoryTransport()
    with pytest.raises(AutoReconnect):
        await Consumer("t", bus, {TYPE: db_down}).process(topics.HOUSEHOLDS, _record(), {})
    assert bus.published == []


async def test_a_database_refusal_is_a_handler_failure_not_an_outage():
    # An operation the server refuses fails the same way every time: retrying it forever
    # would stop the partition behind it. It is dead-lettered like any failing handler.
    async def refused(env, payload):
        raise OperationFailure("document fails validation")

    bus = MemoryTransport()
    await Consumer("t", bus, {TYPE: refused}).process(topics.HOUSEHOLDS, _record(), {})
    assert [r.headers["dead_letter_reason"] for r in bus.published] == [
        "handler failed after 3 attempts: OperationFailure"]
