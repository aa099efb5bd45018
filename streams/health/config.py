"""Options of the pipeline-health rules (``Settings.streams.health``; env ``TRTLENS_STREAMS__HEALTH__*``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HealthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="evaluate the pipeline-health rules and send their alerts")
    interval_s: float = Field(10.0, ge=0.2, le=3600, description="evaluation period (wall clock); one window of the rules")
    lag_growing_windows: int = Field(
        6, ge=0, le=1000, description="fire when a partition's consumer lag grew in this many consecutive windows (0 = off)")
    lag_min_records: int = Field(1000, ge=0, description="... and is at least this many records")
    dlq_rate_above: float = Field(
        0.01, ge=0, le=1, description="fire when dead letters / (events + dead letters) of a window exceed this (0 = off)")
    dlq_min_events: int = Field(100, ge=1, description="windows with fewer events + dead letters neither breach nor clear")
    dlq_fire_after: int = Field(2, ge=1, le=1000, description="consecutive breaching windows before the DLQ rule fires")
    sink_stalled_s: float = Field(
        120.0, ge=0, le=86_400,
        description="fire when the sink group has records waiting on an output topic and its committed offsets "
        "did not move for this long (0 = off)")
    too_late_partials: bool = Field(
        True, description="fire when the merge stage refused partials of windows already final and forgotten in a "
        "window (a source partition idle or behind past late_retention_ms: those windows miss its counts)")
    resolve_after: int = Field(3, ge=1, le=1000, description="consecutive clean windows before a rule resolves")
