"""``ElasticsearchSink``: the consumer group that indexes the output topics.

Loop (one asyncio task)::

    fetch a batch (getmany, ≤ chunk_docs records)   ─┐ overlaps with
    validate + build actions (core.prepare_record)   ─┘ the previous bulk
    wait for the previous batch's write, then start this batch's write:
        bulk chunks (writer.BulkWriter: retry 429/5xx/connection with backoff)
        dead letters (invalid records, rejected documents) → trtlens.sink.dlq, acked
        mark every record done → commit the contiguous offsets (explicit, per partition)

At most two batches are in memory. While a bulk is being retried every
assigned partition is paused, and the loop keeps polling (returns nothing) so
the group does not evict the member: consumption stops, nothing is dropped.
A crash at any point re-delivers uncommitted records; deterministic ``_id``s
make the replay overwrite what was already indexed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import ConsumerRebalanceListener

from trtlens.settings import Settings
from trtlens.sinks.core import (
    BulkAction,
    Continuity,
    DeadLetter,
    OffsetTracker,
    RecordRef,
    backoff_s,
    family_alias,
    prepare_record,
    topic_families,
)
from trtlens.sinks.reading import commit_applied, contiguous
from trtlens.sinks.writer import BulkWriter, RetriesExhaustedError, StoreUnreachableError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PreparedBatch:
    actions: list[BulkAction] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    refs: list[tuple[Any, int, int]] = field(default_factory=list)  # (tp, offset, epoch)


class _Epochs:
    """Per-partition ownership epoch: bumped when a partition is revoked, so
    completions of writes started before the revoke never mark offsets of the
    new owner's fetch as done."""

    def __init__(self) -> None:
        self._epoch: dict[Any, int] = {}

    def get(self, tp: Any) -> int:
        return self._epoch.get(tp, 0)

    def bump(self, tp: Any) -> None:
        self._epoch[tp] = self._epoch.get(tp, 0) + 1


