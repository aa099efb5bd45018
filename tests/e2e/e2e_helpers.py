"""Helpers of the end-to-end tests: run the real pipeline, read back what it produced.

The pipeline under test is the product's own processes: ``trtlens streams`` and
``trtlens sink`` as supervised subprocesses (:class:`trtlens.stack.processes.ManagedProcess`)
against the embedded broker and store. Events come from the pure load
generator (``trtlens.producers.load.core.generate``) and are published with the
:class:`~trtlens.producers.publisher.Publisher`, so the test knows every event
that went in.

:class:`Expected` is the ground truth the store is compared with. It starts
from the generator's own ground truth and adds what only the *send order*
decides: which ``request_complete`` events arrive after their window closed
(late: counted in ``late_events``, not in ``requests``). It finds them by
replaying the partitioned event sequence with the documented rule (a window
closes when the partition's largest event time reaches its end + grace), and
checks its totals against the generator's (on time + late = the generator's
requests, errors, cold starts; late per window = the generator's ``late``).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from trtlens.stack.processes import ManagedProcess, connection_env, wait_for
from trtlens.settings import IndexSettings, Settings, TopicSettings

FAMILIES = ("traces", "metrics", "alerts", "builds")
START_MS = 1_767_226_200_000  # 2026-01-01T00:10:00Z: fixed event time, so runs are byte-for-byte repeatable
_counter = itertools.count()


# ------------------------------------------------------------------ settings


def e2e_settings(base: Settings, *, partitions: int = 3) -> Settings:
    """Settings with topics (the internal partials topic included), indices, streams
    app id and sink group that no other test uses; topics created."""
    from trtlens.kafka import ensure_topics

    tag = f"e2e{os.getpid()}x{next(_counter)}"
    topics = TopicSettings(
        events=f"{tag}.events", events_dlq=f"{tag}.events.dlq", traces=f"{tag}.traces",
        metrics=f"{tag}.metrics", alerts=f"{tag}.alerts", builds=f"{tag}.builds",
        layers=f"{tag}.layers", findings=f"{tag}.findings", sink_dlq=f"{tag}.sink.dlq", metrics_partials=f"{tag}.metrics.partials", partitions=partitions,
    )
    indices = IndexSettings(traces=f"{tag}-traces", metrics=f"{tag}-metrics", alerts=f"{tag}-alerts", builds=f"{tag}-builds",
                            layers=f"{tag}-layers", findings=f"{tag}-findings")
    settings = base.model_copy(update={
        "topics": topics,
        "indices": indices,
        "streams": base.streams.model_copy(update={"app_id": f"{tag}-streams"}),
        "sink": base.sink.model_copy(update={"group_id": f"{tag}-sink"}),
    })
    ensure_topics(settings.kafka, settings.topics)
    return settings


@dataclass
class StreamsOptions:
    window_ms: int = 1000
    grace_ms: int = 500
    idle_timeout_ms: int = 2500
    sample_rate: float = 0.5
    rules: list[dict[str, Any]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            "TRTLENS_STREAMS__METRICS__WINDOW_MS": str(self.window_ms),
            "TRTLENS_STREAMS__METRICS__GRACE_MS": str(self.grace_ms),
            "TRTLENS_STREAMS__IDLE_TIMEOUT_MS": str(self.idle_timeout_ms),
            "TRTLENS_STREAMS__TRACES__SAMPLE_RATE": str(self.sample_rate),
            "TRTLENS_STREAMS__ALERTS__RULES": json.dumps(self.rules),
        }


def streams_process(settings: Settings, options: StreamsOptions, log_dir: Path) -> ManagedProcess:
    env = {**connection_env(settings), **options.env(), "TRTLENS_STREAMS__APP_ID": settings.streams.app_id}
    return ManagedProcess("streams", ["streams"], log_dir=log_dir, env=env)


def sink_process(settings: Settings, log_dir: Path, *, name: str = "sink", **sink_env: Any) -> ManagedProcess:
    env = {**connection_env(settings), "TRTLENS_SINK__GROUP_ID": settings.sink.group_id}
    env.update({f"TRTLENS_SINK__{k.upper()}": str(v) for k, v in sink_env.items()})
    return ManagedProcess(name, ["sink"], log_dir=log_dir, env=env)


def assert_running(*procs: ManagedProcess) -> None:
    for p in procs:
        assert p.running, f"{p.name} exited with {p.returncode}; log {p.log_path}:\n{p.log_tail(3000)}"


def wait_alive(predicate, *, procs: list[ManagedProcess], timeout_s: float, what: str, interval_s: float = 0.3):
    """``wait_for`` that fails at once (with the log) when a pipeline process died."""

    def check():
        assert_running(*procs)
        return predicate()

    try:
        return wait_for(check, timeout_s=timeout_s, interval_s=interval_s, what=what)
    except TimeoutError as exc:
        logs = "\n".join(f"--- {p.name} ({p.log_path}):\n{p.log_tail(2500)}" for p in procs)
        raise TimeoutError(f"{exc}\n{logs}") from None


# ------------------------------------------------------------------ load


def load_config(**overrides: Any):
    from trtlens.producers.load.config import LoadConfig

    data: dict[str, Any] = {"start_ms": START_MS, "ground_truth_latencies": True, "gpu_sample_interval_ms": 1000}
    data.update(overrides)
    return LoadConfig(**data)


def generate_events(*configs) -> tuple[list[dict], list[dict]]:
    """Events of several runs in send order (concatenated), and their ground truths."""
    from trtlens.producers.load.core import generate

    events: list[dict] = []
    truths = []
    for cfg in configs:
        run = generate(cfg)
        batch = list(run.events)
        assert len(batch) == run.expected_events
        events.extend(batch)
        truths.append(run.ground_truth)
    return events, truths


def publish(settings: Settings, events: list[dict], spool_dir: Path, *, pace_events_per_s: float | None = None) -> dict:
    """Publish with the product's Publisher (optionally paced); return its counters after the flush."""
    from trtlens.producers.config import PublisherConfig
    from trtlens.producers.publisher import Publisher

    cfg = PublisherConfig(spool_dir=spool_dir, spool_name="e2e", linger_ms=20, close_timeout_s=30)
    t0 = time.monotonic()
    step = 500
    with Publisher(settings, cfg) as pub:
        for i in range(0, len(events), step):
            pub.publish_dicts(events[i : i + step])
            if pace_events_per_s:
                ahead = (i + step) / pace_events_per_s - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)  # pacing the producer (not waiting for a condition)
        assert pub.flush(60), "publisher did not deliver everything"
        counters = dict(pub.counters)
    assert counters["failed"] == 0 and counters["dropped"] == 0, counters
    return counters


