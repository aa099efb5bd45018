"""Pure rule evaluation over one engine build report (and optionally its profile
and a baseline build). Used by ``trtlens check`` and by the streams app for
``engine_build`` events; no I/O, no clock.

Metrics:

* **fusion rate** = fused-away layers / original layers. Original = max(first
  layer count the log printed, final count + fusions + removals); final = last
  layer count (or the number of engine layers). ``None`` when neither count is known.
* **INT8 coverage** = INT8 compute layers / compute layers; compute layers are
  engine layers whose type is not a data-movement type (``non_compute_layer_types``)
  and that are not ``Reformatting CopyNode``s. Only for INT8 builds (``int8`` enabled,
  a calibration cache, or any INT8 layer).

The seed's rules (issue 15) live next door — ``fusion`` (per-type coverage,
patterns, unfused kernel share, unfused-layer hints), ``precision`` (FP32 in
INT8, calibration outliers), ``versions``, ``correlate`` (build ↔ runtime) — and
are run here; every rule returns a :class:`CheckResult`, whose findings end in
``BuildReport.findings``.
"""

from __future__ import annotations

import re

from trtlens.greybox import correlate, fusion, precision, versions
from trtlens.greybox.config import BuildRules
from trtlens.greybox.diff import BuildDiff, diff_builds
from trtlens.greybox.engine import build_view, profile_view, type_hints
from trtlens.greybox.result import CheckResult, CheckStatus
from trtlens.greybox.result import limit_check as _limit
from trtlens.greybox.result import names_check as _names
from trtlens.schemas.documents import BuildReport, Finding
from trtlens.schemas.events import EngineBuild, LayerProfile

__all__ = ["CheckResult", "CheckStatus", "evaluate_build", "fusion_rate", "int8_coverage", "run_checks", "to_build_report"]


def fusion_rate(report: EngineBuild) -> float | None:
    after = report.layers_after if report.layers_after is not None else (len(report.layers) or None)
    fused = len(report.fusions) + len(report.removed_layers)
    if after is None or (report.layers_before is None and fused == 0):
        return None  # no evidence of the optimiser's work in this log
    original = max(report.layers_before or 0, after + fused)
    return (original - after) / original if original > 0 else None


def is_int8_build(report: EngineBuild) -> bool:
    return (
        "int8" in report.precisions
        or bool(report.calibration or report.facts.get("redacted.calibration_tensors"))
        or any(layer.precision == "int8" for layer in report.layers)
    )


def compute_layers(report: EngineBuild, rules: BuildRules) -> list:
    skip = {t.lower() for t in rules.non_compute_layer_types}
    return [
        layer
        for layer in report.layers
        if not layer.name.startswith("Reformatting CopyNode") and (layer.layer_type or "").lower() not in skip
    ]


def int8_coverage(report: EngineBuild, rules: BuildRules) -> float | None:
    if not is_int8_build(report):
        return None
    layers = [layer for layer in compute_layers(report, rules) if layer.precision is not None]
    if not layers:
        return None
    return sum(1 for layer in layers if layer.precision == "int8") / len(layers)


def _p99(report: EngineBuild) -> float | None:
    perf = report.perf
    if perf is None:
        return None
    for stats in (perf.latency, perf.gpu_compute):
        if stats is not None and stats.p99_ms is not None:
            return stats.p99_ms
    return None


