"""The sink's self-metrics: a collector over :class:`~trtlens.sinks.sink.ElasticsearchSink`'s live counters.

Read at scrape time from the counters the sink, its bulk writer and its
continuity check keep anyway (nothing is recorded per record). Names and
meanings: README.md ("Self-metrics").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.metrics_core import HistogramMetricFamily, Metric

from trtlens.obs import Observability, counter, gauge

# ElasticsearchSink.counters key → (metric, help)
SINK_COUNTERS = {
    "records": ("trtlens_sink_records_total", "records consumed from the output topics"),
    "indexed": ("trtlens_sink_indexed_documents_total", "documents the store acknowledged"),
    "batches": ("trtlens_sink_batches_total", "fetched batches prepared for a bulk write"),
    "commits": ("trtlens_sink_commits_total", "offset commits (after the store acknowledged)"),
    "commit_failures": ("trtlens_sink_commit_failures_total", "commits refused (a rebalance took the partitions)"),
    "backpressure_pauses": ("trtlens_sink_backpressure_pauses_total", "times consumption paused while a bulk retried"),
}
# BulkWriter.counters key → (metric, help)
WRITER_COUNTERS = {
    "bulks": ("trtlens_sink_bulk_requests_total", "bulk requests sent, retries included"),
    "bulk_docs": ("trtlens_sink_bulk_documents_total", "documents in those requests"),
    "bulk_bytes": ("trtlens_sink_bulk_bytes_total", "NDJSON bytes in those requests"),
    "retries": ("trtlens_sink_bulk_retries_total", "bulk requests retried after 429/5xx/no answer"),
}
# Continuity.counters key → (metric, help)
CONTINUITY_COUNTERS = {
    "gaps_reread": ("trtlens_sink_gap_rereads_total", "offset jumps read again"),
    "gaps_confirmed": ("trtlens_sink_gaps_confirmed_total", "jumps the re-read repeated, accepted"),
    "gap_offsets_confirmed": ("trtlens_sink_gap_offsets_confirmed_total", "offsets those confirmed gaps spanned"),
    "redelivered_skipped": ("trtlens_sink_redelivered_records_total", "records already handed over, skipped"),
}


class SinkCollector:
    """``collect()`` for the registry of a ``trtlens sink`` process."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def collect(self) -> Iterator[Metric]:
        sink = self.sink
        c = dict(sink.counters)
        for key, (name, doc) in SINK_COUNTERS.items():
            yield counter(name, doc, c.get(key, 0))
        yield counter("trtlens_sink_dead_letters_total", "records sent to the sink DLQ: invalid (could not be "
                      "made a document) or rejected (the store refused it)",
                      {"invalid": c.get("dlq_invalid", 0), "rejected": c.get("dlq_rejected", 0)}, ("reason",))
        w = sink.writer_counters
        for key, (name, doc) in WRITER_COUNTERS.items():
            yield counter(name, doc, w.get(key, 0))
        if (durations := sink.bulk_seconds) is not None:
            yield HistogramMetricFamily("trtlens_sink_bulk_duration_seconds", "how long bulk requests took, answered "
                                        "or not (the store's latency as the sink sees it)",
                                        buckets=durations.buckets(), sum_value=durations.sum_s)
        g = sink.continuity_counters
        for key, (name, doc) in CONTINUITY_COUNTERS.items():
            yield counter(name, doc, g.get(key, 0))
        yield gauge("trtlens_sink_backpressure", "1 while a bulk is being retried and consumption is paused",
                    1 if sink.backpressure else 0)
        yield gauge("trtlens_sink_assigned_partitions", "partitions of the output topics assigned to this sink",
                    sink.assigned_partitions())
        yield gauge("trtlens_sink_consumer_lag_records", "broker high-watermark - committed offset",
                    {(topic, str(p)): lag for (topic, p), lag in sink.partition_lag().items()}, ("topic", "partition"))


def readiness(sink: Any) -> tuple[bool, str]:
    """Ready = the consumer is started and the store takes writes (no bulk being retried)."""
    started, retrying = sink.consuming, sink.backpressure
    return started and not retrying, (f"consumer={'started' if started else 'not started'} "
                                      f"store={'retrying' if retrying else 'reachable' if started else 'unknown'}")


def start_listener(sink: Any, obs_settings: Any) -> Observability:
    """The obs listener of a sink process (``settings.obs``), its collector and readiness check set."""
    obs = Observability(obs_settings)
    obs.register(SinkCollector(sink))
    obs.set_readiness(lambda: readiness(sink))
    obs.start()
    return obs
