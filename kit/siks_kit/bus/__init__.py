"""Events in and out: the Kafka transport, the batch-free consumer with dead letters, the outbox relay, offsets and lag."""
