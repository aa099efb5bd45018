"""Settings of the Faust app (``Settings.streams``; env ``TRTLENS_STREAMS__*``).

One nested model per stage, each rejecting unknown keys. The app-level options
here decide how the worker talks to Kafka; see README.md for why the defaults
are what they are on the embedded broker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trtlens.listen import BindRefusedError, check_bind

from trtlens.streams.alerts.config import AlertsConfig
from trtlens.streams.dedup.config import DedupConfig
from trtlens.streams.drop.config import DropConfig
from trtlens.streams.layers.config import LayersConfig
from trtlens.streams.health.config import HealthConfig
from trtlens.streams.metrics.config import MetricsConfig
from trtlens.streams.traces.config import TracesConfig


class StreamsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    app_id: str = Field("trtlens-streams", min_length=1, description="Faust app id = consumer group = changelog topic prefix")
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once",
        description="exactly_once needs Kafka transactions (aiokafka InitProducerId v0): the embedded Tansu broker rejects them",
    )
    batch_max_records: int = Field(
        5_000, ge=1, le=100_000,
        description="most records of the events topic in one processing group (a group is what the consumer fetched)",
    )
    batch_max_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024,
        description="most bytes of record values in one processing group (bounds the memory a group holds)",
    )
    advance_step_ms: int = Field(
        100, ge=0, le=60_000,
        description="event-time step at which windows close, traces time out and dedup forgets (0 = after every "
        "record); records between steps go through the stages in one call (README: event time)",
    )
    fetch_max_wait_ms: int = Field(
        100, ge=1, le=10_000,
        description="longest the broker may hold one fetch of the worker's consumer (Faust's fixed value: 1500)",
    )
    fetch_max_records: int = Field(
        5_000, ge=1, le=100_000,
        description="most records one poll of the consumer turns into objects (aiokafka max_poll_records); the rest "
        "of a fetch stays raw bytes until the next poll (README: memory)",
    )
    fetch_partition_max_bytes: int = Field(
        512 * 1024, ge=64 * 1024, le=64 * 1024 * 1024,
        description="most bytes one fetch asks of a partition (Faust consumer_max_fetch_size); raw fetched data "
        "waiting to be polled is at most this per assigned partition; a larger record still comes whole, alone "
        "(Kafka's fetch returns the first batch whatever its size)",
    )
    pending_groups: int = Field(
        4, ge=1, le=64,
        description="fetched groups of records that may wait for the agent (the fetch loop waits when they are "
        "full); each holds at most batch_max_records / batch_max_bytes",
    )
    batch_within_ms: int = Field(100, ge=1, le=60_000, description="max wait to fill a group of the merge stage")
    segment_max_bytes: int = Field(512 * 1024, ge=4096, le=8 * 1024 * 1024, description="max bytes of one state-log changelog record")
    idle_timeout_ms: int = Field(
        5_000, ge=100, le=3_600_000,
        description="wall-clock ms without records after which a partition is announced idle (README: idle rule)",
    )
    producer_max_batch_size: int = Field(
        1, ge=1, description="Faust producer batch bytes; 1 = one record per batch (exact changelog recovery on Tansu)"
    )
    commit_interval_s: float = Field(1.0, gt=0, le=60)
    standby_replicas: int = Field(0, ge=0, le=8)
    web_enabled: bool = False
    web_port: int = Field(6066, ge=1, le=65535)
    web_bind: str = Field(
        "127.0.0.1", min_length=1,
        description="address of Faust's web server; it has no authentication, so only a loopback address is accepted",
    )
    output_linger_ms: int = Field(5, ge=0, le=1000, description="linger of the output producer (traces, metrics, alerts, builds, DLQ)")
    gc_gen0_threshold: int = Field(
        50_000, ge=0, description="Python gen-0 GC threshold in the worker (default 700 costs ~30% CPU here; 0 = leave as is)"
    )
    malloc_mmap_threshold_bytes: int = Field(
        0, ge=0, le=32 * 1024 * 1024,
        description="glibc: blocks of at least this many bytes get a mapping of their own, given back when freed "
        "(0 = glibc's own threshold, which rises with the blocks freed; 65536 lowered the bench worker's peak RSS "
        "by ~17 MB and cost ~18% more CPU per event: streams/malloc.py); ignored without glibc",
    )
    malloc_arena_max: int = Field(
        1, ge=0, le=64,
        description="glibc: most heaps (arenas) for the worker's threads; 1 = the consumer's thread allocates from "
        "the main heap too, so the fetched data it frees there serves the agent (0 = glibc's own: up to 8 per "
        "core): streams/malloc.py; ignored without glibc",
    )
    malloc_trim_interval_ms: int = Field(
        250, ge=0, le=60_000,
        description="glibc: after a processing group, at most this often, give the free pages inside the heap back "
        "to the OS (malloc_trim; 0 = never): streams/malloc.py; ignored without glibc",
    )
    log_every_s: float = Field(10.0, gt=0, description="one summary log line per partition at most this often")
    data_dir: Path | None = Field(
        None, description="Faust's data directory (default: <stack.state_dir>/streams, never the working directory)"
    )
    reread_retry_s: float = Field(
        2.0, gt=0, le=60, description="a re-read after an offset gap that brought nothing this long is asked again"
    )

    dedup: DedupConfig = Field(default_factory=DedupConfig)
    drop: DropConfig = Field(default_factory=DropConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    traces: TracesConfig = Field(default_factory=TracesConfig)
    layers: LayersConfig = Field(default_factory=LayersConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)  # pipeline-health rules (streams/health)

    def state_horizon_ms(self) -> int:
        """How much event time the state log must cover (README: state)."""
        m = self.metrics
        return max(
            self.dedup.ttl_ms,
            m.window_ms + m.grace_ms + m.late_retention_ms,
            self.traces.join_timeout_ms + self.traces.retention_ms,
        )

    @field_validator("web_bind")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        try:
            check_bind(value, authenticated=False, section="streams", host_key="web_bind", token_key=None)
        except BindRefusedError as exc:
            raise ValueError(str(exc)) from None
        return value