# ------------------------------------------------------------------ ground truth


def _close_at(ts_ms: int, window_ms: int, grace_ms: int) -> int:
    return ts_ms - ts_ms % window_ms + window_ms + grace_ms


@dataclass
class WindowTruth:
    requests: int = 0
    errors: int = 0
    cold_starts: int = 0
    late: int = 0
    latencies: list[float] = field(default_factory=list)
    late_errors: int = 0
    late_cold_starts: int = 0
    late_latencies: list[float] = field(default_factory=list)

    def p99(self) -> float:
        values = sorted(self.latencies)
        return values[max(0, math.ceil(0.99 * len(values)) - 1)]


@dataclass
class Expected:
    """What the store must hold, from the events and the generator's ground truth."""

    windows: dict[tuple[str, int], WindowTruth]      # (model/version, window_start) → on-time stats
    requests: dict[str, dict[str, Any]]                # request_id → {complete, error, cold, model/version}
    total_requests: int
    late_requests: int

    @classmethod
    def build(cls, events: list[dict], truths: list[dict], *, partitions: int, window_ms: int, grace_ms: int) -> Expected:
        from trtlens.kafka import partition_for_key
        from trtlens.producers.publisher import routing_key

        metric_events = {"request_complete", "inference_complete", "engine_load_complete", "gpu_sample"}
        watermark: dict[int, int] = defaultdict(int)
        seen: set[str] = set()
        windows: dict[tuple[str, int], WindowTruth] = defaultdict(WindowTruth)
        requests: dict[str, dict[str, Any]] = {}
        late_other = 0
        part_of: dict[str, int] = {}
        for ev in events:
            if ev["event_id"] in seen:
                continue  # an injected duplicate: the pipeline's dedup drops it
            seen.add(ev["event_id"])
            key = routing_key(ev)
            p = part_of.get(key)
            if p is None:
                p = part_of[key] = partition_for_key(key, partitions)
            wm, ts = watermark[p], ev["ts_ms"]
            late = ev["event"] in metric_events and wm >= _close_at(ts, window_ms, grace_ms)
            rid = ev.get("request_id")
            if rid is not None:
                r = requests.setdefault(rid, {"complete": False, "error": False, "cold": False, "events": 0,
                                              "scope_key": f"{ev['model']}/{ev['model_version']}"})
                r["events"] += 1
                r["error"] = r["error"] or ev["event"] == "error"
                r["cold"] = r["cold"] or (ev["event"] == "inference_complete" and ev["cold_start"])
            if ev["event"] == "request_complete":
                r.update(complete=True, cold=r["cold"] or ev["cold_start"], total_ms=ev["total_ms"])
                w = windows[(r["scope_key"], ts - ts % window_ms)]
                if late:
                    w.late += 1
                    w.late_errors += ev["status"] == "error"
                    w.late_cold_starts += ev["cold_start"]
                    w.late_latencies.append(ev["total_ms"])
                else:
                    w.requests += 1
                    w.errors += ev["status"] == "error"
                    w.cold_starts += ev["cold_start"]
                    w.latencies.append(ev["total_ms"])
            elif late:
                late_other += 1
            if ts > wm:
                watermark[p] = ts
        assert late_other == 0, f"{late_other} non-terminal metric events would be late: the test data is off"
        expected = cls(dict(windows), requests, sum(t["requests"] for t in truths),
                       sum(w.late for w in windows.values()))
        expected._check_against(truths)
        return expected

    def _check_against(self, truths: list[dict]) -> None:
        """The replay must agree with the generator's own ground truth, window by window."""
        gen: dict[tuple[str, int], dict[str, Any]] = {}
        for truth in truths:
            for row in truth["windows"]:
                key = (f"{row['model']}/{row['model_version']}", row["window_start_ms"])
                g = gen.setdefault(key, {"requests": 0, "errors": 0, "cold_starts": 0, "late": 0, "latencies": []})
                for k in ("requests", "errors", "cold_starts", "late"):
                    g[k] += row[k]
                g["latencies"].extend(row["latencies_ms_sorted"])
        assert set(gen) == set(self.windows), "replayed windows differ from the generator's"
        for key, g in gen.items():
            w = self.windows[key]
            assert w.requests + w.late == g["requests"] and w.late == g["late"], (key, w, g)
            assert w.errors + w.late_errors == g["errors"] and w.cold_starts + w.late_cold_starts == g["cold_starts"], key
            assert sorted(w.latencies + w.late_latencies) == sorted(g["latencies"]), key
        assert len(self.requests) == self.total_requests
        assert sum(1 for r in self.requests.values() if not r["complete"]) == sum(t["faults"]["incomplete"] for t in truths)

    def scope_keys(self) -> set[str]:
        return {k for k, _ in self.windows}


