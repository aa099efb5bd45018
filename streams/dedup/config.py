from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    ttl_ms: int = Field(30_000, ge=0, le=24 * 3_600_000, description="event-time ms an event_id is remembered")
