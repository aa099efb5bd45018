"""Fusion rules over the engine view (:mod:`trtlens.greybox.engine`): per-type fusion
coverage, fusion patterns, the share of unfused kernels, and what the log says
about the layers that were not fused.

* **coverage of type T** = original layers of type T inside a fused entry (or
  removed by the optimiser) / all original layers of type T. Needs a complete view.
* **pattern** ``A -> B -> C``: a run of original layers whose types match A, B, C
  in engine order (reformat copies skipped). Inside one entry it is *fused*;
  across entries it is *broken* (a violation). Engine order is TensorRT's
  topological order, so a chain split across parallel branches can be missed.
* **unfused kernel**: an entry holding exactly one original compute layer (not a
  reformat copy, not data movement, not Myelin). Share by time = their runtime /
  all runtime (a profile); by layers = their count / compute entries.
* **unfused-layer hints**: for each unfused layer, DLA→GPU fallback and plugin
  fallback, the reasons the log's warnings and errors give when they name it.
"""

from __future__ import annotations

import re

from trtlens.greybox.config import BuildRules, parse_pattern
from trtlens.greybox.engine import EngineView, data_movement_types, is_data_movement
from trtlens.greybox.names import mentions
from trtlens.greybox.result import CheckResult, shown
from trtlens.schemas.documents import Finding
from trtlens.schemas.events import EngineBuild

# first match wins; a message may name a layer for several reasons
REASONS: list[tuple[str, re.Pattern[str]]] = [
    ("missing_plugin", re.compile(r"plugin.*(?:not found|could not find|cannot find|not registered|unsupported)|"
                                  r"(?:could not find|cannot find|unsupported) plugin|import as plugin", re.I)),
    ("dynamic_shape", re.compile(r"dynamic shape|dynamic dimension|dynamic input", re.I)),
    ("padding", re.compile(r"\bpad(?:ding)?s?\b|asymmetric", re.I)),
    ("precision", re.compile(r"only supports? (?:FP16|INT8|FP32)|precision (?:type )?(?:is )?not supported", re.I)),
    ("dla_limit", re.compile(r"supports only \d+ subgraphs|exceeds? .*DLA", re.I)),
    ("unsupported_op", re.compile(r"not supported|unsupported|no importer registered|not running on DLA", re.I)),
]  # fmt: skip
_NEED_COMPLETE = "unfused layers are not visible in this log (fusion lines only; add layer info or --profile)"


def _typed_layers(view: EngineView) -> list[tuple[str, str, bool]]:
    """(name, type, fused) of every typed original layer in the view, removed ones as fused."""
    out = [(p, t, e.fused) for e in view.entries if e.kind != "reformat" for p, t in zip(e.parts, e.types, strict=True) if t]
    return out + [(name, t, True) for name, t in view.removed if t]


def coverage_checks(view: EngineView | None, rules: BuildRules) -> list[CheckResult]:
    out: list[CheckResult] = []
    for key, least in rules.min_fusion_coverage_by_type.items():
        rule = f"min_fusion_coverage_by_type[{key}]"
        if view is None or not view.complete:
            out.append(CheckResult(rule, "skip", _NEED_COMPLETE if view else "no layers in the log", None, least))
            continue
        pattern = re.compile(key, re.I)
        layers = [(n, fused) for n, t, fused in _typed_layers(view) if pattern.fullmatch(t)]
        if not layers:
            out.append(CheckResult(rule, "skip", f"no {key} layer in the log ({view.source})", None, least))
            continue
        fused = sum(1 for _, f in layers if f)
        share = fused / len(layers)
        unfused = [n for n, f in layers if not f]
        msg = f"{fused}/{len(layers)} {key} layers fused ({view.source})" + (f"; unfused: {shown(unfused)}" if unfused else "")
        out.append(CheckResult(rule, "fail" if share < least else "pass", msg, round(share, 6), least))
    return out


def pattern_checks(view: EngineView | None, rules: BuildRules) -> list[CheckResult]:
    out: list[CheckResult] = []
    for text in rules.required_fusion_patterns:
        rule = f"required_fusion_patterns[{text}]"
        if view is None:
            out.append(CheckResult(rule, "skip", "no layers in the log"))
            continue
        chain = [re.compile(p, re.I) for p in parse_pattern(text)]
        seq = [(i, p, t) for i, e in enumerate(view.entries) if e.kind != "reformat" for p, t in zip(e.parts, e.types, strict=True)]
        fused: list[list[str]] = []
        broken: list[list[str]] = []
        pos = 0
        while pos + len(chain) <= len(seq):
            window = seq[pos : pos + len(chain)]
            if all(t is not None and rx.fullmatch(t) for (_, _, t), rx in zip(window, chain, strict=True)):
                (fused if len({i for i, _, _ in window}) == 1 else broken).append([p for _, p, _ in window])
                pos += len(chain)
            else:
                pos += 1
        findings = tuple(
            Finding(kind="unfused_pattern", layer=chain_[0], layers=chain_, message=f"{text}: {' | '.join(chain_)} run in separate kernels")
            for chain_ in broken
        )
        if broken:
            out.append(CheckResult(rule, "fail", f"{len(broken)} chain(s) not fused: " + shown([" | ".join(b) for b in broken], 3)
                                   + f"; {len(fused)} fused", len(broken), 0, findings))  # fmt: skip
        elif not view.complete:
            out.append(CheckResult(rule, "skip", f"{len(fused)} chain(s) fused; " + _NEED_COMPLETE, len(fused)))
        elif not fused:
            out.append(CheckResult(rule, "skip", f"no {text} chain in the log ({view.source})"))
        else:
            out.append(CheckResult(rule, "pass", f"{len(fused)} chain(s), all fused ({view.source})", 0, 0))
    return out


