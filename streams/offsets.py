"""Offset continuity per partition: every offset applied once, a jump re-read (pure; clock injected).

A stage applies each partition's records in offset order and remembers the
last offset it applied. The next record must be ``applied + 1``:

* lower: a redelivery of something already applied, skipped;
* higher: a **gap** — records the consumer never handed over. The stage stops
  that partition for the rest of the group and asks for a re-read from
  ``applied + 1``. Before seeking, the broker is asked directly (a consumer of
  its own, not the group's) for the first record at or after that offset:
  only when the broker itself holds nothing there (compaction, transaction
  markers, retention on a real cluster) is the gap *confirmed* and accepted;
  that is counted apart.

:class:`GapBook` is the bookkeeping: which re-reads are on their way (records
past the gap that arrive meanwhile, fetched before the seek, are held back
without asking again), when one is overdue (the seek raced with records
already fetched: seek again), and the counters.

Counters (``GapBook.counters``): ``gaps`` (jumps seen and resolved),
``rereads`` (seeks back), ``reread_retries`` (seeks repeated after
``retry_after_s``), ``held_records`` (records past a pending gap, left for the
re-read), ``confirmed_gaps`` / ``confirmed_gap_offsets`` (gaps the broker
confirmed, and how many offsets they spanned).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from trtlens.settings import Settings

log = logging.getLogger("trtlens.streams")


@dataclass(slots=True)
class Reread:
    partition: int
    target: int  # first offset still to apply: where the re-read starts
    seen: int  # the offset that revealed the gap
    asked_at_s: float
    attempts: int = 1


class GapBook:
    """Pending re-reads of one topic's partitions."""

    def __init__(self, retry_after_s: float = 2.0) -> None:
        self.retry_after_s = retry_after_s
        self.pending: dict[int, Reread] = {}
        self.counters: Counter[str] = Counter()

    def needs_resolving(self, partition: int, target: int, held: int = 0) -> bool:
        """A gap at ``target`` was seen, ``held`` records past it left unapplied.

        True: resolve it now; False: a re-read of it is already on its way.
        """
        self.counters["held_records"] += held
        p = self.pending.get(partition)
        return p is None or p.target != target

    def asked(self, partition: int, target: int, seen: int, now_s: float) -> Reread:
        """A re-read from ``target`` was requested (after the broker was asked)."""
        self.counters["gaps"] += 1
        self.counters["rereads"] += 1
        r = self.pending[partition] = Reread(partition, target, seen, now_s)
        return r

    def confirmed(self, start: int, first_present: int) -> None:
        """The broker holds no records in ``[start, first_present)``."""
        self.counters["confirmed_gaps"] += 1
        self.counters["confirmed_gap_offsets"] += first_present - start

    def progressed(self, partition: int, applied_offset: int) -> Reread | None:
        """The partition applied up to ``applied_offset``; returns the re-read that this completed."""
        p = self.pending.get(partition)
        if p is not None and applied_offset >= p.target:
            return self.pending.pop(partition)
        return None

    def overdue(self, now_s: float) -> list[Reread]:
        """Re-reads that produced nothing for ``retry_after_s``: seek again (counted)."""
        out = []
        for r in self.pending.values():
            if now_s - r.asked_at_s >= self.retry_after_s:
                r.attempts += 1
                r.asked_at_s = now_s
                self.counters["reread_retries"] += 1
                out.append(r)
        return out

    def forget(self, partitions: set[int]) -> None:
        for p in partitions:
            self.pending.pop(p, None)


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
