from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TracesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    join_timeout_ms: int = Field(10_000, ge=1, le=3_600_000, description="event-time ms after a request's first event before it is emitted incomplete")
    retention_ms: int = Field(20_000, ge=0, le=3_600_000, description="event-time ms an emitted trace is kept for late updates")
    expected_stages: list[str] = Field(
        default_factory=lambda: ["request_received", "inference_complete", "request_complete"],
        description="event types a complete ok trace has; missing ones are named",
    )
    sample_rate: float = Field(0.1, ge=0.0, le=1.0, description="probability to keep an ordinary trace")
    slow_ms: float | None = Field(1_000.0, ge=0, description="traces at least this slow are always kept (None: off)")
    slow_above_p99: bool = Field(True, description="also keep traces slower than the current window P99 of their model version")
    p99_min_count: int = Field(100, ge=1, description="window requests needed before the P99 rule applies")
