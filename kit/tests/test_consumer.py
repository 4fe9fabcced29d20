import asyncio

import pytest
from pymongo.errors import AutoReconnect, NetworkTimeout, NotPrimaryError, OperationFailure
from siks_contracts import topics
from siks_contracts.events import HouseholdRegistered
from siks_kit.bus.consumer import Batched, Consumer, mask_identifiers
from siks_kit.store.documents import transient_database_error
from siks_testkit.memory import MemoryTransport, Record
from siks_testkit.testing import envelope

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


def fast(bus, handlers, **kw) -> Consumer:
    """A consumer whose backoff is a few milliseconds: the tests wait on nothing."""
    kw.setdefault("transient", transient_database_error)  # as the composition root wires it
    return Consumer("t", bus, handlers, backoff_initial_s=0.001, backoff_max_s=0.005, **kw)


async def test_a_repeatedly_failing_handler_dead_letters_with_the_reason():
    calls = []

    async def crashes(env, payload):
        calls.append(1)
        raise ZeroDivisionError("division by zero")

    bus = MemoryTransport()
    await fast(bus, {TYPE: crashes}).process(topics.HOUSEHOLDS, _record(), {})
    assert [r.headers["dead_letter_reason"] for r in bus.published] == [
        "handler failed after 3 attempts: ZeroDivisionError: division by zero"]
    assert len(calls) == 3


async def test_a_nik_in_a_dead_letter_reason_is_masked():
    async def names_a_nik(env, payload):
        raise ValueError("member 3204051508870001 is claimed by KK 3204051508870099")

    bus = MemoryTransport()
    await fast(bus, {TYPE: names_a_nik}).process(topics.HOUSEHOLDS, _record(), {})
    (reason,) = [r.headers["dead_letter_reason"] for r in bus.published]
    assert "3204051508870001" not in reason and "3204051508870099" not in reason
    assert "member 3204**********01 is claimed by KK 3204**********99" in reason


def test_masking_touches_only_16_digit_runs():
    assert mask_identifiers("nik 3204051508870001, offset 12345, id 32040515088700011") == \
        "nik 3204**********01, offset 12345, id 32040515088700011"


async def test_a_producer_that_does_not_own_the_topic_is_refused():
    seen = []

    async def handler(env, payload):
        seen.append(env)

    forged = envelope(HouseholdRegistered(household_id="h", region_code="32.04.05.2001", member_count=2, version=1),
                      producer="decree").model_dump_json().encode()
    bus = MemoryTransport()
    await Consumer("t", bus, {TYPE: handler}).process(topics.HOUSEHOLDS, forged, {"event_id": "e1"})
    assert seen == []
    (dead,) = bus.on(topics.dead_letter(topics.HOUSEHOLDS))
    assert dead.headers["dead_letter_reason"] == (
        f"refused: producer 'decree' is not {topics.HOUSEHOLDS}'s owner (registry)")


async def test_an_event_type_that_does_not_belong_on_the_topic_is_refused():
    # A household event, by its rightful producer, but on the decrees topic.
    seen = []

    async def handler(env, payload):
        seen.append(env)

    bus = MemoryTransport()
    await Consumer("t", bus, {TYPE: handler}).process(topics.DECREES, _record(), {})
    assert seen == []
    (dead,) = bus.on(topics.dead_letter(topics.DECREES))
    assert dead.headers["dead_letter_reason"] == f"refused: event type '{TYPE}' does not belong on {topics.DECREES}"


async def test_a_refused_record_is_refused_even_by_a_consumer_that_does_not_handle_its_type():
    bus = MemoryTransport()
    await Consumer("t", bus, {}).process(topics.DECREES, _record(), {})
    assert bus.published[0].headers["dead_letter_reason"].startswith("refused:")


@pytest.mark.parametrize("error", [
    AutoReconnect("connection reset"),
    NetworkTimeout("timed out"),
    NotPrimaryError("not primary"),
    OperationFailure("SQLITE_BUSY: database is busy"),
    OperationFailure("sqlite: database is locked (5)"),
], ids=["auto-reconnect", "network-timeout", "not-primary", "sqlite-busy", "database-locked"])
async def test_transient_database_errors_are_retried_until_the_handler_succeeds(error):
    calls = []

    async def flaky(env, payload):
        calls.append(1)
        if len(calls) <= 4:  # more failures than the attempts a broken handler gets
            raise error

    bus = MemoryTransport()
    consumer = fast(bus, {TYPE: flaky})
    await consumer.process(topics.HOUSEHOLDS, _record(), {})
    assert len(calls) == 5 and consumer.retries == 4
    assert bus.published == [] and consumer.dead_lettered == 0


def test_only_passing_database_failures_count_as_transient():
    assert transient_database_error(AutoReconnect("x"))
    assert transient_database_error(OperationFailure("x", details={"errmsg": "SQLITE_BUSY"}))
    assert not transient_database_error(OperationFailure("document fails validation"))
    assert not transient_database_error(ValueError("SQLITE_BUSY"))  # not from the database


async def test_a_database_outage_that_outlasts_the_budget_is_not_acked_and_not_dead_lettered():
    calls = []

    async def db_down(env, payload):
        calls.append(1)
        raise AutoReconnect("no primary")

    bus = MemoryTransport()
    with pytest.raises(AutoReconnect):
        await fast(bus, {TYPE: db_down}, transient_budget_s=0.05).process(topics.HOUSEHOLDS, _record(), {})
    assert len(calls) > 3  # retried past the attempts a failing handler gets
    assert bus.published == []


