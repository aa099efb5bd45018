"""The partition agent (thin): take a group of records, run the pipeline core, deliver, persist.

One Faust agent over ``trtlens.events``; each processing group (``take_events``
bounded by ``batch_max_records`` / ``batch_within_ms``) is split by partition.
Per partition: records → :class:`PartitionPipeline` → outputs (traces, DLQ,
build reports, cumulative partial windows + a watermark heartbeat) are sent
and flushed, then the group's state-log segment is written (one changelog
record per partition per group). A timer flushes idle partitions.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

from trtlens.streams.pipeline.core import PartitionPipeline
from trtlens.streams.pipeline.statelog import Segment

log = logging.getLogger("trtlens.streams.pipeline")


class PipelineAgent:
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.settings = runtime.settings
        self.pipelines: dict[int, PartitionPipeline] = {}
        self.last_record_at: dict[int, float] = {}
        self.idle_flushed: set[int] = set()
        self._last_log = 0.0
        self.timings: dict[str, float] = defaultdict(float)

    # -- partitions -----------------------------------------------------------
    def pipeline(self, partition: int) -> PartitionPipeline:
        pipe = self.pipelines.get(partition)
        if pipe is None:
            pipe = PartitionPipeline(
                self.settings.streams, topic=self.settings.topics.events, partition=partition,
                build_evaluator=self.rt.build_evaluator,
            )
            segments = [Segment.decode(k, v) for k, v in self.rt.state.items_for(partition)]
            t0 = time.perf_counter()
            n = pipe.recover(segments)
            log.info(
                "partition=%d recovered segments=%d records=%d applied_offset=%d watermark_ms=%d took_s=%.2f",
                partition, len(segments), n, pipe.applied_offset, pipe.watermark_ms, time.perf_counter() - t0,
            )
            self.pipelines[partition] = pipe
        return pipe

    def forget(self, partitions: set[int]) -> None:
        for p in partitions:
            self.pipelines.pop(p, None)
            self.last_record_at.pop(p, None)
            self.idle_flushed.discard(p)

    # -- groups ---------------------------------------------------------------
    async def process_group(self, events: list[Any]) -> None:
        by_partition: dict[int, list[Any]] = defaultdict(list)
        for ev in events:
            by_partition[ev.message.partition].append(ev)
        async with self.rt.lock:
            now = time.monotonic()
            t0 = time.perf_counter()
            done = []
            for partition, evs in sorted(by_partition.items()):
                pipe = self.pipeline(partition)
                for ev in sorted(evs, key=lambda e: e.message.offset):
                    msg = ev.message
                    pipe.process_record(msg.offset, msg.key, msg.value)
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
            t4 = time.perf_counter()
            tm = self.timings
            tm["groups"] += 1
            tm["core_s"] += t1 - t0
            tm["send_s"] += t2 - t1
            tm["flush_s"] += t3 - t2
            tm["persist_s"] += t4 - t3
            self._maybe_log(len(events))

    async def on_idle_tick(self) -> None:
        idle_s = self.settings.streams.idle_timeout_ms / 1000
        now = time.monotonic()
        async with self.rt.lock:
            flushed = False
            for partition, pipe in list(self.pipelines.items()):
                if partition in self.idle_flushed or now - self.last_record_at.get(partition, now) < idle_s:
                    continue
                out = pipe.flush_idle()
                await self.rt.deliver_pipeline(pipe, out)
                self.idle_flushed.add(partition)
                flushed = True
                log.info("partition=%d idle_flush traces=%d partials=%d", partition, len(out.traces), len(out.partials))
            if flushed:
                await self.rt.sender.flush()

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
                "traces_out=%d open_traces=%d windows=%d dedup_ids=%d watermark_ms=%d applied_offset=%d",
                p, c["records"], c["events"], c["accepted_events"], c["invalid_events"], c["duplicates"],
                sum(v for k, v in c.items() if k.startswith("dropped.")), c["late_events"], c["too_late_events"],
                c["traces_out"], len(pipe.traces.traces), len(pipe.windows.windows), len(pipe.dedup),
                pipe.watermark_ms, pipe.applied_offset,
            )
