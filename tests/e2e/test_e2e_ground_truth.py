"""The whole pipeline against ground truth: load generator → Publisher → streams → sink → store.

One run (module fixture) tells a story in event time, with every fault the
load generator can inject (duplicates, out-of-order within grace, late beyond
grace, incomplete requests):

* phase 1: ``resnet50/v2`` is slow (median 140 ms, P99 ≈ 280 ms) — the
  ``p99_above`` 100 ms rule must fire after two breaching windows;
* between the phases two poison documents are forced into the traces topic
  (a ``batch_size`` the store's ``integer`` mapping refuses, and one of the
  wrong JSON type), so streams' output lands on both sides of them;
* phase 2 (starting at the next window boundary): ``v2`` is fast — the alert
  must resolve after two clean windows.

The tests then read the store (refreshed) and compare it with :class:`Expected`,
built from the generated events and checked against the generator's ground truth.

Why 9,600 requests and ``sample_rate=0.5``: the kept-by-rate traces carry
weight 1/r, so ``sum(sample_weight)`` has a standard deviation of
``sqrt(M·(1-r)/r)`` for the M requests sampled by rate; with M ≈ 9,300 and
r = 0.5 that is ≈ 96 requests, 1.0% of 9,600 — the 5% tolerance is five standard
deviations (a random seed fails with probability < 1e-6). Sampling is a hash
of ``request_id``, independent of the generator's seed.
"""

from __future__ import annotations

import orjson
import pytest
from e2e_helpers import (
    Expected,
    StreamsOptions,
    e2e_settings,
    generate_events,
    load_config,
    publish,
    read_dlq,
    read_output_topics,
    sink_process,
    store_docs,
    store_matches_topics,
    streams_finished,
    streams_process,
    wait_alive,
)

from trtlens.producers.load.config import FaultSpec, ModelSpec, VersionSpec

WINDOW_MS = 1000
GRACE_MS = 500
SAMPLE_RATE = 0.5
RULE = {
    "id": "v2_p99_above_100ms", "kind": "p99_above", "scope": "model_version", "model": "resnet50",
    "model_version": "v2", "threshold_ms": 100.0, "fire_after": 2, "resolve_after": 2,
}
FAULTS = FaultSpec(duplicate_rate=0.02, out_of_order_rate=0.02, late_rate=0.01, incomplete_rate=0.01,
                   grace_ms=GRACE_MS, late_by_ms=300)
POISON_REJECTED = "poison-batch-size-out-of-int-range"
POISON_INVALID = "poison-batch-size-not-a-number"


def _models(v2_median_ms: float) -> list[ModelSpec]:
    return [
        ModelSpec(name="resnet50", versions=[
            VersionSpec(name="v1", weight=0.4, latency_median_ms=8.0, latency_sigma=0.35, error_rate=0.01, cold_start_prob=0.005),
            VersionSpec(name="v2", weight=0.25, latency_median_ms=v2_median_ms, latency_sigma=0.3, error_rate=0.01, cold_start_prob=0.002),
        ]),
        ModelSpec(name="bert-base", versions=[
            VersionSpec(name="v1", weight=0.35, latency_median_ms=15.0, latency_sigma=0.3, error_rate=0.005, cold_start_prob=0.005),
        ]),
    ]


def _poison(settings):
    """Two traces with a wrong-typed field, forced into the traces topic like streams' own records."""
    from kafka import KafkaProducer

    from trtlens.kafka import partition_for_key
    from trtlens.schemas.documents import Trace

    good = Trace(request_id=POISON_REJECTED, start_ts_ms=1_767_226_200_000, end_ts_ms=1_767_226_200_005, status="ok",
                 complete=True, batch_size=2**40)  # a valid int for the model, out of range for the integer mapping
    bad = good.model_dump(mode="json") | {"request_id": POISON_INVALID, "batch_size": "many"}
    producer = KafkaProducer(acks="all", **settings.kafka.kafka_python_kwargs())
    try:
        for key, value in ((POISON_REJECTED, orjson.dumps(good.model_dump(mode="json"))), (POISON_INVALID, orjson.dumps(bad))):
            producer.send(settings.topics.traces, value, key=key.encode(),
                          partition=partition_for_key(key.encode(), settings.topics.partitions))
        producer.flush(timeout=30)
    finally:
        producer.close()


