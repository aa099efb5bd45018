"""Precision rules: FP32 tensors in an INT8 build, and per-tensor calibration outliers.

* **FP32 in INT8**: in an INT8 build, a compute layer (the INT8-coverage
  denominator: no reformat copies, no data-movement types) whose output
  precisions include FP32. Layers matched by ``allow_fp32_outputs`` are exempt.
* **calibration outliers**: x = ln(dynamic range) of every tensor with a range
  > 0 (zeros are ``max_zero_calibration_ranges``' business); robust z =
  (x − median) / (1.4826 · MAD). With MAD = 0 (most ranges equal) the mean
  absolute deviation × 1.2533 stands in; if that is 0 too, nothing is an outlier.
  A tensor with z above ``max_calibration_outlier_z`` (3.5 is the usual cut) is
  far wider than the others — the INT8 accuracy case of the seed, where one
  layer's range ``[-45.2, 48.9]`` sat next to ranges of a few units. Only wide
  outliers count: a very narrow range is not what breaks INT8 accuracy.
"""

from __future__ import annotations

import math
import re
import statistics

from trtlens.greybox.config import BuildRules
from trtlens.greybox.result import CheckResult, shown
from trtlens.schemas.documents import Finding
from trtlens.schemas.events import EngineBuild, LayerInfo


def fp32_outputs(compute: list[LayerInfo], allow: list[str]) -> list[str]:
    allowed = [re.compile(p) for p in allow]
    return [
        layer.name for layer in compute if "fp32" in layer.output_precisions and not any(p.fullmatch(layer.name) for p in allowed)
    ]


def fp32_check(compute: list[LayerInfo], int8_build: bool, rules: BuildRules) -> CheckResult:
    rule = "fail_on_fp32_in_int8"
    if not rules.fail_on_fp32_in_int8:
        return CheckResult(rule, "skip", "rule off")
    if not int8_build:
        return CheckResult(rule, "skip", "not an INT8 build")
    with_outputs = [layer for layer in compute if layer.output_precisions]
    if not with_outputs:
        return CheckResult(rule, "skip", "output precisions: not in the log")
    bad = fp32_outputs(with_outputs, rules.allow_fp32_outputs)
    if bad:
        return CheckResult(rule, "fail", f"{len(bad)} compute layer(s) write FP32: {shown(bad)}", len(bad), 0)
    return CheckResult(rule, "pass", f"no compute layer writes FP32 ({len(with_outputs)} checked)", 0, 0)


def robust_z(ranges: dict[str, float]) -> dict[str, float]:
    """Tensor → robust z of ln(range), for ranges > 0; empty when the spread is 0."""
    logs = {name: math.log(r) for name, r in ranges.items() if r > 0 and math.isfinite(r)}
    if len(logs) < 2:
        return {}
    median = statistics.median(logs.values())
    deviations = [abs(x - median) for x in logs.values()]
    spread = 1.4826 * statistics.median(deviations)
    if spread == 0:
        spread = 1.2533 * statistics.fmean(deviations)
    if spread == 0:
        return {}
    return {name: (x - median) / spread for name, x in logs.items()}


def calibration_outlier_check(report: EngineBuild, rules: BuildRules) -> CheckResult:
    rule, limit = "max_calibration_outlier_z", rules.max_calibration_outlier_z
    if limit is None:
        return CheckResult(rule, "skip", "rule off")
    ranges = {k: v for k, v in report.calibration.items() if v > 0 and math.isfinite(v)}
    if len(ranges) < rules.min_calibration_tensors:
        return CheckResult(rule, "skip", f"{len(ranges)} non-zero calibration range(s) < {rules.min_calibration_tensors}: too few", None, limit)
    z = robust_z(ranges)
    if not z:
        return CheckResult(rule, "pass", f"{len(ranges)} ranges, no spread", 0, limit)
    median = math.exp(statistics.median(math.log(r) for r in ranges.values()))
    outliers = sorted((name for name, score in z.items() if score > limit), key=lambda n: -z[n])
    findings = tuple(
        Finding(kind="calibration_outlier", layer=name, value=round(z[name], 3), expected=limit,
                message=f"{name}: dynamic range {ranges[name]:.4g} is {ranges[name] / median:.1f}x the median {median:.4g} (z={z[name]:.1f})")
        for name in outliers
    )  # fmt: skip
    top = max(z.values())
    if outliers:
        return CheckResult(rule, "fail", f"{len(outliers)} of {len(ranges)} tensors far wider than the others: {shown(outliers, 3)}",
                           round(top, 3), limit, findings)  # fmt: skip
    return CheckResult(rule, "pass", f"{len(ranges)} ranges, largest z {top:.2f}", round(top, 3), limit)
