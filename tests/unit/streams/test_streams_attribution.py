"""Tail attribution and exemplars: the bucket rows, the merge across partials, and the whole path
(load generator → 3 partition pipelines → merge) against values computed here from the raw events."""

from __future__ import annotations

import math
from collections import defaultdict

import orjson
import pytest

from trtlens.kafka import partition_for_key
from trtlens.producers.load.config import LoadConfig, ModelSpec, VersionSpec
from trtlens.producers.load.core import generate
from trtlens.schemas.events import routing_key_of
from trtlens.streams.alerts.config import AlertsConfig
from trtlens.streams.config import StreamsSettings
from trtlens.streams.merge.core import Merger
from trtlens.streams.metrics.attribution import STAGES, Tail, delta, merge_tails, summarize
from trtlens.streams.metrics.sketch import DDSketch
from trtlens.streams.pipeline.core import PartitionPipeline

T0 = 1_700_000_000_000


@pytest.mark.parametrize(
    "total, stages, dominant",
    [
        (100.0, {"queue_ms": 80.0, "compute_ms": 15.0}, "queue"),
        (100.0, {"engine_load_ms": 60.0, "compute_ms": 30.0}, "engine_load"),
        (100.0, {"compute_ms": 40.0, "h2d_ms": 5.0, "d2h_ms": 5.0}, "other"),  # 50 ms unaccounted
        (100.0, None, "other"),  # no breakdown at all
        (10.0, {"compute_ms": 12.0}, "compute"),  # stages above total: other clamps at 0
    ],
)
def test_a_request_is_dominated_by_its_largest_stage(total, stages, dominant):
    t = Tail()
    t.add(5, total, False, stages, "r", 3)
    row = t.rows[5]
    assert row[0] == 1
    assert [STAGES[i] for i in range(len(STAGES)) if row[2 + i]] == [dominant]


def test_exemplars_are_the_n_slowest_so_far():
    t = Tail()
    kept = [t.add(0, v, False, None, f"r{v:g}", 3) for v in (5.0, 9.0, 1.0, 7.0, 2.0, 8.0)]
    assert kept == [True, True, True, True, False, True]
    assert [rid for _, rid in sorted(t.exemplars, reverse=True)] == ["r9", "r8", "r7"]


def test_merging_partials_equals_one_partial_of_everything():
    values = [(1.0 + (i * 37) % 400, i % 9 == 0, {"queue_ms": float(i % 50), "compute_ms": float(i % 13)})
              for i in range(900)]
    one, parts = Tail(), [Tail(), Tail(), Tail()]
    sk = DDSketch(0.01)
    for i, (v, cold, st) in enumerate(values):
        b = sk.key(v) >> 2
        sk.add(v)
        one.add(b, v, cold, st, f"r{i}", 5)
        parts[i % 3].add(b, v, cold, st, f"r{i}", 5)
    rows_one, ex_one = merge_tails([one.to_dict()], 5)
    rows, ex = merge_tails([Tail.from_dict(p.to_dict()).to_dict() for p in parts], 5)
    assert ex == ex_one and len(ex) == 5
    p99 = sk.quantile(0.99)
    b99 = sk.key(p99) >> 2
    a, b = summarize(rows, p99, b99), summarize(rows_one, p99, b99)
    assert a == b
    assert a["count"] == sum(1 for v, _, _ in values if sk.key(v) >> 2 >= b99)
    assert sum(a["dominant_stage_share"].values()) == pytest.approx(1.0)


def test_delta_prev_is_current_minus_previous():
    rows = {10: [4, 2, 2, 0, 0, 2, 0, 0, 40, 0, 0, 8, 0, 0]}
    cur = summarize(rows, 100.0, 10)
    prev = dict(cur, cold_start_share=0.25, threshold_ms=60.0)
    d = delta(cur, prev)
    assert d["cold_start_share"] == pytest.approx(0.25) and d["threshold_ms"] == pytest.approx(40.0)
    assert set(d["dominant_stage_share"]) == set(STAGES)


