"""GPU memory trend alert: the fit, the projection, hysteresis, and per-GPU windows from gpu_sample events."""

from __future__ import annotations

import pytest

from trtlens.schemas.documents import GpuMemory, WindowMetric
from trtlens.schemas.events import GpuSample
from trtlens.streams.alerts.config import AlertsConfig, GpuMemoryTrendRule
from trtlens.streams.alerts.trend import evaluate_trend, fit_line, projection
from trtlens.streams.merge.core import Merger
from trtlens.streams.metrics.config import MetricsConfig
from trtlens.streams.metrics.core import PartitionWindows

GIB = 1024**3
TOTAL = 16 * GIB


def test_fit_line_is_least_squares():
    a, b = fit_line([(0, 1.0), (1, 3.0), (2, 5.0)])
    assert (a, b) == pytest.approx((1.0, 2.0))
    assert fit_line([(5, 2.0), (5, 4.0)]) == (3.0, 0.0)
    assert projection([(0, 0.0), (10, 10.0)], 20)[0] == pytest.approx(20.0)


def window(i, used, gpu=0):
    return WindowMetric(scope="worker", scope_key="w1", worker_id="w1", window_start_ms=i * 10_000, window_ms=10_000,
                        gpus=[GpuMemory(gpu_index=gpu, memory_used_max_bytes=int(used), memory_total_bytes=TOTAL)])


def run(rule, useds, gpu=0):
    states, series, out = {}, {}, []
    for i, used in enumerate(useds):
        out += [(i, a) for a in evaluate_trend(rule, window(i, used, gpu), states, series)]
    return out


RULE = GpuMemoryTrendRule(id="trend", share=0.9, horizon_s=60, fit_windows=6, min_windows=3, fire_after=2, resolve_after=2)


def test_a_leak_fires_before_memory_runs_out_and_a_flat_gpu_never_does():
    leak = [8 * GIB + i * 0.5 * GIB for i in range(12)]  # +0.5 GiB per 10 s window: 3 GiB/min
    alerts = run(RULE, leak)
    [(i, a)] = alerts
    assert a.state == "firing" and a.gpu_index == 0 and a.doc_id == "trend:w1/gpu0:%d:firing" % (i * 10_000)
    assert leak[i] < 0.9 * TOTAL <= a.projected_bytes  # fired ahead of the crossing
    assert "growing" in a.explanation and "projected" in a.explanation
    assert run(RULE, [8 * GIB] * 12) == []


def test_hysteresis_near_the_line_does_not_flap_and_a_release_resolves():
    near = [0.9 * TOTAL * (1.0 if i % 2 else 0.97) for i in range(10)]  # hovers between clear_share and share
    alerts = run(RULE, [8 * GIB + i * GIB for i in range(6)] + near)
    assert [a.state for _, a in alerts] == ["firing"]
    released = run(RULE, [8 * GIB + i * GIB for i in range(6)] + [4 * GIB] * 8)
    assert [a.state for _, a in released] == ["firing", "resolved"]


def test_rule_settings_are_checked():
    with pytest.raises(ValueError, match="clear_share"):
        GpuMemoryTrendRule(id="x", share=0.8, clear_share=0.9)
    with pytest.raises(ValueError, match="min_windows"):
        GpuMemoryTrendRule(id="x", fit_windows=3, min_windows=5)


def test_gpu_samples_reach_worker_windows_per_gpu_and_the_merger_fires():
    cfg = MetricsConfig(window_ms=10_000, grace_ms=0, late_retention_ms=0)
    merger = Merger(cfg, AlertsConfig(rules=[RULE]), source_partitions=1)
    pw = PartitionWindows(cfg, 0)
    alerts = []
    for i in range(12):
        for gpu, used in ((0, 8 * GIB + i * 0.5 * GIB), (1, 2 * GIB)):
            ts = i * 10_000 + 5
            pw.observe(GpuSample(event_id=f"g{i}{gpu}", ts_ms=ts, worker_id="w1", gpu_index=gpu, utilization_pct=50,
                                 memory_used_bytes=int(used), memory_total_bytes=TOTAL), i, ts)
        pw.advance((i + 1) * 10_000)
        for p in pw.take_dirty():
            merger.apply({"type": "partial", **p.to_dict()}, 0)
        merger.apply({"type": "watermark", "partition": 0, "watermark_ms": (i + 1) * 10_000, "source_partitions": 1}, 0)
        out = merger.flush(0)
        alerts += out.alerts
        for m in out.metrics:
            if m.scope == "worker":
                assert [g.gpu_index for g in m.gpus] == [0, 1]
    assert [(a.state, a.gpu_index) for a in alerts] == [("firing", 0)]
    # the trend points and per-GPU states survive the merge state's round trip (its changelog)
    from trtlens.streams.merge.core import ScopeState

    st = merger.scopes["worker|w1"]
    back = ScopeState.from_dict(st.to_dict())
    assert back.series == st.series and back.alerts == st.alerts and "trend#gpu0" in back.alerts
