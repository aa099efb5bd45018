"""The app against the load generator's ground truth, on the real broker with real worker processes.

One live run (duplicates, out-of-order, incomplete requests, bad records mid
batch) is shared by the module: exact windows, DLQ, traces, and then a
backfill of the same events, re-batched differently, through two workers must
give identical windows.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from trtlens.kafka import partition_for_key
from trtlens.producers.load.config import FaultSpec, LoadConfig
from trtlens.producers.load.core import generate

from support.streams_harness import Worker, latest_docs, publish, read_topic, streams_settings, wait_for, wait_stable

T0 = 1_700_000_000_000
SAMPLE_ALL = {"traces": {"sample_rate": 1.0}}
ALERTING = {"alerts": {"rules": [{"kind": "p99_above", "id": "p99_tiny", "threshold_ms": 0.5, "fire_after": 2,
                                  "resolve_after": 1, "scope": "all"}]}}


def load(seed: int, **faults: float):
    cfg = LoadConfig(seed=seed, rate_rps=150, duration_s=30, start_ms=T0, workers=3, ground_truth_latencies=False,
                     faults=FaultSpec(**faults))
    run = generate(cfg)
    return run, list(run.events)


def window_docs(settings):
    return {k: v for k, v in latest_docs(settings, settings.topics.metrics).items() if v["scope"] == "model_version"}


def gt_key(w):
    return f"model_version:{w['model']}/{w['model_version']}:{w['window_start_ms']}:{w['window_ms']}"


def matches(docs, gt, *, late=False):
    """Windows are final and equal the ground truth (a window closed early by the idle rule while a
    rebalance paused a partition is re-emitted with the full counts: wait for that, then assert)."""
    try:
        assert_exact(docs, gt, late=late)
    except (AssertionError, KeyError):
        return False
    return True


def assert_exact(docs, gt, *, late=False):
    for w in gt["windows"]:
        d = docs[gt_key(w)]
        expected = w["requests"] - w["late"]
        assert d["final"] and d["requests"] == expected, (gt_key(w), d["requests"], w)
        assert d["late_events"] == w["late"]
        if not late:
            assert d["errors"] == w["errors"] and d["cold_starts"] == w["cold_starts"]
            assert d["error_rate"] == pytest.approx(w["errors"] / w["requests"])
            assert d["cold_start_rate"] == pytest.approx(w["cold_starts"] / w["requests"])
            assert abs(d["latency_ms"]["p99"] - w["p99_ms"]) <= 0.01 * w["p99_ms"]
            assert abs(d["latency_ms"]["p50"] - w["p50_ms"]) <= 0.01 * w["p50_ms"]
        assert d["qps"] == pytest.approx(d["requests"] / (w["window_ms"] / 1000))


@pytest.fixture(scope="module")
def live(stack_settings, tmp_path_factory):
    run, events = load(11, duplicate_rate=0.03, out_of_order_rate=0.03, incomplete_rate=0.02)
    settings = streams_settings(stack_settings, **SAMPLE_ALL, **ALERTING)
    publish(settings, events)
    # bad input in the middle of a batch record, and a record that is not JSON at all
    end = run.ground_truth["end_ms"]  # within grace of the end: not late
    extra = [
        {"event": "request_received", "event_id": "extra-a", "ts_ms": end - 500, "request_id": "extra-req",
         "worker_id": "w-extra", "model": "extra-model", "model_version": "v1"},
        {"event": "request_complete", "event_id": "bad-1", "request_id": "extra-req"},  # no ts/total/worker
        {"event": "no_such_event", "event_id": "bad-2"},
        {"event": "request_complete", "event_id": "extra-c", "ts_ms": end - 490, "request_id": "extra-req",
         "worker_id": "w-extra", "model": "extra-model", "model_version": "v1", "total_ms": 3.0},
    ]
    from kafka import KafkaProducer

    part = partition_for_key("extra-req", settings.topics.partitions)
    producer = KafkaProducer(**settings.kafka.kafka_python_kwargs())
    producer.send(settings.topics.events, orjson.dumps(extra), key=b"extra-req", partition=part)
    producer.send(settings.topics.events, b"\x00 definitely not json", key=b"junk", partition=part)
    build = {"event": "engine_build", "event_id": "build-1", "ts_ms": T0, "worker_id": "ci", "engine_id": "resnet50-fp16",
             "status": "ok", "precisions": ["fp16"], "layers_before": 10, "layers_after": 6}
    producer.send(settings.topics.events, orjson.dumps([build]), key=b"resnet50-fp16",
                  partition=partition_for_key("resnet50-fp16", settings.topics.partitions))
    producer.flush()
    producer.close()
    worker = Worker(settings, tmp_path_factory.mktemp("live") / "worker.log")
    try:
        gt = run.ground_truth
        docs = wait_stable(lambda: (d := window_docs(settings)) and matches(d, gt) and d, 90,
                           "final windows of the live run", [worker])
        traces = wait_for(
            lambda: (t := latest_docs(settings, settings.topics.traces)) and len(t) >= gt["requests"] + 1 and t,
            60, "every trace", [worker],
        )
    finally:
        worker.stop()
    return settings, run, events, docs, traces


def test_windows_match_ground_truth_exactly(live):
    _, run, _, docs, _ = live
    gt = run.ground_truth
    assert gt["faults"]["duplicates"] > 0 and gt["faults"]["out_of_order"] > 0
    assert_exact(docs, gt)


def test_rollups_cover_every_request_once(live):
    settings, run, _, _, _ = live
    gt = run.ground_truth
    metrics = latest_docs(settings, settings.topics.metrics)
    all_scope = [m for m in metrics.values() if m["scope"] == "all"]
    assert sum(m["requests"] for m in all_scope) == sum(w["requests"] for w in gt["windows"]) + 1  # + extra-req
    assert all(m["partitions"] for m in all_scope)
    workers = [m for m in metrics.values() if m["scope"] == "worker"]
    assert sum(m["requests"] for m in workers) == sum(m["requests"] for m in all_scope)
    gpu = {(m["worker_id"], m["window_start_ms"]): m["gpu_memory_max_bytes"] for m in workers}
    for g in gt["gpu_windows"]:
        assert gpu[(g["worker_id"], g["window_start_ms"])] == g["memory_used_max_bytes"]
    longer = [m for m in all_scope if m["sketch"]]
    assert longer, "windows carry their sketch"


def test_every_trace_once_incomplete_named(live):
    _, run, _, _, traces = live
    gt = run.ground_truth
    assert len(traces) == gt["requests"] + 1
    incomplete = [t for t in traces.values() if not t["complete"]]
    assert len(incomplete) == gt["faults"]["incomplete"]
    assert all(t["status"] == "incomplete" and "request_complete" in t["missing_stages"] for t in incomplete)
    dup_free = [t for t in traces.values() if len(set(t["event_ids"])) != len(t["event_ids"])]
    assert dup_free == []


def test_bad_records_in_dlq_and_their_neighbours_processed(live):
    settings, _, _, _, traces = live
    dlq = [orjson.loads(v) for _, v, _, _ in read_topic(settings, settings.topics.events_dlq)]
    codes = sorted(d["code"] for d in dlq)
    assert codes == ["invalid_event", "invalid_json", "unknown_event_type"]
    assert all(d["topic"] == settings.topics.events and d["offset"] >= 0 for d in dlq)
    assert {d["index"] for d in dlq if d["code"] != "invalid_json"} == {1, 2}
    assert traces["extra-req"]["complete"] and traces["extra-req"]["event_count"] == 2


def _window_diff(got: dict, want: dict, limit: int = 8) -> str:
    """The first differences between two sets of window documents, field by field."""
    lines = [f"missing windows: {sorted(set(want) - set(got))[:limit]}", f"extra windows: {sorted(set(got) - set(want))[:limit]}"]
    for key in sorted(set(got) & set(want)):
        diffs = {f: (got[key].get(f), want[key].get(f)) for f in set(got[key]) | set(want[key]) if got[key].get(f) != want[key].get(f)}
        if diffs:
            lines.append(f"{key}: {diffs}")
        if len(lines) > limit + 2:
            break
    return "\n".join(lines)


def test_backfill_rebatched_through_two_workers_gives_the_same_windows(live, stack_settings, tmp_path):
    live_settings, run, events, live_docs, _ = live
    settings = streams_settings(stack_settings, **SAMPLE_ALL)
    publish(settings, events, batch_max_events=7)  # other record boundaries than the live run
    ws = [Worker(settings, tmp_path / f"w{i}.log") for i in range(2)]
    strip = lambda d: {k: v for k, v in d.items() if k != "partitions"}  # noqa: E731
    live_only = {k: strip(v) for k, v in live_docs.items() if "extra-model" not in k}
    assert len(live_only) == len(run.ground_truth["windows"])
    try:
        # a window closed early while a rebalance paused a partition (idle rule) is re-emitted complete:
        # wait until every window equals the live run's, field by field
        try:
            docs = wait_for(lambda: {k: strip(v) for k, v in window_docs(settings).items()} == live_only, 120,
                            "backfill windows equal to the live run's", ws)
        except AssertionError as exc:
            raise AssertionError(f"{_window_diff({k: strip(v) for k, v in window_docs(settings).items()}, live_only)}\n{exc}") from None
        traces = wait_for(
            lambda: (t := latest_docs(settings, settings.topics.traces)) and len(t) >= run.ground_truth["requests"] and t,
            60, "every trace of the backfill", ws,
        )
    finally:
        for w in ws:
            w.stop()
    assert docs is True
    assert len(traces) == run.ground_truth["requests"]
    # each window was emitted once, already covering every partition (no early close during the rebalances)
    emitted: dict[str, set] = {}
    for key, value, _, _ in read_topic(settings, settings.topics.metrics):
        emitted.setdefault(key.decode(), set()).add(value)
    assert all(len(v) == 1 for k, v in emitted.items() if k.startswith("model_version:")), {
        k: len(v) for k, v in emitted.items() if len(v) > 1}


def test_late_events_counted_per_window_not_in_requests(stack_settings, tmp_path):
    run, events = load(12, late_rate=0.05)
    gt = run.ground_truth
    assert gt["faults"]["late"] > 0
    settings = streams_settings(stack_settings)
    publish(settings, events)
    w = Worker(settings, tmp_path / "late.log")
    try:
        docs = wait_for(lambda: (d := window_docs(settings)) and matches(d, gt, late=True) and d, 90, "late counts", [w])
    finally:
        w.stop()
    assert_exact(docs, gt, late=True)


def test_sigkill_mid_stream_and_restart_loses_and_doubles_nothing(stack_settings, tmp_path):
    run, events = load(13, duplicate_rate=0.02, out_of_order_rate=0.02, incomplete_rate=0.01)
    gt = run.ground_truth
    settings = streams_settings(stack_settings, **SAMPLE_ALL)
    half = len(events) // 2
    publish(settings, events[:half])
    first = Worker(settings, tmp_path / "first.log")
    wait_for(lambda: len(read_topic(settings, settings.topics.traces)) > 200, 60, "first traces", [first])
    first.kill()  # SIGKILL: no flush, no commit, no goodbye
    publish(settings, events[half:])
    second = Worker(settings, tmp_path / "second.log")
    try:
        docs = wait_for(lambda: (d := window_docs(settings)) and matches(d, gt) and d, 90, "exact windows after restart",
                        [second])
        traces = wait_for(lambda: (t := latest_docs(settings, settings.topics.traces)) and len(t) >= gt["requests"] and t,
                          60, "every trace after restart", [second])
    finally:
        second.stop()
    assert_exact(docs, gt)
    assert len(traces) == gt["requests"]
    assert sum(1 for t in traces.values() if not t["complete"]) == gt["faults"]["incomplete"]
    assert re.search(r"recovered segments=[1-9]", second.log()), "the restart rebuilt state from the changelog"


def test_outputs_follow_the_document_contract(live):
    from trtlens.schemas.documents import Alert, BuildReport, Trace, WindowMetric

    settings = live[0]
    for topic, model in ((settings.topics.traces, Trace), (settings.topics.metrics, WindowMetric),
                         (settings.topics.alerts, Alert), (settings.topics.builds, BuildReport)):
        for key, value, _, _ in read_topic(settings, topic):
            doc = model.model_validate_json(value)
            assert doc.doc_id.encode() == key


def test_alert_fires_with_its_window_and_value(live):
    settings = live[0]
    alerts = wait_for(lambda: latest_docs(settings, settings.topics.alerts), 30, "alerts")
    firing = [a for a in alerts.values() if a["state"] == "firing"]
    assert len(firing) == 1  # hysteresis: one firing record, not one per breaching window
    a = firing[0]
    assert a["rule_id"] == "p99_tiny" and a["scope_key"] == "*" and a["value"] > 0.5 and a["breaching_windows"] == 2
    assert a["window_start_ms"] == T0 + 10_000  # the second breaching window fires it


def test_engine_build_routed_to_the_grey_box_rules(live):
    settings = live[0]
    builds = wait_for(lambda: latest_docs(settings, settings.topics.builds), 30, "build report")
    report = builds[f"resnet50-fp16:{T0}"]  # one document per build: engine_id:built_at_ms
    assert report["engine_id"] == "resnet50-fp16" and report["report"]["layers_after"] == 6
    assert "passed" in report and isinstance(report["violations"], list)


def test_a_worker_joining_before_the_first_commit_does_not_stall_the_group(stack_settings, tmp_path):
    """A rebalance while records are fetched but nothing is committed yet.

    Faust drops the records it buffered and seeks to committed offsets; a partition without one
    starts again at the log start, which the gap check (streams/offsets.py) verifies with the
    broker. This ordering does not force that case every time; it checks the path stays exact."""
    run, events = load(21)
    gt = run.ground_truth
    # nothing is committed before the second worker joins; small groups keep the first worker's
    # buffers full of fetched-but-unprocessed records when the rebalance comes
    settings = streams_settings(stack_settings, commit_interval_s=60.0, batch_max_records=8, **SAMPLE_ALL)
    publish(settings, events, batch_max_events=7)
    first = Worker(settings, tmp_path / "first.log")
    ws = [first]
    try:
        wait_for(lambda: "streams_progress" in first.log(), 60, "the first worker's first group", ws)
        ws.append(Worker(settings, tmp_path / "second.log"))
        docs = wait_for(lambda: (d := window_docs(settings)) and matches(d, gt) and d, 120,
                        "windows equal to the ground truth after the rebalance", ws)
    finally:
        for w in ws:
            w.stop()
    assert_exact(docs, gt)


def test_windows_carry_latency_buckets_that_agree_with_their_quantiles(live):
    import math

    from trtlens.schemas.documents import LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKET_FIELDS

    _, run, _, docs, _ = live
    checked = 0
    for w in run.ground_truth["windows"]:
        d = docs[gt_key(w)]
        buckets = [d["latency_buckets"][f] for f in LATENCY_BUCKET_FIELDS]
        n = d["latency_ms"]["count"]
        assert sum(buckets) == n, gt_key(w)
        for q, exact in ((0.5, w["p50_ms"]), (0.99, w["p99_ms"])):
            if any(abs(exact - b) <= 0.011 * b for b in LATENCY_BUCKET_BOUNDS_MS):
                continue  # within the sketch's accuracy of a bound: either bucket is right
            rank, seen = math.ceil(q * n), 0
            for i, c in enumerate(buckets):
                seen += c
                if seen >= rank:
                    break
            bound_hi = LATENCY_BUCKET_BOUNDS_MS[i] if i < len(LATENCY_BUCKET_BOUNDS_MS) else math.inf
            bound_lo = LATENCY_BUCKET_BOUNDS_MS[i - 1] if i else 0.0
            assert bound_lo < exact <= bound_hi, (gt_key(w), q, exact, i)
            checked += 1
    assert checked