def single_checks(report: EngineBuild, rules: BuildRules, profile: list[LayerProfile] | None) -> list[CheckResult]:
    out: list[CheckResult] = []
    if rules.fail_on_build_errors:
        errors = sum(d.count for d in report.diagnostics if d.severity == "error")
        failed = report.status == "failed"
        out.append(CheckResult("build_errors", "fail" if failed else "pass",
                               f"build status {report.status}, {errors} error line(s)", report.status, "ok"))  # fmt: skip
    else:
        out.append(CheckResult("build_errors", "skip", "rule off"))
    out.append(_limit("min_fusion_rate", fusion_rate(report), rules.min_fusion_rate, lower_is_bad=True, what="fusion rate"))
    if rules.required_fusions:
        names = [f.result or " + ".join(f.layers) for f in report.fusions] + [f.kind or "" for f in report.fusions]
        names += [layer.name for layer in report.layers if " + " in layer.name]
        missing = [p for p in rules.required_fusions if not any(re.search(p, n) for n in names)]
        out.append(CheckResult("required_fusions", "fail" if missing else "pass",
                               f"missing fusions: {', '.join(missing)}" if missing else "all required fusions present",
                               len(missing), 0))  # fmt: skip
    coverage = int8_coverage(report, rules)
    what = "INT8 coverage" if is_int8_build(report) else "INT8 coverage (not an INT8 build)"
    out.append(_limit("min_int8_coverage", coverage, rules.min_int8_coverage, lower_is_bad=True, what=what))
    out.append(_names("plugin_fallback", rules.fail_on_plugin_fallback, report.plugin_fallbacks, rules.allow_plugin_fallbacks, "plugin fallback(s)"))
    out.append(_names("dla_fallback", rules.fail_on_dla_fallback, [d.name for d in report.dla_fallbacks], rules.allow_dla_fallbacks, "DLA→GPU fallback(s)"))
    out.append(_limit("max_peak_memory_bytes", report.memory.peak_gpu_bytes, rules.max_peak_memory_bytes, lower_is_bad=False, what="peak GPU memory bytes"))
    out.append(_limit("max_activation_memory_bytes", report.memory.activation_bytes, rules.max_activation_memory_bytes, lower_is_bad=False, what="activation memory bytes"))
    out.append(_limit("max_p99_ms", _p99(report), rules.max_p99_ms, lower_is_bad=False, what="p99 latency ms"))
    top = max(profile, key=lambda p: p.time_pct or 0.0, default=None) if profile else None
    res = _limit("max_layer_time_pct", top.time_pct if top else None, rules.max_layer_time_pct, lower_is_bad=False, what="top layer time %")
    if top is not None and res.status != "skip":
        res = CheckResult(res.rule, res.status, f"{res.message} ({top.layer})", res.value, res.limit)
    out.append(res)
    warnings = sum(1 for d in report.diagnostics if d.severity == "warning")
    out.append(_limit("max_warnings", warnings, rules.max_warnings, lower_is_bad=False, what="distinct warnings"))
    fp16 = sum(report.fp16_weight_warnings.values()) if report.fp16_weight_warnings else 0
    out.append(_limit("max_fp16_affected_weights", fp16, rules.max_fp16_affected_weights, lower_is_bad=False, what="FP16-affected weights"))
    info = report.calibration_info
    zeros = len(info.zero_ranges) if info else None
    out.append(_limit("max_zero_calibration_ranges", zeros, rules.max_zero_calibration_ranges, lower_is_bad=False, what="zero calibration ranges"))
    largest = max(report.calibration.values(), default=None) if report.calibration else None
    out.append(_limit("max_calibration_range", largest, rules.max_calibration_range, lower_is_bad=False, what="largest INT8 dynamic range"))
    return out


def seed_checks(
    report: EngineBuild, rules: BuildRules, profile: list[LayerProfile] | None, runtime_versions: dict[str, str] | None
) -> list[CheckResult]:
    """The seed's rules (issue 15): per-type coverage, patterns, unfused share, FP32 in INT8, versions,
    unfused-layer hints, calibration outliers."""
    view = build_view(report, profile)
    runtime = profile_view(profile or [], type_hints(report), {layer.name: layer.layer_type for layer in report.layers})
    out = fusion.coverage_checks(view, rules) + fusion.pattern_checks(view, rules)
    out.append(fusion.unfused_share_check(view, runtime, rules))
    out.append(precision.fp32_check(compute_layers(report, rules), is_int8_build(report), rules))
    out += versions.version_checks(report, runtime_versions, rules)
    out.append(fusion.hint_check(view, report, rules))
    out.append(precision.calibration_outlier_check(report, rules))
    return out


