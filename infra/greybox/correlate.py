"""Build ↔ runtime correlation: what the build log promised against what the
runtime profile shows. Pure; ``trtlens check --profile`` calls it offline and
the streams app can call :func:`correlate` on the same two inputs at run time.

* **split_fusion**: a group the build fused (a fusion line's result, or an engine
  layer ``a + b``) whose layers appear in two or more profile entries and in none
  holding them all. Layers the profile does not name are not judged.
* **runtime_share**: the build suggests each entry's share of the runtime by a
  FLOP-ish weight: every original layer inside it counts 4 if it is a Conv,
  ConvTranspose, Gemm, MatMul, Attention, LSTM or GRU, 0.25 if it only moves
  data (``non_compute_layer_types``), 1 otherwise; a reformat copy counts 0.25.
  Myelin kernels and ``{ForeignNode[..]}`` regions hide what they hold and get no
  expectation (they are left out of both sides). expected share = weight / total
  weight; runtime share = time / total time over the same entries. An entry with
  at least ``runtime_share_min_pct`` % of all profiled time (the profile's own
  ``Time %`` when it prints one, so a cut-off profile is not inflated) and a runtime share ≥
  ``runtime_share_ratio`` × its expected share is a finding.
* **slower_than_baseline**: for each ``max_layer_ratio_vs_baseline`` regex
  (searched in layer names, case-insensitive), the summed avg time of the
  matching entries in the profile / the same in the baseline profile.
"""

from __future__ import annotations

import re

from trtlens.greybox.config import BuildRules
from trtlens.greybox.engine import Entry, data_movement_types, fusion_groups, profile_view, type_hints
from trtlens.greybox.names import HEAVY_TYPES, parts
from trtlens.greybox.result import CheckResult, shown
from trtlens.schemas.documents import Finding
from trtlens.schemas.events import EngineBuild, LayerProfile

_NO_PROFILE = "no runtime profile (--profile)"


def expected_weight(entry: Entry, movement: frozenset[str]) -> float | None:
    if entry.kind in ("myelin", "foreign"):
        return None
    if entry.kind == "reformat":
        return 0.25
    if not entry.parts:
        return None
    return sum(4.0 if t in HEAVY_TYPES else 0.25 if t and t.lower() in movement else 1.0 for t in entry.types)


def split_fusions(build: EngineBuild, profile: list[LayerProfile]) -> list[Finding]:
    groups = fusion_groups(build) + [parts(layer.name) for layer in build.layers]
    rows = [(row.layer, set(parts(row.layer))) for row in profile]
    out: list[Finding] = []
    seen: set[frozenset[str]] = set()
    for group in groups:
        members = frozenset(group)
        if len(members) < 2 or members in seen:
            continue
        seen.add(members)
        if any(members <= row_parts for _, row_parts in rows):
            continue
        touching = [name for name, row_parts in rows if members & row_parts]
        if len(touching) >= 2:
            fused = " + ".join(group)
            out.append(Finding(kind="split_fusion", layer=fused, layers=touching,
                               message=f"fused at build time ({fused}) but runs as {len(touching)} entries: {shown(touching, 4)}"))  # fmt: skip
    return out


def share_outliers(build: EngineBuild, profile: list[LayerProfile], rules: BuildRules) -> list[Finding]:
    view = profile_view(profile, type_hints(build), {layer.name: layer.layer_type for layer in build.layers})
    if view is None:
        return []
    movement = data_movement_types(rules.non_compute_layer_types)
    total_all = sum(e.time_ms or 0.0 for e in view.entries)
    known = [(e, w) for e in view.entries if e.time_ms is not None and (w := expected_weight(e, movement)) is not None]
    weight = sum(w for _, w in known)
    time = sum(e.time_ms or 0.0 for e, _ in known)
    if total_all <= 0 or weight <= 0 or time <= 0:
        return []
    pct_of = {row.layer: row.time_pct for row in profile if row.time_pct is not None}
    out = []
    for entry, w in known:
        share, expected = (entry.time_ms or 0.0) / time, w / weight
        pct = pct_of.get(entry.name, (entry.time_ms or 0.0) / total_all * 100)
        if pct >= rules.runtime_share_min_pct and share >= rules.runtime_share_ratio * expected:
            out.append(Finding(kind="runtime_share", layer=entry.name, value=round(share * 100, 3), expected=round(expected * 100, 3),
                               message=f"{entry.name}: {share:.1%} of the runtime, the build suggests {expected:.1%} "
                                       f"({share / expected:.1f}x)"))  # fmt: skip
    return out


