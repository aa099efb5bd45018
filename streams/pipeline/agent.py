"""The partition agent (thin): take a group of records, run the pipeline core, deliver, persist.

One Faust agent over ``trtlens.events``; each processing group (the records
Faust's consumer fetched, at most ``batch_max_records``, handed over in one list
by ``faust_glue.BatchIngress``) is split by partition.
Per partition: records → :class:`PartitionPipeline` → outputs (traces, DLQ,
build reports, cumulative partial windows + a watermark heartbeat) are sent
and flushed, then the group's state-log segment is written (one changelog
record per partition per group). A timer announces idle partitions: it emits
their open traces and tells the merge stage (heartbeat ``idle: true``), also for
assigned partitions that never had a record, so they do not hold windows open.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

from trtlens.streams.pipeline.core import PIN_PREFIX, PartitionPipeline
from trtlens.streams.pipeline.statelog import Segment
from trtlens.streams.pipeline.tallies import PartitionTallies, delivered_counts, group_duration_histogram

log = logging.getLogger("trtlens.streams.pipeline")


def _offset(msg: Any) -> int:
    return msg.offset


class PipelineAgent:
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.settings = runtime.settings
        self.pipelines: dict[int, PartitionPipeline] = {}
        self.persisted: dict[int, int] = {}  # partition → last offset whose outputs and state are written
        self.rereads = runtime.rereads_for(runtime.settings.topics.events)
        self.last_record_at: dict[int, float] = {}
        self.idle_flushed: set[int] = set()
        self.assigned: dict[int, float] = {}  # partition → monotonic time it was assigned
        self.flowing_since: float | None = None  # recovery completed (or the first group) after the last assignment
        self._last_log = 0.0
        self.timings: dict[str, float] = defaultdict(float)
        # self-metrics (selfmetrics.py): counted per group and per assignment, read at scrape time
        self.tallies = PartitionTallies()
        self.group_duration = group_duration_histogram()

    # -- partitions -----------------------------------------------------------
    def pipeline(self, partition: int) -> PartitionPipeline:
        pipe = self.pipelines.get(partition)
        if pipe is None:
            pipe = PartitionPipeline(
                self.settings.streams, topic=self.settings.topics.events, partition=partition,
                build_evaluator=self.rt.build_evaluator, correlator=getattr(self.rt, "correlator", None),
            )
            items = self.rt.state.items_for(partition)
            skip = len(b"%05d:" % partition)
            pinned = [v for k, v in items if k[skip:].startswith(PIN_PREFIX)]
            segments = [Segment.decode(k, v) for k, v in items if not k[skip:].startswith(PIN_PREFIX)]
            t0 = time.perf_counter()
            n = pipe.recover(segments, pinned)
            log.info(
                "partition=%d recovered segments=%d records=%d applied_offset=%d watermark_ms=%d took_s=%.2f",
                partition, len(segments), n, pipe.applied_offset, pipe.watermark_ms, time.perf_counter() - t0,
            )
            self.pipelines[partition] = pipe
            self.persisted[partition] = pipe.applied_offset
            self.tallies.attach(partition, pipe)  # what the replay counted is the baseline
            self.tallies.add(partition, {"recovered_records": n})
        return pipe

    def forget(self, partitions: set[int]) -> None:
        for p in partitions:
            if self.pipelines.pop(p, None) is not None:
                self.tallies.detach(p)
            self.persisted.pop(p, None)
            self.last_record_at.pop(p, None)
            self.idle_flushed.discard(p)
        self.rereads.forget(partitions)

    def commit_limit(self, partition: int) -> int | None:
        """The offset Faust may commit for ``partition``: one past the last one written (None: nothing yet)."""
        off = self.persisted.get(partition)
        return off + 1 if off is not None and off >= 0 else None

    def on_assigned(self, partitions: set[int]) -> None:
        now = time.monotonic()
        self.forget(partitions)  # rebuilt lazily from the recovered table on the first group
        self.flowing_since = None
        for p in partitions:
            self.assigned[p] = now

    def recovery_completed(self) -> None:
        """Faust recovered the tables and resumed the flow: the applied offsets are known now.

        Records may never come (the input ended before this assignment): recovery, not
        the first record, ends the wait, or no partition would ever be declared idle and
        the merge stage would hold the last windows open until new input arrived.
        """
        if self.flowing_since is None:
            self.flowing_since = time.monotonic()

    def on_revoked(self, partitions: set[int]) -> None:
        self.forget(partitions)
        for p in partitions:
            self.assigned.pop(p, None)

    # -- groups ---------------------------------------------------------------
    async def process_group(self, records: list[Any]) -> None:
        """One processing group: records (``partition``, ``offset``, ``key``, ``value``) of any partitions."""
        by_partition: dict[int, list[Any]] = defaultdict(list)
        for msg in records:
            by_partition[msg.partition].append(msg)
        async with self.rt.lock:
            now = time.monotonic()
            if self.flowing_since is None:
                self.flowing_since = now
            t0 = time.perf_counter()
            done = []
            gaps: list[tuple[int, int, int, int]] = []  # (partition, next offset to apply, offset received, held)
            for partition, evs in sorted(by_partition.items()):
                pipe = self.pipeline(partition)
                evs.sort(key=_offset)
                handled = pipe.process_records(evs)
                if handled < len(evs):  # the rest of this partition waits for the re-read
                    gaps.append((partition, pipe.applied_offset + 1, evs[handled].offset, len(evs) - handled))
                self.last_record_at[partition] = now
                self.idle_flushed.discard(partition)
                done.append((pipe, *pipe.end_group()))
            t1 = time.perf_counter()
            for pipe, out, _, _ in done:
                await self.rt.deliver_pipeline(pipe, out)
            t2 = time.perf_counter()
            await self.rt.sender.flush()
            t3 = time.perf_counter()
            for pipe, _, segments, gone in done:
                for seg in segments:
                    self.rt.state.put(pipe.partition, seg.key, seg.encode())
                for key in gone:
                    self.rt.state.delete(pipe.partition, key)
                for name, value in pipe.take_pins():  # the layer stage's builds (outlive the log's horizon)
                    key = self.rt.state.key(pipe.partition, name)
                    if value is None:
                        self.rt.state.delete(pipe.partition, key)
                    else:
                        self.rt.state.put(pipe.partition, key, value)
                self.persisted[pipe.partition] = pipe.applied_offset
                self.rereads.progressed(pipe.partition, pipe.applied_offset)
            for partition, target, seen, held in gaps:
                await self.rereads.resolve(partition, target, seen, self.pipelines[partition].accept_gap, held=held)
            t4 = time.perf_counter()
            tm = self.timings
            tm["groups"] += 1
            tm["core_s"] += t1 - t0
            tm["send_s"] += t2 - t1
            tm["flush_s"] += t3 - t2
            tm["persist_s"] += t4 - t3
            self.group_duration.observe(t4 - t0)
            for pipe, out, _, _ in done:  # the group is written: its counts are visible now
                if out.traces or out.dlq:
                    self.tallies.add(pipe.partition, delivered_counts(out))
                self.tallies.sync(pipe.partition, pipe)
            self._maybe_log(len(records))
        self.rt.trimmer.maybe_trim()  # the group's records and outputs are freed: hand their pages back (malloc.py)

    async def on_idle_tick(self) -> None:
        """Announce partitions with no records for ``idle_timeout_ms`` (once per idle spell)."""
        idle_s = self.settings.streams.idle_timeout_ms / 1000
        t = self.settings.topics
        now = time.monotonic()
        async with self.rt.lock:
            announced = False
            flushed: list[tuple[int, dict[str, int]]] = []
            for partition, assigned_at in list(self.assigned.items()):
                # a partition without records counts from when records started flowing after the
                # assignment (table recovery can take a while), or twice the timeout when none flow
                base = self.flowing_since if self.flowing_since is not None else assigned_at + idle_s
                since = self.last_record_at.get(partition, max(base, assigned_at))
                if partition in self.idle_flushed or now - since < idle_s or not self._caught_up(partition):
                    continue
                pipe = self.pipelines.get(partition)
                self.idle_flushed.add(partition)
                announced = True
                if pipe is None:
                    # no record since the assignment: nothing to flush (and the table may still be
                    # recovering); the heartbeat alone keeps this partition from holding windows open
                    await self.rt.sender.send_watermark(partition, 0, t.partitions, t.partitions, idle=True)
                    log.info("partition=%d idle (no records since assignment)", partition)
                    continue
                out = pipe.flush_idle()
                await self.rt.deliver_pipeline(pipe, out, idle=True)
                if out.traces:
                    flushed.append((partition, delivered_counts(out)))
                log.info("partition=%d idle traces=%d partials=%d watermark_ms=%d",
                         partition, len(out.traces), len(out.partials), pipe.watermark_ms)
            if announced:
                await self.rt.sender.flush()
            for partition, counts in flushed:
                self.tallies.add(partition, counts)
            await self.rereads.retry_overdue()
            await self._reread_tails(now, idle_s)

    def _caught_up(self, partition: int) -> bool:
        """Quiet *and* nothing left on the broker: only then is a partition idle.

        A worker that is slow (CPU-starved, busy with a backlog on its other
        partitions, still recovering) is silent too, but its partition still has
        records to come; declaring it idle would close windows without them.
        """
        hw = self.rt.highwater(self.settings.topics.events, partition)
        if hw is None:
            return False  # not fetched yet: cannot tell
        if hw == 0:
            return True  # an empty partition
        if self.flowing_since is None:
            return False  # tables may still be recovering: the applied offset is not known yet
        return hw <= self.pipeline(partition).applied_offset + 1

    async def _reread_tails(self, now: float, idle_s: float) -> None:
        """A quiet partition whose broker holds records past the applied offset: re-read them.

        The next record reveals any gap on a busy partition; at the end of one, nothing
        would (records fetched but never handed to the agent), so the high-watermark is asked.
        """
        if self.flowing_since is None:  # tables may still be recovering
            return
        topic = self.settings.topics.events
        for partition in list(self.assigned):
            if partition in self.rereads.book.pending or now - self.last_record_at.get(partition, self.flowing_since) < idle_s:
                continue
            hw = self.rt.highwater(topic, partition)
            if not hw:
                continue
            pipe = self.pipeline(partition)  # state from the table if no record arrived since the assignment
            if hw > pipe.applied_offset + 1:
                await self.rereads.resolve(partition, pipe.applied_offset + 1, hw - 1, pipe.accept_gap)

    def _maybe_log(self, records: int) -> None:
        now = time.monotonic()
        if now - self._last_log < self.settings.streams.log_every_s:
            return
        self._last_log = now
        totals = [sum(pipe.counters[k] for pipe in self.pipelines.values()) for k in ("records", "events")]
        tm = self.timings
        log.info(
            "streams_progress t=%.3f records=%d events=%d partitions=%d groups=%d core_s=%.2f send_s=%.2f flush_s=%.2f "
            "persist_s=%.2f", time.time(), *totals, len(self.pipelines), tm["groups"], tm["core_s"], tm["send_s"],
            tm["flush_s"], tm["persist_s"],
        )
        for p, pipe in sorted(self.pipelines.items()):
            c = pipe.counters
            log.info(
                "partition=%d records=%d events=%d accepted=%d invalid=%d duplicates=%d dropped=%d late=%d too_late=%d "
                "traces_out=%d open_traces=%d retained_traces=%d windows=%d dedup_ids=%d watermark_ms=%d applied_offset=%d",
                p, c["records"], c["events"], c["accepted_events"], c["invalid_events"], c["duplicates"],
                sum(v for k, v in c.items() if k.startswith("dropped.")), c["late_events"], c["too_late_events"],
                c["traces_out"], len(pipe.traces.traces), len(pipe.traces.retained), len(pipe.windows.windows), len(pipe.dedup),
                pipe.watermark_ms, pipe.applied_offset,
            )