def baseline_checks(diff: BuildDiff, rules: BuildRules) -> list[CheckResult]:
    out: list[CheckResult] = []
    p99 = next((d for d in diff.latency if d.metric in ("latency.p99_ms",) and d.delta_pct is not None), None)
    p99 = p99 or next((d for d in diff.latency if d.metric == "gpu_compute.p99_ms" and d.delta_pct is not None), None)
    out.append(_limit("max_p99_regression_pct", p99.delta_pct if p99 else None, rules.max_p99_regression_pct, lower_is_bad=False, what="p99 change %"))
    for d in diff.memory:
        if d.metric in ("peak_gpu_bytes", "activation_bytes", "weights_bytes") and d.delta_pct is not None:
            out.append(_limit(f"max_memory_growth_pct[{d.metric}]", d.delta_pct, rules.max_memory_growth_pct, lower_is_bad=False, what=f"{d.metric} change %"))
    if rules.fail_on_newly_unfused:
        out.append(CheckResult("newly_unfused", "fail" if diff.newly_unfused else "pass",
                               f"{len(diff.newly_unfused)} fusion(s) lost: {', '.join(diff.newly_unfused[:5])}" if diff.newly_unfused else "no fusion lost",
                               len(diff.newly_unfused), 0))  # fmt: skip
    if rules.fail_on_precision_downgrade:
        down = [c for c in diff.precision_changes if c.downgrade]
        msg = ", ".join(f"{c.layer}: {c.old}→{c.new}" for c in down[:5])
        out.append(CheckResult("precision_downgrade", "fail" if down else "pass", msg or "no layer lost precision", len(down), 0))
    if rules.fail_on_new_fallbacks:
        new = diff.new_plugin_fallbacks + diff.new_dla_fallbacks
        out.append(CheckResult("new_fallbacks", "fail" if new else "pass", f"new fallbacks: {', '.join(new[:5])}" if new else "no new fallback", len(new), 0))
    worst = max((d for d in diff.layer_time if d.old and d.new is not None), key=lambda d: d.new / d.old, default=None)  # type: ignore[operator]
    ratio = worst.new / worst.old if worst and worst.old else None  # type: ignore[operator]
    res = _limit("max_layer_slowdown_ratio", ratio, rules.max_layer_slowdown_ratio, lower_is_bad=False, what="worst layer slowdown x")
    if worst is not None and res.status != "skip":
        res = CheckResult(res.rule, res.status, f"{res.message} ({worst.metric})", res.value, res.limit)
    out.append(res)
    return out


def run_checks(
    report: EngineBuild,
    rules: BuildRules,
    *,
    profile: list[LayerProfile] | None = None,
    baseline: EngineBuild | None = None,
    baseline_profile: list[LayerProfile] | None = None,
    runtime_versions: dict[str, str] | None = None,
) -> tuple[list[CheckResult], BuildDiff | None]:
    """Every rule (``pass`` | ``fail`` | ``skip``) and, with a baseline build, the diff.
    ``baseline_profile`` alone (no baseline build) serves the named-layer ratio rule."""
    checks = single_checks(report, rules, profile) + seed_checks(report, rules, profile, runtime_versions)
    checks += correlate.correlation_checks(report, profile, baseline_profile, rules)
    diff = None
    if baseline is not None:
        diff = diff_builds(baseline, report, old_profile=baseline_profile, new_profile=profile)
        checks += baseline_checks(diff, rules)
    return checks, diff


def to_build_report(report: EngineBuild, rules: BuildRules, checks: list[CheckResult]) -> BuildReport:
    rate = fusion_rate(report)
    coverage = int8_coverage(report, rules)
    violations = [c.violation() for c in checks if c.status == "fail"]
    return BuildReport(
        findings=findings_of(checks),
        engine_id=report.engine_id,
        built_at_ms=report.ts_ms,
        model=report.model,
        model_version=report.model_version,
        fallback_count=len(report.plugin_fallbacks) + len(report.dla_fallbacks),
        peak_memory_bytes=report.memory.peak_gpu_bytes if report.memory.peak_gpu_bytes is not None else report.memory.engine_bytes,
        versions=_named_versions(report),
        report=report,
        fusion_rate=None if rate is None else round(rate, 6),
        int8_coverage=None if coverage is None else round(coverage, 6),
        passed=not violations,
        violations=violations,
        status=report.status,
    )


def _named_versions(report: EngineBuild) -> dict[str, str]:
    """``build_versions`` under the runtime_versions names (tensorrt, cuda, cudnn)."""
    names = {"trt": "tensorrt"}
    return {names.get(k, k): v for k, v in versions.build_versions(report).items()}


def findings_of(checks: list[CheckResult]) -> list[Finding]:
    return [f for c in checks for f in c.findings]


def evaluate_build(
    report: EngineBuild,
    rules: BuildRules,
    *,
    profile: list[LayerProfile] | None = None,
    baseline: EngineBuild | None = None,
    baseline_profile: list[LayerProfile] | None = None,
    runtime_versions: dict[str, str] | None = None,
) -> BuildReport:
    """Apply ``rules`` to ``report``; the BuildReport lists every violation and finding."""
    checks, _ = run_checks(report, rules, profile=profile, baseline=baseline, baseline_profile=baseline_profile,
                           runtime_versions=runtime_versions)  # fmt: skip
    return to_build_report(report, rules, checks)
