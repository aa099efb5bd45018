"""Human-readable ``trtlens check`` output (rich tables) and its JSON document."""

from __future__ import annotations

from typing import Any

from trtlens.producers.trtlog.parse import ParseResult
from trtlens.schemas.documents import BuildReport
from trtlens.schemas.events import LayerProfile

_STYLE = {"pass": "green", "fail": "bold red", "skip": "dim"}


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def _num(v: float | None, fmt: str = "{:g}") -> str:
    return "-" if v is None else fmt.format(v)


def json_document(
    report: BuildReport, checks: list, diff: Any, profile: list[LayerProfile], parsed: dict[str, ParseResult]
) -> dict[str, Any]:
    return {
        "passed": report.passed,
        "report": report.model_dump(mode="json"),
        "checks": [{"rule": c.rule, "status": c.status, "value": c.value, "limit": c.limit, "message": c.message} for c in checks],
        "findings": [f.model_dump(mode="json") for f in report.findings],
        "diff": diff.model_dump(mode="json") if diff is not None else None,
        "profile": [p.model_dump(mode="json", include={"layer", "time_ms", "avg_ms", "median_ms", "time_pct", "precision"}) for p in profile],
        "parse": {
            role: {
                "source": r.build.source,
                "lines": r.stats.lines,
                "recognized": r.stats.recognized,
                "extracted": r.stats.extracted,
                "unparsed": r.stats.unparsed,
                "families": dict(r.stats.families),
                "document": r.stats.document,
                "truncated": r.stats.truncated,
            }
            for role, r in parsed.items()
        },
    }


