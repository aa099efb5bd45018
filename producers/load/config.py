"""Configuration of the load generator: traffic shape, models and versions, injected faults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RebuildSpec(_Strict):
    """The version's engine is rebuilt during the run, with fewer fusions, and the rebuilt engine computes slower.

    The generator publishes a build report (``engine_build``) for both builds of the version, and from
    ``at_fraction`` of the run on every request of the version is served by the rebuilt engine (another plan, so another
    ``engine_id``: ``synthetic_engine_id(model, version, build)``).
    """

    at_fraction: float = Field(0.5, ge=0, le=1, description="share of the run's duration after which traffic moves to the rebuilt engine")
    compute_factor: float = Field(1.0, gt=0, le=1000, description="inference on the rebuilt engine takes this many times longer")
    layers: int = Field(120, ge=2, le=100_000, description="layers of the network before fusion (both builds)")
    fusion_rate_before: float = Field(0.4, ge=0, le=0.5, description="share of layers the first build fused away (pairs fused: at most 0.5)")
    fusion_rate_after: float = Field(0.2, ge=0, le=0.5, description="share of layers the rebuild fused away")
    build_before: str = Field("b1", pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="name of the first build (in its engine id)")
    build_after: str = Field("b2", pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="name of the rebuild (in its engine id)")

    @model_validator(mode="after")
    def _distinct(self) -> RebuildSpec:
        if self.build_before == self.build_after:
            raise ValueError("build_before and build_after must differ: they name two engines")
        return self


class VersionSpec(_Strict):
    """One model version: its share of traffic and how it behaves."""

    name: str = Field(min_length=1, max_length=128)
    weight: float = Field(1.0, gt=0, description="share of requests, relative to the other versions")
    latency_median_ms: float = Field(10.0, gt=0, description="lognormal median of inference latency")
    latency_sigma: float = Field(0.4, ge=0, le=3, description="lognormal sigma (shape)")
    error_rate: float = Field(0.005, ge=0, le=1)
    cold_start_prob: float = Field(0.002, ge=0, le=1, description="probability a request pays for an engine load")
    engine_load_median_ms: float = Field(1500.0, gt=0, description="lognormal median of an engine load")
    queue_median_ms: float = Field(0.0, ge=0, description="lognormal median of the wait before inference (0: none)")
    queue_sigma: float = Field(0.5, ge=0, le=3, description="lognormal sigma of the queue wait")
    precision: str = Field("fp16", min_length=1, max_length=16, description="precision the synthetic engine reports")
    rebuild: RebuildSpec | None = Field(None, description="the engine is rebuilt during the run (build reports published)")


class ModelSpec(_Strict):
    name: str = Field(min_length=1, max_length=128)
    versions: list[VersionSpec] = Field(min_length=1)


def default_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="resnet50",
            versions=[
                VersionSpec(name="v1", weight=0.4, latency_median_ms=8.0, latency_sigma=0.35, error_rate=0.005,
                            cold_start_prob=0.002, engine_load_median_ms=1500.0),
                VersionSpec(name="v2", weight=0.2, latency_median_ms=6.0, latency_sigma=0.5, error_rate=0.01,
                            cold_start_prob=0.004, engine_load_median_ms=1800.0),
            ],
        ),
        ModelSpec(
            name="bert-base",
            versions=[
                VersionSpec(name="v1", weight=0.4, latency_median_ms=15.0, latency_sigma=0.3, error_rate=0.002,
                            cold_start_prob=0.001, engine_load_median_ms=2500.0),
            ],
        ),
    ]


class FaultSpec(_Strict):
    """Deliberate faults, as rates per request."""

    duplicate_rate: float = Field(0.0, ge=0, le=1, description="one event of the request is sent twice (same event_id)")
    out_of_order_rate: float = Field(0.0, ge=0, le=1, description="one event is held back, within the grace period")
    late_rate: float = Field(0.0, ge=0, le=1, description="request_complete sent after window end + grace + late_by_ms")
    incomplete_rate: float = Field(0.0, ge=0, le=1, description="request_complete never sent")
    grace_ms: int = Field(5000, ge=0, le=3_600_000, description="the consumer's allowed lateness the faults refer to")
    late_by_ms: int = Field(1000, ge=1, le=3_600_000, description="how far past window end + grace a late event goes")


class LoadConfig(_Strict):
    """One load run. Deterministic: the same config (seed and start_ms included) gives the same events."""

    seed: int = 0
    rate_rps: float = Field(1000.0, gt=0, le=10_000_000, description="requests per second of event time")
    duration_s: float = Field(10.0, gt=0, le=86_400 * 7)
    start_ms: int | None = Field(None, ge=0, description="event time of the first request; None = now")
    window_ms: int = Field(10_000, ge=1, le=86_400_000, description="window size of the ground truth")
    models: list[ModelSpec] = Field(default_factory=default_models, min_length=1)
    workers: int = Field(4, ge=1, le=10_000)
    batch_size: int = Field(1, ge=1, le=4096, description="batch_size written on request events")
    overhead_ms: float = Field(0.3, ge=0, description="request time outside inference (pre/post-processing)")
    gpu_sample_interval_ms: int = Field(1000, ge=0, description="gpu_sample per worker; 0 = none")
    gpu_memory_total_bytes: int = Field(16 * 1024**3, ge=1)
    gpu_memory_growth_bytes_per_s: float = Field(0.0, ge=0, description="a slow leak, for memory-trend alert demos")
    faults: FaultSpec = Field(default_factory=FaultSpec)
    ground_truth_latencies: bool = Field(False, description="also write each window's sorted latencies")
    run_tag: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="id prefix; default from seed+start")

    @model_validator(mode="after")
    def _unique_names(self) -> LoadConfig:
        seen = set()
        for m in self.models:
            for v in m.versions:
                if (m.name, v.name) in seen:
                    raise ValueError(f"models: version {m.name}/{v.name} is listed twice")
                seen.add((m.name, v.name))
        return self
