"""Pure parts of the dashboard: intervals, ranges, shapes, waterfall, build rows and diffs, auth, settings."""

import base64

import pytest

from trtlens.dashboard import queries as q
from trtlens.dashboard.data import BadRequest, parse_range
from trtlens.dashboard.server import authorized
from trtlens.settings import SettingsError, load_settings


@pytest.mark.parametrize("span_ms, window_ms, max_buckets, expected", [
    (300_000, 10_000, 120, 10_000),       # 30 windows: one column each
    (300_000, 5_000, 120, 5_000),
    (300_000, 10_000, 10, 30_000),        # too many columns: the next nice interval
    (86_400_000, 10_000, 120, 900_000),   # a day: 15 min
    (300_000, None, 120, 5_000),          # no windows known: 1 s floor, 300 s / 120 → 5 s
    (3_600_000, 60_000, 120, 60_000),     # never below the window length
])
def test_pick_interval(span_ms, window_ms, max_buckets, expected):
    assert q.pick_interval_ms(0, span_ms, window_ms=window_ms, max_buckets=max_buckets) == expected


def test_every_panel_body_is_time_filtered():
    bodies = [
        q.meta_body(1, 2), q.traffic_body(1, 2, 1000, model="m"), q.attribution_body(1, 2, model=None),
        q.cold_distribution_body(1, 2, model=None), q.gpu_body(1, 2, 1000), q.alerts_body(1, 2, model="m", size=5),
        q.trace_body("r", 1, 2), q.builds_body(1, 2, model=None, size=5), q.layers_body(1, 2, model=None, top=3),
        q.windows_by_id_body(["a"], 1, 2),
    ]
    for body in bodies:
        text = repr(body["query"])
        assert "'range'" in text and "'gte': 1" in text and "'lt': 2" in text, body


def test_parse_range_forms_and_errors():
    now = 10_000_000
    r = parse_range({"from": "now-15m", "to": "now", "model": "resnet50"}, default_span_ms=1, max_span_ms=10**9, now_ms=now)
    assert (r.from_ms, r.to_ms, r.model) == (now - 900_000, now, "resnet50")
    assert parse_range({}, default_span_ms=60_000, max_span_ms=10**9, now_ms=now).from_ms == now - 60_000
    for params, needle in (({"from": "5", "to": "4"}, "before"), ({"from": "now-3w"}, "now-<n>"),
                           ({"from": "x"}, "epoch"), ({"from": "0", "to": "99999999999"}, "days")):
        with pytest.raises(BadRequest, match=needle):
            parse_range(params, default_span_ms=1, max_span_ms=86_400_000, now_ms=now)


def test_waterfall_lays_stages_end_to_end():
    wf = q.waterfall({"stages": {"queue_ms": 2, "engine_load_ms": 30, "h2d_ms": 1, "compute_ms": 5, "d2h_ms": 1, "total_ms": 40}})
    assert [(s["stage"], s["start_ms"], s["duration_ms"]) for s in wf] == [
        ("queue", 0, 2), ("engine_load", 2, 30), ("h2d", 32, 1), ("compute", 33, 5), ("d2h", 38, 1), ("other", 39, 1)]
    # without the split stages, inference stands for them
    assert [s["stage"] for s in q.waterfall({"stages": {"queue_ms": 1, "inference_ms": 4, "total_ms": 5}})] == ["queue", "inference"]
    assert q.waterfall({}) == []


def test_build_row_reads_both_document_shapes():
    per_engine = {"engine_id": "e1", "built_at_ms": 5, "fusion_rate": 0.5, "int8_coverage": 0.25,
                  "report": {"model": "m", "model_version": "v1", "plugin_fallbacks": ["a", "b"], "trt_version": "10.3",
                             "memory": {"peak_gpu_bytes": 100, "engine_bytes": 10}}}
    per_build = {"engine_id": "e2", "model": "m", "model_version": "v2", "@timestamp": "2026-11-22T00:00:01Z",
                 "fusion_rate": 0.6, "int8_coverage": 0.3, "fallbacks": 1, "memory": {"peak_gpu_bytes": 90},
                 "diff_prev": {"fusion_rate": 0.1}}
    a, b = q.build_row("a", per_engine), q.build_row("b", per_build)
    assert (a["model"], a["fallbacks"], a["peak_memory_bytes"], a["built_at_ms"]) == ("m", 2, 100.0, 5)
    assert (b["model_version"], b["fallbacks"], b["built_at_ms"], b["diff_prev"]) == ("v2", 1.0, 1_795_305_601_000, {"fusion_rate": 0.1})
    d = q.diff_rows(a, b)
    fig = {f["figure"]: f for f in d["figures"]}
    assert fig["fusion_rate"]["change"] == pytest.approx(0.1) and fig["peak_memory_bytes"]["change_pct"] == pytest.approx(-10)
    assert fig["engine_bytes"]["change"] is None
    assert d["fallbacks_removed"] == ["a", "b"] and d["stored_diff_prev"] == {"fusion_rate": 0.1}


def test_linear_fit_and_gpu_projection():
    assert q.linear_fit([(0, 1), (1, 3), (2, 5)]) == pytest.approx((2, 1))
    assert q.linear_fit([(1, 1)]) is None and q.linear_fit([(1, 1), (1, 2)]) is None
    resp = {"aggregations": {"workers": {"buckets": [{"key": "w", "t": {"buckets": [
        {"key": 0, "mem": {"value": 100.0}, "util": {"value": 1}}, {"key": 1000, "mem": {"value": 200.0}, "util": {"value": 1}}]}}]}}}
    out = q.shape_gpu(resp, to_ms=1000, horizon_ms=1000, threshold_bytes=500)
    trend = out["workers"]["w"]["trend"]
    assert trend["slope_bytes_per_s"] == pytest.approx(100) and trend["to"]["bytes"] == pytest.approx(300)
    assert trend["crosses_threshold_at_ms"] == 4000


def test_authorization_header_forms():
    basic = base64.b64encode(b"anyone:s3cret").decode()
    assert authorized("Bearer s3cret", "s3cret") and authorized(f"Basic {basic}", "s3cret")
    for header in (None, "", "Bearer nope", "Basic !!!", "Token s3cret", f"Basic {base64.b64encode(b's3cret').decode()}"):
        assert not authorized(header, "s3cret"), header


def test_dashboard_refuses_exposed_address_without_token():
    with pytest.raises(SettingsError, match="dashboard.auth_token"):
        load_settings(dashboard={"host": "0.0.0.0"})
    assert load_settings(dashboard={"host": "0.0.0.0", "auth_token": "t0ken"}).dashboard.host == "0.0.0.0"
    with pytest.raises(SettingsError, match="must not be empty"):
        load_settings(dashboard={"auth_token": " "})


def test_report_page_is_self_contained():
    from trtlens.dashboard.report import render_html

    page = render_html({"meta": {"from": 1, "to": 2, "models": {}}, "x": "</script><script>alert(1)"}, title="t <1>")
    assert "static/" not in page and "<title>t &lt;1&gt;</title>" in page
    assert "</script><script>alert(1)" not in page  # data cannot close the script element
    assert "window.TRTLENS_DATA" in page and "function lineChart" in page and ".panel" in page
