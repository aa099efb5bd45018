"""The diagnosis of one window (pure): documents from the store in, a ranked explanation out.

Inputs are the stored documents as dicts (``WindowMetric``, ``Alert``, ``Trace``,
``BuildReport``): the window, the windows before it (baseline), the other
versions of the same model in the same window, the exemplar traces, and the
build reports of the engines involved. :func:`diagnose` ranks the causes:

1. what the tail attribution says (cold starts, the dominating stage), each
   with its evidence (share of the tail, tail vs body mean);
2. the change against the baseline (median P99 of the previous windows) and
   against the previous window;
3. the other versions of the model in the same window (their P99, cold-start
   share, dominant stage): a cause only this version has points at the version;
4. the build diff between this version's engine and another version's (the
   grey-box diff: fusion rate, INT8 coverage, fallbacks, memory), when build
   reports with those engine ids exist;
5. an engine change within the version: when the previous windows were served
   by an engine this window no longer runs (a rebuilt or re-deployed plan), the
   change is a cause, and with build reports of both engines it is worded by
   their diff (a lower fusion rate: ``build:fusion_rate``; else ``engine_change``).
"""

from __future__ import annotations

import datetime as _dt
import statistics
from typing import Any

from trtlens.greybox.diff import diff_builds
from trtlens.schemas.documents import BuildReport
from trtlens.streams.alerts.explain import STAGE_LABELS, fmt_ms, p99_ms, pct, ranked_causes

TIMELINE_STAGES = ("queue_ms", "engine_load_ms", "h2d_ms", "compute_ms", "d2h_ms")


def _p99(m: dict[str, Any]) -> float | None:
    return (m.get("latency_ms") or {}).get("p99")


def _tail(m: dict[str, Any]) -> dict[str, Any] | None:
    return (m.get("attribution") or {}).get("p99")


def _dominant(t: dict[str, Any] | None) -> tuple[str | None, float]:
    if not t:
        return None, 0.0
    shares = t.get("dominant_stage_share") or {}
    if not shares:
        return None, 0.0
    stage = max(sorted(shares), key=lambda s: shares[s])
    return stage, shares[stage]


def timeline(trace: dict[str, Any]) -> dict[str, Any]:
    """One exemplar trace as a stage timeline: each stage's start offset and duration (ms), in order."""
    st = trace.get("stages") or {}
    total = st.get("total_ms")
    at = 0.0
    steps = []
    for name in TIMELINE_STAGES:
        v = st.get(name)
        if v:
            steps.append({"stage": name.removesuffix("_ms"), "start_ms": round(at, 3), "duration_ms": v})
            at += v
    if total is not None and total > at:
        steps.append({"stage": "other", "start_ms": round(at, 3), "duration_ms": round(total - at, 3)})
    return {"request_id": trace.get("request_id"), "total_ms": total, "cold_start": trace.get("cold_start", False),
            "status": trace.get("status"), "worker_id": trace.get("worker_id"), "engine_id": trace.get("engine_id"),
            "sample_reason": trace.get("sample_reason"), "stages": steps}


def _build_summary(b: dict[str, Any]) -> dict[str, Any]:
    rep = b.get("report") or {}
    return {"engine_id": b.get("engine_id"), "model": rep.get("model"), "model_version": rep.get("model_version"),
            "trt_version": rep.get("trt_version"), "fusion_rate": b.get("fusion_rate"),
            "int8_coverage": b.get("int8_coverage"), "plugin_fallbacks": len(rep.get("plugin_fallbacks") or []),
            "peak_gpu_bytes": (rep.get("memory") or {}).get("peak_gpu_bytes"), "passed": b.get("passed")}


