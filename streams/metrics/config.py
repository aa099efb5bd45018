from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MetricsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_ms: int = Field(10_000, ge=100, le=86_400_000, description="tumbling window size (event time)")
    grace_ms: int = Field(5_000, ge=0, le=3_600_000, description="event-time wait after a window's end before it closes")
    late_retention_ms: int = Field(
        20_000, ge=0, le=3_600_000,
        description="closed windows kept this long (event time) to count late events and re-emit them",
    )
    relative_accuracy: float = Field(0.01, gt=0, lt=0.5, description="DDSketch relative accuracy")
    emit_running: bool = Field(False, description="also emit non-final running updates of open windows")
    include_sketch: bool = Field(True, description="store the serialised latency sketch with each window")
    attribution: bool = Field(True, description="tail attribution + exemplars per model-version window (attribution.py)")
    exemplars: int = Field(5, ge=0, le=100, description="request_ids of the N slowest requests per window (always stored as traces)")

    @model_validator(mode="after")
    def _grace(self) -> "MetricsConfig":
        if self.grace_ms > 100 * self.window_ms:
            raise ValueError("grace_ms must be at most 100 x window_ms")
        return self
