"""The layer stage (streams/layers/core.py): windows per engine × layer, shares, late data, findings, versions."""

from __future__ import annotations

import math

import pytest

from trtlens.schemas.documents import Finding, LayerWindow
from trtlens.schemas.events import EngineBuild, EngineRuntime, Fusion, LayerInfo, LayerProfile
from trtlens.streams.builds.evaluator import GreyboxCorrelator
from trtlens.streams.layers.config import LayersConfig
from trtlens.streams.layers.core import LayerWindows, layer_time_ms
from trtlens.streams.metrics.config import MetricsConfig

T0 = 1_700_000_000_000  # a multiple of 10 s
METRICS = MetricsConfig(window_ms=10_000, grace_ms=2_000, late_retention_ms=5_000)
_n = iter(range(1_000_000))


def row(layer: str, ms: float, *, ts: int = T0 + 1_000, engine: str = "eng-a", layer_type: str | None = None,
        **kw) -> LayerProfile:
    return LayerProfile(event_id=f"p{next(_n)}", ts_ms=ts, worker_id="w1", model="resnet", model_version="v2",
                        engine_id=engine, layer=layer, layer_type=layer_type, avg_ms=ms, time_ms=ms, **kw)


def feed(stage: LayerWindows, rows: list[LayerProfile], wm: int | None = None) -> None:
    stage.observe(rows, [wm if wm is not None else r.ts_ms for r in rows])


def by_layer(docs: list[LayerWindow]) -> dict[str, LayerWindow]:
    return {d.layer: d for d in docs}