def unfused_kernel_share(view: EngineView, rules: BuildRules, basis: str) -> tuple[float | None, list[str]]:
    """(share, unfused entry names); share None when the basis has no data."""
    movement = data_movement_types(rules.non_compute_layer_types)
    unfused = [e for e in view.entries if e.kind == "layer" and len(e.parts) == 1 and not is_data_movement(e, movement)]
    names = [e.name for e in unfused]
    if basis == "time":
        total = sum(e.time_ms or 0.0 for e in view.entries)
        return (sum(e.time_ms or 0.0 for e in unfused) / total if total > 0 else None), names
    compute = [e for e in view.entries if not is_data_movement(e, movement)]
    return (len(unfused) / len(compute) if compute else None), names


def unfused_share_check(build_view: EngineView | None, runtime_view: EngineView | None, rules: BuildRules) -> CheckResult:
    rule, limit = "max_unfused_kernel_share", rules.max_unfused_kernel_share
    if limit is None:
        return CheckResult(rule, "skip", "rule off")
    basis = rules.unfused_kernel_share_basis
    if basis == "auto":
        basis = "time" if runtime_view is not None else "layers"
    view = runtime_view if basis == "time" else (build_view if build_view is not None and build_view.complete else runtime_view)
    if view is None or not view.complete:
        why = "no runtime profile (--profile)" if basis == "time" else (_NEED_COMPLETE if view else "no layers in the log")
        return CheckResult(rule, "skip", f"unfused kernel share by {basis}: {why}", None, limit)
    share, names = unfused_kernel_share(view, rules, basis)
    if share is None:
        return CheckResult(rule, "skip", f"unfused kernel share by {basis}: no time in the profile", None, limit)
    msg = f"unfused kernels {share:.1%} of {'runtime' if basis == 'time' else 'compute kernels'} ({view.source})"
    if names:
        msg += f": {shown(names, 4)}"
    return CheckResult(rule, "fail" if share > limit else "pass", msg, round(share, 6), limit)


def _subjects(view: EngineView | None, report: EngineBuild, movement: frozenset[str]) -> list[str]:
    """Layers that run outside a fusion: unfused compute entries, DLA→GPU fallbacks, plugin fallbacks."""
    names: list[str] = []
    if view is not None and view.complete:
        names += [e.parts[0] for e in view.entries if e.kind == "layer" and len(e.parts) == 1 and not is_data_movement(e, movement)]
    names += [d.name for d in report.dla_fallbacks] + list(report.plugin_fallbacks)
    return list(dict.fromkeys(names))


def unfused_hints(view: EngineView | None, report: EngineBuild, rules: BuildRules) -> list[Finding]:
    """One finding per unfused layer: the reasons the log gives when it names the layer (or ``unknown``)."""
    messages = [d.message for d in report.diagnostics if d.severity in ("warning", "error")]
    plugins = set(report.plugin_fallbacks)
    out: list[Finding] = []
    for name in _subjects(view, report, data_movement_types(rules.non_compute_layer_types)):
        reasons = ["missing_plugin"] if name in plugins else []
        said = [m for m in messages if mentions(m, name)]
        for message in said:
            reason = next((r for r, rx in REASONS if rx.search(message)), None)
            if reason and reason not in reasons:
                reasons.append(reason)
        for reason in reasons or ["unknown"]:
            why = next((m for m in said if reason != "unknown" and dict(REASONS)[reason].search(m)), None)
            text = f"{name}: {reason}" + (f" ({why[:160]})" if why else " (the log gives no reason)" if reason == "unknown" else "")
            out.append(Finding(kind="unfused_hint", layer=name, reason=reason, message=text))
    return out


def hint_check(view: EngineView | None, report: EngineBuild, rules: BuildRules) -> CheckResult:
    rule = "fail_on_unfused_reasons"
    if not (rules.unfused_hints or rules.fail_on_unfused_reasons):
        return CheckResult(rule, "skip", "rule off")
    findings = tuple(unfused_hints(view, report, rules))
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.reason or "unknown"] = counts.get(f.reason or "unknown", 0) + 1
    summary = ", ".join(f"{k}={v}" for k, v in counts.items()) or "no unfused layer named in the log"
    bad = [f.layer or "" for f in findings if f.reason in rules.fail_on_unfused_reasons]
    if not rules.fail_on_unfused_reasons:
        return CheckResult(rule, "skip", f"hints only: {summary}", len(findings), None, findings)
    limit = ",".join(rules.fail_on_unfused_reasons)
    if bad:
        return CheckResult(rule, "fail", f"{len(bad)} unfused layer(s) for {limit}: {shown(bad)} ({summary})", len(bad), limit, findings)
    return CheckResult(rule, "pass", f"none for {limit} ({summary})", 0, limit, findings)
