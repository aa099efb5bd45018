"""Turn the accumulated :class:`ParseState` into the frozen events of the contract."""

from __future__ import annotations

import socket
import statistics
import time
from pathlib import PurePath

from trtlens.producers.trtlog.extract_triton import idle_models
from trtlens.producers.trtlog.state import ParseState, ProfileRow
from trtlens.schemas.events import (
    CalibrationInfo,
    Diagnostic,
    EngineBuild,
    LatencyStats,
    LayerProfile,
    MemoryStats,
    MetricSample,
    PerfSummary,
    ProfileSummary,
    TritonInfo,
)

_BUILD_TIME_KEYS = ("build_total", "engine_built", "engine_generation")
_LATENCY_SECTIONS = ("latency", "gpu_compute", "h2d", "d2h", "enqueue", "end_to_end")


def _stem(path: str) -> str | None:
    name = PurePath(path.replace("\\", "/")).name
    for suffix in (".log", ".txt", ".json", ".engine", ".plan", ".trt", ".onnx", ".prototxt", ".caffemodel", ".uff", ".etlt", ".wts"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name or None


def choose_engine_id(st: ParseState, engine_id: str | None, source: str | None, digest: str) -> str:
    """Explicit id > engine file named in the log > log file name > content digest."""
    if engine_id:
        return engine_id
    for candidate in (st.facts.get("engine_path"), source):
        if isinstance(candidate, str) and (stem := _stem(candidate)):
            return stem[:512]
    return f"trtlog-{digest[:12]}"


def status_of(st: ParseState, has_errors: bool, has_results: bool) -> str:
    markers = st.status_markers
    if "passed" in markers:
        return "ok"
    if "failed" in markers or "failed_step" in markers or has_errors:
        return "failed"
    if has_results or "built" in markers or "loaded" in markers:
        return "ok"
    return "unknown"


def assemble(
    st: ParseState,
    *,
    stats_unparsed: int,
    digest: str,
    engine_id: str | None,
    source: str | None,
    worker_id: str | None,
    now_ms: int | None,
) -> tuple[EngineBuild, list[LayerProfile]]:
    eid = choose_engine_id(st, engine_id, source, digest)
    ts_ms = st.last_ts_ms if st.last_ts_ms is not None else (now_ms if now_ms is not None else int(time.time() * 1000))
    diagnostics = [
        Diagnostic(severity=d.severity, message=d.message, code=d.code, source=d.source, count=d.count, category=d.category)
        for d in st.diags.values()
    ]
    has_errors = any(d.severity == "error" for d in diagnostics)
    perf = _perf(st)
    profile_summary = _profile_summary(st)
    status = status_of(st, has_errors, perf is not None or profile_summary is not None or bool(st.layers))
    level = "error" if status == "failed" else ("warning" if any(d.severity == "warning" for d in diagnostics) else "info")
    facts = dict(st.facts)
    if st.layer_counts:
        steps = [st.layer_counts[0]] + [b for a, b in zip(st.layer_counts, st.layer_counts[1:]) if b != a]
        facts["layer_count_steps"] = "->".join(str(n) for n in steps)
    for name, n in st.truncated.items():
        facts[f"truncated.{name}"] = n
    model_path = facts.get("model_path")
    build = EngineBuild(
        event_id=f"engine_build:{eid}:{digest[:16]}",
        ts_ms=max(0, ts_ms),
        worker_id=worker_id or f"trtlog@{socket.gethostname() or 'localhost'}",
        model=_stem(model_path) if isinstance(model_path, str) else None,
        backend="tensorrt",
        level=level,
        engine_id=eid,
        source=source,
        trt_version=st.trt_version or _str(facts.get("library_trt_version")) or (st.calib_header[0] if st.calib_header else None),
        precisions=list(st.precisions),
        status=status,
        build_time_ms=next((st.phase_times_ms[k] for k in _BUILD_TIME_KEYS if k in st.phase_times_ms), None),
        layers_before=st.layer_counts[0] if st.layer_counts else None,
        layers_after=st.layer_counts[-1] if st.layer_counts else None,
        fusions=st.fusions,
        removed_layers=st.removed_layers,
        layers=list(st.layers.values()),
        plugin_fallbacks=st.plugin_fallbacks,
        dla_fallbacks=list(st.dla_fallbacks.values()),
        fp16_weight_warnings=_fp16(st),
        fp16_affected_weights=sorted({n for names in st.fp16_weights.values() for n in names})[: st.limits.names],
        calibration=st.calibration,
        calibration_info=_calibration(st),
        memory=_memory(st),
        perf=perf,
        diagnostics=diagnostics,
        unparsed_lines=stats_unparsed,
        tactic_timings=st.tactics,
        profile=profile_summary,
        triton=_triton(st),
        phase_times_ms=st.phase_times_ms,
        facts=facts,
        quantization_scales=st.quant_scales,
        quantization_missing=st.quant_missing,
        plugin_kernels=st.plugin_kernels,
    )
    return build, _profiles(st, build, digest)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _fp16(st: ParseState) -> dict[str, int]:
    out = dict(st.fp16_summary)
    for kind, names in st.fp16_weights.items():
        out[kind] = max(out.get(kind, 0), len(names))
    return out


def _calibration(st: ParseState) -> CalibrationInfo | None:
    if st.calib_header is None and not st.calibration:
        return None
    version, calibrator = st.calib_header or (None, None)
    return CalibrationInfo(
        trt_version=version,
        calibrator=calibrator,
        tensors=len(st.calibration) + sum(1 for n in st.calib_suspicious if n not in st.calibration),
        zero_ranges=st.calib_zero,
        suspicious_ranges=st.calib_suspicious,
    )


def _memory(st: ParseState) -> MemoryStats:
    mem = st.memory
    peak = mem.get("peak_gpu_bytes") or st.peak_now_gpu_bytes or mem.get("seed_peak_bytes")
    return MemoryStats(
        peak_gpu_bytes=peak,
        activation_bytes=mem.get("activation_bytes", mem.get("block_assignment_bytes")),
        weights_bytes=mem.get("weights_bytes"),
        engine_bytes=mem.get("engine_bytes"),
        requested_bytes=mem.get("requested_bytes"),
        context_bytes=mem.get("context_bytes"),
        persistent_device_bytes=mem.get("persistent_device_bytes"),
        persistent_host_bytes=mem.get("persistent_host_bytes"),
        scratch_bytes=mem.get("scratch_bytes"),
        cpu_peak_bytes=mem.get("cpu_peak_bytes", mem.get("cpu_now_peak_bytes")),
    )


def _perf(st: ParseState) -> PerfSummary | None:
    if not st.perf:
        return None
    sections = {k: LatencyStats(**v) for k, v in st.perf.items() if k in _LATENCY_SECTIONS and isinstance(v, dict) and v}
    scalars = {k: v for k, v in st.perf.items() if k not in _LATENCY_SECTIONS}
    return PerfSummary(**sections, **scalars)


def _profile_rows(st: ParseState) -> list[ProfileRow]:
    if st.profile_rows:
        return st.profile_rows
    rows = []
    for layer, times in st.profiler_callbacks.items():
        if times:
            rows.append(ProfileRow(layer=layer, time_ms=sum(times), avg_ms=sum(times) / len(times), median_ms=statistics.median(times)))
    return rows


def _profile_summary(st: ParseState) -> ProfileSummary | None:
    rows = _profile_rows(st)
    if not rows and st.profile_total is None:
        return None
    total = st.profile_total
    total_ms = total.time_ms if total and total.time_ms is not None else sum(r.time_ms or 0.0 for r in rows)
    return ProfileSummary(
        iterations=st.profile_iterations,
        total_ms=total_ms,
        avg_ms=total.avg_ms if total else None,
        median_ms=total.median_ms if total else None,
        layers=len(rows),
    )


def _profiles(st: ParseState, build: EngineBuild, digest: str) -> list[LayerProfile]:
    rows = _profile_rows(st)
    total_ms = build.profile.total_ms if build.profile else None
    precision = {layer.name: layer.precision for layer in build.layers}
    out = []
    for index, row in enumerate(rows):
        pct = row.time_pct
        if pct is None and total_ms and row.time_ms is not None:
            pct = 100.0 * row.time_ms / total_ms
        out.append(
            LayerProfile(
                event_id=f"layer_profile:{build.engine_id}:{digest[:16]}:{index}",
                ts_ms=build.ts_ms,
                worker_id=build.worker_id,
                model=build.model,
                backend="tensorrt",
                engine_id=build.engine_id,
                layer=row.layer[:4096],
                time_ms=_nonneg(row.time_ms),
                avg_ms=_nonneg(row.avg_ms),
                median_ms=_nonneg(row.median_ms),
                time_pct=None if pct is None else min(100.0, max(0.0, pct)),
                precision=row.precision or precision.get(row.layer),
            )
        )
    return out


def _nonneg(value: float | None) -> float | None:
    return None if value is None or value < 0 else value


def _triton(st: ParseState) -> TritonInfo | None:
    t = st.triton
    if not t:
        return None
    metrics = t.get("metrics", [])
    return TritonInfo(
        backends=t.get("backends", []),
        backend_api_version=t.get("backend_api_version"),
        models_loading=t.get("models_loading", []),
        models_ready=t.get("models_ready", []),
        models_failed=t.get("models_failed", []),
        pinned_pool_bytes=t.get("pinned_pool_bytes"),
        cuda_pool_bytes=t.get("cuda_pool_bytes", {}),
        metric_families=t.get("metric_families", {}),
        metrics=[MetricSample(**m) for m in metrics],
        idle_models=idle_models(metrics),
    )
