"""Consumer lag: how many records each service's consumer group has yet to process, per
topic. What ops watch to decide which service to scale (up to the topic's partitions)."""

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from siks_contracts import topics

from siks_kit.bus.kafka_access import KafkaAccess, client_args
from siks_kit.bus.offsets import committed, partitions_of

# A service's group id is its name, and every service owns a topic: the owners are the groups.
SERVICE_GROUPS = tuple(sorted(set(topics.OWNER.values())))


@dataclass(frozen=True)
class Lag:
    group: str
    topic: str
    partitions: int
    behind: int  # records on the topic the group has not committed past


async def consumer_lag(bootstrap: str | KafkaAccess, groups: tuple[str, ...] = SERVICE_GROUPS) -> list[Lag]:
    admin = AIOKafkaAdminClient(**client_args(bootstrap))
    consumer = AIOKafkaConsumer(**client_args(bootstrap), enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        found = []
        for group in groups:
            done = await committed(admin, group)
            for topic in sorted({tp.topic for tp in done}):
                tps = await partitions_of(admin, topic)
                ends = await consumer.end_offsets(tps)
                # A partition the group never committed on counts from its first record kept.
                starts = await consumer.beginning_offsets([tp for tp in tps if tp not in done])
                behind = sum(max(0, ends[tp] - done.get(tp, starts.get(tp, 0))) for tp in tps)
                found.append(Lag(group, topic, len(tps), behind))
        return found
    finally:
        await consumer.stop()
        await admin.close()