def render(console: Any, report: BuildReport, checks: list, diff: Any, profile: list[LayerProfile], parsed: dict[str, ParseResult]) -> None:
    from rich.table import Table

    b = report.report
    summary = Table(title=f"TensorRT build {b.engine_id}", show_header=False, title_justify="left")
    summary.add_column("fact", style="bold")
    summary.add_column("value")
    stats = parsed["build"].stats
    fams = ", ".join(f"{k}={v}" for k, v in stats.families.most_common())
    rows = [
        ("source", f"{b.source or '-'}  ({stats.lines} lines, {stats.unparsed} unparsed; {fams or stats.document})"),
        ("status / TensorRT", f"{b.status} / {b.trt_version or '?'}"),
        ("precisions enabled", ", ".join(b.precisions) or "-"),
        ("layers", f"{_num(b.layers_before)} → {_num(b.layers_after)}; {len(b.layers)} engine layers"),
        ("fusions / removed", f"{len(b.fusions)} / {len(b.removed_layers)}; fusion rate {_num(report.fusion_rate, '{:.1%}')}"),
        ("INT8 coverage", _num(report.int8_coverage, "{:.1%}")),
        ("plugin / DLA fallbacks", f"{len(b.plugin_fallbacks)} / {len(b.dla_fallbacks)}"),
        ("memory", f"peak {_bytes(b.memory.peak_gpu_bytes)}, activation {_bytes(b.memory.activation_bytes)}, "
                   f"weights {_bytes(b.memory.weights_bytes)}, engine {_bytes(b.memory.engine_bytes)}"),
    ]  # fmt: skip
    if b.memory.requested_bytes:
        rows.append(("failed allocation", _bytes(b.memory.requested_bytes)))
    if b.perf and b.perf.latency:
        lat = b.perf.latency
        rows.append(("latency ms", f"mean {_num(lat.mean_ms)}, median {_num(lat.median_ms)}, p90 {_num(lat.p90_ms)}, "
                                   f"p95 {_num(lat.p95_ms)}, p99 {_num(lat.p99_ms)}; {_num(b.perf.throughput_qps)} qps"))  # fmt: skip
    if b.calibration_info:
        ci = b.calibration_info
        rows.append(("calibration", f"{ci.calibrator} ({ci.trt_version}): {ci.tensors} tensors, {len(ci.zero_ranges)} zero, "
                                    f"{len(ci.suspicious_ranges)} suspicious"))  # fmt: skip
    if b.fp16_weight_warnings:
        rows.append(("FP16 weight issues", ", ".join(f"{k}={v}" for k, v in b.fp16_weight_warnings.items())))
    if b.quantization_scales or b.quantization_missing:
        rows.append(("quantization", f"{len(b.quantization_scales)} scale(s), {len(b.quantization_missing)} tensor(s) without an INT8 scale"))
    if b.plugin_kernels:
        rows.append(("plugin kernels", ", ".join(f"{node}: {kernel}" for node, kernel in list(b.plugin_kernels.items())[:5])))
    errors = sum(d.count for d in b.diagnostics if d.severity == "error")
    warnings = sum(d.count for d in b.diagnostics if d.severity == "warning")
    rows.append(("diagnostics", f"{errors} error(s), {warnings} warning(s)"))
    for key, value in rows:
        summary.add_row(key, value)
    console.print(summary)

    if profile:
        top = Table(title="Slowest layers (profile)", title_justify="left")
        for col in ("layer", "time %", "avg ms", "precision"):
            top.add_column(col)
        for p in sorted(profile, key=lambda p: p.time_pct or 0.0, reverse=True)[:5]:
            top.add_row(p.layer[:90], _num(p.time_pct), _num(p.avg_ms), p.precision or "-")
        console.print(top)

    if b.diagnostics:
        diag = Table(title="Diagnostics (deduplicated)", title_justify="left")
        for col in ("sev", "code", "source", "count", "message"):
            diag.add_column(col)
        for d in [d for d in b.diagnostics if d.severity == "error"][:8] + [d for d in b.diagnostics if d.severity == "warning"][:5]:
            diag.add_row(d.severity, d.code or "", d.source or "", str(d.count), d.message.replace("\n", " ")[:110])
        console.print(diag)

    if diff is not None:
        dt = Table(title=f"Diff vs baseline {diff.old_engine_id}", show_header=False, title_justify="left")
        dt.add_column("what", style="bold")
        dt.add_column("change")
        dt.add_row("newly unfused", ", ".join(diff.newly_unfused[:6]) or "-")
        dt.add_row("newly fused", ", ".join(diff.newly_fused[:6]) or "-")
        dt.add_row("precision changes", ", ".join(f"{c.layer}: {c.old}→{c.new}" for c in diff.precision_changes[:6]) or "-")
        dt.add_row("new warnings / errors", f"{len(diff.new_warnings)} / {len(diff.new_errors)}")
        dt.add_row("new fallbacks", ", ".join(diff.new_plugin_fallbacks + diff.new_dla_fallbacks) or "-")
        for d in diff.memory + diff.latency:
            if d.delta is not None and d.delta != 0:
                dt.add_row(d.metric, f"{d.old:g} → {d.new:g} ({_num(d.delta_pct, '{:+.1f}')}%)")
        console.print(dt)

    if report.findings:
        ft = Table(title=f"Findings ({len(report.findings)})", title_justify="left")
        for col in ("kind", "layer", "detail"):
            ft.add_column(col)
        for f in report.findings[:12]:
            ft.add_row(f.kind, (f.layer or "-")[:60], f.message.replace("\n", " ")[:110])
        console.print(ft)

    table = Table(title="Rules", title_justify="left")
    for col in ("rule", "result", "value", "limit", "detail"):
        table.add_column(col)
    for c in checks:
        table.add_row(c.rule, f"[{_STYLE[c.status]}]{c.status.upper()}[/]", _num(c.value) if isinstance(c.value, (int, float)) else str(c.value or "-"),
                      _num(c.limit) if isinstance(c.limit, (int, float)) else str(c.limit or "-"), c.message[:100])  # fmt: skip
    console.print(table)
    verdict = "[bold green]PASSED[/]" if report.passed else f"[bold red]FAILED[/] ({len(report.violations)} violation(s))"
    console.print(f"trtlens check: {verdict}")