async def test_a_database_refusal_is_a_handler_failure_not_an_outage():
    # An operation the server refuses fails the same way every time: retrying it forever
    # would stop the partition behind it. It is dead-lettered like any failing handler.
    async def refused(env, payload):
        raise OperationFailure("document fails validation")

    bus = MemoryTransport()
    await fast(bus, {TYPE: refused}).process(topics.HOUSEHOLDS, _record(), {})
    assert [r.headers["dead_letter_reason"] for r in bus.published] == [
        "handler failed after 3 attempts: OperationFailure: document fails validation"]


# ------------------------------------------------------------------ batches


def _keyed(key: str, member_count: int):
    return Record(topics.HOUSEHOLDS, key, _record(member_count), {"event_id": f"{key}-{member_count}"})


async def test_a_batch_keeps_each_keys_order_and_runs_keys_side_by_side():
    seen: list[tuple[str, int]] = []
    both_started = asyncio.Event()
    running: set[str] = set()

    async def handler(env, payload):
        key = env.event_id
        running.add(key)
        if len(running) == 2:
            both_started.set()
        await asyncio.wait_for(both_started.wait(), 1)  # fails unless two keys run at once
        seen.append((payload.household_id, payload.member_count))
        running.discard(key)

    bus = MemoryTransport()
    records = [_keyed("a", 1), _keyed("b", 1), _keyed("a", 2), _keyed("b", 2), _keyed("a", 3)]
    await Consumer("t", bus, {TYPE: handler}).process_batch(topics.HOUSEHOLDS, records)
    counts = [count for _, count in seen]
    assert len(seen) == 5 and sorted(counts) == [1, 1, 2, 2, 3]
    assert bus.published == []


async def test_a_bad_record_is_dead_lettered_alone_and_the_rest_of_its_batch_is_handled():
    seen = []

    async def handler(env, payload):
        seen.append(payload.member_count)

    bus = MemoryTransport()
    batch = [_keyed("a", 1), Record(topics.HOUSEHOLDS, "a", b"{not json", {"event_id": "bad"}), _keyed("a", 2)]
    await Consumer("t", bus, {TYPE: handler}).process_batch(topics.HOUSEHOLDS, batch)
    assert seen == [1, 2]
    (dead,) = bus.on(topics.dead_letter(topics.HOUSEHOLDS))
    assert dead.value == b"{not json"


async def test_a_transient_failure_past_its_budget_fails_the_batch_after_the_rest_ran():
    seen = []

    async def handler(env, payload):
        if payload.member_count == 9:
            raise AutoReconnect("connection closed")
        seen.append(payload.member_count)

    bus = MemoryTransport()
    consumer = fast(bus, {TYPE: handler}, transient_budget_s=0.02)
    with pytest.raises(AutoReconnect):
        await consumer.process_batch(topics.HOUSEHOLDS, [_keyed("a", 9), _keyed("b", 1), _keyed("c", 2)])
    assert sorted(seen) == [1, 2] and bus.published == []  # nothing dead-lettered: the batch comes again


async def test_the_first_event_of_each_key_goes_in_bulk_and_what_the_bulk_did_not_settle_goes_one_at_a_time():
    bulked, one_by_one = [], []

    async def many(items):
        bulked.append([(i.headers["event_id"]) for i in items])
        # b's event cannot be settled in bulk (say its document changed meanwhile); c's had a
        # passing database failure: both go through the one-at-a-time handler.
        return [ValueError("changed meanwhile") if i.headers["event_id"] == "b-1"
                else AutoReconnect("gone") if i.headers["event_id"] == "c-1" else None for i in items]

    async def one(env, payload):
        one_by_one.append(payload.member_count)

    bus = MemoryTransport()
    batch = [_keyed("a", 1), _keyed("b", 1), _keyed("a", 2), _keyed("c", 1), _keyed("a", 3)]
    await fast(bus, {TYPE: Batched(one=one, many=many)}).process_batch(topics.HOUSEHOLDS, batch)
    assert bulked == [["a-1", "b-1", "c-1"]]  # one call for the first event of every key
    assert sorted(one_by_one) == [1, 1, 2, 3]  # b's and c's first, then a's later two
    assert [n for n in one_by_one if n != 1] == [2, 3]  # a's in order, after its first
    assert bus.published == []


async def test_a_bulk_handler_that_fails_as_a_whole_leaves_every_event_to_the_one_at_a_time_handler():
    one_by_one = []

    async def many(items):
        raise RuntimeError("the bulk write was refused")

    async def one(env, payload):
        if payload.member_count == 7:
            raise ValueError("cannot be done")
        one_by_one.append(payload.member_count)

    bus = MemoryTransport()
    consumer = fast(bus, {TYPE: Batched(one=one, many=many)})
    await consumer.process_batch(topics.HOUSEHOLDS, [_keyed("a", 1), _keyed("b", 7), _keyed("c", 2)])
    assert sorted(one_by_one) == [1, 2]
    (dead,) = bus.on(topics.dead_letter(topics.HOUSEHOLDS))  # only the event that can never be done
    assert dead.headers["event_id"] == "b-7" and "cannot be done" in dead.headers["dead_letter_reason"]


async def test_a_database_outage_during_the_bulk_write_redelivers_the_batch():
    async def many(items):
        raise AutoReconnect("connection closed")

    async def one(env, payload):
        raise AssertionError("not reached: the batch comes again whole")

    with pytest.raises(AutoReconnect):
        await fast(MemoryTransport(), {TYPE: Batched(one=one, many=many)}).process_batch(
            topics.HOUSEHOLDS, [_keyed("a", 1), _keyed("b", 1)])
