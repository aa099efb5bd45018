"""Self-metrics of the Publisher every producer shares: a collector over its live counters.

Read at scrape time from ``Publisher.counters`` (nothing is recorded per event).
Names and meanings: README.md ("Self-metrics").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.metrics_core import Metric

from trtlens.obs import counter, gauge

# Publisher.counters key → (metric, help)
PUBLISHER_COUNTERS = {
    "submitted": ("trtlens_publisher_events_submitted_total", "events handed to the publisher"),
    "published": ("trtlens_publisher_events_published_total", "events the broker acknowledged"),
    "spooled": ("trtlens_publisher_events_spooled_total", "events written to the local spool"),
    "dropped": ("trtlens_publisher_events_dropped_total", "low-value events dropped because the spool was full"),
    "failed": ("trtlens_publisher_events_failed_total", "events neither published nor spooled"),
    "dead_lettered": ("trtlens_publisher_dead_letters_total", "DLQ documents the broker acknowledged"),
    "records_sent": ("trtlens_publisher_records_sent_total", "Kafka records sent (batches of events)"),
}


def publisher_counters(publisher: Any) -> dict[str, int]:
    """``publisher.counters``, read from another thread (the spool's size is a sum over a dict it may change)."""
    for _ in range(5):
        try:
            return dict(publisher.counters)
        except RuntimeError:  # dictionary changed size during iteration
            continue
    return {}


class PublisherCollector:
    """``collect()`` over one :class:`~trtlens.producers.publisher.Publisher`."""

    def __init__(self, publisher: Any) -> None:
        self.publisher = publisher

    def collect(self) -> Iterator[Metric]:
        c = publisher_counters(self.publisher)
        for key, (name, doc) in PUBLISHER_COUNTERS.items():
            yield counter(name, doc, c.get(key, 0))
        yield gauge("trtlens_publisher_spool_pending_events", "events on disk in the spool now", c.get("spool_pending", 0))
        yield gauge("trtlens_publisher_spooling", "1 while new events go to the spool (broker unreachable)",
                    1 if self.publisher.spooling else 0)
