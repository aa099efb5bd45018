"""The dashboard's data endpoints against the real embedded store with known data.

Numbers are checked against what was written (computed here from the seeded
documents, independently of the dashboard's queries), through the HTTP server —
once with the windows fetched and summed by the dashboard (small ranges, the
default) and once with the store's own aggregations (``max_window_docs=0``, what
large ranges use), so both paths give the same numbers.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections import defaultdict

import pytest

from support.dashboard_seed import (
    GPU_THRESHOLD, N_WINDOWS, T0, VERSIONS, WINDOW_MS, WORKERS, build_documents, seed,
)
from trtlens.schemas.documents import LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKET_FIELDS
from trtlens.settings import IndexSettings


@pytest.fixture(scope="module", params=[20_000, 0], ids=["fetched-windows", "store-aggregations"])
def seeded(stack_settings, request):
    from trtlens.dashboard.server import DashboardServer
    from trtlens.es import es_client
    from trtlens.settings import load_settings

    tag = f"dash{os.getpid()}x{request.param}"
    indices = IndexSettings(traces=f"{tag}-traces", metrics=f"{tag}-metrics", alerts=f"{tag}-alerts",
                            builds=f"{tag}-builds", layers=f"{tag}-layers")
    settings = load_settings(elasticsearch=stack_settings.elasticsearch.model_dump(), indices=indices.model_dump(),
                             dashboard={"port": 0, "gpu_memory_threshold_bytes": GPU_THRESHOLD,
                                        "max_window_docs": request.param})
    es = es_client(settings.elasticsearch)
    data = seed(es, indices)
    server = DashboardServer(settings).start()
    try:
        yield server, data, es, indices
    finally:
        server.stop()
        es.close()


def get(server, panel: str, **params):
    q = "&".join(f"{k}={urllib.parse.quote(str(v))}" for k, v in params.items())
    with urllib.request.urlopen(f"{server.url}api/{panel}?{q}", timeout=30) as resp:
        return json.loads(resp.read())


RANGE = {"from": T0, "to": T0 + N_WINDOWS * WINDOW_MS}


def test_meta_lists_models_and_versions(seeded):
    server, *_ = seeded
    meta = get(server, "meta", **RANGE)
    assert meta["models"] == {"bert-base": ["v1"], "resnet50": ["v1", "v2"]}
    assert meta["window_ms"] == WINDOW_MS
    assert (meta["first_window_ms"], meta["last_window_ms"]) == (T0, T0 + (N_WINDOWS - 1) * WINDOW_MS)


def test_traffic_per_window_equals_the_stored_windows(seeded):
    server, data, *_ = seeded
    out = get(server, "traffic", **RANGE)
    assert out["interval_ms"] == WINDOW_MS  # 30 windows fit in max_buckets: one column per window
    assert set(out["series"]) == set(VERSIONS)
    assert out["bucket_fields"] == list(LATENCY_BUCKET_FIELDS) and out["bounds_ms"] == list(LATENCY_BUCKET_BOUNDS_MS)
    stored = {(w["scope_key"], w["window_start_ms"]): w for w in data.windows if w["scope"] == "model_version"}
    for key, series in out["series"].items():
        assert len(series["points"]) == N_WINDOWS
        for p, col in zip(series["points"], series["heatmap"]):
            w = stored[(key, p["t"])]
            assert p["requests"] == w["requests"] and p["errors"] == w["errors"] and p["cold_starts"] == w["cold_starts"]
            assert p["qps"] == pytest.approx(w["qps"])
            assert p["p99"] == pytest.approx(w["latency_ms"]["p99"]) and p["p50"] == pytest.approx(w["latency_ms"]["p50"])
            assert col == [w["latency_buckets"][f] for f in LATENCY_BUCKET_FIELDS]


def test_traffic_over_longer_intervals_sums_counts_and_keeps_the_worst_window(seeded):
    server, data, *_ = seeded
    # 30 windows of 10 s in at most 10 columns → 30 s intervals
    import trtlens.dashboard.queries as q

    assert q.pick_interval_ms(RANGE["from"], RANGE["to"], window_ms=WINDOW_MS, max_buckets=10) == 30_000
    out = server.data.panel("traffic", {k: str(v) for k, v in RANGE.items()})
    assert out["interval_ms"] == WINDOW_MS
    server.data.cfg.max_buckets = 10
    try:
        out = get(server, "traffic", **RANGE, model="resnet50")
    finally:
        server.data.cfg.max_buckets = 120
    assert out["interval_ms"] == 30_000 and set(out["series"]) == {"resnet50/v1", "resnet50/v2"}
    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for w in data.windows:
        if w["scope"] == "model_version" and w["model"] == "resnet50":
            groups[(w["scope_key"], w["window_start_ms"] // 30_000 * 30_000)].append(w)
    for key, series in out["series"].items():
        for p, col in zip(series["points"], series["heatmap"]):
            ws = groups[(key, p["t"])]
            if not ws:
                assert p["requests"] == 0 and sum(col) == 0
                continue
            req = sum(w["requests"] for w in ws)
            assert p["requests"] == req and p["qps"] == pytest.approx(req / 30)
            assert p["error_rate"] == pytest.approx(sum(w["errors"] for w in ws) / req)
            assert p["p99"] == pytest.approx(max(w["latency_ms"]["p99"] for w in ws))
            assert col == [sum(w["latency_buckets"][f] for w in ws) for f in LATENCY_BUCKET_FIELDS]


def test_versions_carry_the_newest_attribution(seeded):
    server, data, *_ = seeded
    out = get(server, "versions", **RANGE)
    assert list(out["attribution"]) == ["resnet50/v2"]
    newest = max((w for w in data.windows if w.get("attribution")), key=lambda w: w["window_start_ms"])
    got = out["attribution"]["resnet50/v2"]
    assert got["window_start_ms"] == newest["window_start_ms"]
    assert got["attribution"] == newest["attribution"] and got["exemplars"] == newest["exemplars"]


def test_cold_start_distributions_count_the_stored_cold_traces(seeded):
    server, data, *_ = seeded
    out = get(server, "coldstarts", **RANGE)
    cold = [t for t in data.traces if t["cold_start"]]
    dist = out["distribution"]
    assert sum(dist["first_inference"]) == len(cold) == sum(dist["engine_load"])

    def bucket(v):  # [lower, upper)
        return next((i for i, b in enumerate(LATENCY_BUCKET_BOUNDS_MS) if v < b), len(LATENCY_BUCKET_BOUNDS_MS))

    want = [0] * len(LATENCY_BUCKET_FIELDS)
    for t in cold:
        want[bucket(t["stages"]["total_ms"])] += 1
    assert dist["first_inference"] == want
    freq = out["frequency"]["resnet50/v2"]
    assert sum(p["cold_starts"] for p in freq) == sum(
        w["cold_starts"] for w in data.windows if w["scope_key"] == "resnet50/v2")


def test_gpu_memory_per_worker_with_threshold_and_trend(seeded):
    server, data, *_ = seeded
    out = get(server, "gpu", **RANGE)
    assert out["threshold_bytes"] == GPU_THRESHOLD and set(out["workers"]) == set(WORKERS)
    for j, worker in enumerate(WORKERS):
        w = out["workers"][worker]
        stored = sorted((d["window_start_ms"], d["gpu_memory_max_bytes"]) for d in data.windows if d.get("worker_id") == worker)
        assert [(p["t"], p["bytes"]) for p in w["points"]] == stored
        assert w["trend"]["slope_bytes_per_s"] == pytest.approx(50_000_000 * (j + 1) / 10)
    # gpu-b grows 10 MB/s from 6 GB: it crosses 7 GB 100 s after the first window
    assert out["workers"]["gpu-b"]["trend"]["crosses_threshold_at_ms"] == pytest.approx(T0 + 100_000, abs=1)


def test_alerts_link_exemplars_and_explanations(seeded):
    server, data, *_ = seeded
    out = get(server, "alerts", **RANGE)
    assert [(a["rule_id"], a["state"]) for a in out["alerts"]] == [
        ("p99_above_100ms", "firing"), ("p99_above_100ms", "resolved"), ("gpu_mem_high", "firing")]
    fired = out["alerts"][0]
    assert fired["message"] == data.alerts[0]["message"]
    # window 12 of v2 has no exemplars stored: the slowest stored traces of that window stand in
    assert fired["exemplar_source"] == "slowest_stored" and fired["exemplars"][0] == "req-resnet50/v2-12-slow"
    trace = get(server, "trace", **RANGE, request_id=fired["exemplars"][0])
    stored = next(t for t in data.traces if t["request_id"] == fired["exemplars"][0])
    assert trace["trace"]["stages"] == stored["stages"]
    assert [s["stage"] for s in trace["waterfall"]] == ["queue", "h2d", "compute", "d2h"]
    assert sum(s["duration_ms"] for s in trace["waterfall"]) == pytest.approx(stored["stages"]["total_ms"])


def test_builds_over_time_and_their_diff(seeded):
    server, data, *_ = seeded
    out = get(server, "builds", **RANGE)
    assert [b["id"] for b in out["builds"]] == [b["_id"] for b in data.builds]
    assert [b["fusion_rate"] for b in out["builds"]] == pytest.approx([0.62, 0.71, 0.69])
    assert [b["fallbacks"] for b in out["builds"]] == [1, 1, 0]
    diff = get(server, "build_diff", **RANGE, a=data.builds[0]["_id"], b=data.builds[2]["_id"])["diff"]
    fig = {f["figure"]: f for f in diff["figures"]}
    assert fig["int8_coverage"]["change"] == pytest.approx(0.40)
    assert fig["peak_memory_bytes"]["change"] == 120_000_000
    assert diff["fallbacks_removed"] == ["GridSample"] and diff["versions"] == {"old": "10.3.0", "new": "10.4.0"}


def test_layer_hotspots_order_by_share(seeded):
    server, data, *_ = seeded
    out = get(server, "layers", **RANGE)
    names = [row["layer"] for row in out["layers"]]
    assert names == ["layer4.conv", "conv1 + relu", "fc", "softmax"]
    rows = [layer for layer in data.layers if layer["layer"] == "layer4.conv"]
    assert out["layers"][0]["share"] == pytest.approx(sum(r["share"] for r in rows) / len(rows))
    assert out["layers"][0]["count"] == sum(r["count"] for r in rows)


def test_every_query_is_time_filtered(seeded):
    server, *_ = seeded
    later = {"from": T0 + N_WINDOWS * WINDOW_MS + 3_600_000, "to": T0 + N_WINDOWS * WINDOW_MS + 7_200_000}
    assert get(server, "traffic", **later)["series"] == {}
    assert get(server, "alerts", **later)["alerts"] == []
    assert get(server, "builds", **later)["builds"] == []
    assert get(server, "layers", **later)["layers"] == []
    assert sum(get(server, "coldstarts", **later)["distribution"]["first_inference"]) == 0


def test_bad_parameters_answer_400_with_the_reason(seeded):
    server, *_ = seeded
    for query, needle in (("from=20&to=10", "must be before"), ("from=yesterday", "epoch"),
                          ("from=0&to=99999999999999", "days")):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{server.url}api/traffic?{query}", timeout=10)
        assert err.value.code == 400 and needle in json.loads(err.value.read())["error"]
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{server.url}api/nope", timeout=10)
    assert err.value.code == 400


def test_seed_is_deterministic():
    assert build_documents().windows == build_documents().windows
