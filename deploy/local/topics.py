"""Creates every topic of the contracts (and its dead-letter twin) before services subscribe."""

import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from siks_contracts import topics


async def ensure(bootstrap: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for topic in topics.ALL for t in (topic, topics.dead_letter(topic))]
        missing = [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in wanted if t not in existing]
        if missing:
            await admin.create_topics(missing)
    finally:
        await admin.close()


if __name__ == "__main__":
    asyncio.run(ensure(sys.argv[1], int(sys.argv[2])))
