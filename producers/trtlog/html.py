"""``trtlens check --html``: one build's report as a self-contained HTML file (pure).

Input is the document ``--json`` prints (:func:`trtlens.producers.trtlog.render.json_document`),
so both outputs say the same thing, and names are already redacted by the check's
name map. The page has inline CSS and an inline SVG bar of the precision mix; no
script, no external reference. Every value is HTML-escaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

CSS = """
body{font:13px/1.45 system-ui,sans-serif;color:#1d2330;margin:24px;max-width:1200px}
h1{font-size:18px}h2{font-size:14px;margin-top:22px;border-bottom:1px solid #dde0e7;padding-bottom:3px}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #eef0f4;vertical-align:top}
th{color:#6b7385}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}.skip{color:#6b7385}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff}.ok{background:#2e7d32}.bad{background:#c62828}
.legend span{margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:3px}
"""
PRECISION_COLORS = {"int8": "#43a047", "fp8": "#00897b", "fp16": "#3949ab", "bf16": "#5c6bc0", "fp32": "#e53935",
                    "int4": "#7cb342", "fp4": "#9ccc65"}


def _e(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return escape(f"{v:.4g}")
    return escape(str(v))


def _table(head: Iterable[str], rows: Iterable[Iterable[Any]], *, num: set[int] = frozenset(), raw: set[int] = frozenset()) -> str:
    h = "".join(f"<th>{escape(c)}</th>" for c in head)
    body = []
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            cls = ' class="num"' if i in num else ""
            cells.append(f"<td{cls}>{c if i in raw else _e(c)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{h}</tr></thead><tbody>{''.join(body) or '<tr><td>none</td></tr>'}</tbody></table>"


def precision_mix(layers: Iterable[Mapping[str, Any]]) -> Counter:
    """Engine layers per reported precision (``unknown`` where the log names none)."""
    return Counter((layer.get("precision") or "unknown").lower() for layer in layers)


def _mix_svg(mix: Counter) -> str:
    total = sum(mix.values())
    if not total:
        return "<p>No per-layer precision in this log (needs --verbose or --exportLayerInfo).</p>"
    x, parts, legend = 0.0, [], []
    for name, n in mix.most_common():
        w = 1000 * n / total
        color = PRECISION_COLORS.get(name, "#9e9e9e")
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="24" fill="{color}"><title>{escape(name)}: {n}</title></rect>')
        legend.append(f'<span><i style="background:{color}"></i>{escape(name)} {n} ({n / total:.0%})</span>')
        x += w
    return (f'<svg viewBox="0 0 1000 24" width="100%" height="24" role="img" aria-label="precision mix">{"".join(parts)}</svg>'
            f'<div class="legend">{"".join(legend)}</div>')


def render_html(doc: Mapping[str, Any], *, title: str | None = None) -> str:
    report = doc.get("report") or {}
    b = report.get("report") or {}
    memory = b.get("memory") or {}
    passed = bool(doc.get("passed"))
    engine = b.get("engine_id") or report.get("engine_id")
    parts = [f"<h1>{escape(title or f'TensorRT build {engine}')} "
             f'<span class="verdict {"ok" if passed else "bad"}">{"PASS" if passed else "FAIL"}</span></h1>']
    parts.append("<h2>Summary</h2>" + _table(["fact", "value"], [
        ("engine", engine), ("source", b.get("source")), ("status / TensorRT", f"{b.get('status')} / {b.get('trt_version') or '?'}"),
        ("model / version", f"{b.get('model') or '?'} / {b.get('model_version') or '?'}"),
        ("precisions enabled", ", ".join(b.get("precisions") or []) or None),
        ("layers before → after", f"{b.get('layers_before')} → {b.get('layers_after')}"),
        ("fusion rate", None if report.get("fusion_rate") is None else f"{report['fusion_rate']:.1%}"),
        ("INT8 coverage", None if report.get("int8_coverage") is None else f"{report['int8_coverage']:.1%}"),
        ("plugin fallbacks", ", ".join(b.get("plugin_fallbacks") or []) or "none"),
        *((f"memory: {k}", f"{v:,} B") for k, v in memory.items() if v is not None),
    ]))
    checks = doc.get("checks") or []
    parts.append("<h2>Checks</h2>" + _table(["rule", "status", "value", "limit", "message"], [
        (escape(c["rule"]), f'<span class="{escape(c["status"])}">{escape(c["status"])}</span>', c.get("value"), c.get("limit"), c.get("message"))
        for c in checks], raw={0, 1}))
    findings = doc.get("findings") or []
    parts.append("<h2>Findings (fusion, fallbacks, runtime)</h2>" + _table(["kind", "layer", "message", "value", "expected"], [
        (f["kind"], f.get("layer"), f["message"], f.get("value"), f.get("expected")) for f in findings]))
    layers = b.get("layers") or []
    parts.append("<h2>Precision mix</h2>" + _mix_svg(precision_mix(layers)))
    parts.append(f"<h2>Engine layers ({len(layers)})</h2>" + _table(["#", "layer", "type", "precision", "device", "tactic"], [
        (i + 1, layer.get("name"), layer.get("layer_type"), layer.get("precision"), layer.get("device"),
         layer.get("tactic_name") or layer.get("tactic")) for i, layer in enumerate(layers)], num={0}))
    profile = sorted(doc.get("profile") or [], key=lambda p: -(p.get("time_pct") or 0))
    if profile:
        parts.append("<h2>Layer time (profile)</h2>" + _table(["layer", "share %", "avg ms", "median ms", "precision"], [
            (p.get("layer"), p.get("time_pct"), p.get("avg_ms"), p.get("median_ms"), p.get("precision")) for p in profile[:50]],
            num={1, 2, 3}))
    diff = doc.get("diff")
    if diff:
        rows = [(f"{d['metric']}", d.get("old"), d.get("new"), d.get("delta"),
                 None if d.get("delta_pct") is None else f"{d['delta_pct']:+.1f}%")
                for d in (diff.get("memory") or []) + (diff.get("latency") or []) + (diff.get("layer_time") or [])]
        lists = [(k.replace("_", " "), ", ".join(map(str, diff.get(k) or [])) or "none") for k in (
            "newly_unfused", "newly_fused", "layers_added", "layers_removed", "new_plugin_fallbacks", "new_dla_fallbacks",
            "new_errors", "new_warnings", "resolved_warnings")]
        prec = [(c["layer"], c.get("old"), c.get("new"), "downgrade" if c.get("downgrade") else "") for c in diff.get("precision_changes") or []]
        parts.append(f"<h2>Diff against the baseline ({escape(str(diff.get('old_engine_id')))} → {escape(str(diff.get('new_engine_id')))})</h2>"
                     + _table(["metric", "baseline", "this build", "change", "change %"], rows, num={1, 2, 3, 4})
                     + _table(["what", "layers / messages"], lists)
                     + ("<h2>Precision changes</h2>" + _table(["layer", "baseline", "this build", ""], prec) if prec else ""))
    else:
        parts.append("<h2>Diff against the baseline</h2><p>No baseline given (--baseline OLD.log).</p>")
    head = f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title or f'trtlens check {engine}')}</title><style>{CSS}</style></head><body>"
    return head + "".join(parts) + "</body></html>\n"
