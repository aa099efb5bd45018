"""The seed's rules (issue 15), each on a real log that passes and one that fails.

Where no real log fails a rule, the failing case is a copy of a real log with
one edit, in ``tests/data/trt-logs/derived/`` (its README says what was edited);
those rows are marked ``derived`` here. A rule whose input a log lacks skips.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from trtlens.greybox.config import BuildRules, BuildRulesError, load_rules
from trtlens.greybox.core import evaluate_build, run_checks, seed_checks
from trtlens.greybox.correlate import correlate, correlation_checks
from trtlens.greybox.versions import runtime_versions
from trtlens.producers.trtlog import parse_log

DATA = Path(__file__).resolve().parents[2] / "data" / "trt-logs"
CBR = "Conv -> BatchNormalization|Scale -> Relu|Activation"


def log(ref: str) -> Path:
    """``p63`` / ``31`` / ``d1`` → the log of that number (public/, top level, derived/)."""
    folder = {"p": DATA / "public", "d": DATA / "derived"}.get(ref[0], DATA)
    (path,) = folder.glob(f"{ref}-*.log")
    return path


def parsed(ref: str):
    return parse_log(log(ref), now_ms=1_700_000_000_000)


# (case, rules, build log, profile log, baseline profile log, runtime: log ref or "trt=..", check, status)
CASES = [
    # ≥ 95 % of Conv layers fused
    ("coverage: Conv-1, Conv-4 fused (p63)", {"min_fusion_coverage_by_type": {"Conv": 0.95}}, "p63", None, None, None,
     "min_fusion_coverage_by_type[Conv]", "pass"),
    ("coverage: Swin's patch-embedding Conv_0 runs alone (31)", {"min_fusion_coverage_by_type": {"Conv": 0.95}}, "31", None, None, None,
     "min_fusion_coverage_by_type[Conv]", "fail"),
    ("coverage: MatMul-12 unfused, 1 of 2 (p63)", {"min_fusion_coverage_by_type": {"MatMul": 0.95}}, "p63", None, None, None,
     "min_fusion_coverage_by_type[MatMul]", "fail"),
    ("coverage: fusion lines only cannot show unfused layers (p45)", {"min_fusion_coverage_by_type": {"Conv": 0.95}}, "p45", None, None, None,
     "min_fusion_coverage_by_type[Conv]", "skip"),
    ("coverage: fusion lines + the engine's profile (02 + 04)", {"min_fusion_coverage_by_type": {"Conv": 0.95}}, "02", "04", None, None,
     "min_fusion_coverage_by_type[Conv]", "pass"),
    # every Conv → BatchNorm → ReLU chain fused
    ("pattern: Conv + BatchNormalization + Relu in one layer (p50)", {"required_fusion_patterns": [CBR]}, "p50", None, None, None,
     f"required_fusion_patterns[{CBR}]", "pass"),
    ("pattern: 3 x Convolution + Scale + Activation (p49)", {"required_fusion_patterns": [CBR]}, "p49", None, None, None,
     f"required_fusion_patterns[{CBR}]", "pass"),
    ("pattern: derived, the third chain's activation split off (d1)", {"required_fusion_patterns": [CBR]}, "d1", None, None, None,
     f"required_fusion_patterns[{CBR}]", "fail"),
    ("pattern: fusion lines only (p45)", {"required_fusion_patterns": ["Conv -> Relu"]}, "p45", None, None, None,
     "required_fusion_patterns[Conv -> Relu]", "skip"),
    # non-fused kernel share ≤ 5 %
    ("unfused share by time: only 'prob' 1.7 % outside the DLA node (07)", {"max_unfused_kernel_share": 0.05}, "07", "07", None, None,
     "max_unfused_kernel_share", "pass"),
    ("unfused share by time: 2 pools + PWN(node_linear_1_5) = 14.5 % (04)", {"max_unfused_kernel_share": 0.05}, "04", "04", None, None,
     "max_unfused_kernel_share", "fail"),
    ("unfused share by layers: 0 of 3 (p49)", {"max_unfused_kernel_share": 0.05}, "p49", None, None, None,
     "max_unfused_kernel_share", "pass"),
    ("unfused share by layers: 3 of 7 (p63)", {"max_unfused_kernel_share": 0.05}, "p63", None, None, None,
     "max_unfused_kernel_share", "fail"),
    # no FP32 tensors in INT8 builds
    ("fp32 in int8: Swin writes int8/fp16 from compute layers (31)", {"fail_on_fp32_in_int8": True}, "31", None, None, None,
     "fail_on_fp32_in_int8", "pass"),
    ("fp32 in int8: derived, Gemm_2128 writes Float (d2)", {"fail_on_fp32_in_int8": True}, "d2", None, None, None,
     "fail_on_fp32_in_int8", "fail"),
    ("fp32 in int8: an fp16 build is not judged (p49)", {"fail_on_fp32_in_int8": True}, "p49", None, None, None,
     "fail_on_fp32_in_int8", "skip"),
    # build / runtime versions
    ("versions: Polygraphy build 8.4.1.5, trtexec run 8.4.1 (p47 + p48)", {"match_runtime_versions": ["trt"]}, "p47", None, None, "p48",
     "match_runtime_versions[trt]", "pass"),
    ("versions: built with 8.4.1.5, run on 10.16.0 (p47 + 04)", {"match_runtime_versions": ["trt"]}, "p47", None, None, "04",
     "match_runtime_versions[trt]", "fail"),
    ("versions: --runtime-versions trt=10.3 (p47)", {"match_runtime_versions": ["trt"]}, "p47", None, None, "trt=10.3",
     "match_runtime_versions[trt]", "fail"),
    ("versions: the runtime log reports 8.5.1.7 vs 8.5.3.1 (14)", {"match_runtime_versions": ["trt"]}, "29", None, None, "14",
     "match_runtime_versions[trt]", "fail"),
    ("versions: the runtime log reports tags 237 vs 239 (12)", {"match_runtime_versions": ["trt"]}, "29", None, None, "12",
     "match_runtime_versions[trt]", "fail"),
    ("versions: no CUDA version in either log", {"match_runtime_versions": ["cuda"]}, "p47", None, None, "p48",
     "match_runtime_versions[cuda]", "skip"),
    # hints for unfused layers
    ("hints: DLA fallbacks for unsupported ops, precision, dynamic shape; no missing plugin (p38)",
     {"fail_on_unfused_reasons": ["missing_plugin"]}, "p38", None, None, None, "fail_on_unfused_reasons", "pass"),
    ("hints: plugin not found for the ONNX op (43)", {"fail_on_unfused_reasons": ["missing_plugin"]}, "43", None, None, None,
     "fail_on_unfused_reasons", "fail"),
    ("hints: the DLA Conv2D 'does not support dynamic shapes' (p38)", {"fail_on_unfused_reasons": ["dynamic_shape"]}, "p38", None, None,
     None, "fail_on_unfused_reasons", "fail"),
    # per-tensor calibration outliers
    ("calibration: SegFormer's 14 non-zero ranges, largest z 1.5 (10)", {"max_calibration_outlier_z": 3.5}, "10", None, None, None,
     "max_calibration_outlier_z", "pass"),
    ("calibration: MNIST's classifier range 28.9 is not an outlier (p51)", {"max_calibration_outlier_z": 3.5}, "p51", None, None, None,
     "max_calibration_outlier_z", "pass"),
    ("calibration: derived, one range 102.4 among ranges of a few units (d3)", {"max_calibration_outlier_z": 3.5}, "d3", None, None,
     None, "max_calibration_outlier_z", "fail"),
    ("calibration: 8 tensors < 10 asked for (p51)", {"max_calibration_outlier_z": 3.5, "min_calibration_tensors": 10}, "p51", None,
     None, None, "max_calibration_outlier_z", "skip"),
    # named layer ≤ 1.2 × baseline
    ("named layer: the same profile (04 vs 04)", {"max_layer_ratio_vs_baseline": {"node_linear_myl": 1.2}}, "04", "04", "04", None,
     "max_layer_ratio_vs_baseline[node_linear_myl]", "pass"),
    ("named layer: derived, node_linear_myl8_1 1.5x (d4 vs 04)", {"max_layer_ratio_vs_baseline": {"node_linear_myl": 1.2}}, "04", "d4",
     "04", None, "max_layer_ratio_vs_baseline[node_linear_myl]", "fail"),
    ("named layer: no baseline profile", {"max_layer_ratio_vs_baseline": {"attention": 1.2}}, "04", "04", None, None,
     "max_layer_ratio_vs_baseline[attention]", "skip"),
    # build ↔ runtime correlation
    ("split: the four fusions of 02 run fused in its profile (02 + 04)", {"fail_on_split_fusions": True}, "02", "04", None, None,
     "split_fusions", "pass"),
    ("split: derived, node_conv2d and node_relu as two rows (02 + d5)", {"fail_on_split_fusions": True}, "02", "d5", None, None,
     "split_fusions", "fail"),
    ("runtime share: no entry with 10 % of the time far above its weight (04)", {"fail_on_runtime_share_outliers": True}, "04", "04",
     None, None, "runtime_share", "pass"),
    ("runtime share: the input reformat copy, 9.4 % of the time (04, from 5 %)",
     {"fail_on_runtime_share_outliers": True, "runtime_share_min_pct": 5}, "04", "04", None, None, "runtime_share", "fail"),
    ("runtime share: reformats and 'prob' around the DLA node (07)", {"fail_on_runtime_share_outliers": True}, "07", "07", None, None,
     "runtime_share", "pass"),
]  # fmt: skip


def runtime_of(ref: str | None) -> dict[str, str] | None:
    if ref is None:
        return None
    if "=" in ref:
        from trtlens.greybox.versions import parse_runtime_versions

        return parse_runtime_versions(ref)
    return runtime_versions(parsed(ref).build)


@pytest.mark.parametrize(("case", "rules_kw", "build", "profile", "baseline", "runtime", "check", "status"), CASES, ids=[c[0] for c in CASES])
def test_seed_rule_on_real_logs(case, rules_kw, build, profile, baseline, runtime, check, status) -> None:  # noqa: ARG001
    report = parsed(build).build
    rows = parsed(profile).profile if profile else None
    base = parsed(baseline).profile if baseline else None
    rules = BuildRules(min_int8_coverage=None, **rules_kw)
    checks, _ = run_checks(report, rules, profile=rows, baseline_profile=base, runtime_versions=runtime_of(runtime))
    (result,) = [c for c in checks if c.rule == check]
    assert result.status == status, result.message
    built = evaluate_build(report, rules, profile=rows, baseline_profile=base, runtime_versions=runtime_of(runtime))
    assert (check in {v.rule for v in built.violations}) is (status == "fail")


def test_messages_and_findings_name_what_failed() -> None:
    rules = BuildRules(min_int8_coverage=None, required_fusion_patterns=[CBR], min_fusion_coverage_by_type={"Conv": 0.95},
                       max_calibration_outlier_z=3.5, fail_on_split_fusions=True)  # fmt: skip
    checks, _ = run_checks(parsed("d1").build, rules)
    (pattern,) = [c for c in checks if c.rule.startswith("required_fusion_patterns")]
    assert pattern.value == 1 and "(Unnamed Layer* 6) [Convolution] | (Unnamed Layer* 7) [Scale] | (Unnamed Layer* 8) [Activation]" in pattern.message
    assert [f.layers for f in pattern.findings] == [["(Unnamed Layer* 6) [Convolution]", "(Unnamed Layer* 7) [Scale]", "(Unnamed Layer* 8) [Activation]"]]
    (conv,) = [c for c in checks if c.rule == "min_fusion_coverage_by_type[Conv]"]
    assert conv.status == "pass" and conv.value == 1.0  # the broken chain's Conv is still fused with its Scale
    calib = evaluate_build(parsed("d3").build, rules)
    (outlier,) = calib.findings
    assert (outlier.kind, outlier.layer) == ("calibration_outlier", "416") and outlier.value == pytest.approx(4.57, abs=0.01)
    findings = correlate(parsed("02").build, parsed("d5").profile, rules=rules)
    assert [(f.kind, f.layer, f.layers) for f in findings] == [("split_fusion", "node_conv2d + node_relu", ["node_conv2d", "node_relu"])]


def test_runtime_share_expectation_on_the_real_profile() -> None:
    """04: the input reformat copy takes 9.4 % of all time and 14.65 % of the entries with an
    expectation (Myelin kernels have none), where its weight suggests 1.2 %: 0.25 of 20.75 =
    3 reformats 0.75 + 2 x (Conv 4 + Relu 1) + 2 pools + PWN(ElementWise + Relu) 2 (02's
    EltReluFusion names the types) + PWN(node_linear_1_5) 4 (Gemm by its name) + Softmax + ArgMax 2."""
    rules = BuildRules(runtime_share_min_pct=5)
    (finding,) = correlate(parsed("02").build, parsed("04").profile, rules=rules)
    assert finding.kind == "runtime_share" and finding.layer == "Reformatting CopyNode for Input Tensor 0 to node_conv2d + node_relu"
    assert finding.value == pytest.approx(14.65, abs=0.01) and finding.expected == pytest.approx(1.205, abs=0.001)


def test_robust_z_versus_a_global_maximum() -> None:
    """A global limit that catches the derived outlier also flags MNIST's ordinary classifier
    range; the distribution-relative rule flags only the outlier."""
    glob = BuildRules(min_int8_coverage=None, max_calibration_range=20)
    robust = BuildRules(min_int8_coverage=None, max_calibration_outlier_z=3.5)
    mnist, outlier = parsed("p51").build, parsed("d3").build
    assert {v.rule for v in evaluate_build(mnist, glob).violations} == {"max_calibration_range"}
    assert evaluate_build(mnist, robust).passed
    assert {v.rule for v in evaluate_build(outlier, robust).violations} == {"max_calibration_outlier_z"}


ALL_LOGS = sorted([*DATA.glob("*.log"), *DATA.glob("public/*.log")])


@pytest.mark.parametrize("path", ALL_LOGS, ids=[p.name[:40] for p in ALL_LOGS])
def test_defaults_keep_every_new_rule_off(path: Path) -> None:
    """Backward compatibility: with default rules no new rule passes or fails on any real log."""
    result = parse_log(path, now_ms=1)
    checks = seed_checks(result.build, BuildRules(), result.profile or None, None)
    checks += correlation_checks(result.build, result.profile or None, None, BuildRules())
    assert {c.status for c in checks} == {"skip"}


# (derived, source, lines removed, lines added)
DERIVED = [("d1", "p49", 1, 2), ("d2", "31", 1, 1), ("d3", "10", 1, 1), ("d4", "04", 1, 1), ("d5", "04", 1, 2)]


@pytest.mark.parametrize(("derived", "source", "removed", "added"), DERIVED)
def test_derived_logs_differ_from_their_source_only_as_documented(derived: str, source: str, removed: int, added: int) -> None:
    a = log(source).read_text(encoding="utf-8").splitlines()
    b = log(derived).read_text(encoding="utf-8").splitlines()
    diff = [d[:1] for d in difflib.ndiff(a, b) if d[:1] in "+-"]
    assert (diff.count("-"), diff.count("+")) == (removed, added)
    assert log(derived).name in (DATA / "derived" / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("yaml_text", "keys"),
    [
        ("min_fusion_coverage_by_type: {Conv: 1.5}\n", {"min_fusion_coverage_by_type"}),
        ("min_fusion_coverage_by_type: {'Conv(': 0.9}\n", {"min_fusion_coverage_by_type"}),
        ("required_fusion_patterns: [Conv]\n", {"required_fusion_patterns"}),
        ("required_fusion_patterns: ['Conv -> [Relu']\n", {"required_fusion_patterns"}),
        ("match_runtime_versions: [trt, driver]\n", {"match_runtime_versions.1"}),
        ("fail_on_unfused_reasons: [missing_plugin, bad_luck]\n", {"fail_on_unfused_reasons.1"}),
        ("max_layer_ratio_vs_baseline: {attention: 0}\n", {"max_layer_ratio_vs_baseline"}),
        ("runtime_share_ratio: 1\n", {"runtime_share_ratio"}),
    ],
)  # fmt: skip
def test_invalid_seed_rules_name_the_key(tmp_path: Path, yaml_text: str, keys: set[str]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml_text)
    with pytest.raises(BuildRulesError) as err:
        load_rules(path)
    assert {p[0] for p in err.value.problems} == keys


def test_seed_rules_load_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "min_fusion_coverage_by_type: {Conv: 0.95}\n"
        "required_fusion_patterns: ['Conv -> BatchNormalization|Scale -> Relu|Activation']\n"
        "max_unfused_kernel_share: 0.05\nfail_on_fp32_in_int8: true\nmatch_runtime_versions: [trt, cuda, cudnn]\n"
        "fail_on_unfused_reasons: [missing_plugin]\nmax_calibration_outlier_z: 3.5\n"
        "max_layer_ratio_vs_baseline: {attention: 1.2}\nfail_on_split_fusions: true\n"
    )
    rules = load_rules(path)
    assert rules.min_fusion_coverage_by_type == {"Conv": 0.95} and rules.max_layer_ratio_vs_baseline == {"attention": 1.2}
    assert rules.match_runtime_versions == ["trt", "cuda", "cudnn"]
