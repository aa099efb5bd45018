"""Options of the Elasticsearch sink (``Settings.sink``, env ``TRTLENS_SINK__<KEY>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Family = Literal["traces", "metrics", "alerts", "builds", "layers", "findings"]
FAMILIES: tuple[Family, ...] = ("traces", "metrics", "alerts", "builds", "layers", "findings")


class SinkSettings(BaseModel):
    """How ``trtlens sink`` consumes, batches, retries and commits.

    The defaults suit the embedded store (chunks of 2,000 documents are where
    osmem's bulk throughput levels off) and real Elasticsearch alike.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    group_id: str = Field("trtlens-sink", min_length=1, description="Kafka consumer group of the sink")
    families: list[Family] = Field(
        default_factory=lambda: list(FAMILIES), min_length=1, description="Which output topics to index"
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest", description="Where a group without committed offsets starts"
    )
    chunk_docs: int = Field(2000, ge=1, le=100_000, description="Most documents in one bulk request")
    chunk_bytes: int = Field(5_000_000, ge=1024, le=100_000_000, description="Most NDJSON bytes in one bulk request")
    poll_timeout_ms: int = Field(500, ge=1, le=60_000, description="How long one fetch waits for records")
    max_poll_interval_ms: int = Field(
        300_000, ge=10_000, le=3_600_000, description="Kafka max.poll.interval.ms (kept alive while retrying)"
    )
    max_retries: int = Field(0, ge=0, description="Attempts per bulk before the sink exits uncommitted; 0 = forever")
    backoff_initial_ms: int = Field(200, ge=1, le=600_000)
    backoff_max_ms: int = Field(10_000, ge=1, le=3_600_000)
    backoff_multiplier: float = Field(2.0, ge=1.0, le=10.0)
    backoff_jitter: float = Field(0.5, ge=0.0, le=1.0, description="Fraction of each delay drawn at random")
    install_templates: bool = Field(True, description="Install index templates (and ILM where supported) at start-up")
    ilm_policy: str = Field("trtlens-retention", min_length=1, description="ILM policy name (real Elasticsearch only)")
    fetch_max_wait_ms: int = Field(
        100, ge=0, le=30_000,
        description="Longest a fetch waits for data (aiokafka default 500): each hop of end-to-end latency pays it",
    )
    startup_timeout_s: float = Field(
        60.0, ge=0, le=3600, description="At start-up, wait this long for the store to answer before giving up"
    )
    revoke_drain_timeout_s: float = Field(
        10.0, ge=0, le=600, description="On a rebalance, wait this long for the in-flight bulk before giving partitions up"
    )

    @model_validator(mode="after")
    def _backoff(self) -> SinkSettings:
        if self.backoff_max_ms < self.backoff_initial_ms:
            raise ValueError(
                f"backoff_max_ms ({self.backoff_max_ms}) must be >= backoff_initial_ms ({self.backoff_initial_ms})"
            )
        if len(set(self.families)) != len(self.families):
            raise ValueError(f"families {self.families} lists a family twice")
        return self
