"""Rule evaluation and version diffs on pairs of reports (pure, table-driven)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtlens.producers.trtlog import parse_log
from trtlens.schemas.events import (
    Diagnostic,
    EngineBuild,
    Fusion,
    LatencyStats,
    LayerInfo,
    LayerProfile,
    MemoryStats,
    PerfSummary,
)
from trtlens.greybox.config import BuildRules, BuildRulesError, load_rules
from trtlens.greybox.core import evaluate_build, fusion_rate, int8_coverage, run_checks
from trtlens.greybox.diff import diff_builds

DATA = Path(__file__).resolve().parents[2] / "data" / "trt-logs"
EXAMPLE_RULES = Path(__file__).resolve().parents[3] / "producers" / "trtlog" / "rules.example.yaml"


def build(**kw) -> EngineBuild:
    base = dict(event_id="e1", ts_ms=1_700_000_000_000, worker_id="w", engine_id="eng", status="ok")
    return EngineBuild(**(base | kw))


def layer(name: str, precision: str, layer_type: str = "CaskConvolution") -> LayerInfo:
    return LayerInfo(name=name, layer_type=layer_type, precision=precision)


def prof(layer_name: str, avg_ms: float, pct: float) -> LayerProfile:
    return LayerProfile(event_id=f"p-{layer_name}", ts_ms=1, worker_id="w", engine_id="eng", layer=layer_name, avg_ms=avg_ms, time_pct=pct)


def failed_rules(report: EngineBuild, rules: BuildRules, **kw) -> set[str]:
    return {v.rule for v in evaluate_build(report, rules, **kw).violations}


INT8_LAYERS = [layer("in reformat", "fp32", "Reformat"), layer("conv1", "int8"), layer("conv2", "int8"), layer("fc", "fp16")]

CASES = [
    # (name, report kwargs, rules kwargs, expected violated rules)
    ("clean build passes defaults", {}, {}, set()),
    ("failed build", {"status": "failed"}, {}, {"build_errors"}),
    ("failed build, rule off", {"status": "failed"}, {"fail_on_build_errors": False}, set()),
    ("fusion rate below", {"layers_before": 100, "layers_after": 80}, {"min_fusion_rate": 0.5}, {"min_fusion_rate"}),
    ("fusion rate above", {"layers_before": 100, "layers_after": 40}, {"min_fusion_rate": 0.5}, set()),
    ("int8 coverage low", {"precisions": ["int8"], "layers": INT8_LAYERS}, {}, {"min_int8_coverage"}),
    ("int8 coverage ok at 0.6", {"precisions": ["int8"], "layers": INT8_LAYERS}, {"min_int8_coverage": 0.6}, set()),
    ("fp16 build: no int8 rule", {"precisions": ["fp16"], "layers": [layer("c", "fp16")]}, {}, set()),
    ("plugin fallback", {"plugin_fallbacks": ["CustomLayerNorm"]}, {}, {"plugin_fallback"}),
    ("plugin fallback allowed", {"plugin_fallbacks": ["EfficientNMS_TRT"]}, {"allow_plugin_fallbacks": ["EfficientNMS_.*"]}, set()),
    ("plugin fallback rule off", {"plugin_fallbacks": ["X"]}, {"fail_on_plugin_fallback": False}, set()),
    ("dla fallback", {"dla_fallbacks": [LayerInfo(name="/m/Pow", device="GPU")]}, {}, {"dla_fallback"}),
    ("dla fallback allowed", {"dla_fallbacks": [LayerInfo(name="/m/Pow", device="GPU")]}, {"allow_dla_fallbacks": ["/m/.*"]}, set()),
    ("peak memory over", {"memory": MemoryStats(peak_gpu_bytes=3 << 30)}, {"max_peak_memory_bytes": 2 << 30}, {"max_peak_memory_bytes"}),
    ("activation over", {"memory": MemoryStats(activation_bytes=10)}, {"max_activation_memory_bytes": 9}, {"max_activation_memory_bytes"}),
    ("p99 over", {"perf": PerfSummary(latency=LatencyStats(p99_ms=2.5))}, {"max_p99_ms": 2.0}, {"max_p99_ms"}),
    ("p99 from gpu compute", {"perf": PerfSummary(gpu_compute=LatencyStats(p99_ms=2.5))}, {"max_p99_ms": 3.0}, set()),
    ("warnings over", {"diagnostics": [Diagnostic(severity="warning", message="a"), Diagnostic(severity="warning", message="b")]},
     {"max_warnings": 1}, {"max_warnings"}),
    ("fp16 weights over", {"fp16_weight_warnings": {"subnormal": 3}}, {"max_fp16_affected_weights": 2}, {"max_fp16_affected_weights"}),
    ("calibration range over", {"calibration": {"t": 500.0}, "layers": [layer("c", "int8")]},
     {"max_calibration_range": 100.0}, {"max_calibration_range"}),
    ("required fusion missing", {"fusions": [Fusion(kind="ConvReluFusion", layers=["c", "r"], result="c + r")]},
     {"required_fusions": ["ConvReluFusion", "LayerNorm"]}, {"required_fusions"}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "report_kw", "rules_kw", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule_table(name: str, report_kw: dict, rules_kw: dict, expected: set[str]) -> None:
    report = evaluate_build(build(**report_kw), BuildRules(**rules_kw))
    assert {v.rule for v in report.violations} == expected
    assert report.passed is (not expected)
    assert report.doc_id == "eng:1700000000000" and report.built_at_ms == 1_700_000_000_000  # one document per build


def test_layer_time_share_uses_profile() -> None:
    profile = [prof("a", 1.0, 70.0), prof("b", 0.4, 30.0)]
    assert failed_rules(build(), BuildRules(max_layer_time_pct=60), profile=profile) == {"max_layer_time_pct"}
    assert failed_rules(build(), BuildRules(max_layer_time_pct=80), profile=profile) == set()
    checks, _ = run_checks(build(), BuildRules(max_layer_time_pct=60), profile=profile)
    assert "(a)" in next(c.message for c in checks if c.rule == "max_layer_time_pct")


def test_metrics_on_samples() -> None:
    verbose = parse_log(DATA / "02-trtexec-trt1016-verbose-fusion-tactics.log").build
    assert fusion_rate(verbose) == pytest.approx(11 / 24)  # 24 layers -> 13
    trt7 = parse_log(DATA / "36-trt7-python-verbose-binaryfusion-tactics.log").build
    assert fusion_rate(trt7) == pytest.approx(5 / 34)  # excerpt starts after the fusions: 29 + 5 originals
    swin = parse_log(DATA / "31-engine-layer-info-trt82-int8-mixed-precision-swin.log").build
    assert int8_coverage(swin, BuildRules()) == pytest.approx(1 / 3)  # Conv_0 int8; Myelin + Gemm fp16
    assert fusion_rate(swin) is None
    calib = parse_log(DATA / "10-int8-calibration-cache-trt8401-segformer.log").build
    assert failed_rules(calib, BuildRules(max_zero_calibration_ranges=0)) == {"max_zero_calibration_ranges"}
    dla = parse_log(DATA / "47-dla-unsupported-switching-to-gpu-trt86-orin.log").build
    assert failed_rules(dla, BuildRules()) == {"dla_fallback"}
    assert failed_rules(dla, BuildRules(allow_dla_fallbacks=[r"/model\.24/.*", r"\(Unnamed Layer\* \d+\) \[Shuffle\]"])) == set()
    oom = parse_log(DATA / "17-oom-trtllm-build-llama2-13b.log").build
    assert failed_rules(oom, BuildRules()) == {"build_errors"}
    plugin = parse_log(DATA / "43-trtexec-trt803-onnx-parse-failed-plugin-not-found.log").build
    assert failed_rules(plugin, BuildRules()) == {"build_errors", "plugin_fallback"}


def test_example_rules_file_loads_and_unknown_keys_fail(tmp_path: Path) -> None:
    rules = load_rules(EXAMPLE_RULES)
    assert rules.min_fusion_rate == 0.3 and rules.max_layer_slowdown_ratio == 1.2
    bad = tmp_path / "bad.yaml"
    bad.write_text("min_fusion_rate: 2\nno_such_rule: 1\n")
    with pytest.raises(BuildRulesError) as err:
        load_rules(bad)
    assert {p[0] for p in err.value.problems} == {"min_fusion_rate", "no_such_rule"}
    (tmp_path / "wrapped.yaml").write_text("rules:\n  max_p99_ms: 3\n")
    assert load_rules(tmp_path / "wrapped.yaml").max_p99_ms == 3
    assert load_rules(None) == BuildRules()


# ---------------------------------------------------------------- diffs on pairs
OLD = build(
    layers=[layer("conv1 + relu1", "int8"), layer("conv2", "int8"), layer("fc", "fp16")],
    fusions=[Fusion(kind="ConvReluFusion", layers=["conv1", "relu1"], result="conv1 + relu1")],
    memory=MemoryStats(peak_gpu_bytes=1000, activation_bytes=100, weights_bytes=50),
    perf=PerfSummary(latency=LatencyStats(p99_ms=1.0, mean_ms=0.8), throughput_qps=1000),
    diagnostics=[Diagnostic(severity="warning", message="old warning")],
)


def test_diff_identical_is_empty_and_passes() -> None:
    diff = diff_builds(OLD, OLD)
    assert not (diff.newly_unfused or diff.newly_fused or diff.precision_changes or diff.new_warnings)
    assert all(d.delta == 0 for d in diff.memory + diff.latency)
    assert failed_rules(OLD, BuildRules(min_int8_coverage=None), baseline=OLD) == set()


def test_diff_finds_regressions() -> None:
    new = OLD.model_copy(
        update={
            "layers": [layer("conv1", "int8"), layer("relu1", "int8", "Activation"), layer("conv2", "fp16"), layer("fc", "fp16")],
            "fusions": [Fusion(kind="ConvReluFusion", layers=["conv2", "relu2"], result="conv2 + relu2")],
            "memory": MemoryStats(peak_gpu_bytes=1200, activation_bytes=100, weights_bytes=50),
            "perf": PerfSummary(latency=LatencyStats(p99_ms=1.5, mean_ms=0.9), throughput_qps=900),
            "diagnostics": [Diagnostic(severity="warning", message="new warning")],
            "plugin_fallbacks": ["CustomLayerNorm"],
        }
    )
    diff = diff_builds(OLD, new)
    assert diff.newly_unfused == ["conv1 + relu1"] and diff.newly_fused == ["conv2 + relu2"]
    (change,) = diff.precision_changes
    assert (change.layer, change.old, change.new, change.downgrade) == ("conv2", "int8", "fp16", True)
    assert diff.new_warnings == ["new warning"] and diff.resolved_warnings == ["old warning"]
    assert diff.new_plugin_fallbacks == ["CustomLayerNorm"]
    p99 = next(d for d in diff.latency if d.metric == "latency.p99_ms")
    assert p99.delta_pct == pytest.approx(50.0)
    peak = next(d for d in diff.memory if d.metric == "peak_gpu_bytes")
    assert (peak.delta, peak.delta_pct) == (200, pytest.approx(20.0))
    rules = BuildRules(min_int8_coverage=None, fail_on_plugin_fallback=False)
    assert failed_rules(new, rules, baseline=OLD) == {
        "max_p99_regression_pct", "max_memory_growth_pct[peak_gpu_bytes]", "newly_unfused", "precision_downgrade", "new_fallbacks",
    }  # fmt: skip
    lenient = rules.model_copy(update={"max_p99_regression_pct": 60, "max_memory_growth_pct": 25, "fail_on_newly_unfused": False,
                                       "fail_on_precision_downgrade": False, "fail_on_new_fallbacks": False})  # fmt: skip
    assert failed_rules(new, lenient, baseline=OLD) == set()


def test_precision_upgrade_is_not_a_downgrade_and_layer_slowdown() -> None:
    old = build(layers=[layer("c", "fp16")])
    new = build(layers=[layer("c", "int8")])
    (change,) = diff_builds(old, new).precision_changes
    assert change.downgrade is False
    rules = BuildRules(min_int8_coverage=None, max_layer_slowdown_ratio=1.2)
    old_p, new_p = [prof("attn", 1.0, 50), prof("mlp", 1.0, 50)], [prof("attn", 1.3, 55), prof("mlp", 1.0, 45)]
    assert failed_rules(new, rules, profile=new_p, baseline=old, baseline_profile=old_p) == {"max_layer_slowdown_ratio"}
    assert failed_rules(new, rules, profile=old_p, baseline=old, baseline_profile=old_p) == set()


def test_diff_does_not_invent_lost_fusions_across_verbosity() -> None:
    verbose = parse_log(DATA / "02-trtexec-trt1016-verbose-fusion-tactics.log").build
    quiet = parse_log(DATA / "04-trtexec-trt1016-dumpprofile-layer-table.log").build
    diff = diff_builds(verbose, quiet)
    assert diff.newly_unfused == [] and diff.newly_fused == []