def build_diff(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The grey-box diff of two stored build reports (old = the other version's engine)."""
    a, b = BuildReport.model_validate(old), BuildReport.model_validate(new)
    d = diff_builds(a.report, b.report)
    out = d.model_dump(mode="json")
    out["fusion_rate"] = {"old": a.fusion_rate, "new": b.fusion_rate}
    out["int8_coverage"] = {"old": a.int8_coverage, "new": b.int8_coverage}
    return out


def diagnose(
    window: dict[str, Any],
    *,
    alert: dict[str, Any] | None,
    previous: list[dict[str, Any]],
    others: list[dict[str, Any]],
    traces: list[dict[str, Any]],
    builds: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The whole diagnosis as a JSON-able dict (``--json`` prints it; :func:`render` words it)."""
    p99 = _p99(window)
    t = _tail(window)
    prev_sorted = sorted(previous, key=lambda m: m["window_start_ms"], reverse=True)
    base_values = [v for v in (_p99(m) for m in prev_sorted) if v is not None]
    baseline = statistics.median(base_values) if base_values else None
    causes: list[dict[str, Any]] = []
    for c in ranked_causes(t) if t else []:
        c = dict(c)
        c["evidence"] = [c["text"]]
        causes.append(c)
    # other versions: a cause this version has and they do not points at the version
    other_rows = []
    for o in sorted(others, key=lambda m: m.get("model_version") or ""):
        ot = _tail(o)
        stage, share = _dominant(ot)
        other_rows.append({"model_version": o.get("model_version"), "p99_ms": _p99(o), "requests": o.get("requests"),
                           "cold_start_rate": o.get("cold_start_rate"),
                           "tail_cold_start_share": ot.get("cold_start_share") if ot else None,
                           "tail_dominant_stage": stage, "tail_dominant_share": share, "engines": o.get("engines", []),
                           "tail_stage_mean_ms": dict(ot.get("stage_mean_ms_tail") or {}) if ot else {}})
    for c in causes:
        stage = c.get("stage")
        for o in other_rows:
            ot_share = o["tail_cold_start_share"] if c["cause"] == "cold_start" else (
                o["tail_dominant_share"] if o["tail_dominant_stage"] == stage else 0.0)
            if ot_share is not None and o["p99_ms"] is not None:
                mean = o["tail_stage_mean_ms"].get(stage) if stage else None
                c["evidence"].append(f"{o['model_version']}: P99 {p99_ms(o['p99_ms'])}, this cause in "
                                     f"{pct(ot_share or 0.0)} of its tail"
                                     + (f", {STAGE_LABELS.get(stage, stage)} mean {fmt_ms(mean)} there" if mean is not None else ""))
    # build diff between this version's engine and the others'
    diffs = []
    current = window.get("engines", [])
    seen_before = {e for m in prev_sorted for e in m.get("engines", [])}
    # this window's engines, the ones the previous windows never ran first (a rebuilt engine)
    mine = sorted((e for e in current if e in builds), key=lambda e: e in seen_before)
    for o in other_rows:
        theirs = [e for e in o["engines"] if e in builds and e not in current]
        if mine and theirs:
            d = build_diff(builds[mine[0]], builds[theirs[0]])
            d["against"], d["against_version"] = "other_version", o["model_version"]
            diffs.append(d)
            fr = d["fusion_rate"]
            if fr["old"] is not None and fr["new"] is not None and fr["new"] < fr["old"]:
                text = (f"engine {mine[0]} fuses {pct(fr['new'])} of layers vs {pct(fr['old'])} for "
                        f"{o['model_version']} ({theirs[0]})")
                causes.append({"cause": "build:fusion_rate", "share": None, "stage": "compute", "text": text,
                               "evidence": [text, _unfused(d)]})
    causes += _engine_change(window, prev_sorted, builds, mine, diffs)
    previous_window = prev_sorted[0] if prev_sorted else None
    change = {
        "baseline_p99_ms": baseline, "baseline_windows": len(base_values),
        "ratio_to_baseline": (p99 / baseline) if (p99 and baseline) else None,
        "previous_window_start_ms": previous_window["window_start_ms"] if previous_window else None,
        "previous_p99_ms": _p99(previous_window) if previous_window else None,
        "delta_prev": t.get("delta_prev") if t else None,
    }
    return {
        "model": window.get("model"), "model_version": window.get("model_version"),
        "window_start_ms": window["window_start_ms"], "window_ms": window["window_ms"],
        "requests": window.get("requests"), "p99_ms": p99, "p95_ms": (window.get("latency_ms") or {}).get("p95"),
        "cold_start_rate": window.get("cold_start_rate"), "engines": window.get("engines", []),
        "alert": ({k: alert.get(k) for k in ("rule_id", "rule_kind", "state", "value", "threshold", "explanation",
                                            "exemplar_query", "url")} if alert else None),
        "attribution": window.get("attribution"),
        "change": change,
        "causes": causes,
        "other_versions": other_rows,
        "exemplars": [timeline(tr) for tr in traces],
        "missing_exemplars": [r for r in window.get("exemplars", []) if r not in {tr.get("request_id") for tr in traces}],
        "builds": {e: _build_summary(b) for e, b in builds.items()},
        "build_diffs": diffs,
    }


def _engine_change(window: dict[str, Any], prev_sorted: list[dict[str, Any]], builds: dict[str, dict[str, Any]],
                   mine: list[str], diffs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cause "this version's engine changed": the newest previous window's engine this window does not run."""
    current = window.get("engines", [])
    replaced = next((e for m in prev_sorted for e in m.get("engines", []) if e not in current), None)
    if replaced is None or not current:
        return []
    new = mine[0] if mine else current[0]
    served = [m for m in prev_sorted if replaced in m.get("engines", [])]
    alone = next((m for m in served if new not in m.get("engines", [])), None)  # before the roll-out began
    where = (f"the previous windows (P99 {p99_ms(_p99(alone))} in the last one it served alone)" if alone
             else f"the previous windows (P99 {p99_ms(_p99(served[0]))} in the last one it served)")
    if new in builds and replaced in builds:
        d = build_diff(builds[new], builds[replaced])
        d["against"], d["against_version"] = "previous_engine", window.get("model_version")
        diffs.append(d)
        fr = d["fusion_rate"]
        if fr["old"] is not None and fr["new"] is not None and fr["new"] < fr["old"]:
            text = f"engine {new} replaced {replaced}, which served {where}, and fuses {pct(fr['new'])} of layers vs {pct(fr['old'])}"
            return [{"cause": "build:fusion_rate", "share": None, "stage": "compute", "engine_id": new,
                     "replaced_engine_id": replaced, "text": text, "evidence": [text, _unfused(d)]}]
    text = f"engine {new} replaced {replaced}, which served {where}"
    return [{"cause": "engine_change", "share": None, "stage": None, "engine_id": new, "replaced_engine_id": replaced,
             "text": text, "evidence": [text, ("build reports of both engines: no lower fusion rate" if new in builds
                                               and replaced in builds else "no build report of both engines to compare")]}]


def _unfused(d: dict[str, Any]) -> str:
    return f"{len(d['newly_unfused'])} newly unfused: {', '.join(d['newly_unfused'][:5])}"


def render(d: dict[str, Any]) -> str:
    """The diagnosis as text for a terminal."""
    lines = []
    when = _dt.datetime.fromtimestamp(d["window_start_ms"] / 1000, tz=_dt.timezone.utc).isoformat(timespec="seconds")
    head = f"{d['model']}/{d['model_version']}  window {when.replace('+00:00', 'Z')} +{d['window_ms'] / 1000:g}s"
    lines.append(head)
    lines.append(f"  P99 {p99_ms(d['p99_ms'])}  P95 {p99_ms(d['p95_ms'])}  requests {d['requests']}  "
                 f"cold-start rate {pct(d['cold_start_rate'] or 0.0)}  engines {', '.join(d['engines']) or '-'}")
    a = d.get("alert")
    if a:
        lines.append(f"  alert {a['rule_id']} {a['state']} (value {a['value']:.4g}, threshold {a['threshold']:.4g})")
    c = d["change"]
    if c["baseline_p99_ms"] is not None:
        lines.append(f"  baseline P99 {p99_ms(c['baseline_p99_ms'])} over {c['baseline_windows']} earlier windows"
                     + (f" (x{c['ratio_to_baseline']:.1f})" if c["ratio_to_baseline"] else "")
                     + (f"; previous window {p99_ms(c['previous_p99_ms'])}" if c["previous_p99_ms"] is not None else ""))
    lines.append("")
    lines.append("Causes, ranked:")
    if not d["causes"]:
        lines.append("  none found (no tail attribution on this window)")
    for i, cause in enumerate(d["causes"], 1):
        lines.append(f"  {i}. {cause['text']}")
        for ev in cause.get("evidence", [])[1:]:
            lines.append(f"       - {ev}")
    t = (d.get("attribution") or {}).get("p99")
    if t:
        lines.append("")
        lines.append(f"Tail (>= {p99_ms(t['threshold_ms'])}, {t['count']} requests): stage means tail vs body")
        for s, v in t["stage_mean_ms_tail"].items():
            body = t["stage_mean_ms_body"].get(s)
            lines.append(f"  {STAGE_LABELS.get(s, s):34s} {fmt_ms(v):>9s}  vs {fmt_ms(body):>9s}   "
                         f"dominates {pct(t['dominant_stage_share'].get(s, 0.0))}")
    if d["other_versions"]:
        lines.append("")
        lines.append("Other versions, same window:")
        for o in d["other_versions"]:
            lines.append(f"  {o['model_version']}: P99 {p99_ms(o['p99_ms'])}, requests {o['requests']}, tail cold "
                         f"starts {pct(o['tail_cold_start_share'] or 0.0)}, tail dominated by "
                         f"{STAGE_LABELS.get(o['tail_dominant_stage'] or '', o['tail_dominant_stage'] or '-')}")
    for diff in d["build_diffs"]:
        lines.append("")
        fr, ic = diff["fusion_rate"], diff["int8_coverage"]
        against = diff["against_version"] + (", previous windows" if diff.get("against") == "previous_engine" else "")
        lines.append(f"Build diff {diff['old_engine_id']} ({against}) -> {diff['new_engine_id']}:")
        lines.append(f"  fusion rate {_p(fr['old'])} -> {_p(fr['new'])}; INT8 coverage {_p(ic['old'])} -> {_p(ic['new'])}")
        for key in ("newly_unfused", "new_plugin_fallbacks", "new_dla_fallbacks", "new_warnings"):
            if diff.get(key):
                lines.append(f"  {key.replace('_', ' ')}: {', '.join(diff[key][:8])}")
        for m in diff.get("memory", []):
            lines.append(f"  {m['metric']}: {m['old']} -> {m['new']}")
    if d["exemplars"]:
        lines.append("")
        lines.append("Exemplar traces (slowest first):")
        for ex in d["exemplars"]:
            steps = "  ".join(f"{s['stage']} +{s['start_ms']:.1f}:{fmt_ms(s['duration_ms'])}" for s in ex["stages"])
            lines.append(f"  {ex['request_id']}  {fmt_ms(ex['total_ms'])}{'  cold' if ex['cold_start'] else ''}  "
                         f"{ex['worker_id']}  {steps}")
    if d["missing_exemplars"]:
        lines.append(f"  not (yet) in the store: {', '.join(d['missing_exemplars'])}")
    if a and a.get("exemplar_query"):
        lines.append("")
        lines.append(f"Open them: {a.get('url') or a['exemplar_query']}")
    return "\n".join(lines)


def _p(v: float | None) -> str:
    return "n/a" if v is None else pct(v)