def nearest_rank(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def test_a_window_closes_on_event_time_with_quantiles_means_and_shares():
    stage = LayerWindows(METRICS, LayersConfig())
    conv = [1.0 + i * 0.1 for i in range(100)]  # 100 profiled requests
    relu = [0.25] * 100
    feed(stage, [row("conv1", v, layer_type="Convolution") for v in conv] + [row("relu1", v) for v in relu])
    stage.advance(T0 + 11_999)
    assert stage.take().layers == []  # end + grace not reached
    stage.advance(T0 + 12_000)
    docs = by_layer(stage.take().layers)
    c, r = docs["conv1"], docs["relu1"]
    assert c.count == 100 and c.window_start_ms == T0 and c.window_end_ms == T0 + 10_000 and c.window_ms == 10_000
    assert c.model == "resnet" and c.model_version == "v2" and c.engine_id == "eng-a" and c.layer_type == "Convolution"
    assert c.mean_ms == pytest.approx(sum(conv) / 100)
    assert c.p50_ms == pytest.approx(nearest_rank(conv, 0.5), rel=0.02)
    assert c.p99_ms == pytest.approx(nearest_rank(conv, 0.99), rel=0.02)
    total = sum(conv) + sum(relu)
    assert c.share == pytest.approx(sum(conv) / total, abs=1e-6) and r.share == pytest.approx(sum(relu) / total, abs=1e-6)
    assert c.total_ms == pytest.approx(sum(conv))
    stage.advance(T0 + 20_000)
    assert stage.take().layers == []  # emitted once


def test_engines_and_windows_are_kept_apart_and_ids_are_deterministic():
    stage = LayerWindows(METRICS, LayersConfig())
    feed(stage, [row("conv1", 2.0), row("conv1", 4.0, engine="eng-b"), row("conv1", 8.0, ts=T0 + 10_500)])
    stage.advance(T0 + 22_000)
    docs = stage.take().layers
    assert {(d.engine_id, d.window_start_ms, d.count, d.share) for d in docs} == {
        ("eng-a", T0, 1, 1.0), ("eng-b", T0, 1, 1.0), ("eng-a", T0 + 10_000, 1, 1.0)}
    ids = [d.doc_id for d in docs]
    assert len(set(ids)) == 3
    again = LayerWindows(METRICS, LayersConfig())
    feed(again, [row("conv1", 2.0), row("conv1", 4.0, engine="eng-b"), row("conv1", 8.0, ts=T0 + 10_500)])
    again.advance(T0 + 22_000)
    assert [d.doc_id for d in again.take().layers] == ids
    assert docs[0].doc_id.startswith(f"eng-a:{T0}:10000:")


def test_late_rows_re_emit_the_window_and_too_late_rows_are_counted():
    stage = LayerWindows(METRICS, LayersConfig())
    feed(stage, [row("conv1", 1.0)])
    stage.advance(T0 + 12_000)
    first = stage.take().layers
    feed(stage, [row("conv1", 3.0)], wm=T0 + 13_000)  # closed, within late retention
    stage.advance(T0 + 13_000)
    second = stage.take().layers
    assert [d.doc_id for d in second] == [d.doc_id for d in first] and second[0].count == 2
    assert stage.late_events == 1
    feed(stage, [row("conv1", 3.0)], wm=T0 + 17_000)  # past retention
    assert stage.too_late_events == 1
    stage.advance(T0 + 17_000)
    assert stage.take().layers == [] and stage.windows == {}


def test_idle_flush_emits_open_windows_and_later_rows_update_them():
    stage = LayerWindows(METRICS, LayersConfig())
    feed(stage, [row("conv1", 1.0)])
    stage.flush_open()
    first = stage.take().layers
    assert len(first) == 1 and first[0].count == 1
    feed(stage, [row("conv1", 5.0)])
    stage.advance(T0 + 12_000)
    assert [(d.doc_id, d.count) for d in stage.take().layers] == [(first[0].doc_id, 2)]


def test_rows_without_time_and_layer_overflow_are_counted_not_kept():
    stage = LayerWindows(METRICS, LayersConfig(max_layers_per_window=2))
    feed(stage, [row("a", 1.0), row("b", 1.0), row("c", 1.0)])
    stage.observe([LayerProfile(event_id="x", ts_ms=T0, worker_id="w", engine_id="eng-a", layer="d")], [T0])
    assert stage.overflow_layers == 1 and stage.rows_without_time == 1
    stage.advance(T0 + 12_000)
    assert {d.layer for d in stage.take().layers} == {"a", "b"}


@pytest.mark.parametrize(("kw", "expected"), [
    ({"avg_ms": 0.5, "time_ms": 50.0, "iterations": 100}, 0.5),
    ({"time_ms": 50.0, "iterations": 100}, 0.5),
    ({"time_ms": 2.0}, 2.0),
    ({"median_ms": 0.7}, 0.7),
    ({}, None),
])
def test_one_observation_of_a_profile_row(kw, expected):
    ev = LayerProfile(event_id="e", ts_ms=T0, worker_id="w", engine_id="e", layer="l", **kw)
    assert layer_time_ms(ev) == expected


# -- findings ------------------------------------------------------------------------------------------

def fused_build(**kw) -> EngineBuild:
    """Conv + BN + ReLU fused into one engine layer at build time; the attention stays on its own."""
    return EngineBuild(
        event_id="b1", ts_ms=T0 - 3_600_000, worker_id="ci", engine_id="eng-a", model="resnet", model_version="v2",
        trt_version="10.3.0", status="ok", layers_before=4, layers_after=2,
        fusions=[Fusion(kind="ConvBnReluFusion", layers=["conv1", "bn1", "relu1"], result="conv1 + bn1 + relu1")],
        layers=[LayerInfo(name="conv1 + bn1 + relu1", layer_type="CaskConvolution", precision="fp16"),
                LayerInfo(name="attn", layer_type="MatMul", precision="fp16")],
        **kw,
    )


def test_a_fusion_split_at_run_time_becomes_a_finding_and_one_alert_per_build_and_kind():
    stage = LayerWindows(METRICS, LayersConfig(), GreyboxCorrelator())
    stage.note_builds([fused_build()])
    feed(stage, [row("conv1", 1.0), row("bn1", 0.5), row("relu1", 0.2), row("attn", 1.0)])
    stage.advance(T0 + 12_000)
    out = stage.take()
    split = [f for f in out.findings if f.kind == "split_fusion"]
    assert len(split) == 1 and split[0].engine_id == "eng-a" and split[0].ref_ms == T0 - 3_600_000
    assert set(split[0].layers) == {"conv1", "bn1", "relu1"} and split[0].window_start_ms == T0
    alerts = [a for a in out.alerts if a.rule_id == "build_runtime.split_fusion"]
    assert len(alerts) == 1
    a = alerts[0]
    assert a.state == "firing" and a.scope == "model_version" and a.scope_key == "resnet/v2"
    assert a.doc_id == f"build_runtime.split_fusion:resnet/v2:{T0 - 3_600_000}:firing"
    # the next window shows the same split: nothing new is said about the same build
    feed(stage, [row("conv1", 1.0, ts=T0 + 11_000), row("bn1", 0.5, ts=T0 + 11_000)])
    stage.advance(T0 + 22_000)
    again = stage.take()
    assert len(again.layers) == 2 and again.findings == [] and again.alerts == []


def test_no_build_no_correlation_and_correlation_switch_off():
    stage = LayerWindows(METRICS, LayersConfig(), GreyboxCorrelator())
    feed(stage, [row("conv1", 1.0), row("bn1", 0.5)])
    stage.advance(T0 + 12_000)
    assert stage.take().findings == []
    off = LayerWindows(METRICS, LayersConfig(correlate=False), GreyboxCorrelator())
    off.note_builds([fused_build()])
    feed(off, [row("conv1", 1.0), row("bn1", 0.5)])
    off.advance(T0 + 12_000)
    assert off.take().findings == []


def load(versions: dict[str, str], worker: str = "gpu-7") -> EngineRuntime:
    return EngineRuntime(event_id=f"l{next(_n)}:engine", ts_ms=T0, worker_id=worker, model="resnet",
                         model_version="v2", engine_id="eng-a", runtime_versions=versions)


@pytest.mark.parametrize("load_first", [True, False], ids=["load-before-build", "build-before-load"])
def test_a_runtime_tensorrt_other_than_the_build_s_is_a_version_mismatch_either_order(load_first):
    stage = LayerWindows(METRICS, LayersConfig(), GreyboxCorrelator())
    loads = [load({"tensorrt": "10.0.1", "cuda": "12.4"})]
    if load_first:
        stage.note_loads(loads)
        assert stage.take().findings == []
        stage.note_builds([fused_build(facts={"cuda_version": "12.4"})])
    else:
        stage.note_builds([fused_build(facts={"cuda_version": "12.4"})])
        stage.note_loads(loads)
    out = stage.take()
    assert [f.kind for f in out.findings] == ["version_mismatch"]
    f = out.findings[0]
    assert f.worker_id == "gpu-7" and f.runtime_versions == {"tensorrt": "10.0.1", "cuda": "12.4"}
    assert f.build_versions == {"tensorrt": "10.3.0", "cuda": "12.4"} and "10.3.0" in f.message
    assert [a.rule_id for a in out.alerts] == ["build_runtime.version_mismatch"]
    assert out.alerts[0].scope == "worker" and out.alerts[0].scope_key == "gpu-7"
    stage.note_loads([load({"tensorrt": "10.0.1", "cuda": "12.4"})])  # the same worker again: said once
    assert stage.take().findings == []


def test_tensorrt_and_cuda_mismatches_are_two_findings_of_one_alert():
    stage = LayerWindows(METRICS, LayersConfig(), GreyboxCorrelator())
    stage.note_builds([fused_build(facts={"cuda_version": "12.4"})])
    stage.note_loads([load({"tensorrt": "10.0.1", "cuda": "11.8"})])
    out = stage.take()
    assert sorted(f.value for f in out.findings) == ["10.0.1", "11.8"]
    assert len({f.doc_id for f in out.findings}) == 2 and len(out.alerts) == 1


def test_matching_versions_and_onnxruntime_workers_raise_nothing():
    stage = LayerWindows(METRICS, LayersConfig(), GreyboxCorrelator())
    stage.note_builds([fused_build(facts={"cuda_version": "12.4"})])
    stage.note_loads([load({"tensorrt": "10.3.0.26", "cuda": "12.4"}),
                      load({"onnxruntime": "1.20.1", "provider": "CPUExecutionProvider"}, worker="cpu-1")])
    assert stage.take().findings == []


def test_muted_replay_remembers_what_was_said_and_sends_nothing():
    stage = LayerWindows(METRICS, LayersConfig(), GreyboxCorrelator())
    stage.note_builds([fused_build()], muted=True)
    stage.note_loads([load({"tensorrt": "9.2"})], muted=True)
    feed(stage, [row("conv1", 1.0), row("bn1", 0.5)])
    stage.advance(T0 + 12_000, muted=True)
    assert len(stage.take()) == 0
    stage.note_loads([load({"tensorrt": "9.2"})])
    assert stage.take().findings == []


class _Counting:
    def __init__(self):
        self.calls = 0

    def correlate(self, build, profile):
        self.calls += 1
        return [Finding(kind="runtime_share", layer=profile[0].layer, message="hot", value=90.0, expected=10.0)]

    def versions(self, build, runtime_versions):
        return []

    def build_versions(self, build):
        return {}


def test_the_build_map_is_bounded_and_keeps_the_newest_build():
    c = _Counting()
    stage = LayerWindows(METRICS, LayersConfig(max_builds=2), c)
    newer = fused_build()
    older = newer.model_copy(update={"ts_ms": newer.ts_ms - 1, "event_id": "b0"})
    stage.note_builds([newer, older])
    assert stage.builds["eng-a"] is newer
    stage.note_builds([newer.model_copy(update={"engine_id": e}) for e in ("eng-b", "eng-c")])
    assert list(stage.builds) == ["eng-b", "eng-c"]
    feed(stage, [row("conv1", 1.0, engine="eng-c")])
    stage.advance(T0 + 12_000)
    out = stage.take()
    assert c.calls == 1 and out.findings[0].engine_id == "eng-c" and out.alerts[0].value == 90.0
