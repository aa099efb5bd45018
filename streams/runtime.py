"""What the thin agents share: the output producer and the state tables (Faust-side I/O).

Ordering that makes at-least-once exact (README: state and guarantees):

1. a processing group runs the pure cores and collects outputs;
2. the outputs are sent and **flushed** (acks=all) by :class:`OutputSender`;
3. only then the state changes go to the changelog-backed tables;
4. Faust acks the group's records; its commit flushes the changelog first.

A crash between any two steps replays records whose outputs are recomputed
identically (deterministic ids, cumulative partials) — never lost, and the
state never counts a record twice (applied offsets, state log).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson

from trtlens.schemas.documents import Alert, BuildReport, Trace, WindowMetric
from trtlens.settings import Settings
from trtlens.streams.metrics.partial import WindowPartial

log = logging.getLogger("trtlens.streams")


def now_ms() -> int:
    return int(time.time() * 1000)


def _doc_bytes(doc: Trace | WindowMetric | Alert | BuildReport) -> tuple[bytes, bytes]:
    return doc.doc_id.encode("utf-8"), orjson.dumps(doc.model_dump(mode="json"))


class OutputSender:
    """An aiokafka producer (batched, acks=all) for every topic the app writes except changelogs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = settings.topics
        self._producer = None
        self._lock = asyncio.Lock()
        self.sent: dict[str, int] = {}

    async def start(self) -> None:
        async with self._lock:
            if self._producer is not None:
                return
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(
                **self.settings.kafka.aiokafka_kwargs(),
                acks="all",
                enable_idempotence=False,  # aiokafka's InitProducerId v0 is rejected by Tansu (DESIGN.md)
                linger_ms=self.settings.streams.output_linger_ms,
                max_batch_size=256 * 1024,
                max_request_size=4 * 1024 * 1024,
                request_timeout_ms=30_000,
            )
            await producer.start()
            self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _send(self, topic: str, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        if self._producer is None:
            await self.start()
        await self._producer.send(topic, value=value, key=key, partition=partition)  # type: ignore[union-attr]
        self.sent[topic] = self.sent.get(topic, 0) + 1

    async def send_docs(self, topic: str, docs: list[Any]) -> None:
        for doc in docs:
            key, value = _doc_bytes(doc)
            await self._send(topic, key, value)

    async def send_trace_dicts(self, traces: list[dict[str, Any]]) -> None:
        """Trace documents already in their JSON form (key = request_id = doc_id)."""
        topic = self.topics.traces
        for d in traces:
            await self._send(topic, d["request_id"].encode("utf-8"), orjson.dumps(d))

    async def send_dead_letters(self, items: list[tuple[bytes | None, dict[str, Any]]]) -> None:
        for key, doc in items:
            await self._send(self.topics.events_dlq, key, orjson.dumps(doc))

    async def send_partials(self, partials: list[WindowPartial]) -> None:
        for p in partials:
            d = p.to_dict()
            d["type"] = "partial"
            await self._send(self.topics.metrics_partials, f"{p.scope}|{p.scope_key}".encode(), orjson.dumps(d))

    async def send_watermark(
        self, partition: int, watermark_ms: int, merge_partitions: int, source_partitions: int, *, idle: bool = False
    ) -> None:
        value = orjson.dumps({
            "type": "watermark", "partition": partition, "watermark_ms": watermark_ms,
            "source_partitions": source_partitions, "idle": idle,
        })
        for m in range(merge_partitions):
            await self._send(self.topics.metrics_partials, b"__watermark__", value, partition=m)

    async def flush(self) -> None:
        if self._producer is not None:
            await self._producer.flush()


class StateTable:
    """A Faust table used as changelog-backed storage written explicitly per partition.

    Keys are ``b"%05d:" + name`` (the partition they belong to first), values
    bytes. Writes go to the table's store and to its changelog partition
    ``partition`` — not through ``table[key] = value``, which needs a current
    stream event (it clashes with batch processing, DESIGN.md).
    """

    def __init__(self, table: Any) -> None:
        self.table = table

    @staticmethod
    def key(partition: int, name: bytes) -> bytes:
        return b"%05d:" % partition + name

    def items_for(self, partition: int) -> list[tuple[bytes, bytes]]:
        prefix = b"%05d:" % partition
        return [(k, v) for k, v in list(self.table.data.items()) if k.startswith(prefix) and v is not None]

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.table.data[key] = value
        self.table.send_changelog(partition, key, value, key_serializer="raw", value_serializer="raw")

    def delete(self, partition: int, key: bytes) -> None:
        self.table.data.pop(key, None)
        self.table.send_changelog(partition, key, None, key_serializer="raw", value_serializer="raw")
