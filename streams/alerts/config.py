"""Alert rules: a discriminated union on ``kind`` with scope, threshold and hysteresis."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    scope: Literal["model_version", "worker", "all"] = "model_version"
    model: str | None = Field(None, description="only this model (None: every)")
    model_version: str | None = Field(None, description="only this version (None: every)")
    worker_id: str | None = Field(None, description="only this worker (None: every)")
    fire_after: int = Field(3, ge=1, le=1000, description="consecutive breaching windows before firing")
    resolve_after: int = Field(3, ge=1, le=1000, description="consecutive clean windows before resolving")
    min_requests: int = Field(1, ge=0, description="windows with fewer requests seen (sampled_requests) neither breach nor clear (rate rules)")


class P99AboveRule(_Rule):
    kind: Literal["p99_above"] = "p99_above"
    threshold_ms: float = Field(gt=0)


class ErrorRateAboveRule(_Rule):
    kind: Literal["error_rate_above"] = "error_rate_above"
    threshold: float = Field(gt=0, le=1)


class ColdStartRateAboveRule(_Rule):
    kind: Literal["cold_start_rate_above"] = "cold_start_rate_above"
    threshold: float = Field(gt=0, le=1)


class GpuMemoryAboveRule(_Rule):
    kind: Literal["gpu_memory_above"] = "gpu_memory_above"
    scope: Literal["model_version", "worker", "all"] = "worker"
    threshold_bytes: int = Field(gt=0)
    min_requests: int = 0


class QpsBelowRule(_Rule):
    kind: Literal["qps_below"] = "qps_below"
    threshold: float = Field(gt=0)
    min_requests: int = 0


class GpuMemoryTrendRule(_Rule):
    """Per GPU of a worker: fires when a line fitted over recent windows of used memory reaches ``share`` of
    the GPU's total within ``horizon_s`` (``streams/alerts/trend.py``)."""

    kind: Literal["gpu_memory_trend"] = "gpu_memory_trend"
    scope: Literal["worker"] = "worker"
    share: float = Field(0.9, gt=0, le=1, description="projected share of total memory that breaches")
    clear_share: float | None = Field(None, gt=0, le=1, description="below this it is clean (default share - 0.05)")
    horizon_s: float = Field(600.0, gt=0, le=7 * 86_400, description="how far ahead the fit is projected")
    fit_windows: int = Field(12, ge=2, le=1000, description="recent windows the line is fitted over")
    min_windows: int = Field(4, ge=2, le=1000, description="windows needed before a verdict")
    min_requests: int = 0

    @model_validator(mode="after")
    def _bands(self) -> "GpuMemoryTrendRule":
        if self.clear_share is not None and self.clear_share > self.share:
            raise ValueError(f"clear_share ({self.clear_share}) must be at most share ({self.share})")
        if self.min_windows > self.fit_windows:
            raise ValueError(f"min_windows ({self.min_windows}) must be at most fit_windows ({self.fit_windows})")
        return self


AlertRule = Annotated[
    Union[P99AboveRule, ErrorRateAboveRule, ColdStartRateAboveRule, GpuMemoryAboveRule, QpsBelowRule,
          GpuMemoryTrendRule],
    Field(discriminator="kind"),
]


def _default_rules() -> list:
    return [
        P99AboveRule(id="p99_above_1s", threshold_ms=1000.0),
        ErrorRateAboveRule(id="error_rate_above_5pct", threshold=0.05, min_requests=20),
        ColdStartRateAboveRule(id="cold_start_rate_above_20pct", threshold=0.2, min_requests=20),
        GpuMemoryTrendRule(id="gpu_memory_trend_90pct_10min", share=0.9, horizon_s=600.0),
    ]


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[AlertRule] = Field(default_factory=_default_rules)
    traces_url_template: str | None = Field(
        None, description="link an alert carries to open its exemplar traces, e.g. a Kibana Discover URL; "
        "{query} (URL-encoded query string), {window_start_ms}, {window_end_ms}")

    @field_validator("traces_url_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        try:
            value.format(query="q", window_start_ms=0, window_end_ms=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"may only use {{query}}, {{window_start_ms}}, {{window_end_ms}} in braces ({exc!r})") from None
        return value
