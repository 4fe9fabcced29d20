"""What Kafka's admin API says about a topic's partitions and a group's place in them; shared
by the dead-letter tools and the lag report."""

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def partitions_of(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
    """Every partition of `topic`; none when it does not exist (it is not created)."""
    (described,) = await admin.describe_topics([topic])
    if described["error_code"]:
        return []
    return sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])


async def committed(admin: AIOKafkaAdminClient, group: str,
                    partitions: list[TopicPartition] | None = None) -> dict[TopicPartition, int]:
    """The next offset `group` will read on each partition it has committed on."""
    found = await admin.list_consumer_group_offsets(group, partitions=partitions)
    return {tp: meta.offset for tp, meta in found.items() if meta is not None and meta.offset >= 0}
