"""Consumer lag: how many records each service's consumer group has yet to process, per
topic. What ops watch to decide which service to scale (up to the topic's partitions)."""

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

SERVICE_GROUPS = ("registry", "verification", "integration", "decree")  # group id = service name


@dataclass(frozen=True)
class Lag:
    group: str
    topic: str
    partitions: int
    behind: int  # records on the topic the group has not committed past


async def consumer_lag(bootstrap: str, groups: tuple[str, ...] = SERVICE_GROUPS) -> list[Lag]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        found = []
        for group in groups:
            committed = {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
                         if meta is not None and meta.offset >= 0}
            for topic in sorted({tp.topic for tp in committed}):
                (described,) = await admin.describe_topics([topic])
                tps = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
                ends = await consumer.end_offsets(tps)
                # A partition the group never committed on counts from its first record kept.
                starts = await consumer.beginning_offsets([tp for tp in tps if tp not in committed])
                behind = sum(max(0, ends[tp] - committed.get(tp, starts.get(tp, 0))) for tp in tps)
                found.append(Lag(group, topic, len(tps), behind))
        return found
    finally:
        await consumer.stop()
        await admin.close()