# ------------------------------------------------------------------ reading back


def read_output_topics(settings: Settings, families=FAMILIES, *, idle_polls: int = 2) -> dict[str, list]:
    """Every record of the output topics, by assignment from the beginning (no group, no commit)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest", **settings.kafka.kafka_python_kwargs())
    try:
        tps = [TopicPartition(getattr(settings.topics, f), p) for f in families for p in range(settings.topics.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)  # Tansu may under-report this (DESIGN.md): read on until quiet as well
        out: dict[str, list] = {f: [] for f in families}
        by_topic = {getattr(settings.topics, f): f for f in families}
        quiet = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=300, max_records=50_000)
            for tp, records in batch.items():
                out[by_topic[tp.topic]].extend(records)
            if batch:
                quiet = 0
                continue
            quiet += 1
            if quiet >= idle_polls and all(consumer.position(tp) >= ends[tp] for tp in tps):
                break
        return out
    finally:
        consumer.close()


def latest_by_key(records: list) -> dict[str, dict]:
    """Last value per key in (partition, offset) order: what the store must hold."""
    out: dict[str, dict] = {}
    for rec in sorted(records, key=lambda r: (r.partition, r.offset)):
        out[rec.key.decode()] = orjson.loads(rec.value)
    return out


def store_docs(es, alias: str) -> list[dict]:
    """Every document under an alias (``_id`` + ``_source``), refreshed first; [] if it does not exist."""
    from elasticsearch import NotFoundError

    try:
        es.indices.refresh(index=alias)
    except NotFoundError:
        return []
    hits: list[dict] = []
    resp = es.search(index=alias, size=2000, sort=["_doc"], scroll="60s")
    try:
        while resp["hits"]["hits"]:
            hits.extend(resp["hits"]["hits"])
            resp = es.scroll(scroll_id=resp["_scroll_id"], scroll="60s")
    finally:
        if resp.get("_scroll_id"):
            es.options(ignore_status=404).clear_scroll(scroll_id=resp["_scroll_id"])
    return hits


def store_count(es, alias: str) -> int:
    from elasticsearch import NotFoundError

    try:
        return int(es.count(index=alias)["count"])
    except NotFoundError:
        return 0


def assert_store_matches_topics(es, settings: Settings, *, exclude_keys: frozenset[str] | set[str] = frozenset()) -> dict[str, int]:
    """Nothing missing, nothing duplicated, nothing stale: per family, the store's ``_id``s are
    exactly the topic's keys (less ``exclude_keys``: poison the sink must refuse), each once,
    and each document is the key's last record."""
    topics = read_output_topics(settings)
    sizes = {}
    for family in FAMILIES:
        want = {k: v for k, v in latest_by_key(topics[family]).items() if k not in exclude_keys}
        hits = store_docs(es, getattr(settings.indices, family))
        ids = [h["_id"] for h in hits]
        dupes = [k for k, n in Counter(ids).items() if n > 1]
        assert not dupes, f"{family}: {len(dupes)} ids stored twice, e.g. {dupes[:3]}"
        missing = set(want) - set(ids)
        extra = set(ids) - set(want)
        assert not missing and not extra, f"{family}: missing {sorted(missing)[:5]} ({len(missing)}), extra {sorted(extra)[:5]}"
        stale = [h["_id"] for h in hits if h["_source"] != want[h["_id"]]]
        assert not stale, f"{family}: {len(stale)} documents are not the last record of their key, e.g. {stale[:3]}"
        sizes[family] = len(ids)
    return sizes