@pytest.fixture(scope="module")
def run(stack_settings, tmp_path_factory):
    from trtlens.es import es_client

    tmp = tmp_path_factory.mktemp("e2e-truth")
    settings = e2e_settings(stack_settings)
    options = StreamsOptions(window_ms=WINDOW_MS, grace_ms=GRACE_MS, idle_timeout_ms=2500, sample_rate=SAMPLE_RATE, rules=[RULE])
    slow = load_config(seed=11, rate_rps=800, duration_s=6, window_ms=WINDOW_MS, models=_models(140.0), faults=FAULTS)
    events1, (truth1,) = generate_events(slow)
    start2 = (truth1["end_ms"] // WINDOW_MS + 1) * WINDOW_MS
    fast = load_config(seed=12, rate_rps=800, duration_s=6, window_ms=WINDOW_MS, models=_models(6.0), faults=FAULTS, start_ms=start2)
    events2, (truth2,) = generate_events(fast)
    expected = Expected.build(events1 + events2, [truth1, truth2], partitions=settings.topics.partitions,
                              window_ms=WINDOW_MS, grace_ms=GRACE_MS)
    assert expected.late_requests > 0 and truth1["faults"]["duplicates"] > 0 and truth1["faults"]["out_of_order"] > 0

    streams = streams_process(settings, options, tmp).start()
    sink = sink_process(settings, tmp).start()
    procs = [streams, sink]
    es = es_client(settings.elasticsearch, request_timeout=60)
    try:
        publish(settings, events1, tmp / "spool")
        poison_partitions = {_partition(settings, k) for k in (POISON_REJECTED, POISON_INVALID)}
        wait_alive(lambda: poison_partitions <= _partitions_with_records(settings, settings.topics.traces),
                   procs=procs, timeout_s=90, what="streams to emit phase-1 traces on the poison partitions")
        _poison(settings)
        publish(settings, events2, tmp / "spool")

        wait_alive(lambda: streams_finished(settings, expected), procs=procs, timeout_s=90, interval_s=1.0,
                   what="streams to emit every expected window and every incomplete trace")
        sizes = wait_alive(lambda: store_matches_topics(es, settings, exclude_keys={POISON_REJECTED, POISON_INVALID}),
                           procs=procs, timeout_s=90, interval_s=1.0, what="the sink to index everything streams produced")
        trace_hits = store_docs(es, settings.indices.traces)
        yield {
            "settings": settings, "es": es, "expected": expected, "truths": [truth1, truth2], "sizes": sizes,
            "traces": {h["_id"]: h["_source"] for h in trace_hits},
            "trace_ids": [h["_id"] for h in trace_hits],
            "metrics": [h["_source"] for h in store_docs(es, settings.indices.metrics)],
            "alerts": [h["_source"] for h in store_docs(es, settings.indices.alerts)],
        }
    finally:
        for proc in procs:
            proc.stop(timeout_s=10)
        es.close()


def _partition(settings, key: str) -> int:
    from trtlens.kafka import partition_for_key

    return partition_for_key(key.encode(), settings.topics.partitions)


def _partitions_with_records(settings, topic: str) -> set[int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings.kafka.kafka_python_kwargs())
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        return {tp.partition for tp, end in consumer.end_offsets(tps).items() if end > 0}
    finally:
        consumer.close()


# ------------------------------------------------------------------ traces


def test_every_kept_trace_is_stored_once_and_sampled_out_ones_are_absent(run):
    from trtlens.streams.traces.sampling import rate_keeps

    expected, traces, ids = run["expected"], run["traces"], run["trace_ids"]
    assert len(ids) == len(set(ids)), "a request_id is stored twice"
    assert set(traces) <= set(expected.requests), "a stored trace belongs to no generated request"
    must = {rid for rid, r in expected.requests.items() if r["error"] or r["cold"] or not r["complete"]}
    by_rate = {rid for rid in expected.requests if rid not in must and rate_keeps(rid, SAMPLE_RATE)}
    assert must <= set(traces), f"{len(must - set(traces))} error/cold/incomplete traces missing"
    assert by_rate <= set(traces), f"{len(by_rate - set(traces))} traces kept by rate missing"
    extra = set(traces) - must - by_rate
    assert all(traces[rid]["sample_reason"] in ("slow", "exemplar") for rid in extra), "a sampled-out trace was stored"
    slow = {rid for rid in extra if traces[rid]["sample_reason"] == "slow"}
    assert len(slow) < 0.05 * len(expected.requests)
    # exemplar candidates: each partial window keeps every request that is among its 5 slowest *so far* (so
    # every final exemplar is stored), about 5 * (1 + ln(n / 5)) of its n requests: ~14 of the ~30 in each
    # partial of these 1-second windows (36 windows x 3 partitions x 3 versions), far fewer per request in
    # real windows (~0.4% at n = 10,000)
    assert len(extra - slow) < 0.15 * len(expected.requests)
    sampled_out = set(expected.requests) - must - by_rate - extra
    assert len(sampled_out) > 0.35 * len(expected.requests)  # the rate (0.5) really thinned the stored volume
    for rid, doc in traces.items():
        r = expected.requests[rid]
        assert doc["event_count"] == r["events"], rid  # duplicates joined once, out-of-order ones joined
        assert doc["model"] + "/" + doc["model_version"] == r["scope_key"]
        if rid in by_rate and doc["sample_reason"] == "rate":
            assert doc["sample_weight"] == pytest.approx(1 / SAMPLE_RATE)
        else:
            assert doc["sample_weight"] == 1.0


def test_incomplete_traces_are_flagged_with_the_missing_stage(run):
    expected, traces = run["expected"], run["traces"]
    incomplete = {rid for rid, r in expected.requests.items() if not r["complete"]}
    assert incomplete
    for rid, doc in traces.items():
        if rid in incomplete:
            assert doc["complete"] is False and doc["status"] == "incomplete", rid
            assert "request_complete" in doc["missing_stages"], rid
        else:
            assert doc["complete"] is True and doc["missing_stages"] == [], rid
            assert doc["status"] == ("error" if expected.requests[rid]["error"] else "ok"), rid


def test_sum_of_sample_weights_estimates_the_request_count_within_5pct(run):
    total = run["expected"].total_requests
    assert total == sum(t["requests"] for t in run["truths"])
    weights = sum(doc["sample_weight"] for doc in run["traces"].values())
    assert abs(weights - total) / total <= 0.05, f"sum(sample_weight)={weights:.0f} vs {total} requests"


# ------------------------------------------------------------------ windows


def _final_windows(run) -> dict[tuple[str, int], dict]:
    out = {}
    for doc in run["metrics"]:
        if doc["scope"] == "model_version":
            key = (doc["scope_key"], doc["window_start_ms"])
            assert key not in out, f"window {key} stored twice"
            out[key] = doc
    return out


def test_window_counts_rates_and_late_events_are_exact(run):
    expected, stored = run["expected"], _final_windows(run)
    assert set(expected.windows) <= set(stored)
    for key in set(stored) - set(expected.windows):  # only a cold start's inference/engine-load events in it
        assert stored[key]["requests"] == 0, key
    late_seen = 0
    for key, w in expected.windows.items():
        doc = stored[key]
        assert doc["final"] is True and doc["window_ms"] == WINDOW_MS
        assert (doc["requests"], doc["errors"], doc["cold_starts"], doc["late_events"]) == (
            w.requests, w.errors, w.cold_starts, w.late), key
        if w.requests:
            assert doc["error_rate"] == w.errors / w.requests and doc["cold_start_rate"] == w.cold_starts / w.requests, key
        late_seen += doc["late_events"]
    assert late_seen == expected.late_requests == sum(t["faults"]["late"] for t in run["truths"])


def test_window_p99_within_1pct_of_the_exact_value(run):
    expected, stored = run["expected"], _final_windows(run)
    checked = 0
    for key, w in expected.windows.items():
        if not w.requests:
            continue
        got, exact = stored[key]["latency_ms"]["p99"], w.p99()
        assert abs(got - exact) / exact <= 0.01 + 1e-9, f"{key}: P99 {got} vs exact {exact}"
        assert stored[key]["latency_ms"]["count"] == w.requests
        checked += 1
    assert checked >= 30


# ------------------------------------------------------------------ alerts


def _expected_alerts(expected: Expected) -> list[tuple[str, int]]:
    """Hysteresis of RULE over the exact per-window P99 of resnet50/v2, in window order."""
    firing, breaching, clean, out = False, 0, 0, []
    for (scope_key, ws), w in sorted(expected.windows.items(), key=lambda kv: kv[0][1]):
        if scope_key != "resnet50/v2" or not w.requests:
            continue
        if w.p99() > RULE["threshold_ms"]:
            breaching, clean = breaching + 1, 0
        else:
            clean, breaching = clean + 1, 0
        if not firing and breaching >= RULE["fire_after"]:
            firing = True
            out.append(("firing", ws))
        elif firing and clean >= RULE["resolve_after"]:
            firing = False
            out.append(("resolved", ws))
    return out


def test_the_slow_version_alert_fires_then_resolves(run):
    want = _expected_alerts(run["expected"])
    assert [s for s, _ in want] == ["firing", "resolved"], f"the test story is off: {want}"
    got = sorted(((a["state"], a["window_start_ms"]) for a in run["alerts"]), key=lambda a: a[1])
    assert got == want
    fired = next(a for a in run["alerts"] if a["state"] == "firing")
    assert fired["rule_id"] == RULE["id"] and fired["scope_key"] == "resnet50/v2" and fired["value"] > 100.0
    assert fired["window_start_ms"] < run["truths"][1]["start_ms"] <= want[1][1]


# ------------------------------------------------------------------ poison


def test_poison_documents_land_in_the_sink_dlq_and_their_neighbours_are_indexed(run):
    settings, es = run["settings"], run["es"]
    letters = read_dlq(settings, settings.topics.sink_dlq, want=2)
    by_key = {d["key"]: d for d in letters}
    assert set(by_key) == {POISON_REJECTED, POISON_INVALID}, letters
    rejected, invalid = by_key[POISON_REJECTED], by_key[POISON_INVALID]
    assert rejected["code"] == "rejected" and rejected["status"] == 400 and "batch_size" in rejected["reason"]
    assert invalid["code"] == "invalid_document" and invalid["field"] == "batch_size" and invalid["reason"]
    traces = read_output_topics(settings, ("traces",))["traces"]
    stored = set(run["traces"])
    for letter in (rejected, invalid):
        part = [r for r in traces if r.partition == letter["partition"]]
        offsets = {r.offset: r.key.decode() for r in part}
        before, after = offsets.get(letter["offset"] - 1), offsets.get(letter["offset"] + 1)
        neighbours = [k for k in (before, after) if k not in (None, POISON_REJECTED, POISON_INVALID)]
        assert neighbours and all(k in stored for k in neighbours), (letter["offset"], before, after)
        assert any(r.offset > letter["offset"] and r.key.decode() in stored for r in part)  # streams output after it
        assert any(r.offset < letter["offset"] and r.key.decode() in stored for r in part)  # and before it
    assert not {POISON_REJECTED, POISON_INVALID} & stored
    assert es.count(index=settings.indices.traces)["count"] == len(stored)
