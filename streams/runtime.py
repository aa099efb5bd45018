"""What the two agents share in one worker process: :class:`Runtime` (outputs, state tables, re-reads).

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

from trtlens.settings import Settings
from trtlens.streams.offsets import BrokerProbe, Rereads
from trtlens.streams.outputs import OutputSender

log = logging.getLogger("trtlens.streams")


def now_ms() -> int:
    return int(time.time() * 1000)


class Runtime:
    """Per-process objects the agents share (no module-level state)."""

    def __init__(self, settings: Settings, app: Any, state_table: Any, merge_table: Any) -> None:
        from trtlens.streams.builds.evaluator import make_build_evaluator, make_correlator
        from trtlens.streams.faust_glue import CommitGuard

        self.settings = settings
        self.app = app
        self.sender = OutputSender(settings)
        self.state = StateTable(state_table)
        self.merge_state = StateTable(merge_table)
        self.lock = asyncio.Lock()
        self.build_evaluator = make_build_evaluator(settings)
        self.correlator = make_correlator(settings)
        self.now_ms = now_ms
        self.probe = BrokerProbe(settings)
        from trtlens.streams.malloc import Trimmer

        self.trimmer = Trimmer(settings.streams.malloc_trim_interval_ms)  # after each group (malloc.py)
        self.commit_guard = CommitGuard(self.commit_limit)
        # a rebalance or table recovery is under way (readiness): set by the rebalance callbacks,
        # cleared when Faust has recovered the tables and resumed the flow (faust_glue.SeekFirstRecovery)
        self.recovering = True
        self.health: Any = None  # the pipeline-health timer (streams/health), when enabled
        from trtlens.streams.merge.agent import MergeAgent
        from trtlens.streams.pipeline.agent import PipelineAgent

        self.pipeline = PipelineAgent(self)
        self.merge = MergeAgent(self)

    def recovery_completed(self) -> None:
        self.recovering = False
        self.pipeline.recovery_completed()

    def rereads_for(self, topic: str) -> Rereads:
        from trtlens.streams.faust_glue import seek

        async def _seek(topic_: str, partition: int, offset: int) -> None:
            await seek(self.app, topic_, partition, offset)

        return Rereads(topic, self.probe, _seek, retry_after_s=self.settings.streams.reread_retry_s)

    def highwater(self, topic: str, partition: int) -> int | None:
        from trtlens.streams.faust_glue import highwater

        return highwater(self.app, topic, partition)

    def commit_limit(self, topic: str, partition: int) -> int | None:
        """What Faust may commit: one past the last offset whose outputs and state are written."""
        t = self.settings.topics
        if topic == t.events:
            return self.pipeline.commit_limit(partition)
        if topic == t.metrics_partials:
            return self.merge.commit_limit(partition)
        return None

    async def deliver_pipeline(self, pipe: Any, out: Any, *, idle: bool = False) -> None:
        t = self.settings.topics
        s = self.sender
        await s.send_dead_letters(out.dlq)
        await s.send_trace_dicts(out.traces)
        await s.send_docs(t.builds, out.builds)
        await s.send_docs(t.layers, out.layers)
        await s.send_docs(t.findings, out.findings)
        await s.send_docs(t.alerts, out.alerts)
        await s.send_events(out.reroutes)
        await s.send_partials(out.partials)
        await s.send_watermark(pipe.partition, pipe.watermark_ms, t.partitions, t.partitions, idle=idle)


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
