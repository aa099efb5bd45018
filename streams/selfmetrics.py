"""The streams worker's self-metrics: a collector over the counters the agents keep anyway.

Nothing here runs per event. The partition pipelines count as they always
did (``PartitionPipeline.counters`` and their stages' counters); the agents
add a few counts per processing group; :class:`StreamsCollector` reads them
when ``/metrics`` is scraped (in the listener's thread: it copies, never
iterates a dict the event loop is changing).

Per-partition counters neither go backwards nor count a state-log replay
when partitions move (``pipeline/tallies.py``): ``trtlens_streams_records_total
{partition="0"}`` is what *this process* applied of partition 0. The names
are in README.md ("Self-metrics").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.metrics_core import Metric

from trtlens.obs import counter, gauge

# GapBook counter → metric name (both topics: the events topic and the merge stage's partials topic)
GAP_METRICS = {
    "gaps": ("trtlens_streams_gaps_total", "offset jumps seen and resolved"),
    "rereads": ("trtlens_streams_gap_rereads_total", "seeks back to re-read a gap"),
    "reread_retries": ("trtlens_streams_gap_reread_retries_total", "re-reads asked again after reread_retry_s"),
    "held_records": ("trtlens_streams_gap_held_records_total", "records past a pending gap left for the re-read"),
    "confirmed_gaps": ("trtlens_streams_gaps_confirmed_total", "gaps the broker confirmed it holds no records in"),
    "confirmed_gap_offsets": ("trtlens_streams_gap_offsets_confirmed_total", "offsets those confirmed gaps spanned"),
}


class StreamsCollector:
    """``collect()`` for the registry of a streams worker: reads the :class:`~trtlens.streams.runtime.Runtime`."""

    def __init__(self, runtime: Any) -> None:
        self.rt = runtime

    def collect(self) -> Iterator[Metric]:
        rt = self.rt
        pipeline, merge = rt.pipeline, rt.merge
        topics = rt.settings.topics
        tallies = pipeline.tallies.snapshot()

        def per_partition(key: str) -> dict[str, float]:
            return {str(p): c.get(key, 0) for p, c in tallies.items()}

        def by_prefix(prefix: str, known: tuple[str, ...] = ()) -> dict[tuple[str, str], float]:
            out = {(str(p), k): 0 for p in tallies for k in known}  # a configured rule shows 0, not nothing
            out.update({(str(p), k[len(prefix):]): n for p, c in tallies.items() for k, n in c.items()
                        if k.startswith(prefix)})
            return out

        rules = tuple(rule.id for rule in rt.settings.streams.drop.rules)
        part = ("partition",)
        yield counter("trtlens_streams_records_total", "records of the events topic applied (redeliveries and "
                      "state-log replays excluded)", per_partition("records"), part)
        yield counter("trtlens_streams_events_total", "valid events decoded from those records (invalid ones: trtlens_streams_invalid_events_total)",
                      per_partition("events"), part)
        yield counter("trtlens_streams_accepted_events_total", "events past dedup and drop rules",
                      per_partition("accepted_events"), part)
        yield counter("trtlens_streams_invalid_events_total", "events sent to the DLQ, by decode/validation code",
                      by_prefix("invalid."), ("partition", "code"))
        yield counter("trtlens_streams_duplicate_events_total", "events dropped as duplicates (event_id within the TTL)",
                      per_partition("duplicates"), part)
        yield counter("trtlens_streams_dropped_events_total", "events dropped by a drop rule",
                      by_prefix("dropped.", rules), ("partition", "rule"))
        yield counter("trtlens_streams_late_events_total", "events after their window closed, still within "
                      "late_retention (counted in the window's late_events)", per_partition("late_events"), part)
        yield counter("trtlens_streams_too_late_events_total", "events too late for any window or trace state",
                      per_partition("too_late_events"), part)
        yield counter("trtlens_streams_traces_out_total", "trace documents emitted (complete, timed out or idle-flushed)",
                      per_partition("traces_out"), part)
        yield counter("trtlens_streams_redelivered_records_total", "records at or below the applied offset, skipped",
                      per_partition("records_skipped_applied"), part)
        yield counter("trtlens_streams_recovered_records_total", "state-log records replayed to rebuild partition "
                      "state after an assignment", per_partition("recovered_records"), part)

        sent = dict(rt.sender.sent)
        yield counter("trtlens_streams_outputs_sent_total", "records produced and acknowledged, by topic", sent, ("topic",))
        yield counter("trtlens_streams_outputs_resent_total", "records sent again after the producer gave up on them",
                      rt.sender.resent)

        for key, (name, doc) in GAP_METRICS.items():
            yield counter(name, doc, {topics.events: pipeline.rereads.book.counters.get(key, 0),
                                      topics.metrics_partials: merge.rereads.book.counters.get(key, 0)}, ("topic",))

        yield from pipeline.group_duration.collect()
        yield counter("trtlens_streams_group_stage_seconds_total", "time spent per stage of the processing groups",
                      {stage: pipeline.timings.get(f"{stage}_s", 0.0) for stage in ("core", "send", "flush", "persist")},
                      ("stage",))

        open_traces, retained_traces, windows, dedup_ids, applied, watermark, lag = {}, {}, {}, {}, {}, {}, {}
        for p, pipe in list(pipeline.pipelines.items()):
            label = str(p)
            open_traces[label] = len(pipe.traces.traces)
            retained_traces[label] = len(pipe.traces.retained)
            windows[label] = len(pipe.windows.windows)
            dedup_ids[label] = len(pipe.dedup)
            applied[label] = pipe.applied_offset
            watermark[label] = pipe.watermark_ms / 1000
            hw = rt.highwater(topics.events, p)
            if hw is not None and pipe.applied_offset >= 0:
                lag[label] = max(0, hw - pipe.applied_offset - 1)
        yield gauge("trtlens_streams_assigned_partitions", "partitions of the events topic assigned to this worker",
                    len(pipeline.assigned))
        yield gauge("trtlens_streams_open_traces", "traces waiting for their terminal event or timeout", open_traces, part)
        yield gauge("trtlens_streams_retained_traces", "emitted traces kept (packed) for late events until their "
                    "end of retention", retained_traces, part)
        yield gauge("trtlens_streams_open_windows", "partial windows held in memory", windows, part)
        yield gauge("trtlens_streams_dedup_ids", "event ids remembered for dedup", dedup_ids, part)
        yield gauge("trtlens_streams_applied_offset", "last offset of the events topic applied", applied, part)
        yield gauge("trtlens_streams_watermark_timestamp_seconds", "event-time watermark (largest ts_ms seen), unix seconds",
                    watermark, part)
        yield gauge("trtlens_streams_consumer_lag_records", "broker high-watermark - applied offset - 1", lag, part)

        yield counter("trtlens_streams_merge_windows_emitted_total", "final and updated window documents sent by the "
                      "merge stage", merge.windows_emitted)
        yield counter("trtlens_streams_merge_alerts_emitted_total", "alert records sent by the merge stage",
                      merge.alerts_emitted)
        yield counter("trtlens_streams_merge_too_late_partials_total", "partials for windows the merge stage had "
                      "already emitted and forgotten, not applied (their source idle or behind past late retention)",
                      {str(p): n for p, n in merge.too_late_partials.items()}, ("partition",))
        yield counter("trtlens_streams_merge_bad_records_total", "partial records the merge stage could not apply",
                      merge.bad_records)


def readiness(runtime: Any) -> tuple[bool, str]:
    """Ready = partitions of the events topic assigned and no rebalance or table recovery under way."""
    assigned = len(runtime.pipeline.assigned)
    recovering = runtime.recovering
    return assigned > 0 and not recovering, f"assigned_partitions={assigned} recovering={str(recovering).lower()}"


def start_listener(runtime: Any) -> Any:
    """The obs listener of a streams worker (``settings.obs``), its collector and readiness check set."""
    from trtlens.obs import Observability

    obs = Observability(runtime.settings.obs)
    obs.register(StreamsCollector(runtime))
    obs.set_readiness(lambda: readiness(runtime))
    obs.start()
    return obs


__all__ = ["PartitionTallies", "StreamsCollector", "delivered_counts", "group_duration_histogram", "pipe_counts",
           "readiness", "start_listener", "time"]
