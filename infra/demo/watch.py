"""Read-only view of a running pipeline: what the demo's live screen shows.

:class:`PipelineWatch` reads ``trtlens.events`` (to count events in), the
metrics and alerts topics (last closed window per model/version, alerts) and
the dead-letter topic, by *assignment* from the beginning — it joins no
consumer group, commits nothing and so never disturbs the pipeline. It counts
documents in the store through the read aliases.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import orjson

from trtlens.settings import Settings


@dataclass
class WatchState:
    events_in: int = 0
    records_in: int = 0
    dlq: int = 0
    docs: dict[str, int] = field(default_factory=dict)
    latest: dict[str, dict] = field(default_factory=dict)  # scope_key → last final model_version window
    windows: int = 0
    alerts: dict[tuple[str, str], dict] = field(default_factory=dict)  # (rule, scope_key) → last alert
    alerts_fired: int = 0
    alerts_resolved: int = 0
    events_per_s: float = 0.0
    docs_per_s: float = 0.0

    @property
    def firing(self) -> list[dict]:
        return [a for a in self.alerts.values() if a["state"] == "firing"]


class PipelineWatch:
    def __init__(self, settings: Settings) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.settings = settings
        self.state = WatchState()
        t = settings.topics
        self._consumer = KafkaConsumer(
            enable_auto_commit=False, auto_offset_reset="earliest", **settings.kafka.kafka_python_kwargs()
        )
        parts = [TopicPartition(topic, p) for topic in (t.events, t.metrics, t.alerts, t.events_dlq) for p in range(t.partitions)]
        self._consumer.assign(parts)
        self._consumer.seek_to_beginning(*parts)
        self._es = None
        self._last_rate_t = time.monotonic()
        self._last_events = 0
        self._last_docs = 0

    def _count_docs(self) -> None:
        from trtlens.es import es_client

        if self._es is None:
            self._es = es_client(self.settings.elasticsearch, request_timeout=5)
        ix = self.settings.indices
        for family in ("traces", "metrics", "alerts", "builds"):
            alias = getattr(ix, family)
            try:
                self.state.docs[family] = int(self._es.count(index=alias, ignore_unavailable=True, allow_no_indices=True)["count"])
            except Exception:  # the alias does not exist until the sink writes the first document
                self.state.docs.setdefault(family, 0)

    def poll(self, timeout_s: float = 0.5) -> WatchState:
        t = self.settings.topics
        batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=50_000)
        for tp, records in batches.items():
            for rec in records:
                if tp.topic == t.events:
                    self.state.records_in += 1
                    self.state.events_in += _event_count(rec.value)
                elif tp.topic == t.events_dlq:
                    self.state.dlq += 1
                elif tp.topic == t.metrics:
                    self._on_metric(rec.value)
                elif tp.topic == t.alerts:
                    self._on_alert(rec.value)
        self._count_docs()
        now = time.monotonic()
        if (dt := now - self._last_rate_t) >= 1.0:
            docs = sum(self.state.docs.values())
            self.state.events_per_s = (self.state.events_in - self._last_events) / dt
            self.state.docs_per_s = max(0, docs - self._last_docs) / dt
            self._last_events, self._last_docs, self._last_rate_t = self.state.events_in, docs, now
        return self.state

    def _on_metric(self, value: bytes) -> None:
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            return
        if doc.get("scope") != "model_version" or not doc.get("final", True):
            return
        self.state.windows += 1
        prev = self.state.latest.get(doc["scope_key"])
        if prev is None or doc["window_start_ms"] >= prev["window_start_ms"]:
            self.state.latest[doc["scope_key"]] = doc

    def _on_alert(self, value: bytes) -> None:
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            return
        self.state.alerts[(doc["rule_id"], doc["scope_key"])] = doc
        if doc["state"] == "firing":
            self.state.alerts_fired += 1
        else:
            self.state.alerts_resolved += 1

    def close(self) -> None:
        self._consumer.close()
        if self._es is not None:
            self._es.close()


def _event_count(value: bytes | None) -> int:
    if not value:
        return 0
    if value[:1] != b"[":
        return 1
    try:
        return len(orjson.loads(value))
    except orjson.JSONDecodeError:
        return 0
