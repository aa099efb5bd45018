"""Per-partition counts of one worker process, kept across rebalances, for its self-metrics.

A partition pipeline is rebuilt from the state log on each assignment, and the
replay runs through the same counters as live records do. :class:`PartitionTallies`
takes a baseline of a pipeline's counts right after its recovery and banks
what it counted since when the partition goes, so what the collector
(``streams/selfmetrics.py``) reports per partition is what *this process*
applied, replays excluded, and never goes down. Nothing here runs per event.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from prometheus_client import Histogram

# counts kept by PartitionPipeline.counters that only grow during one pipeline's life
_PIPE_COUNTERS = ("records", "events", "accepted_events", "records_skipped_applied")


def group_duration_histogram() -> Histogram:
    """Observed once per processing group by the pipeline agent (not registered: the collector yields it)."""
    return Histogram("trtlens_streams_group_duration_seconds",
                     "wall time of one processing group of the events topic: cores, send, flush, persist",
                     registry=None, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


def pipe_counts(pipe: Any) -> Counter[str]:
    """The monotonic counts of one ``PartitionPipeline``, read from the pipeline and its stages."""
    c = pipe.counters
    out: Counter[str] = Counter({k: c.get(k, 0) for k in _PIPE_COUNTERS})
    out["duplicates"] = pipe.dedup.duplicates
    out["late_events"] = pipe.windows.late_events
    out["too_late_events"] = pipe.windows.too_late_events + pipe.traces.too_late_events
    for rule_id, n in list(pipe.dropper.dropped.items()):
        out[f"dropped.{rule_id}"] = n
    return out


class PartitionTallies:
    """What this process counted per source partition, across the pipelines it built for it.

    ``attach`` after a pipeline's recovery (its counts so far are the replay:
    the baseline); ``sync`` at the end of each processing group (counts are
    published when the group's outputs are flushed and its state written, so a
    scrape never sees a group half done); ``detach`` when the pipeline is
    dropped (what it counted up to its last sync is banked; records after it
    were not persisted and the next owner applies them); ``add`` for counts
    the agent keeps itself (traces out, dead letters by code). A lock makes a
    scrape see each partition once; it is taken per group and per rebalance,
    never per event.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._banked: dict[int, Counter[str]] = {}
        self._live: dict[int, tuple[Any, Counter[str], Counter[str]]] = {}  # pipe, baseline, counts at last sync

    def attach(self, partition: int, pipe: Any) -> None:
        counts = pipe_counts(pipe)
        with self._lock:
            self._banked.setdefault(partition, Counter())
            self._live[partition] = (pipe, counts, counts)

    def sync(self, partition: int, pipe: Any) -> None:
        counts = pipe_counts(pipe)
        with self._lock:
            live = self._live.get(partition)
            if live is not None and live[0] is pipe:
                self._live[partition] = (pipe, live[1], counts)

    def detach(self, partition: int) -> None:
        with self._lock:
            live = self._live.pop(partition, None)
            if live is not None:
                _, base, last = live
                self._banked.setdefault(partition, Counter()).update(last - base)

    def add(self, partition: int, counts: dict[str, int]) -> None:
        with self._lock:
            self._banked.setdefault(partition, Counter()).update(counts)

    def snapshot(self) -> dict[int, Counter[str]]:
        with self._lock:
            out = {p: Counter(c) for p, c in self._banked.items()}
            for p, (_, base, last) in self._live.items():
                out.setdefault(p, Counter()).update(last - base)
        return out


def delivered_counts(out: Any) -> dict[str, int]:
    """What one group's (or idle flush's) outputs add to a partition's tallies: traces and dead letters by code."""
    counts = {"traces_out": len(out.traces)} if out.traces else {}
    for _, doc in out.dlq:
        key = f"invalid.{doc.get('code', 'unknown')}"
        counts[key] = counts.get(key, 0) + 1
    return counts
