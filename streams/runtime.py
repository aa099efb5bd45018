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


class BrokerProbe:
    """Asks the broker directly — through a consumer of its own, outside the group — what a partition holds.

    Used only when a stage found a gap (``streams/offsets.py``), so one short-lived
    fetch per gap; the consumer starts on first use.
    """

    def __init__(self, settings: Settings, *, timeout_ms: int = 3000) -> None:
        self.settings = settings
        self.timeout_ms = timeout_ms
        self._consumer: Any = None
        self._lock = asyncio.Lock()

    async def first_offset(self, topic: str, partition: int, offset: int) -> int | None:
        """The offset of the first record at or after ``offset``.

        When the broker answered with no record there, its high-watermark (the
        offset the next record will get); None when it did not answer in time.
        """
        from aiokafka import AIOKafkaConsumer, TopicPartition

        async with self._lock:
            try:
                if self._consumer is None:
                    consumer = AIOKafkaConsumer(
                        **self.settings.kafka.aiokafka_kwargs(), group_id=None, enable_auto_commit=False,
                        auto_offset_reset="earliest", max_partition_fetch_bytes=1024 * 1024,
                    )
                    await consumer.start()
                    self._consumer = consumer
                tp = TopicPartition(topic, partition)
                self._consumer.assign([tp])
                self._consumer.seek(tp, offset)
                got = await self._consumer.getmany(tp, timeout_ms=self.timeout_ms, max_records=1)
                highwater = self._consumer.highwater(tp)
            except Exception as exc:  # the probe only sharpens a decision; a failure means "re-read"
                log.warning("probe=failed topic=%s partition=%d offset=%d error=%r", topic, partition, offset, exc)
                return None
        records = got.get(tp) or []
        if records:
            return records[0].offset
        return highwater if highwater is not None and highwater >= offset else None

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


class Rereads:
    """Resolves the gaps one topic's stage found: confirm with the broker, then seek the group's consumer back.

    ``seek(topic, partition, offset)`` moves the group consumer (``faust_glue.seek``).
    """

    def __init__(self, topic: str, probe: BrokerProbe, seek: Any, *, retry_after_s: float = 2.0,
                 clock: Any = time.monotonic) -> None:
        from trtlens.streams.offsets import GapBook

        self.topic = topic
        self.probe = probe
        self._seek = seek
        self.book = GapBook(retry_after_s)
        self.clock = clock

    async def resolve(self, partition: int, target: int, seen: int, accept_gap: Any, *, held: int = 0) -> None:
        """Offset ``seen`` arrived while ``target`` is the next to apply (``held`` records left unapplied).

        ``accept_gap(first_present)`` is called when the broker confirms it holds
        nothing in ``[target, first_present)``.
        """
        now = self.clock()
        if not self.book.needs_resolving(partition, target, held):
            return
        first = await self.probe.first_offset(self.topic, partition, target)
        start = target
        if first is not None and first > target:
            self.book.confirmed(target, first)
            accept_gap(first)
            log.warning("topic=%s partition=%d gap=confirmed offsets=%d..%d msg='the broker holds no records there "
                        "(compaction or transaction markers); skipped'", self.topic, partition, target, first - 1)
            start = first
        else:
            log.warning("topic=%s partition=%d gap=reread next_offset=%d received_offset=%d first_on_broker=%s "
                        "msg='records were not delivered; re-reading from offset %d'", self.topic, partition, target,
                        seen, first, start)
        self.book.asked(partition, start, seen, now)
        await self._seek(self.topic, partition, start)

    def progressed(self, partition: int, applied_offset: int) -> None:
        done = self.book.progressed(partition, applied_offset)
        if done is not None and done.attempts > 1:
            log.info("topic=%s partition=%d gap=reread_done from=%d attempts=%d", self.topic, partition, done.target,
                     done.attempts)

    async def retry_overdue(self) -> None:
        for r in self.book.overdue(self.clock()):
            log.warning("topic=%s partition=%d gap=reread_retry from=%d attempt=%d msg='nothing arrived since the "
                        "seek (it raced with records already fetched): seeking again'", self.topic, r.partition,
                        r.target, r.attempts)
            await self._seek(self.topic, r.partition, r.target)

    def forget(self, partitions: set[int]) -> None:
        self.book.forget(partitions)
