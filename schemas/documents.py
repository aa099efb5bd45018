"""Output documents: what the Faust app publishes and the sinks index.

Each document has a deterministic ``doc_id`` (the Kafka key of its record and
the Elasticsearch ``_id``), so a retry or a replay overwrites the same document
instead of adding a second one:

==============  ==========================================================
document        doc_id
==============  ==========================================================
Trace           ``request_id``
WindowMetric    ``{scope}:{scope_key}:{window_start_ms}:{window_ms}``
Alert           ``{rule_id}:{scope_key}:{window_start_ms}:{state}``
                (per-GPU rules: ``{rule_id}:{scope_key}/gpu{i}:...``)
BuildReport     ``{engine_id}:{built_at_ms}`` (one per build: a rebuild of the same engine adds one)
LayerWindow     ``{engine_id}:{window_start_ms}:{window_ms}:{sha256(layer)[:16]}``
EngineFinding   ``{engine_id}:{ref_ms}:{kind}:{sha256(layer, worker_id[, value])[:16]}``
==============  ==========================================================
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

import datetime as _dt

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from trtlens.schemas.events import EVENT_TYPES, EngineBuild, Status

def iso_utc(ts_ms: int) -> str:
    """Epoch milliseconds → ``2026-12-02T00:00:10.000Z``."""
    return _dt.datetime.fromtimestamp(ts_ms / 1000, tz=_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


MetricScope = Literal["model_version", "worker", "all"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @property
    def doc_id(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @property
    def ts_ms(self) -> int:  # pragma: no cover - every subclass overrides
        """Event time that names the daily index the document lands in."""
        raise NotImplementedError


class _Stamped(_Doc):
    """A document that also carries ``@timestamp`` (ISO 8601 UTC of its ``ts_ms``), for Kibana and dashboards.

    Derived on output; ignored when a document is read back (``extra="ignore"`` for that one key's sake).
    """

    model_config = ConfigDict(extra="ignore", serialize_by_alias=True)

    @computed_field(alias="@timestamp")  # type: ignore[prop-decorator]
    @property
    def timestamp(self) -> str:
        return iso_utc(self.ts_ms)


class StageBreakdown(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue_ms: float | None = None
    engine_load_ms: float | None = None
    h2d_ms: float | None = None
    compute_ms: float | None = None
    d2h_ms: float | None = None
    inference_ms: float | None = None
    total_ms: float | None = None


STAGE_FIELDS: tuple[str, ...] = tuple(StageBreakdown.model_fields)
"""The trace breakdown, in document order: what the trace join fills, the index template maps and the
event specs' ``stage_fields`` may name (checked below, at import)."""


def _check_stage_fields() -> None:
    for name, model in EVENT_TYPES.items():
        trace = model.spec.trace
        for dst, _src in trace.stage_fields if trace is not None else ():
            if dst not in STAGE_FIELDS:
                raise TypeError(f"event type {name!r}: its spec's stage field {dst!r} is not a field of "
                                f"StageBreakdown (schemas/documents.py): add it there or fix the name")


_check_stage_fields()


class TraceError(BaseModel):
    model_config = ConfigDict(extra="forbid")
    error_type: str
    message: str = ""
    stage: str = "other"


class Trace(_Doc):
    """One request end to end, joined from its events by request_id."""

    request_id: str
    model: str | None = None
    model_version: str | None = None
    worker_id: str | None = None
    host: str | None = None
    backend: str | None = None
    start_ts_ms: int
    end_ts_ms: int
    status: Literal["ok", "error", "incomplete"]
    complete: bool
    missing_stages: list[str] = Field(default_factory=list)
    cold_start: bool = False
    batch_size: int | None = None
    precision: str | None = None
    engine_id: str | None = Field(None, description="Engine that served the request (build reports share the id)")
    stages: StageBreakdown = Field(default_factory=StageBreakdown)
    error: TraceError | None = None
    event_ids: list[str] = Field(default_factory=list)
    event_count: int = 0
    sample_weight: Annotated[float, Field(ge=1)] = 1.0
    sample_reason: str = Field("rate", description="error | cold_start | incomplete | slow | exemplar | rate | update")

    @property
    def doc_id(self) -> str:
        return self.request_id

    @property
    def ts_ms(self) -> int:
        return self.start_ts_ms


class Quantiles(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = 0
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None


class TailAttribution(BaseModel):
    """Why a window's tail was slow (``streams/metrics/attribution.py``); shares are 0..1."""

    model_config = ConfigDict(extra="forbid")
    threshold_ms: float = Field(description="The window's quantile (P99 / P95) the tail is at or above")
    count: int = Field(description="Requests described (whole latency buckets at or above the threshold)")
    cold_start_share: float
    dominant_stage_share: dict[str, float] = Field(description="stage → share of tail requests it dominated")
    stage_mean_ms_tail: dict[str, float] = Field(description="stage → mean ms in the tail")
    stage_mean_ms_body: dict[str, float] = Field(description="stage → mean ms below the tail ({} if none)")
    delta_prev: dict | None = Field(None, description="Change against the previous window (current − previous)")


class GpuMemory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gpu_index: int
    memory_used_max_bytes: int
    memory_total_bytes: int


LATENCY_BUCKET_BOUNDS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
"""Upper bounds (inclusive) of the fixed latency buckets every window stores, for heatmaps."""


def latency_bucket_field(bound_ms: float | None) -> str:
    """``le_<bound>`` (``le_inf`` past the last bound): a field of ``WindowMetric.latency_buckets``."""
    return "le_inf" if bound_ms is None else f"le_{bound_ms:g}".replace(".", "_")


LATENCY_BUCKET_FIELDS: tuple[str, ...] = (*map(latency_bucket_field, LATENCY_BUCKET_BOUNDS_MS), "le_inf")
"""Bucket field names in bound order. A window counts each request once, in the first bucket whose
bound is >= its latency (not cumulative). Stored as one numeric field per bucket: searchable and
summable on every store (the embedded one has no ``histogram`` field type), one document per window."""


class WindowMetric(_Doc):
    """One closed (or running) event-time window for one scope, all partitions merged."""

    scope: MetricScope
    scope_key: str = Field(description="model/version, worker_id, or '*' for the rollup")
    model: str | None = None
    model_version: str | None = None
    worker_id: str | None = None
    window_start_ms: int
    window_ms: int
    final: bool = True
    requests: int = Field(0, description="Requests in the window: each event counted sample_weight times (an "
                                         "estimate, rounded, when its source sampled by rate; exact otherwise)")
    sampled_requests: int = Field(0, description="Requests actually seen; below requests when the source sampled "
                                                 "(equal to it otherwise; read back as requests where absent)")
    qps: float = 0.0
    errors: int = Field(0, description="Failed requests (weighted like requests)")
    error_rate: float = 0.0
    cold_starts: int = Field(0, description="Cold-start requests (weighted like requests)")
    cold_start_rate: float = 0.0
    latency_ms: Quantiles = Field(default_factory=Quantiles)
    first_inference_ms: Quantiles = Field(default_factory=Quantiles)
    engine_load_ms: Quantiles = Field(default_factory=Quantiles)
    gpu_memory_max_bytes: int | None = None
    gpu_utilization_max_pct: float | None = None
    late_events: int = 0
    partitions: list[int] = Field(default_factory=list, description="Partitions merged into this window")
    engines: list[str] = Field(default_factory=list, description="Engine ids serving the window")
    attribution: dict[str, TailAttribution] | None = Field(
        None, description='{"p99": ..., "p95": ...}: the tail at or above each quantile (model_version scope)')
    exemplars: list[str] = Field(default_factory=list, description="request_ids of the N slowest (stored traces)")
    gpus: list[GpuMemory] = Field(default_factory=list, description="Per GPU memory (worker scope)")
    sketch: dict | None = Field(None, description="Serialised latency DDSketch, for merging longer windows")
    latency_buckets: dict[str, int] = Field(
        default_factory=dict, description="Requests per fixed latency bucket (LATENCY_BUCKET_FIELDS), for heatmaps"
    )

    @model_validator(mode="before")
    @classmethod
    def _sampled_defaults_to_requests(cls, data: Any) -> Any:
        """A window stored before ``sampled_requests`` existed saw every request it counts."""
        if isinstance(data, dict) and "sampled_requests" not in data and "requests" in data:
            return {**data, "sampled_requests": data["requests"]}
        return data

    @field_validator("latency_buckets")
    @classmethod
    def _known_buckets(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(LATENCY_BUCKET_FIELDS))
        if unknown:
            raise ValueError(f"unknown latency bucket(s) {unknown}; the buckets are {list(LATENCY_BUCKET_FIELDS)}")
        return value

    @property
    def doc_id(self) -> str:
        return f"{self.scope}:{self.scope_key}:{self.window_start_ms}:{self.window_ms}"

    @property
    def ts_ms(self) -> int:
        return self.window_start_ms


class Alert(_Doc):
    """A state change of an alert rule: it fired, or it resolved."""

    rule_id: str
    rule_kind: str
    scope: MetricScope
    scope_key: str
    state: Literal["firing", "resolved"]
    window_start_ms: int
    window_ms: int
    value: float | None
    threshold: float
    message: str
    breaching_windows: int = 0
    # why (issue 11): the window's tail at firing time, in a sentence, with its exemplars and how to open them
    model: str | None = None
    model_version: str | None = None
    explanation: str | None = Field(None, description="One sentence: the ranked causes of the tail")
    attribution: TailAttribution | None = Field(None, description="The window's P99 tail attribution at firing time")
    exemplars: list[str] = Field(default_factory=list, description="request_ids of the window's slowest requests")
    exemplar_query: str | None = Field(None, description="Query string over trtlens-traces that finds the exemplars")
    url: str | None = Field(None, description="Link that opens the exemplars (streams.alerts.traces_url_template)")
    engines: list[str] = Field(default_factory=list, description="Engine ids serving the window")
    gpu_index: int | None = Field(None, description="The GPU a per-GPU rule (gpu_memory_trend) is about")
    projected_bytes: int | None = Field(None, description="gpu_memory_trend: used memory projected at the horizon")

    @property
    def doc_id(self) -> str:
        if self.gpu_index is not None:
            return f"{self.rule_id}:{self.scope_key}/gpu{self.gpu_index}:{self.window_start_ms}:{self.state}"
        return f"{self.rule_id}:{self.scope_key}:{self.window_start_ms}:{self.state}"

    @property
    def ts_ms(self) -> int:
        return self.window_start_ms


class RuleViolation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: str
    message: str
    value: float | str | None = None
    limit: float | str | None = None


# --- grey-box findings (issue 15): additive, read by trtlens check and the streams build stage ---------
class Finding(BaseModel):
    """Something the grey-box checks noticed about one build (and its runtime profile).

    ``kind``: ``split_fusion`` (fused at build time, separate entries at run time),
    ``runtime_share`` (runtime share far above what the build suggests),
    ``slower_than_baseline``, ``unfused_pattern``, ``unfused_hint``, ``calibration_outlier``,
    ``version_mismatch``. Names follow the build's redaction setting.
    """

    model_config = ConfigDict(extra="forbid")
    kind: str
    message: str
    layer: str | None = Field(None, description="The engine / runtime layer or tensor it is about")
    layers: list[str] = Field(default_factory=list, description="Other layers involved (runtime entries, chain members)")
    reason: str | None = Field(None, description="unfused_hint: dynamic_shape | padding | unsupported_op | missing_plugin | precision | unknown")
    value: float | None = None
    expected: float | None = None


# --------------------------------------------------------------------------------------------------------


class BuildReport(_Stamped):
    """An engine build report with the result of the grey-box rules: one document per build."""

    engine_id: str
    built_at_ms: int = Field(description="Event time of the build report")
    model: str | None = Field(None, description="The build's model (from the engine_build event)")
    model_version: str | None = None
    fallback_count: int = Field(0, description="Plugin + DLA fallbacks of the build (the lists are in report)")
    peak_memory_bytes: int | None = Field(None, description="report.memory.peak_gpu_bytes (else engine size) for trends")
    versions: dict[str, str] = Field(default_factory=dict, description="tensorrt / cuda / cudnn the build log names")
    diff_prev: dict[str, Any] | None = Field(
        None, description="trtlens.greybox diff against the previous build of the same model (BuildDiff JSON + prev_*); "
                          "None for a model's first build or a build without model"
    )
    report: EngineBuild
    fusion_rate: float | None = None
    int8_coverage: float | None = None
    passed: bool = True
    violations: list[RuleViolation] = Field(default_factory=list)
    status: Status | Literal["failed", "unknown"] = "ok"
    findings: list[Finding] = Field(default_factory=list, description="Grey-box findings (issue 15), pass or fail")

    @property
    def doc_id(self) -> str:
        return f"{self.engine_id}:{self.built_at_ms}"

    @property
    def ts_ms(self) -> int:
        return self.built_at_ms


def _short_hash(*parts: str | None) -> str:
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()[:16]


class LayerWindow(_Stamped):
    """Runtime time of one engine layer over one event-time window (from ``layer_profile`` events).

    ``share`` = the layer's summed time / the summed time of every layer of the
    engine in the window: its share of the profiled requests' GPU time (0..1).
    """

    window_start_ms: int
    window_end_ms: int
    window_ms: int
    model: str | None = None
    model_version: str | None = None
    engine_id: str
    layer: str
    layer_type: str | None = None
    count: int
    mean_ms: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    total_ms: float = 0.0
    share: float | None = Field(None, ge=0, le=1)
    final: bool = True

    @property
    def doc_id(self) -> str:
        return f"{self.engine_id}:{self.window_start_ms}:{self.window_ms}:{_short_hash(self.layer)}"

    @property
    def ts_ms(self) -> int:
        return self.window_start_ms


class EngineFinding(_Stamped):
    """A build ↔ runtime finding about one engine, raised by the streams app (also sent as an alert).

    ``kind`` as in :class:`Finding` (``split_fusion``, ``runtime_share``, ``slower_than_baseline``,
    ``version_mismatch``). ``ref_ms``: the build's ``built_at_ms`` the finding is about, so the same
    finding for the same build always has the same id; ``window_start_ms`` the runtime window (or
    engine load) that showed it.
    """

    engine_id: str
    kind: str
    message: str
    ref_ms: int
    window_start_ms: int
    model: str | None = None
    model_version: str | None = None
    worker_id: str | None = None
    layer: str | None = None
    layers: list[str] = Field(default_factory=list)
    value: float | str | None = None
    expected: float | str | None = None
    build_versions: dict[str, str] = Field(default_factory=dict)
    runtime_versions: dict[str, str] = Field(default_factory=dict)

    @property
    def doc_id(self) -> str:
        # a version mismatch names no layer: the runtime version tells its parts apart (TensorRT, CUDA)
        extra = str(self.value) if self.kind == "version_mismatch" else None
        return f"{self.engine_id}:{self.ref_ms}:{self.kind}:{_short_hash(self.layer, self.worker_id, extra)}"

    @property
    def ts_ms(self) -> int:
        return self.window_start_ms


DOCUMENT_TYPES: dict[str, type[_Doc]] = {
    "trace": Trace,
    "metric": WindowMetric,
    "alert": Alert,
    "build": BuildReport,
    "layer": LayerWindow,
    "finding": EngineFinding,
}
