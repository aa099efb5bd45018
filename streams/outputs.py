"""The output producer of the Faust app: every topic it writes except the changelogs (I/O).

One aiokafka producer, acks=all, batched. :meth:`OutputSender.flush` returns
only when every output sent since the last flush is acknowledged — the agents
write their state after it (``runtime.py``: the order that makes at-least-once
exact).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from trtlens.schemas.documents import Alert, BuildReport, Trace, WindowMetric
from trtlens.settings import Settings
from trtlens.streams.metrics.core import WindowPartial

log = logging.getLogger("trtlens.streams")


def _doc_bytes(doc: Trace | WindowMetric | Alert | BuildReport) -> tuple[bytes, bytes]:
    return doc.doc_id.encode("utf-8"), orjson.dumps(doc.model_dump(mode="json"))


def _undelivered(fut: asyncio.Future) -> bool:
    return not fut.done() or fut.cancelled() or fut.exception() is not None


def _error_of(fut: asyncio.Future) -> object:
    if not fut.done():
        return "not acknowledged"
    return "cancelled" if fut.cancelled() else fut.exception()


class OutputSender:
    """An aiokafka producer (batched, acks=all) for every topic the app writes except changelogs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = settings.topics
        self._producer = None
        self._lock = asyncio.Lock()
        self.sent: dict[str, int] = {}
        self.resent = 0
        # every send since the last flush: its delivery is checked there (a failed one is sent again)
        self._unconfirmed: list[tuple[asyncio.Future, str, bytes | None, bytes, int | None]] = []

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
        fut = await self._producer.send(topic, value=value, key=key, partition=partition)  # type: ignore[union-attr]
        self._unconfirmed.append((fut, topic, key, value, partition))
        self.sent[topic] = self.sent.get(topic, 0) + 1

    async def send_docs(self, topic: str, docs: list[Any]) -> None:
        for doc in docs:
            key, value = _doc_bytes(doc)
            await self._send(topic, key, value)

    async def send_events(self, events: list[tuple[bytes, bytes]]) -> None:
        """Events the app derives and sends back to the events topic (``engine_runtime``, keyed by engine_id)."""
        for key, value in events:
            await self._send(self.topics.events, key, value)

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
        """Wait until every output sent since the last flush is acknowledged (acks=all).

        A send the producer gave up on (broker unreachable past its request
        timeout) is sent again, in the original order, with backoff, until it is
        acknowledged: the caller writes its state only after this returns, so an
        output is never lost behind a persisted state.
        """
        if self._producer is None:
            return
        delay_s = 0.2
        while True:
            await self._producer.flush()
            pending, self._unconfirmed = self._unconfirmed, []
            failed = [item for item in pending if _undelivered(item[0])]
            if not failed:
                return
            log.warning("outputs=resend count=%d first_topic=%s error=%r retry_in_s=%.1f", len(failed), failed[0][1],
                        _error_of(failed[0][0]), delay_s)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 10.0)
            for _, topic, key, value, partition in failed:
                self.resent += 1
                self.sent[topic] -= 1
                await self._send(topic, key, value, partition)
