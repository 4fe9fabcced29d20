"""One suite, two transports: the in-memory fake and real Kafka (through FastStream) must
deliver alike: the value and headers as sent, in order per key, in batches, and a batch whose
callback fails comes again whole (at-least-once), with nothing after it skipped."""

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from siks_kit.bus.kafka_access import for_tools
from siks_testkit.memory import MemoryTransport
from siks_testkit.testing import await_for
from siks_kit.bus.transport import KafkaTransport


class Harness:
    """A transport plus what the real one does on its own: deliver what was published."""

    def __init__(self, transport, pump) -> None:
        self.transport, self.pump = transport, pump
        self.topic = f"siks.test.transport.{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.stack)])
async def harness(request):
    if request.param == "memory":
        bus = MemoryTransport()
        yield Harness(bus, bus.pump)
        return
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    access = for_tools(bootstrap)  # the local stack's admin: any topic, any group
    h = Harness(KafkaTransport(access, client_id="transport-contract"), None)
    admin = AIOKafkaAdminClient(**access.client_args())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(h.topic, num_partitions=3, replication_factor=1)])
        yield h
    finally:
        await h.transport.stop()
        await admin.delete_topics([h.topic])
        await admin.close()


async def _run(h: Harness, sends: list[tuple[str, bytes]], callback, received: list) -> None:
    """Subscribes, publishes, and waits until the last record sent has arrived: with one key,
    everything before it (and any wrong repeat of it) has arrived by then."""
    h.transport.subscribe(h.topic, f"contract-{uuid.uuid4().hex[:8]}", callback)
    await h.transport.start()
    for key, value in sends:
        await h.transport.publish(h.topic, key, value, {"event_id": value.decode(), "event_type": "test.v1"})
    if h.pump:
        await h.pump()

    last = sends[-1][1]

    async def last_arrived() -> bool:
        return last in received

    await await_for(last_arrived, f"the last record ({last!r})", 60)


async def test_value_and_headers_arrive_as_sent_in_order_per_key(harness):
    received, headers_seen = [], []

    async def collect(records) -> None:
        for record in records:
            assert record.topic == harness.topic and record.key == "household-1"
            received.append(record.value)
            headers_seen.append(record.headers)

    sends = [("household-1", f"e{i}".encode()) for i in range(20)]
    await _run(harness, sends, collect, received)
    assert received == [v for _, v in sends]
    assert all(h["event_id"] == v.decode() and h["event_type"] == "test.v1" for v, h in zip(received, headers_seen))


async def test_a_batch_whose_callback_fails_comes_again_and_nothing_after_it_is_skipped(harness):
    received, failed = [], []

    async def flaky(records) -> None:
        for record in records:
            if record.value == b"e1" and not failed:
                failed.append(record.value)
                raise RuntimeError("the database is away, say")
            received.append(record.value)

    await _run(harness, [("household-1", v) for v in (b"e0", b"e1", b"e2", b"end")], flaky, received)
    assert failed == [b"e1"]
    # The batch came again from its start: what came before e1 in it may come twice, in order.
    assert list(dict.fromkeys(received)) == [b"e0", b"e1", b"e2", b"end"]
    assert received.count(b"e1") == 1 and received.index(b"e1") < received.index(b"e2")
