from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trtlens.schemas.events import EVENT_TYPES, types_where
from trtlens.schemas.roles import Expected


def expected_by_spec() -> list[str]:
    """The event types whose spec says a trace expects them (registry order)."""
    return list(types_where(lambda s: s.trace is not None and s.trace.expected is not Expected.NO))


class TracesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    join_timeout_ms: int = Field(10_000, ge=1, le=3_600_000, description="event-time ms after a request's first event before it is emitted incomplete")
    retention_ms: int = Field(20_000, ge=0, le=3_600_000, description="event-time ms an emitted trace is kept for late updates")
    expected_stages: list[str] = Field(
        default_factory=expected_by_spec,
        description="event types a complete ok trace has; missing ones are named (default: the event specs')",
    )
    sample_rate: float = Field(0.1, ge=0.0, le=1.0, description="probability to keep an ordinary trace")
    slow_ms: float | None = Field(1_000.0, ge=0, description="traces at least this slow are always kept (None: off)")
    slow_above_p99: bool = Field(True, description="also keep traces slower than the current window P99 of their model version")
    p99_min_count: int = Field(100, ge=1, description="window requests needed before the P99 rule applies")

    @field_validator("expected_stages")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))} is not an event type; known: {', '.join(EVENT_TYPES)}")
        return value
