"""Version diff of two engine builds: what changed between a baseline and a rebuild.

Pure: two ``EngineBuild`` reports (and optionally their layer profiles) in, a
:class:`BuildDiff` out. Fusions are identified by the fused name TensorRT gives
them (``a + b``) from both the fusion log lines and the engine layer names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trtlens.schemas.events import EngineBuild, LayerProfile

# lower = cheaper math; a move to a higher rank is a downgrade
PRECISION_RANK = {"fp4": 0, "int4": 1, "fp8": 2, "int8": 3, "uint8": 3, "fp16": 4, "bf16": 4, "fp32": 5}


class PrecisionChange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    layer: str
    old: str | None
    new: str | None
    downgrade: bool


class Delta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    metric: str
    old: float | None
    new: float | None
    delta: float | None = None
    delta_pct: float | None = None


class BuildDiff(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    old_engine_id: str
    new_engine_id: str
    newly_unfused: list[str] = Field(default_factory=list)
    newly_fused: list[str] = Field(default_factory=list)
    layers_added: list[str] = Field(default_factory=list)
    layers_removed: list[str] = Field(default_factory=list)
    precision_changes: list[PrecisionChange] = Field(default_factory=list)
    new_warnings: list[str] = Field(default_factory=list)
    resolved_warnings: list[str] = Field(default_factory=list)
    new_errors: list[str] = Field(default_factory=list)
    new_plugin_fallbacks: list[str] = Field(default_factory=list)
    new_dla_fallbacks: list[str] = Field(default_factory=list)
    memory: list[Delta] = Field(default_factory=list)
    latency: list[Delta] = Field(default_factory=list)
    layer_time: list[Delta] = Field(default_factory=list, description="Per-layer avg_ms, layers in both profiles")


def delta(metric: str, old: float | None, new: float | None) -> Delta:
    if old is None or new is None:
        return Delta(metric=metric, old=old, new=new)
    pct = (new - old) / old * 100.0 if old else (0.0 if new == old else None)
    return Delta(metric=metric, old=old, new=new, delta=new - old, delta_pct=pct)


def fused_names(report: EngineBuild) -> set[str]:
    names = {f.result or " + ".join(f.layers) for f in report.fusions}
    names.update(layer.name for layer in report.layers if " + " in layer.name)
    return names


def _fusion_changes(old: EngineBuild, new: EngineBuild) -> tuple[set[str], set[str]]:
    """(newly unfused, newly fused), comparing only evidence both logs carry: fusion
    lines need verbose logs on both sides, engine layer names need layer info on both."""
    unfused: set[str] = set()
    fused: set[str] = set()
    if old.fusions and new.fusions:
        a = {f.result or " + ".join(f.layers) for f in old.fusions}
        b = {f.result or " + ".join(f.layers) for f in new.fusions}
        unfused |= a - b
        fused |= b - a
    if old.layers and new.layers:
        a = {layer.name for layer in old.layers if " + " in layer.name}
        b = {layer.name for layer in new.layers if " + " in layer.name}
        unfused |= a - b
        fused |= b - a
    return unfused, fused


def is_downgrade(old: str | None, new: str | None) -> bool:
    if old not in PRECISION_RANK or new not in PRECISION_RANK:
        return False
    return PRECISION_RANK[new] > PRECISION_RANK[old]


def _latency(report: EngineBuild) -> dict[str, float | None]:
    perf = report.perf
    out: dict[str, float | None] = {}
    if perf is not None:
        for section in ("latency", "gpu_compute"):
            stats = getattr(perf, section)
            if stats is not None:
                for key in ("mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms"):
                    out[f"{section}.{key}"] = getattr(stats, key)
        out["throughput_qps"] = perf.throughput_qps
    if report.profile is not None:
        out["profile.total_ms"] = report.profile.total_ms
        out["profile.avg_ms"] = report.profile.avg_ms
    return out


def _messages(report: EngineBuild, severity: str) -> list[str]:
    return [d.message for d in report.diagnostics if d.severity == severity]


def diff_builds(
    old: EngineBuild,
    new: EngineBuild,
    *,
    old_profile: list[LayerProfile] | None = None,
    new_profile: list[LayerProfile] | None = None,
) -> BuildDiff:
    unfused, fused = _fusion_changes(old, new)
    old_layers = {layer.name: layer for layer in old.layers}
    new_layers = {layer.name: layer for layer in new.layers}
    changes = [
        PrecisionChange(layer=name, old=old_layers[name].precision, new=layer.precision,
                        downgrade=is_downgrade(old_layers[name].precision, layer.precision))
        for name, layer in new_layers.items()
        if name in old_layers and old_layers[name].precision != layer.precision
    ]  # fmt: skip
    old_warn, new_warn = _messages(old, "warning"), _messages(new, "warning")
    old_err = set(_messages(old, "error"))
    old_dla = {layer.name for layer in old.dla_fallbacks}
    memory = [
        delta(key, getattr(old.memory, key), getattr(new.memory, key))
        for key in ("peak_gpu_bytes", "activation_bytes", "weights_bytes", "engine_bytes", "context_bytes")
        if getattr(old.memory, key) is not None or getattr(new.memory, key) is not None
    ]
    old_lat, new_lat = _latency(old), _latency(new)
    latency = [delta(k, old_lat.get(k), new_lat.get(k)) for k in dict.fromkeys([*old_lat, *new_lat]) if old_lat.get(k) is not None or new_lat.get(k) is not None]
    layer_time: list[Delta] = []
    if old_profile and new_profile:
        old_avg = {p.layer: p.avg_ms for p in old_profile}
        layer_time = [delta(p.layer, old_avg[p.layer], p.avg_ms) for p in new_profile if p.layer in old_avg]
    return BuildDiff(
        old_engine_id=old.engine_id,
        new_engine_id=new.engine_id,
        newly_unfused=sorted(unfused),
        newly_fused=sorted(fused),
        layers_added=sorted(set(new_layers) - set(old_layers)),
        layers_removed=sorted(set(old_layers) - set(new_layers)),
        precision_changes=changes,
        new_warnings=[m for m in dict.fromkeys(new_warn) if m not in set(old_warn)],
        resolved_warnings=[m for m in dict.fromkeys(old_warn) if m not in set(new_warn)],
        new_errors=[m for m in dict.fromkeys(_messages(new, "error")) if m not in old_err],
        new_plugin_fallbacks=[op for op in new.plugin_fallbacks if op not in set(old.plugin_fallbacks)],
        new_dla_fallbacks=[layer.name for layer in new.dla_fallbacks if layer.name not in old_dla],
        memory=memory,
        latency=latency,
        layer_time=layer_time,
    )


def _round_delta(old: float | None, new: float | None) -> float | None:
    return None if old is None or new is None else round(new - old, 6)


def diff_prev(prev: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The ``diff_prev`` of a build document: what changed since the previous build of the same model.

    Both arguments are build documents in their JSON form (``BuildReport.model_dump(mode="json")``,
    as the store returns them). The summary fields are indexed (``trtlens-builds-*``); ``diff`` holds
    the whole :class:`BuildDiff` (stored, not indexed).
    """
    old_build = EngineBuild.model_validate(prev["report"])
    new_build = EngineBuild.model_validate(new["report"])
    d = diff_builds(old_build, new_build)
    return {
        "prev_engine_id": prev.get("engine_id"),
        "prev_built_at_ms": prev.get("built_at_ms"),
        "prev_model_version": prev.get("model_version"),
        "fusion_rate_delta": _round_delta(prev.get("fusion_rate"), new.get("fusion_rate")),
        "int8_coverage_delta": _round_delta(prev.get("int8_coverage"), new.get("int8_coverage")),
        "newly_unfused": d.newly_unfused,
        "newly_fused": d.newly_fused,
        "new_plugin_fallbacks": d.new_plugin_fallbacks,
        "precision_downgrades": sum(1 for c in d.precision_changes if c.downgrade),
        "diff": d.model_dump(mode="json"),
    }