# --- the whole path ---------------------------------------------------------------------------------
def _run(config: LoadConfig, partitions: int = 3, exemplars: int = 5):
    settings = StreamsSettings.model_validate({
        "traces": {"sample_rate": 0.0, "slow_ms": None, "slow_above_p99": False},
        "metrics": {"exemplars": exemplars},
        "alerts": {"rules": []},
    })
    run = generate(config)
    events = list(run.events)
    by_part: dict[int, list[dict]] = defaultdict(list)
    for e in events:
        by_part[partition_for_key(routing_key_of(e), partitions)].append(e)
    merger = Merger(settings.metrics, settings.alerts, source_partitions=partitions)
    traces: dict[str, dict] = {}
    for p in range(partitions):
        pipe = PartitionPipeline(settings, topic="t", partition=p)
        evs = by_part[p]
        for k in range(0, len(evs), 200):
            pipe.process_record(k // 200, None, orjson.dumps(evs[k:k + 200]))
        pipe.process_record(len(evs) // 200 + 1, None, orjson.dumps([]))
        out, _, _ = pipe.end_group()
        out2 = pipe.flush_idle()
        for part in out.partials + out2.partials:
            merger.apply({"type": "partial", **part.to_dict()}, 0)
        for tr in out.traces + out2.traces:
            traces[tr["request_id"]] = tr
        merger.apply({"type": "watermark", "partition": p, "watermark_ms": pipe.watermark_ms,
                      "source_partitions": partitions, "idle": True}, 0)
    metrics = [m for m in merger.flush(0).metrics if m.scope == "model_version"]
    return run, events, metrics, traces


def _truth(events, window_ms):
    """Per (version, window): every completed request's total, cold flag and stages, from the raw events."""
    stages: dict[str, dict] = {}
    done = defaultdict(list)
    for e in events:
        if e["event"] == "inference_complete":
            stages[e["request_id"]] = e
    seen = set()
    for e in events:
        if e["event"] != "request_complete" or e["event_id"] in seen:
            continue
        seen.add(e["event_id"])
        inf = stages.get(e["request_id"], {})
        parts = {s: inf.get(f"{s}_ms") or 0.0 for s in ("queue", "engine_load", "h2d", "compute", "d2h")}
        parts["other"] = max(0.0, e["total_ms"] - sum(parts.values()))
        dom = max(parts, key=lambda s: (parts[s], s == "other"))
        done[(e["model_version"], e["ts_ms"] - e["ts_ms"] % window_ms)].append((e["total_ms"], e["cold_start"], dom, e["request_id"]))
    return done


def test_cold_start_storm_is_named_with_the_right_shares_and_every_exemplar_is_a_stored_trace():
    config = LoadConfig(
        seed=7, rate_rps=400, duration_s=20, start_ms=T0, workers=2, gpu_sample_interval_ms=0,
        models=[ModelSpec(name="m", versions=[
            VersionSpec(name="v1", latency_median_ms=8, latency_sigma=0.3, error_rate=0, cold_start_prob=0.0),
            VersionSpec(name="v2", latency_median_ms=8, latency_sigma=0.3, error_rate=0, cold_start_prob=0.03,
                        engine_load_median_ms=900),
        ])],
    )
    run, events, metrics, traces = _run(config)
    truth = _truth(events, config.window_ms)
    sk_gamma = math.log((1 + 0.01) / (1 - 0.01))
    assert metrics
    for m in metrics:
        reqs = truth[(m.model_version, m.window_start_ms)]
        assert m.requests == len(reqs)
        t = m.attribution["p99"]
        # the tail is every request in a bucket at or above the P99's bucket: recount it from the raw values
        b99 = math.ceil(math.log(t.threshold_ms) / sk_gamma) >> 2
        tail = [r for r in reqs if math.ceil(math.log(r[0]) / sk_gamma) >> 2 >= b99]
        assert t.count == len(tail)
        assert t.cold_start_share == pytest.approx(sum(r[1] for r in tail) / len(tail), abs=1e-6)
        for s in STAGES:
            assert t.dominant_stage_share[s] == pytest.approx(sum(r[2] == s for r in tail) / len(tail), abs=1e-6)
        # exemplars: the 5 slowest of the window, each stored as a trace
        top = [r[3] for r in sorted(reqs, key=lambda r: (r[0], r[3]), reverse=True)[:5]]
        assert m.exemplars == top
        assert all(rid in traces for rid in m.exemplars)
        assert m.engines and len(m.engines) == 1
        if m.model_version == "v2":
            assert t.cold_start_share > 0.8 and t.dominant_stage_share["engine_load"] > 0.8
            assert t.stage_mean_ms_tail["engine_load"] > 500 > t.stage_mean_ms_body["engine_load"]
        else:
            assert t.cold_start_share == 0 and t.dominant_stage_share["compute"] > 0.9
    second = [m for m in metrics if m.window_start_ms > metrics[0].window_start_ms]
    assert all(m.attribution["p99"].delta_prev is not None for m in second)


def test_exemplars_are_stored_even_when_sampling_keeps_nothing_else():
    config = LoadConfig(seed=3, rate_rps=200, duration_s=10, start_ms=T0, workers=1, gpu_sample_interval_ms=0,
                        models=[ModelSpec(name="m", versions=[VersionSpec(name="v1", error_rate=0, cold_start_prob=0)])])
    run, events, metrics, traces = _run(config, exemplars=7)
    assert len(metrics) == 2  # T0 is not on a window boundary
    for m in metrics:
        assert len(m.exemplars) == 7
        assert set(traces) >= set(m.exemplars)
        assert {traces[r]["sample_reason"] for r in m.exemplars} == {"exemplar"}
    assert len(traces) < len(events) / 10  # candidates of each partition only, not a sample


@pytest.mark.parametrize("scenario", ["cold-start-storm", "slow-compute", "overload"])
def test_each_scenario_names_its_cause_as_the_ground_truth_does(scenario):
    from trtlens.producers.load.scenarios import SCENARIOS

    stage, models = SCENARIOS[scenario]
    config = LoadConfig(seed=11, rate_rps=500, duration_s=20, start_ms=T0 - T0 % 10_000, workers=2,
                        gpu_sample_interval_ms=0, models=models)
    run, events, metrics, traces = _run(config)
    truth = {(w["model_version"], w["window_start_ms"]): w for w in run.ground_truth["windows"]}
    for m in metrics:
        t, gt = m.attribution["p99"], truth[(m.model_version, m.window_start_ms)]["tail_p99"]
        # the store's tail holds whole latency buckets, the truth exactly the requests >= P99: close, not equal
        assert t.count >= gt["count"]
        assert t.cold_start_share == pytest.approx(gt["cold_start_share"], abs=0.15)
        for s in STAGES:
            assert t.dominant_stage_share[s] == pytest.approx(gt["dominant_stage_share"][s], abs=0.15)
        if m.model_version == "v2":
            assert max(t.dominant_stage_share, key=t.dominant_stage_share.get) == stage
            assert gt["dominant_stage_share"][stage] > 0.7


def test_the_inlined_hot_path_equals_tail_add():
    from types import SimpleNamespace

    from trtlens.schemas.events import RequestComplete
    from trtlens.streams.metrics.attribution import attribute_many
    from trtlens.streams.metrics.sketch import MIN_VALUE, log_gamma

    g = log_gamma(0.01)
    stages = [None, {}, {"queue_ms": 3.0}, {"engine_load_ms": 50.0, "compute_ms": 50.0}, {"h2d_ms": 1.0, "d2h_ms": 2.0},
              {"compute_ms": 40.0, "total_ms": 99.0, "inference_ms": 40.0}, {"queue_ms": 0.0, "compute_ms": 500.0}]
    reqs, traces, ref = [], {}, Tail()
    part = SimpleNamespace(tail=None)
    for i in range(300):
        total = [0.0, 0.0005, 7.0, 100.0, 12.5, 99.0, 480.0][i % 7] + (i % 11)
        ev = RequestComplete(event_id=f"e{i}", ts_ms=1, request_id=f"r{i:03d}", worker_id="w", model="m",
                             model_version="v", total_ms=total, cold_start=i % 5 == 0)
        st = stages[i % 7]
        if st is not None:
            traces[ev.request_id] = SimpleNamespace(stages=st)
        reqs.append((ev, part))
        ref.add((math.ceil(math.log(total) / g) >> 2) if total > MIN_VALUE else -(1 << 30), total, ev.cold_start,
                st, ev.request_id, 4)
    attribute_many(reqs, traces, g, 4, MIN_VALUE)
    assert part.tail.to_dict() == ref.to_dict()


@pytest.mark.parametrize("per_record", [25, 1])
def test_attribution_does_not_depend_on_arrival_order(per_record):
    """A request_complete that overtakes its inference_complete waits for it: a backfill in event order and a
    live run with out-of-order events give the same windows (the few waiting requests are found by their
    traces; ``test_requests_that_never_get_an_inference...`` covers the other way)."""
    config = LoadConfig(seed=5, rate_rps=300, duration_s=10, start_ms=T0 - T0 % 10_000, workers=1,
                        gpu_sample_interval_ms=0, models=SCENARIOS_FOR_ORDER)
    events = list(generate(config).events)
    swapped = list(events)
    k = 0
    for i in range(len(swapped) - 1):  # move every 7th inference_complete behind the next 40 events
        if swapped[i]["event"] == "inference_complete":
            k += 1
            if k % 7 == 0:
                e = swapped.pop(i)
                swapped.insert(min(len(swapped), i + 40), e)

    def windows(evs):
        settings = StreamsSettings.model_validate({"alerts": {"rules": []}})
        pipe = PartitionPipeline(settings, topic="t", partition=0)
        for n in range(0, len(evs), per_record):
            pipe.process_record(n // per_record, None, orjson.dumps(evs[n:n + per_record]))
        merger = Merger(settings.metrics, settings.alerts, source_partitions=1)
        out, _, _ = pipe.end_group()
        for part in out.partials + pipe.flush_idle().partials:
            merger.apply({"type": "partial", **part.to_dict()}, 0)
        merger.apply({"type": "watermark", "partition": 0, "watermark_ms": pipe.watermark_ms, "source_partitions": 1,
                      "idle": True}, 0)
        return {m.doc_id: (m.attribution, m.exemplars) for m in merger.flush(0).metrics if m.scope == "model_version"}

    assert windows(events) == windows(swapped)


def _windows_of(evs, per_record):
    settings = StreamsSettings.model_validate({"alerts": {"rules": []}})
    pipe = PartitionPipeline(settings, topic="t", partition=0)
    for n in range(0, len(evs), per_record):
        pipe.process_record(n // per_record, None, orjson.dumps(evs[n:n + per_record]))
    merger = Merger(settings.metrics, settings.alerts, source_partitions=1)
    out, _, _ = pipe.end_group()
    for part in out.partials + pipe.flush_idle().partials:
        merger.apply({"type": "partial", **part.to_dict()}, 0)
    merger.apply({"type": "watermark", "partition": 0, "watermark_ms": pipe.watermark_ms, "source_partitions": 1,
                  "idle": True}, 0)
    return {m.doc_id: (m.attribution, m.exemplars) for m in merger.flush(0).metrics if m.scope == "model_version"}


def test_with_many_requests_waiting_the_late_inferences_are_found_by_the_runs_events_with_the_same_result():
    """A third of the requests never send ``inference_complete`` (a source without it), so many requests wait
    (until their trace leaves the join) and the pipeline finds the waiting requests whose inference did arrive
    by the run's events instead of the waiting list; every 7th inference also arrives 40 events late. The
    windows equal those of the same events in order, whatever the record sizes."""
    config = LoadConfig(seed=6, rate_rps=300, duration_s=10, start_ms=T0 - T0 % 10_000, workers=1,
                        gpu_sample_interval_ms=0, models=SCENARIOS_FOR_ORDER)
    events = list(generate(config).events)
    inference = [e["event_id"] for e in events if e["event"] == "inference_complete"]
    drop = set(inference[::3])
    events = [e for e in events if e["event_id"] not in drop]
    swapped, k = list(events), 0
    for i in range(len(swapped) - 1):
        if swapped[i]["event"] == "inference_complete":
            k += 1
            if k % 7 == 0:
                swapped.insert(min(len(swapped), i + 40), swapped.pop(i))
    want = _windows_of(events, 200)
    assert want and all(a for a, _ in want.values())
    assert _windows_of(swapped, 200) == want and _windows_of(swapped, 1) == want


from trtlens.producers.load.scenarios import SCENARIOS as _S  # noqa: E402

SCENARIOS_FOR_ORDER = _S["overload"][1]


def test_only_candidates_still_among_the_slowest_when_their_window_closes_are_stored():
    # a request is a candidate when it enters its partial's N slowest; most are pushed out later in the
    # window: their traces are held until the partial closes and then dropped, the rest stored
    config = LoadConfig(seed=5, rate_rps=300, duration_s=25, start_ms=T0, workers=1, gpu_sample_interval_ms=0,
                        models=[ModelSpec(name="m", versions=[VersionSpec(name="v1", error_rate=0, cold_start_prob=0)])])
    settings = StreamsSettings.model_validate({
        "traces": {"sample_rate": 0.0, "slow_ms": None, "slow_above_p99": False},
        "metrics": {"exemplars": 3}, "alerts": {"rules": []},
    })
    events = list(generate(config).events)
    pipe = PartitionPipeline(settings, topic="t", partition=0)
    final: dict[int, set[str]] = {}
    stored: dict[str, dict] = {}
    candidates: set[str] = set()
    for k in range(0, len(events), 100):
        pipe.process_record(k // 100, None, orjson.dumps(events[k:k + 100]))
        candidates.update(r for r in {e.get("request_id") for e in events[k:k + 100]} - {None}
                          if (tr := pipe.traces.get(r)) is not None and tr.exemplar is not None)
        out, _, _ = pipe.end_group()  # windows close mid-run here: their held candidates are decided then
        for part in out.partials:
            if part.scope == "model_version" and part.tail is not None:
                final[part.window_start_ms] = {r for _, r in part.tail.exemplars}
        stored.update((d["request_id"], d) for d in out.traces)
    out = pipe.flush_idle()  # idle: the open window's candidates are decided as they stand
    stored.update((d["request_id"], d) for d in out.traces)
    assert len(final) == 3 and all(len(ids) == 3 for ids in final.values())
    exemplars = set().union(*final.values())
    assert exemplars <= set(stored)
    assert {r for r, d in stored.items() if d["sample_reason"] == "exemplar"} == exemplars
    assert len(candidates) > 3 * len(exemplars)  # the load pushed most candidates out


def test_encode_row_equals_the_plain_loop_and_decodes_back():
    from trtlens.streams.metrics.attribution import ROW, decode_row, encode_row

    def plain(bucket, row):
        mask, vals = 0, []
        for i in range(2, ROW):
            if row[i]:
                mask |= 1 << (i - 2)
                vals.append(int(row[i]) if i < 8 else round(row[i], 3))
        return [bucket, int(row[0]), int(row[1]), mask, *vals]

    rows = [[0.0] * ROW, [3.0, 1.0, 0, 2.0, 0, 0, 1.0, 0, 0, 12.34567, 0, 0.0004, 7.0, 0.5],
            [float(i % 3) for i in range(ROW)], [1.0] * ROW]
    for b, row in enumerate(rows):
        enc = encode_row(b - 2, row)
        assert enc == plain(b - 2, row) and [type(x) for x in enc] == [type(x) for x in plain(b - 2, row)]
        assert decode_row(enc) == (b - 2, [float(int(x)) if i < 8 else round(x, 3) for i, x in enumerate(row)])


def test_held_candidates_are_decided_when_the_watermark_jumps_past_their_windows_retention():
    # a window sent (not dirty) and never closed before one record moves the watermark past its whole
    # retention: it is dropped unclosed, and its held candidates must still be decided (stored here)
    config = LoadConfig(seed=6, rate_rps=100, duration_s=4, start_ms=T0 - T0 % 10_000, workers=1,
                        gpu_sample_interval_ms=0,
                        models=[ModelSpec(name="m", versions=[VersionSpec(name="v1", error_rate=0, cold_start_prob=0)])])
    settings = StreamsSettings.model_validate({
        "traces": {"sample_rate": 0.0, "slow_ms": None, "slow_above_p99": False},
        "metrics": {"exemplars": 3}, "alerts": {"rules": []},
    })
    events = list(generate(config).events)
    pipe = PartitionPipeline(settings, topic="t", partition=0)
    pipe.process_record(0, None, orjson.dumps(events))
    out, _, _ = pipe.end_group()
    (mv,) = [p for p in out.partials if p.scope == "model_version"]
    assert not mv.closed and pipe.traces.held
    late = {**events[-1], "event_id": "far-future", "request_id": "far-future", "ts_ms": events[-1]["ts_ms"] + 3_600_000}
    pipe.process_record(1, None, orjson.dumps([late]))
    out2, _, _ = pipe.end_group()
    stored = {d["request_id"] for d in out.traces + out2.traces}
    assert {r for _, r in mv.tail.exemplars} <= stored
    assert not pipe.traces.held


def test_a_weighted_request_counts_as_that_many_and_its_rows_survive_the_wire():
    from types import SimpleNamespace

    from trtlens.schemas.events import RequestComplete
    from trtlens.streams.metrics.attribution import attribute_many, decode_row, encode_row_weighted
    from trtlens.streams.metrics.sketch import MIN_VALUE, log_gamma

    g = log_gamma(0.01)
    weighted, repeated, hot = Tail(), Tail(), SimpleNamespace(tail=None)
    stages = {"queue_ms": 2.0, "compute_ms": 30.0}
    reqs = []
    for i in range(120):
        total, w = 40.0 + i % 9, [1, 3, 4][i % 3]
        b = (math.ceil(math.log(total) / g) >> 2) if total > MIN_VALUE else -(1 << 30)
        weighted.add(b, total, i % 4 == 0, stages, f"r{i:03d}", 3, float(w))
        for k in range(w):
            repeated.add(b, total, i % 4 == 0, stages, f"r{i:03d}", 3)
        reqs.append((RequestComplete(event_id=f"e{i}", ts_ms=1, request_id=f"r{i:03d}", worker_id="w", model="m",
                                     model_version="v", total_ms=total, cold_start=i % 4 == 0,
                                     sample_weight=float(w)), hot))
    assert weighted.rows == repeated.rows and weighted.weighted and not repeated.weighted
    # exemplars are requests, not weights: the 3 slowest, each once
    assert sorted(weighted.exemplars) == sorted((40.0 + i % 9, f"r{i:03d}") for i in range(120))[-3:]
    attribute_many(reqs, {f"r{i:03d}": SimpleNamespace(stages=stages, error=None, kinds=0) for i in range(120)},
                   g, 3, MIN_VALUE)
    assert hot.tail.rows == weighted.rows and hot.tail.to_dict() == weighted.to_dict()
    d = weighted.to_dict()
    assert d["weighted"] is True and Tail.from_dict(d).to_dict() == d
    row = [2.5, 0.5] + [0.0] * 12
    row[2 + 5], row[2 + 6 + 5] = 2.5, 123.456
    assert decode_row(encode_row_weighted(7, row)) == (7, row)  # fractions kept (counts to 1e-6, sums to the µs)
