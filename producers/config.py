"""Settings of the publisher every producer shares (root ``Settings.producer``).

Environment: ``TRTLENS_PRODUCER__<KEY>`` (e.g. ``TRTLENS_PRODUCER__LINGER_MS=20``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]


def default_spool_root() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local/state")
    return Path(base) / "trtlens" / "spool"


class PublisherConfig(BaseModel):
    """How events are batched, sent and, while the broker is unreachable, spooled."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    batch_max_events: int = Field(
        500, ge=1, le=100_000, description="events per record at most (1 = one event per record)"
    )
    batch_max_bytes: int = Field(
        900_000, ge=1024, le=64 * 1024 * 1024, description="a record larger than this is split in two"
    )
    linger_ms: int = Field(50, ge=0, le=60_000, description="oldest event in a partial batch waits at most this long")
    compression: Compression = "none"
    publish_budget_ms: int = Field(
        100, ge=1, le=60_000, description="longest a publish call may block (kafka-python max_block_ms)"
    )
    connect_timeout_ms: int = Field(5000, ge=100, le=300_000, description="start-up wait for the broker")
    unreachable_after_ms: int = Field(
        3000, ge=100, le=600_000, description="records unacknowledged this long switch publishing to the spool"
    )
    request_timeout_ms: int = Field(30_000, ge=1000, le=600_000)
    delivery_timeout_ms: int = Field(120_000, ge=1000, le=3_600_000, description="kafka-python retries a record this long")
    spool_dir: Path = Field(
        default_factory=default_spool_root,
        description="spool root; each publisher uses <spool_dir>/<bootstrap>/<spool_name>",
    )
    spool_name: str = Field("publisher", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    spool_max_bytes: int = Field(256 * 1024 * 1024, ge=64 * 1024, le=1024**4)
    spool_segment_bytes: int = Field(4 * 1024 * 1024, ge=4096, le=1024**3)
    close_timeout_s: float = Field(30.0, ge=0, le=3600, description="close() waits this long for the spool to drain")

    @model_validator(mode="after")
    def _consistent(self) -> PublisherConfig:
        if self.spool_segment_bytes > self.spool_max_bytes:
            raise ValueError(
                f"spool_segment_bytes={self.spool_segment_bytes} must not exceed spool_max_bytes={self.spool_max_bytes}"
            )
        if self.delivery_timeout_ms < self.request_timeout_ms:
            raise ValueError(
                f"delivery_timeout_ms={self.delivery_timeout_ms} must be >= request_timeout_ms={self.request_timeout_ms}"
            )
        return self


ProducerSettings = PublisherConfig