class ElasticsearchSink:
    """Consume ``trtlens.{traces,metrics,alerts,builds,layers,findings}`` and index them.

    ``client`` defaults to :func:`trtlens.es.async_es_client` of the settings.
    ``counters`` is a live dict (records, indexed, dead_lettered, dlq_invalid,
    dlq_rejected, bulks, retries, commits, commit_failures, ...).
    """

    def __init__(self, settings: Settings, *, client: Any = None, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._cfg = settings.sink
        self._client = client
        self._own_client = client is None
        self._rng = rng or random.Random()
        self._families = topic_families(settings.topics, self._cfg.families)
        self._prefixes = {topic: family_alias(settings.indices, fam) for topic, fam in self._families.items()}
        self._tracker = OffsetTracker()
        self._continuity = Continuity()
        self._epochs = _Epochs()
        self._committed: dict[Any, int] = {}
        self._consumer: Any = None
        self._producer: Any = None
        self._writer: BulkWriter | None = None
        self._inflight: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self.counters: dict[str, int] = {
            "records": 0, "indexed": 0, "dead_lettered": 0, "dlq_invalid": 0, "dlq_rejected": 0,
            "batches": 0, "commits": 0, "commit_failures": 0, "backpressure_pauses": 0,
        }
        self.templates: dict[str, Any] | None = None
        self._linker: Any = None  # sinks/builds.py: diff_prev of build documents (created at start)
        self.consuming = False  # the consumer is started and subscribed (readiness)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        from trtlens.es import async_es_client

        s, cfg = self.settings, self._cfg
        if self._client is None:
            self._client = async_es_client(s.elasticsearch)
        await self._wait_for_store()
        if cfg.install_templates:
            from trtlens.sinks.templates import install

            self.templates = await install(self._client, s.indices, cfg, families=cfg.families)
        self._writer = BulkWriter(self._client, cfg, on_backpressure=self._backpressure, rng=self._rng)
        if "builds" in cfg.families:
            from trtlens.sinks.builds import BuildLinker, store_lookup

            self._linker = BuildLinker(store_lookup(self._client, s.indices.builds))
        # aiokafka's idempotent producer needs InitProducerId v0+ which Tansu rejects (DESIGN.md): acks=all, retried here
        self._producer = AIOKafkaProducer(acks="all", enable_idempotence=False, linger_ms=5, **s.kafka.aiokafka_kwargs())
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            group_id=cfg.group_id,
            enable_auto_commit=False,
            auto_offset_reset=cfg.auto_offset_reset,
            session_timeout_ms=s.kafka.session_timeout_ms,
            heartbeat_interval_ms=s.kafka.heartbeat_interval_ms,
            max_poll_interval_ms=cfg.max_poll_interval_ms,
            max_poll_records=cfg.chunk_docs,
            fetch_max_wait_ms=cfg.fetch_max_wait_ms,
            **s.kafka.aiokafka_kwargs(),
        )
        await self._consumer.start()
        self._consumer.subscribe(list(self._families), listener=_Rebalance(self))
        self.consuming = True
        log.info(
            "sink=started group=%s topics=%s indices=%s es=%s chunk_docs=%d chunk_bytes=%d",
            cfg.group_id, ",".join(self._families), ",".join(f"{p}-*" for p in self._prefixes.values()),
            _safe_url(s.elasticsearch.url), cfg.chunk_docs, cfg.chunk_bytes,
        )

    async def _wait_for_store(self) -> None:
        """Poll the store's info endpoint with backoff until it answers or ``startup_timeout_s`` passes."""
        from elastic_transport import TransportError

        cfg = self._cfg
        deadline = time.monotonic() + cfg.startup_timeout_s
        attempt = 0
        while True:
            try:
                await self._client.info()
                return
            except TransportError as exc:  # connection refused, timeout, 5xx while the store boots
                attempt += 1
                if time.monotonic() >= deadline:
                    raise StoreUnreachableError(_safe_url(self.settings.elasticsearch.url), cfg.startup_timeout_s, repr(exc)) from None
                delay = min(backoff_s(attempt, initial_ms=cfg.backoff_initial_ms, max_ms=cfg.backoff_max_ms,
                                      multiplier=cfg.backoff_multiplier, jitter=cfg.backoff_jitter, rng=self._rng),
                            max(0.0, deadline - time.monotonic()))
                log.warning("sink=waiting_for_store es=%s attempt=%d retry_in_s=%.1f error=%r",
                            _safe_url(self.settings.elasticsearch.url), attempt, delay, exc)
                await asyncio.sleep(delay)

    def request_stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------ for the self-metrics (selfmetrics.py)

    @property
    def continuity_counters(self) -> dict[str, int]:
        return dict(self._continuity.counters)

    @property
    def writer_counters(self) -> dict[str, int]:
        return dict(self._writer.counters) if self._writer is not None else {}

    @property
    def bulk_seconds(self) -> Any:
        """The bulk writer's :class:`~trtlens.sinks.writer.BulkDurations` (None before it exists)."""
        return self._writer.bulk_seconds if self._writer is not None else None

    @property
    def backpressure(self) -> bool:
        """A bulk is being retried (429/5xx/no answer): consumption is paused."""
        return self._writer is not None and self._writer.backpressure

    def partition_lag(self) -> dict[tuple[str, int], int]:
        """Per assigned partition, records on the broker past the committed offset (where both are known)."""
        consumer = self._consumer
        if consumer is None or not self.consuming:
            return {}
        out = {}
        for tp, committed in list(self._committed.items()):
            try:
                hw = consumer.highwater(tp)
            except (AssertionError, AttributeError, KeyError):  # revoked meanwhile (read from another thread)
                continue
            if hw is not None:
                out[(tp.topic, tp.partition)] = max(0, hw - committed)
        return out

    def assigned_partitions(self) -> int:
        if self._consumer is None or not self.consuming:
            return 0
        try:
            return len(self._consumer.assignment())
        except (AttributeError, RuntimeError):  # between generations (read from another thread)
            return 0

    async def close(self) -> None:
        self.consuming = False
        for closer in (
            self._consumer.stop if self._consumer else None,
            self._producer.stop if self._producer else None,
            self._client.close if (self._client is not None and self._own_client) else None,
        ):
            if closer is not None:
                try:
                    await closer()
                except Exception as exc:  # closing must not hide the real outcome
                    log.warning("sink=close_error error=%r", exc)
        log.info("sink=stopped %s", " ".join(f"{k}={v}" for k, v in {**self.counters, **self._continuity.counters}.items()))

    async def run(self) -> None:
        """Start, index until :meth:`request_stop`, drain, commit, close."""
        try:
            await self.start()
            await self._loop()
        finally:
            await self.close()

    # ------------------------------------------------------------ main loop

    async def _loop(self) -> None:
        cfg = self._cfg
        try:
            while not self._stop.is_set():
                batch = await self._consumer.getmany(timeout_ms=cfg.poll_timeout_ms, max_records=cfg.chunk_docs)
                if batch:
                    batch = await self._contiguous(batch)
                prepared = self._prepare(batch) if batch else None
                await self._await_inflight()
                if prepared is not None:
                    self._inflight = asyncio.create_task(self._write(prepared))
            await self._await_inflight()
        finally:
            if self._inflight is not None and not self._inflight.done():
                self._inflight.cancel()

    async def _contiguous(self, batch: dict[Any, list[Any]]) -> dict[Any, list[Any]]:
        """Only records that continue each partition's offsets go on; a jump is read again first (``Continuity``)."""
        return await contiguous(self._consumer, self._continuity, self._cfg.auto_offset_reset, batch)

    def _prepare(self, batch: dict[Any, list[Any]]) -> PreparedBatch:
        out = PreparedBatch()
        for tp, records in batch.items():
            family = self._families.get(tp.topic)
            prefix = self._prefixes.get(tp.topic)
            epoch = self._epochs.get(tp)
            for rec in records:
                self._tracker.track(tp, rec.offset)
                out.refs.append((tp, rec.offset, epoch))
                item = prepare_record(
                    RecordRef(tp.topic, tp.partition, rec.offset, rec.key), rec.value, family=family, prefix=prefix
                )
                if isinstance(item, BulkAction):
                    out.actions.append(item)
                else:
                    out.letters.append(item)
        self.counters["records"] += len(out.refs)
        self.counters["batches"] += 1
        return out

    async def _await_inflight(self) -> None:
        """Wait for the in-flight write; while it is retrying keep the group
        membership alive with empty polls on paused partitions."""
        task = self._inflight
        if task is None:
            return
        while not task.done():
            await asyncio.wait({task}, timeout=1.0)
            if not task.done() and self._writer is not None and self._writer.backpressure:
                self._pause_all()
                stray = await self._consumer.getmany(timeout_ms=0)
                for tp, records in stray.items():  # paused partitions return nothing; be safe anyway
                    if records:
                        self._consumer.seek(tp, records[0].offset)
        self._inflight = None
        self._resume_all()
        task.result()  # re-raise StoreRejectedError / RetriesExhaustedError

    def _backpressure(self, on: bool) -> None:
        if on:
            self.counters["backpressure_pauses"] += 1
            self._pause_all()
            log.warning("backpressure=on consumption=paused partitions=%d", len(self._consumer.assignment()))
        else:
            self._resume_all()
            log.info("backpressure=off consumption=resumed")

    def _pause_all(self) -> None:
        assigned = self._consumer.assignment()
        if assigned:
            self._consumer.pause(*assigned)

    def _resume_all(self) -> None:
        paused = self._consumer.paused() if self._consumer is not None else ()
        if paused and not (self._writer is not None and self._writer.backpressure):
            self._consumer.resume(*paused)

    async def _link_builds(self, actions: list[BulkAction]) -> list[BulkAction]:
        """``diff_prev`` on build documents (sinks/builds.py); a failing store lookup is retried with backoff."""
        topic = self.settings.topics.builds
        if self._linker is None or not any(a.ref.topic == topic for a in actions):
            return actions
        builds = [i for i, a in enumerate(actions) if a.ref.topic == topic]
        attempt = 0
        while True:
            try:
                linked = await self._linker.link([actions[i] for i in builds])
                break
            except Exception as exc:  # noqa: BLE001 - store unreachable/overloaded: wait like a bulk retry
                attempt += 1
                if self._cfg.max_retries and attempt > self._cfg.max_retries:
                    raise
                delay = backoff_s(attempt, initial_ms=self._cfg.backoff_initial_ms, max_ms=self._cfg.backoff_max_ms,
                                  multiplier=self._cfg.backoff_multiplier, jitter=self._cfg.backoff_jitter, rng=self._rng)
                log.warning("builds=link_retry attempt=%d error=%r retry_in_s=%.2f", attempt, exc, delay)
                await asyncio.sleep(delay)
        out = list(actions)
        for i, action in zip(builds, linked):
            out[i] = action
        return out

    async def _write(self, prepared: PreparedBatch) -> None:
        assert self._writer is not None
        prepared.actions = await self._link_builds(prepared.actions)
        result = await self._writer.write(prepared.actions)
        letters = prepared.letters + result.rejected
        if letters:
            await self._dead_letter(letters)
        for tp, offset, epoch in prepared.refs:
            if self._epochs.get(tp) == epoch:
                self._tracker.done(tp, offset)
        self.counters["indexed"] += len(result.acked)
        self.counters["dlq_invalid"] += len(prepared.letters)
        self.counters["dlq_rejected"] += len(result.rejected)
        self.counters["dead_lettered"] += len(letters)
        await self._commit()

    async def _dead_letter(self, letters: list[DeadLetter]) -> None:
        """Send dead letters and wait for the broker's ack; retry (never drop)."""
        from aiokafka.errors import KafkaError

        topic = self.settings.topics.sink_dlq
        cfg = self._cfg
        attempt = 0
        while True:
            attempt += 1
            try:
                now_ms = int(time.time() * 1000)
                futures = [
                    await self._producer.send(topic, value=orjson.dumps(letter.to_dlq(now_ms=now_ms)), key=letter.ref.key)
                    for letter in letters
                ]
                await asyncio.gather(*futures)
                break
            except KafkaError as exc:
                if cfg.max_retries and attempt >= cfg.max_retries:
                    raise RetriesExhaustedError(attempt, f"dead-letter topic {topic}: {exc!r}") from exc
                delay = backoff_s(attempt, initial_ms=cfg.backoff_initial_ms, max_ms=cfg.backoff_max_ms,
                                  multiplier=cfg.backoff_multiplier, jitter=cfg.backoff_jitter, rng=self._rng)
                log.warning("dlq=retry topic=%s attempt=%d retry_in_s=%.2f error=%r", topic, attempt, delay, exc)
                await asyncio.sleep(delay)
        codes: dict[str, int] = {}
        for letter in letters:
            codes[letter.code] = codes.get(letter.code, 0) + 1
        first = letters[0]
        log.warning(
            "dlq=sent topic=%s count=%d codes=%s first_topic=%s first_partition=%d first_offset=%d first_reason=%r",
            topic, len(letters), ",".join(f"{k}:{v}" for k, v in sorted(codes.items())),
            first.ref.topic, first.ref.partition, first.ref.offset, first.reason[:200],
        )

    async def _commit(self, only: set[Any] | None = None) -> None:
        # a re-read after a failed commit overwrites: the documents' _ids are deterministic
        due = await commit_applied(self._consumer, self._tracker, self._committed, self.counters, only,
                                   replay="idempotent")
        if due:
            log.debug("commit=ok %s", " ".join(f"{tp.topic}/{tp.partition}={off}" for tp, off in sorted(due.items())))

    # ------------------------------------------------------------ rebalances

    async def on_revoked(self, revoked: set[Any]) -> None:
        task = self._inflight
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=self._cfg.revoke_drain_timeout_s)
        await self._commit(only=set(revoked))
        for tp in revoked:
            self._epochs.bump(tp)
            self._committed.pop(tp, None)
        self._tracker.forget(revoked)
        self._continuity.forget(revoked)
        if revoked:
            log.info("rebalance=revoked partitions=%d", len(revoked))

    def on_assigned(self, assigned: set[Any]) -> None:
        log.info("rebalance=assigned partitions=%s", ",".join(f"{tp.topic}/{tp.partition}" for tp in sorted(assigned)))
        self._continuity.forget(assigned)  # this owner starts from the committed offsets
        if self._writer is not None and self._writer.backpressure:
            self._pause_all()


class _Rebalance(ConsumerRebalanceListener):
    """Hands partition changes to the sink (drain + commit before giving partitions up)."""

    def __init__(self, sink: ElasticsearchSink) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked):
        await self._sink.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned):
        self._sink.on_assigned(set(assigned))


def _safe_url(url: str) -> str:
    """The store URL(s) without any user:password part (secrets never logged)."""
    out = []
    for part in url.split(","):
        scheme, sep, rest = part.strip().partition("://")
        if "@" in rest:
            rest = "***@" + rest.split("@", 1)[1]
        out.append(f"{scheme}{sep}{rest}")
    return ",".join(out)
