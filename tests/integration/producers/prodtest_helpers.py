"""Helpers for producer integration tests: read back what landed on a topic."""

from __future__ import annotations

import time
from dataclasses import dataclass

from trtlens.schemas.codec import decode_record
from trtlens.settings import Settings


@dataclass
class Landed:
    """Events read back from a topic: (partition, offset, event dict) in offset order per partition."""

    events: list[tuple[int, int, dict]]
    records: int
    errors: int


def read_topic(settings: Settings, topic: str, *, until, timeout_s: float = 30.0) -> Landed:
    """Read ``topic`` from the beginning until ``until(landed)`` is true or the deadline passes."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        **settings.kafka.kafka_python_kwargs(), enable_auto_commit=False, group_id=None, consumer_timeout_ms=500
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        landed = Landed([], 0, 0)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=300, max_records=5000)
            for tp, records in batch.items():
                for rec in records:
                    landed.records += 1
                    decoded = decode_record(rec.value)
                    landed.errors += len(decoded.errors)
                    for ev in decoded.events:
                        landed.events.append((tp.partition, rec.offset, ev.model_dump(mode="json")))
            if until(landed):
                break
        return landed
    finally:
        consumer.close()


def read_raw(settings: Settings, topic: str, *, count: int, timeout_s: float = 30.0) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of the first ``count`` records of a topic (all partitions)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        **settings.kafka.kafka_python_kwargs(), enable_auto_commit=False, group_id=None, consumer_timeout_ms=500
    )
    out: list[tuple[bytes | None, bytes]] = []
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(out) < count:
            for records in consumer.poll(timeout_ms=300).values():
                out.extend((r.key, r.value) for r in records)
        return out
    finally:
        consumer.close()


