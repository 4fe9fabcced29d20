"""Creates every topic of the contracts (and its dead-letter twin) before services subscribe,
then writes the ACLs (acls.py). Connects as the tools do (siks_kit.bus.kafka_access: admin)."""

import asyncio
import sys
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from siks_contracts import topics
from siks_kit.bus.kafka_access import client_args

sys.path.insert(0, str(Path(__file__).resolve().parent))
import acls  # noqa: E402


async def ensure(bootstrap: str, partitions: int) -> None:
    args = client_args(bootstrap)
    admin = AIOKafkaAdminClient(**args)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for topic in topics.ALL for t in (topic, topics.dead_letter(topic))]
        missing = [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in wanted if t not in existing]
        if missing:
            await admin.create_topics(missing)
        kept = [t for t in wanted if t in existing]
        for described in await admin.describe_topics(kept) if kept else ():
            if not described["error_code"] and len(described["partitions"]) != partitions:
                # Never changed here: more partitions move keys to other partitions (order per
                # aggregate breaks while old records wait), and Kafka cannot take any away.
                print(f"note: {described['topic']} keeps its {len(described['partitions'])} partitions "
                      f"(SIKS_TOPIC_PARTITIONS={partitions} applies to new topics; docs/operations.md)")
    finally:
        await admin.close()
    await acls.grant(args)


if __name__ == "__main__":
    asyncio.run(ensure(sys.argv[1], int(sys.argv[2])))
