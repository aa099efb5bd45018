"""The pipeline-health timer of a streams worker: sample the counters, evaluate, send the alerts (I/O).

Samples come from what the worker keeps anyway (per-partition tallies, applied
offsets, the consumer's fetch high-watermarks) and, for the sink rule, from
the broker: the sink group's committed offsets on the output topics (an
OffsetFetch through a consumer that names the group but never joins it) and whether a record waits past them (a one-record fetch from a
consumer outside any group; the fetch answer is exact on every broker, unlike
``ListOffsets`` on the embedded one). Only the worker that holds partition 0
of the events topic asks about the sink, so N workers send one sink alert.
Alerts go out through the worker's output producer to ``topics.alerts``,
under the runtime's lock, flushed before the next tick.
"""

from __future__ import annotations

import logging
from typing import Any

from trtlens.streams.health.core import HealthRules, MergeSample, PartitionSample, SinkSample

log = logging.getLogger("trtlens.streams")

SINK_FAMILIES = ("traces", "metrics", "alerts", "builds")


class HealthAgent:
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        s = runtime.settings
        self.cfg = s.streams.health
        self.rules = HealthRules(self.cfg, events_topic=s.topics.events, partials_topic=s.topics.metrics_partials)
        sink = getattr(s, "sink", None)  # the sink's section, when installed (no import: another component)
        self.sink_group: str | None = getattr(sink, "group_id", None) if self.cfg.sink_stalled_s else None
        self.alerts_sent = 0
        self.evaluations = 0
        self._admin: Any = None  # aiokafka consumer in the sink's group (offset lookups only)
        self._consumer: Any = None
        self._probe_error: str | None = None
        self._gone: set[int] = set()  # partitions already forgotten (until they come back)

    def partition_samples(self) -> list[PartitionSample]:
        rt = self.rt
        topic = rt.settings.topics.events
        tallies = rt.pipeline.tallies.snapshot()
        out = []
        for p in list(rt.pipeline.assigned):
            pipe = rt.pipeline.pipelines.get(p)  # created on the partition's first group
            counts = tallies.get(p, {})
            hw = rt.highwater(topic, p)
            lag = (max(0, hw - pipe.applied_offset - 1)
                   if pipe is not None and hw is not None and pipe.applied_offset >= 0 else None)
            dead = sum(n for k, n in counts.items() if k.startswith("invalid."))
            out.append(PartitionSample(p, lag, int(counts.get("events", 0)), int(dead)))
        return out

    def merge_samples(self) -> list[MergeSample]:
        merge = self.rt.merge
        return [MergeSample(p, n) for p, n in sorted(merge.too_late_partials.items())]

    async def sink_sample(self) -> SinkSample | None:
        if self.sink_group is None or 0 not in self.rt.pipeline.assigned:
            return None
        try:
            committed = await self._committed()
            if not committed:
                return None  # the group never committed: no sink deployed (or not started yet)
            waiting = await self._waiting(committed)
        except Exception as exc:  # health is advisory: a failed probe skips one evaluation
            if self._probe_error != repr(exc):  # one line per change, not one per tick
                log.warning("health=sink_probe_failed group=%s error=%r", self.sink_group, exc)
            self._probe_error = repr(exc)
            return None
        if self._probe_error is not None:
            log.info("health=sink_probe_ok group=%s", self.sink_group)
            self._probe_error = None
        return SinkSample(self.sink_group, tuple(sorted(committed)), waiting)

    async def _consumers(self) -> tuple[Any, Any]:
        """(a consumer in the sink's group that never joins it: committed offsets; one outside any group: fetches)."""
        from aiokafka import AIOKafkaConsumer

        if self._consumer is None:
            kw = self.rt.settings.kafka.aiokafka_kwargs()
            group = AIOKafkaConsumer(**kw, group_id=self.sink_group, enable_auto_commit=False)
            fetch = AIOKafkaConsumer(**kw, group_id=None, enable_auto_commit=False,
                                     max_partition_fetch_bytes=64 * 1024)
            await group.start()
            await fetch.start()
            self._admin, self._consumer = group, fetch
        return self._admin, self._consumer

    async def _committed(self) -> list[tuple[str, int, int]]:
        from aiokafka import TopicPartition

        group, _ = await self._consumers()
        t = self.rt.settings.topics
        out = []
        for topic in (getattr(t, f) for f in SINK_FAMILIES):
            for p in range(t.partitions):
                off = await group.committed(TopicPartition(topic, p))  # asks the coordinator; never joins
                if off is not None and off >= 0:
                    out.append((topic, p, off))
        return out

    async def _waiting(self, committed: list[tuple[str, int, int]]) -> bool:
        from aiokafka import TopicPartition

        _, fetch = await self._consumers()
        tps = {TopicPartition(topic, p): off for topic, p, off in committed}
        fetch.assign(list(tps))
        for tp, off in tps.items():
            fetch.seek(tp, off)
        got = await fetch.getmany(timeout_ms=min(1000, int(self.cfg.interval_s * 300)), max_records=1)
        return any(got.values())

    async def tick(self) -> None:
        rt = self.rt
        self.rules.forget(set(self.rules.partitions) - set(rt.pipeline.assigned) - self._gone)
        self._gone = set(self.rules.partitions) - set(rt.pipeline.assigned)
        sink = await self.sink_sample()
        alerts = self.rules.evaluate(rt.now_ms(), self.partition_samples(), sink, self.merge_samples())
        self.evaluations += 1
        if not alerts:
            return
        async with rt.lock:
            await rt.sender.send_docs(rt.settings.topics.alerts, alerts)
            await rt.sender.flush()
        self.alerts_sent += len(alerts)
        for a in alerts:
            log.warning("health=alert rule=%s scope_key=%s state=%s value=%.4g msg=%r", a.rule_id, a.scope_key,
                        a.state, a.value if a.value is not None else float("nan"), a.message)

    async def stop(self) -> None:
        for c in (self._admin, self._consumer):
            if c is not None:
                await c.stop()
        self._admin = self._consumer = None
