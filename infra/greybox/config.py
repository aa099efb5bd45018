"""Grey-box build rules: what an engine build must satisfy to pass the gate.

Every rule is optional: ``None`` (or an empty list / ``false``) turns it off.
Rates are fractions in [0, 1]; memory in bytes; latency in milliseconds.
Load from YAML with :func:`load_rules`; unknown keys are rejected.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator

from trtlens.errors import TrtlensError

DEFAULT_NON_COMPUTE_TYPES = [
    "Reformat", "NoOp", "Shuffle", "Constant", "Slice", "Concatenation", "Identity",
    "Cast", "Shape", "Assertion", "Fill", "Reshape", "Squeeze", "Unsqueeze", "Gather",
]  # fmt: skip
UnfusedReason = Literal["dynamic_shape", "padding", "unsupported_op", "missing_plugin", "precision", "dla_limit", "unknown"]
VersionPart = Literal["trt", "cuda", "cudnn"]
PATTERN_ARROW = re.compile(r"\s*(?:->|→)\s*")


def parse_pattern(text: str) -> list[str]:
    """``"Conv -> BatchNormalization|Scale -> Relu"`` → one regex per chain element."""
    return [p for p in PATTERN_ARROW.split(text.strip()) if p]


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
    return value


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
    # --- the seed's rules (issue 15); every one off by default ---
    min_fusion_coverage_by_type: dict[str, float] = Field(
        default_factory=dict, description="Op type (regex, full match) → least share of its layers fused: {Conv: 0.95}"
    )
    required_fusion_patterns: list[str] = Field(
        default_factory=list, description="Chains of op types that must end in one engine layer: 'Conv -> BatchNormalization|Scale -> Relu'"
    )
    max_unfused_kernel_share: float | None = Field(None, ge=0, le=1, description="Share of runtime (or of kernels) in unfused kernels")
    unfused_kernel_share_basis: Literal["auto", "time", "layers"] = Field("auto", description="auto: time with a profile, else layers")
    fail_on_fp32_in_int8: bool = Field(False, description="INT8 build: a compute layer writes an FP32 tensor")
    allow_fp32_outputs: list[str] = Field(default_factory=list, description="Regexes (full match) of layers allowed to write FP32")
    match_runtime_versions: list[VersionPart] = Field(default_factory=list, description="Build vs runtime versions that must match")
    unfused_hints: bool = Field(False, description="Report what the log says about each unfused layer (findings)")
    fail_on_unfused_reasons: list[UnfusedReason] = Field(default_factory=list, description="Unfused-layer reasons that violate")
    max_calibration_outlier_z: float | None = Field(None, gt=0, description="Robust z of ln(dynamic range), median/MAD")
    min_calibration_tensors: int = Field(8, ge=3, description="Fewer non-zero ranges than this: the outlier rule skips")
    max_layer_ratio_vs_baseline: dict[str, float] = Field(
        default_factory=dict, description="Layer-name regex → largest avg time new/baseline profile: {attention: 1.2}"
    )
    # --- build ↔ runtime profile (with --profile) ---
    fail_on_split_fusions: bool = Field(False, description="A layer the build fused runs as separate profile entries")
    runtime_share_ratio: float = Field(5.0, gt=1, description="Finding: runtime share ≥ ratio × the build's expected share")
    runtime_share_min_pct: float = Field(10.0, ge=0, le=100, description="... for entries with at least this % of the runtime")
    fail_on_runtime_share_outliers: bool = False
    # --- against a baseline build (only with --baseline) ---
    max_p99_regression_pct: float | None = Field(10.0, ge=0)
    max_memory_growth_pct: float | None = Field(10.0, ge=0, description="Peak, activation and weights memory")
    max_layer_slowdown_ratio: float | None = Field(None, gt=0, description="Per-layer avg time new/old (profiles)")
    fail_on_newly_unfused: bool = True
    fail_on_precision_downgrade: bool = True
    fail_on_new_fallbacks: bool = True

    @field_validator("min_fusion_coverage_by_type")
    @classmethod
    def _coverage(cls, value: dict[str, float]) -> dict[str, float]:
        for key, share in value.items():
            _regex(key)
            if not 0 <= share <= 1:
                raise ValueError(f"{key}: {share} must be a share between 0 and 1")
        return value

    @field_validator("required_fusion_patterns")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for text in value:
            chain = parse_pattern(text)
            if len(chain) < 2:
                raise ValueError(f"{text!r} must name at least two op types joined by '->'")
            for element in chain:
                _regex(element)
        return value

    @field_validator("max_layer_ratio_vs_baseline")
    @classmethod
    def _ratios(cls, value: dict[str, float]) -> dict[str, float]:
        for key, ratio in value.items():
            _regex(key)
            if ratio <= 0:
                raise ValueError(f"{key}: {ratio} must be > 0")
        return value

    @field_validator("allow_fp32_outputs")
    @classmethod
    def _allow(cls, value: list[str]) -> list[str]:
        return [_regex(v) for v in value]


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
    ``--rules``) applies, and how layer and tensor names leave the process.
    Env: ``TRTLENS_BUILDS__RULES__MAX_P99_MS=5``, ``TRTLENS_BUILDS__REDACT=hash``,
    ``TRTLENS_BUILDS__REDACT_KEY=...``."""

    model_config = ConfigDict(extra="forbid")
    rules: BuildRules = Field(default_factory=BuildRules)
    redact: Literal["off", "hash", "mask"] = Field("off", description="Layer/tensor/weight names in events, reports and logs")
    redact_key: SecretStr | None = Field(
        None, validate_default=True, description="HMAC-SHA256 key for redact=hash (at least 16 characters)"
    )
    redact_hash_chars: int = Field(12, ge=8, le=64, description="Hex characters of the HMAC kept after 'h:'")
    redact_keep_types: bool = Field(True, description="Append the op type the name shows (h:…:Conv), from a fixed vocabulary")
    redact_ranges: bool = Field(True, description="Also drop INT8 dynamic ranges and quantization scales (counts stay)")

    @field_validator("redact_key")
    @classmethod
    def _key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("redact") == "hash" and len(value.get_secret_value() if value else "") < 16:
            raise ValueError("redact=hash needs a secret key of at least 16 characters")
        return value