def _avg(row: LayerProfile) -> float | None:
    return row.avg_ms if row.avg_ms is not None else row.median_ms


def baseline_ratio_checks(profile: list[LayerProfile] | None, baseline: list[LayerProfile] | None, rules: BuildRules) -> list[CheckResult]:
    out: list[CheckResult] = []
    for key, limit in rules.max_layer_ratio_vs_baseline.items():
        rule = f"max_layer_ratio_vs_baseline[{key}]"
        if not profile or not baseline:
            out.append(CheckResult(rule, "skip", "needs --profile and --baseline-profile", None, limit))
            continue
        rx = re.compile(key, re.I)
        new = [r for r in profile if rx.search(r.layer) and _avg(r) is not None]
        old = [r for r in baseline if rx.search(r.layer) and _avg(r) is not None]
        old_ms = sum(_avg(r) or 0.0 for r in old)
        if not new or not old or old_ms <= 0:
            out.append(CheckResult(rule, "skip", f"no layer matching {key!r} in both profiles", None, limit))
            continue
        new_ms = sum(_avg(r) or 0.0 for r in new)
        ratio = new_ms / old_ms
        msg = f"{key}: {new_ms:.4g} ms vs baseline {old_ms:.4g} ms ({ratio:.2f}x) over {shown([r.layer for r in new], 3)}"
        if ratio > limit:
            finding = Finding(kind="slower_than_baseline", layer=new[0].layer, layers=[r.layer for r in new],
                              value=round(ratio, 4), expected=limit, message=msg)  # fmt: skip
            out.append(CheckResult(rule, "fail", msg, round(ratio, 4), limit, (finding,)))
        else:
            out.append(CheckResult(rule, "pass", msg, round(ratio, 4), limit))
    return out


def _finding_check(rule: str, fail_on: bool, findings: list[Finding], what: str) -> CheckResult:
    if not fail_on:
        return CheckResult(rule, "skip", f"rule off; {len(findings)} {what}", len(findings), None, tuple(findings))
    if findings:
        return CheckResult(rule, "fail", f"{len(findings)} {what}: {shown([f.layer or '' for f in findings], 3)}", len(findings), 0,
                           tuple(findings))  # fmt: skip
    return CheckResult(rule, "pass", f"no {what}", 0, 0)


def correlation_checks(
    build: EngineBuild, profile: list[LayerProfile] | None, baseline_profile: list[LayerProfile] | None, rules: BuildRules
) -> list[CheckResult]:
    """The correlation rules; their findings are reported even when the rule is off."""
    out = baseline_ratio_checks(profile, baseline_profile, rules)
    if not profile:
        return [CheckResult("split_fusions", "skip", _NO_PROFILE), CheckResult("runtime_share", "skip", _NO_PROFILE), *out]
    return [
        _finding_check("split_fusions", rules.fail_on_split_fusions, split_fusions(build, profile), "fused layer(s) split at run time"),
        _finding_check("runtime_share", rules.fail_on_runtime_share_outliers, share_outliers(build, profile, rules),
                       "entr(ies) far above their expected runtime share"),  # fmt: skip
        *out,
    ]


def correlate(
    build: EngineBuild, profile: list[LayerProfile], *, rules: BuildRules, baseline_profile: list[LayerProfile] | None = None
) -> list[Finding]:
    """Every build ↔ runtime finding for one engine (split fusions, runtime share, slower than baseline)."""
    return [f for check in correlation_checks(build, profile, baseline_profile, rules) for f in check.findings]
