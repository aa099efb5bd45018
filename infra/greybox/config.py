"""Grey-box build rules: what an engine build must satisfy to pass the gate.

Every rule is optional: ``None`` (or an empty list / ``false``) turns it off.
Rates are fractions in [0, 1]; memory in bytes; latency in milliseconds.
Load from YAML with :func:`load_rules`; unknown keys are rejected.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trtlens.errors import TrtlensError

DEFAULT_NON_COMPUTE_TYPES = [
    "Reformat", "NoOp", "Shuffle", "Constant", "Slice", "Concatenation", "Identity",
    "Cast", "Shape", "Assertion", "Fill", "Reshape", "Squeeze", "Unsqueeze", "Gather",
]  # fmt: skip


class BuildRulesError(TrtlensError):
    """The rules file is unreadable or invalid.

    Attributes:
        path: the file.
        problems: ``(key, value, rule)`` per invalid entry.
    """

    def __init__(self, path: str, problems: list[tuple[str, Any, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {key} = {value!r}: {rule}" for key, value, rule in problems)
        super().__init__(f"invalid build rules in {path}:\n{lines}")


class BuildRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- single build ---
    fail_on_build_errors: bool = Field(True, description="A failed build (errors, &&&& FAILED) violates")
    min_fusion_rate: float | None = Field(None, ge=0, le=1, description="Fused-away layers / original layers")
    required_fusions: list[str] = Field(default_factory=list, description="Regexes; each must match a fusion")
    min_int8_coverage: float | None = Field(0.9, ge=0, le=1, description="INT8 compute layers / compute layers, INT8 builds only")
    non_compute_layer_types: list[str] = Field(default_factory=lambda: list(DEFAULT_NON_COMPUTE_TYPES))
    fail_on_plugin_fallback: bool = True
    allow_plugin_fallbacks: list[str] = Field(default_factory=list, description="Regexes of ops allowed to fall back")
    fail_on_dla_fallback: bool = True
    allow_dla_fallbacks: list[str] = Field(default_factory=list, description="Regexes of layers allowed on GPU")
    max_peak_memory_bytes: int | None = Field(None, ge=0)
    max_activation_memory_bytes: int | None = Field(None, ge=0)
    max_p99_ms: float | None = Field(None, ge=0, description="trtexec Latency p99 (GPU compute p99 when absent)")
    max_layer_time_pct: float | None = Field(None, ge=0, le=100, description="No profiled layer above this share")
    max_warnings: int | None = Field(None, ge=0, description="Distinct warnings")
    max_fp16_affected_weights: int | None = Field(None, ge=0)
    max_zero_calibration_ranges: int | None = Field(None, ge=0)
    max_calibration_range: float | None = Field(None, gt=0, description="Largest INT8 dynamic range allowed")
    # --- against a baseline build (only with --baseline) ---
    max_p99_regression_pct: float | None = Field(10.0, ge=0)
    max_memory_growth_pct: float | None = Field(10.0, ge=0, description="Peak, activation and weights memory")
    max_layer_slowdown_ratio: float | None = Field(None, gt=0, description="Per-layer avg time new/old (profiles)")
    fail_on_newly_unfused: bool = True
    fail_on_precision_downgrade: bool = True
    fail_on_new_fallbacks: bool = True


def load_rules(path: str | os.PathLike[str] | None) -> BuildRules:
    """Rules from a YAML mapping (``None`` → defaults). A ``rules:`` top-level key is accepted."""
    if path is None:
        return BuildRules()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BuildRulesError(str(path), [("<file>", str(path), str(exc))]) from exc
    if data is None:
        data = {}
    if isinstance(data, dict) and isinstance(data.get("rules"), dict) and len(data) == 1:
        data = data["rules"]
    if not isinstance(data, dict):
        raise BuildRulesError(str(path), [("<root>", type(data).__name__, "must be a mapping of rule: value")])
    try:
        return BuildRules.model_validate(data)
    except ValidationError as exc:
        problems = [(".".join(str(p) for p in e["loc"]), e.get("input"), e["msg"]) for e in exc.errors()]
        raise BuildRulesError(str(path), problems) from exc


class BuildsSettings(BaseModel):
    """``Settings.builds``: the rules the streams app (and ``trtlens check`` without
    ``--rules``) applies. Env: ``TRTLENS_BUILDS__RULES__MAX_P99_MS=5``."""

    model_config = ConfigDict(extra="forbid")
    rules: BuildRules = Field(default_factory=BuildRules)
