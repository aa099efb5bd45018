"""The sink's collector over a sink's live counters (a stand-in object with the same attributes; no I/O)."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import CollectorRegistry, generate_latest

from trtlens.sinks.selfmetrics import SinkCollector
from trtlens.sinks.writer import BulkDurations


def _sink(durations: BulkDurations | None) -> SimpleNamespace:
    return SimpleNamespace(counters={"records": 5, "indexed": 4}, writer_counters={"bulks": 2}, continuity_counters={},
                           backpressure=False, assigned_partitions=lambda: 3, partition_lag=lambda: {("t", 0): 1},
                           bulk_seconds=durations)


def _exposition(sink: SimpleNamespace) -> str:
    registry = CollectorRegistry()
    registry.register(SinkCollector(sink))
    return generate_latest(registry).decode()


def test_bulk_durations_are_a_prometheus_histogram():
    d = BulkDurations()
    d.observe(0.02)
    d.observe(2.4)
    text = _exposition(_sink(d))
    assert 'trtlens_sink_bulk_duration_seconds_bucket{le="0.025"} 1.0' in text
    assert 'trtlens_sink_bulk_duration_seconds_bucket{le="1.0"} 1.0' in text
    assert 'trtlens_sink_bulk_duration_seconds_bucket{le="2.5"} 2.0' in text
    assert 'trtlens_sink_bulk_duration_seconds_count 2.0' in text
    assert "trtlens_sink_bulk_requests_total 2.0" in text


def test_no_histogram_before_the_writer_exists():
    text = _exposition(_sink(None))
    assert "trtlens_sink_bulk_duration_seconds" not in text and "trtlens_sink_records_total 5.0" in text