def read_dlq(settings: Settings, topic: str, *, want: int, timeout_s: float = 30.0) -> list[dict]:
    """The dead letters of ``topic`` (from the beginning), once at least ``want`` are there."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(enable_auto_commit=False, **settings.kafka.kafka_python_kwargs())
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list[dict] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=300).values():
                out.extend(orjson.loads(r.value) for r in records)
            if len(out) >= want:
                for records in consumer.poll(timeout_ms=300).values():  # and anything right behind them
                    out.extend(orjson.loads(r.value) for r in records)
                break
        return out
    finally:
        consumer.close()


def streams_finished(settings: Settings, expected: Expected) -> bool:
    """Streams has emitted every expected final window (with its exact counts) and a trace for
    every incomplete request (those come last: by join timeout or the idle flush)."""
    topics = read_output_topics(settings, ("traces", "metrics"))
    windows = {(d["scope_key"], d["window_start_ms"]): d for d in latest_by_key(topics["metrics"]).values()
               if d["scope"] == "model_version" and d["final"]}
    for key, w in expected.windows.items():
        got = windows.get(key)
        if got is None or (got["requests"], got["late_events"]) != (w.requests, w.late):
            return False
    incomplete = {rid for rid, r in expected.requests.items() if not r["complete"]}
    return incomplete <= {r.key.decode() for r in topics["traces"]}


def store_matches_topics(es, settings: Settings, **kwargs) -> dict[str, int] | None:
    """:func:`assert_store_matches_topics` as a polling predicate (None while it does not hold)."""
    try:
        return assert_store_matches_topics(es, settings, **kwargs)
    except AssertionError:
        return None
