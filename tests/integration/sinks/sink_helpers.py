"""Helpers for the sink's integration tests (real broker + store from tests/conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson
import yaml

from trtlens.schemas.documents import Trace, WindowMetric
from trtlens.settings import Settings

DAY1 = 1_795_219_200_000  # 2026-11-21T00:00:00Z
DAY2 = DAY1 + 86_400_000


def make_traces(n: int, *, start_ms: int = DAY1 + 3_600_000, prefix: str = "req", **overrides) -> list[Trace]:
    return [
        Trace(
            request_id=f"{prefix}-{i:05d}", model="resnet50", model_version="v1", worker_id=f"w{i % 3}",
            start_ts_ms=start_ms + i, end_ts_ms=start_ms + i + 7, status="ok", complete=True, batch_size=1,
            stages={"queue_ms": 0.5, "compute_ms": 4.25, "total_ms": 7.0}, sample_weight=10.0, **overrides,
        )
        for i in range(n)
    ]


def make_metric(window_start_ms: int, scope_key: str = "resnet50/v1") -> WindowMetric:
    return WindowMetric(
        scope="model_version", scope_key=scope_key, model="resnet50", model_version="v1",
        window_start_ms=window_start_ms, window_ms=10_000, requests=10, latency_ms={"count": 10, "p99": 12.5},
        sketch={"bins": {"10": 3, "11": 7}},
    )


def produce(settings: Settings, family: str, docs: Iterable, *, raw: Iterable[tuple[bytes | None, bytes]] = ()) -> int:
    """Publish documents exactly as the Faust app does (key = doc_id), plus raw (key, value) records."""
    from kafka import KafkaProducer

    from trtlens.kafka import partition_for_key

    topic = getattr(settings.topics, family)
    parts = settings.topics.partitions
    producer = KafkaProducer(acks="all", linger_ms=5, **settings.kafka.kafka_python_kwargs())
    n = 0
    try:
        for doc in docs:
            key = doc.doc_id.encode()
            producer.send(topic, orjson.dumps(doc.model_dump(mode="json")), key=key, partition=partition_for_key(key, parts))
            n += 1
        for key, value in raw:
            producer.send(topic, value, key=key, partition=partition_for_key(key or b"x", parts))
            n += 1
        producer.flush(timeout=30)
    finally:
        producer.close()
    return n


def read_topic(settings: Settings, topic: str, *, want: int, timeout_s: float = 20.0) -> list:
    """All records of a topic (from the beginning), waiting until at least ``want`` arrived."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(enable_auto_commit=False, **settings.kafka.kafka_python_kwargs())
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list = []
        deadline = time.monotonic() + timeout_s
        while len(out) < want and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(records)
        return out
    finally:
        consumer.close()


def wait_until(cond: Callable[[], bool], *, timeout_s: float, what: str, interval_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


async def async_wait_until(cond: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)


def store_count(es, index: str) -> int:
    from elasticsearch import NotFoundError

    try:
        es.indices.refresh(index=index)
        return es.count(index=index)["count"]
    except NotFoundError:
        return 0


def all_ids(es, index: str) -> list[str]:
    """Every _id under an alias (duplicates across daily indices would show twice)."""
    es.indices.refresh(index=index)
    ids: list[str] = []
    resp = es.search(index=index, size=1000, sort=["_doc"], scroll="30s", source=False)
    while resp["hits"]["hits"]:
        ids.extend(h["_id"] for h in resp["hits"]["hits"])
        resp = es.scroll(scroll_id=resp["_scroll_id"], scroll="30s")
    return ids


@contextlib.asynccontextmanager
async def running_sink(settings: Settings):
    from trtlens.sinks.sink import ElasticsearchSink

    sink = ElasticsearchSink(settings)
    task = asyncio.create_task(sink.run())
    try:
        yield sink
    finally:
        sink.request_stop()
        await asyncio.wait_for(task, timeout=60)


def with_sink(settings: Settings, **sink_update) -> Settings:
    return settings.model_copy(update={"sink": settings.sink.model_copy(update=sink_update)})


def write_config(settings: Settings, path: Path) -> Path:
    data = settings.model_dump(mode="json", include={"kafka", "elasticsearch", "topics", "indices", "sink"}, exclude_none=True)
    path.write_text(yaml.safe_dump(data))
    return path




def committed_offsets(settings: Settings, group_id: str) -> dict[tuple[str, int], int]:
    """The group's committed offsets (next offset to read) per (topic, partition); no join."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(group_id=group_id, enable_auto_commit=False, **settings.kafka.kafka_python_kwargs())
    try:
        out = {}
        for fam in ("traces", "metrics", "alerts", "builds"):
            topic = getattr(settings.topics, fam)
            for p in range(settings.topics.partitions):
                off = consumer.committed(TopicPartition(topic, p))
                if off is not None:
                    out[(topic, p)] = off
        return out
    finally:
        consumer.close()
