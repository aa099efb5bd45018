"""The event contract: one JSON object per step of an inference request.

Every event shares the envelope (:class:`EventBase`); ``event`` names its type
and selects the model. Request-scoped events carry ``request_id`` and are keyed
(and partitioned) by it, so all events of one request share a partition.
Worker-scoped events (engine loads, GPU samples) are keyed by ``worker_id``
(``request_id`` when a request triggered them); build reports by ``engine_id``.

Each model declares its :class:`~trtlens.schemas.roles.EventSpec` next to its
fields: the routing key and its roles (window measure, trace role, build
report). :data:`EVENT_TYPES`, built from the :data:`Event` union, is the one
registry every consumer reads; see ``schemas/README.md`` for how to add a type.

Compatibility rules, for consumers in any language:

* Fields may be **added** within a schema version; decoders ignore fields they
  do not know (``extra="ignore"``), so an older consumer keeps working.
* A **new event type** is unknown to older consumers: trtlens routes it to the
  dead-letter topic with reason ``unknown_event_type`` (visible, replayable once
  the consumer is upgraded) instead of guessing at its meaning.
* Removing or retyping a field is a breaking change: it bumps
  ``schema_version`` and ships on new topic names.

Units are in field names: ``*_ms`` milliseconds, ``*_bytes`` bytes, ``*_pct``
percent (0-100), ``ts_ms`` epoch milliseconds of **event time**.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from trtlens.schemas.roles import (
    EventSpec,
    Expected,
    Routing,
    TraceRole,
    TraceSpec,
    WindowMeasure,
    build_registry,
)

SCHEMA_VERSION = 1

Backend = Literal["tensorrt", "onnxruntime", "synthetic"]
Level = Literal["debug", "info", "warning", "error"]
Status = Literal["ok", "error"]
Stage = Literal["queue", "engine_load", "preprocess", "h2d", "compute", "d2h", "postprocess", "publish", "other"]

NonEmpty = Annotated[str, Field(min_length=1, max_length=512)]
Millis = Annotated[float, Field(ge=0)]
EpochMs = Annotated[int, Field(ge=0, le=32_503_680_000_000)]  # up to year 3000


def _is_one(value: float) -> bool:
    """``sample_weight`` left out of the JSON at its default: an unweighted event's bytes stay as they were."""
    return value == 1


class EventBase(BaseModel):
    """Envelope shared by every event."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    spec: ClassVar[EventSpec]
    """Routing and roles of the type; every concrete event model declares its own."""

    event_id: NonEmpty = Field(description="Unique per event; producers assign it. Dedup key.")
    schema_version: Annotated[int, Field(ge=1)] = SCHEMA_VERSION
    ts_ms: EpochMs = Field(description="Event time, epoch milliseconds.")
    request_id: NonEmpty | None = None
    worker_id: NonEmpty = Field(description="The process that emitted the event.")
    host: str | None = None
    model: NonEmpty | None = None
    model_version: NonEmpty | None = None
    backend: Backend | None = None
    level: Level = "info"
    sample_weight: Annotated[float, Field(ge=1, allow_inf_nan=False)] = Field(
        1.0, exclude_if=_is_one,
        description="How many requests this event stands for: 1/rate when the source kept its request by a sampling "
                    "rate (producers/instrument), absent (1) when the source keeps every such request. Windows count "
                    "the event this many times; absent from the JSON when 1.")

    @property
    def routing_key(self) -> str:
        """Kafka key: decides the partition. The first field of ``spec.routing`` that is set."""
        route = _TYPE_ROUTES.get(type(self))  # a class is hashed in C; the Routing enum would be hashed in Python
        first, last = route if route is not None else _ROUTES[type(self).spec.routing]
        fields = self.__dict__  # every declared field is in it
        for name in first:
            key = fields[name]
            if key:
                return key
        return fields[last]


class RequestEvent(EventBase):
    """Events that belong to one request: request_id, model and version required."""

    request_id: NonEmpty
    model: NonEmpty
    model_version: NonEmpty


class RequestReceived(RequestEvent):
    spec = EventSpec(
        routing=Routing.REQUEST_ELSE_WORKER, windows=None,
        trace=TraceSpec(role=TraceRole.RECEIVED, expected=Expected.ALWAYS), build_report=False, high_value=False,
        derived=False,
    )

    event: Literal["request_received"] = "request_received"
    batch_size: Annotated[int, Field(ge=1)] = 1
    input_shape: list[int] | None = None


class EngineLoadStart(EventBase):
    """Worker-scoped: keyed by worker_id. ``request_id`` names the request that triggered it, if any."""

    spec = EventSpec(
        routing=Routing.REQUEST_ELSE_WORKER, windows=None,
        trace=TraceSpec(role=TraceRole.STAGE, expected=Expected.NO), build_report=False, high_value=False,
        derived=False,
    )

    event: Literal["engine_load_start"] = "engine_load_start"
    model: NonEmpty
    model_version: NonEmpty
    engine_path: str
    # engine identity (shared convention, producers/worker/identity.py): content hash, what ran it, where
    engine_id: NonEmpty | None = Field(None, description="First 16 hex of sha256 over the plan/model file (producers/worker/identity.py)")
    runtime_versions: dict[str, str] = Field(
        default_factory=dict, description="Runtime versions: keys among tensorrt, cuda, cudnn, onnxruntime, provider")
    device_name: str | None = Field(None, description="GPU (or CPU) the engine runs on")
    compute_capability: str | None = Field(None, description="e.g. 8.9; None off GPU")
    precision: str | None = Field(None, description="fp32 | fp16 | bf16 | int8 | fp8 | mixed")


class EngineLoadComplete(EventBase):
    # worker-scoped like EngineLoadStart (no docstring: it would change the published JSON Schema)
    spec = EventSpec(
        routing=Routing.REQUEST_ELSE_WORKER, windows=WindowMeasure.ENGINE_LOAD,
        trace=TraceSpec(role=TraceRole.STAGE, expected=Expected.NO), build_report=False, high_value=False,
        derived=False,
    )

    event: Literal["engine_load_complete"] = "engine_load_complete"
    model: NonEmpty
    model_version: NonEmpty
    engine_path: str
    # engine identity (shared convention, producers/worker/identity.py): content hash, what ran it, where
    engine_id: NonEmpty | None = Field(None, description="First 16 hex of sha256 over the plan/model file (producers/worker/identity.py)")
    runtime_versions: dict[str, str] = Field(
        default_factory=dict, description="Runtime versions: keys among tensorrt, cuda, cudnn, onnxruntime, provider")
    device_name: str | None = Field(None, description="GPU (or CPU) the engine runs on")
    compute_capability: str | None = Field(None, description="e.g. 8.9; None off GPU")
    precision: str | None = Field(None, description="fp32 | fp16 | bf16 | int8 | fp8 | mixed")
    duration_ms: Millis
    status: Status = "ok"
    cache_hit: bool = False


class InferenceComplete(RequestEvent):
    """One inference of the request. Breakdown fields are None where not measured."""

    spec = EventSpec(
        routing=Routing.REQUEST_ELSE_WORKER, windows=WindowMeasure.FIRST_INFERENCE,
        trace=TraceSpec(
            role=TraceRole.INFERENCE, expected=Expected.UNLESS_FAILED,
            stage_fields=(("inference_ms", "latency_ms"), ("queue_ms", "queue_ms"), ("engine_load_ms", "engine_load_ms"),
                          ("h2d_ms", "h2d_ms"), ("compute_ms", "compute_ms"), ("d2h_ms", "d2h_ms")),
        ),
        build_report=False, high_value=False, derived=False,
    )

    event: Literal["inference_complete"] = "inference_complete"
    latency_ms: Millis
    queue_ms: Millis | None = None
    engine_load_ms: Millis | None = Field(None, description="Engine load this request waited for (cold start).")
    h2d_ms: Millis | None = None
    compute_ms: Millis | None = None
    d2h_ms: Millis | None = None
    batch_size: Annotated[int, Field(ge=1)] = 1
    precision: str | None = Field(None, description="fp32 | fp16 | bf16 | int8 | fp8 | mixed")
    cold_start: bool = False
    engine_id: str | None = Field(None, description="Engine that served the request (see engine_load_*)")


class RequestComplete(RequestEvent):
    """Terminal event of every request, failed ones included."""

    spec = EventSpec(
        routing=Routing.REQUEST_ELSE_WORKER, windows=WindowMeasure.REQUESTS,
        trace=TraceSpec(role=TraceRole.TERMINAL, expected=Expected.ALWAYS, stage_fields=(("total_ms", "total_ms"),)),
        build_report=False, high_value=True, derived=False,
    )

    event: Literal["request_complete"] = "request_complete"
    total_ms: Millis
    status: Status = "ok"
    cold_start: bool = Field(False, description="The request paid for an engine load or was first on a fresh engine.")
    batch_size: Annotated[int, Field(ge=1)] = 1
    engine_id: str | None = Field(None, description="Engine that served the request (see engine_load_*)")


class ErrorEvent(EventBase):
    """A failure. Request-scoped when request_id is set; a request still ends with request_complete."""

    spec = EventSpec(
        routing=Routing.REQUEST_ELSE_WORKER, windows=None,
        trace=TraceSpec(role=TraceRole.ERROR, expected=Expected.NO), build_report=False, high_value=True, derived=False,
    )

    event: Literal["error"] = "error"
    level: Level = "error"
    error_type: NonEmpty
    message: str = ""
    stage: Stage = "other"


class GpuSample(EventBase):
    """Worker-scoped periodic NVML sample."""

    spec = EventSpec(
        routing=Routing.REQUEST_ELSE_WORKER, windows=WindowMeasure.GPU, trace=None, build_report=False,
        high_value=False, derived=False,
    )

    event: Literal["gpu_sample"] = "gpu_sample"
    gpu_index: Annotated[int, Field(ge=0)] = 0
    utilization_pct: Annotated[float, Field(ge=0, le=100)]
    memory_used_bytes: Annotated[int, Field(ge=0)]
    memory_total_bytes: Annotated[int, Field(ge=0)]


class Fusion(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: str | None = Field(None, description="e.g. ConvReluFusion; None when the log does not say")
    layers: list[str]
    result: str | None = None


class LayerInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    layer_type: str | None = None
    precision: str | None = Field(None, description="fp32 | fp16 | int8 | ... as reported")
    tactic: str | None = None
    device: str | None = Field(None, description="GPU | DLA")
    tactic_name: str | None = None
    input_precisions: list[str] = Field(default_factory=list, description="Per input tensor, normalised (fp32, fp16, int8, ...)")
    output_precisions: list[str] = Field(default_factory=list)


class Diagnostic(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    severity: Literal["error", "warning", "info"]
    message: str
    code: str | None = None
    source: str | None = Field(None, description="file:line inside TensorRT, when printed")
    count: Annotated[int, Field(ge=1)] = 1
    category: str | None = Field(None, description="'Error Code N: <category>' (OutOfMemory, Serialization, ...)")


class LatencyStats(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    min_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    median_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


class PerfSummary(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    throughput_qps: float | None = None
    latency: LatencyStats | None = None
    gpu_compute: LatencyStats | None = None
    h2d: LatencyStats | None = None
    d2h: LatencyStats | None = None
    enqueue: LatencyStats | None = None
    end_to_end: LatencyStats | None = Field(None, description="Old trtexec form: 'end to end' host latency")
    host_walltime_ms: float | None = None
    gpu_compute_total_ms: float | None = None
    gpu_compute_cov_pct: float | None = Field(None, description="Coefficient of variance of GPU compute time")
    enqueue_bound: bool | None = Field(None, description="trtexec warned that throughput is bound by enqueue time")


class MemoryStats(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    peak_gpu_bytes: int | None = None
    activation_bytes: int | None = None
    weights_bytes: int | None = None
    engine_bytes: int | None = None
    requested_bytes: int | None = Field(None, description="Largest failed allocation (out of memory)")
    context_bytes: int | None = Field(None, description="Execution-context device memory")
    persistent_device_bytes: int | None = None
    persistent_host_bytes: int | None = None
    scratch_bytes: int | None = None
    cpu_peak_bytes: int | None = None


class TacticTiming(BaseModel):
    """One autotuning measurement (``Tactic Name: X Tactic: 0x.. Time: t``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    layer: str | None = Field(None, description="Timing Runner subject (layer or fused layer)")
    runner: str | None = None
    tactic: str | None = None
    name: str | None = None
    time_ms: float | None = None
    fastest: bool = False
    skipped: bool = False


class CalibrationInfo(BaseModel):
    """Header and health of an INT8 calibration cache."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    trt_version: str | None = None
    calibrator: str | None = None
    tensors: int = 0
    zero_ranges: list[str] = Field(default_factory=list)
    suspicious_ranges: list[str] = Field(default_factory=list, description="NaN/inf/negative/huge ranges")


class ProfileSummary(BaseModel):
    """The Total row of a per-layer profile."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    iterations: int | None = None
    total_ms: float | None = None
    avg_ms: float | None = None
    median_ms: float | None = None
    layers: int = 0


class MetricSample(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    value: float


class TritonInfo(BaseModel):
    """Facts from a Triton server log (glog prefix) or its Prometheus metrics."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    backends: list[str] = Field(default_factory=list)
    backend_api_version: str | None = None
    models_loading: list[str] = Field(default_factory=list, description="name:version")
    models_ready: list[str] = Field(default_factory=list)
    models_failed: list[str] = Field(default_factory=list)
    pinned_pool_bytes: int | None = None
    cuda_pool_bytes: dict[str, int] = Field(default_factory=dict, description="device → bytes")
    metric_families: dict[str, str] = Field(default_factory=dict, description="name → type")
    metrics: list[MetricSample] = Field(default_factory=list)
    idle_models: list[str] = Field(default_factory=list, description="Zero inferences while another model served some")


class EngineBuild(EventBase):
    """A grey-box report of one engine build (or trtexec run), parsed from its log."""

    spec = EventSpec(routing=Routing.ENGINE, windows=None, trace=None, build_report=True, high_value=True, derived=False)

    event: Literal["engine_build"] = "engine_build"
    engine_id: NonEmpty
    source: str | None = Field(None, description="Log file the report came from")
    trt_version: str | None = None
    precisions: list[str] = Field(default_factory=list, description="Precisions the build enabled")
    status: Literal["ok", "failed", "unknown"] = "unknown"
    build_time_ms: Millis | None = None
    layers_before: int | None = None
    layers_after: int | None = None
    fusions: list[Fusion] = Field(default_factory=list)
    removed_layers: list[str] = Field(default_factory=list)
    layers: list[LayerInfo] = Field(default_factory=list)
    plugin_fallbacks: list[str] = Field(default_factory=list)
    dla_fallbacks: list[LayerInfo] = Field(default_factory=list)
    fp16_weight_warnings: dict[str, int] = Field(default_factory=dict)
    calibration: dict[str, float] = Field(default_factory=dict, description="tensor → dynamic range")
    memory: MemoryStats = Field(default_factory=MemoryStats)
    perf: PerfSummary | None = None
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    unparsed_lines: Annotated[int, Field(ge=0)] = 0
    # additive (grey-box parser): all optional
    fp16_affected_weights: list[str] = Field(default_factory=list, description="Weights named in FP16 conversion warnings")
    calibration_info: CalibrationInfo | None = None
    tactic_timings: list[TacticTiming] = Field(default_factory=list)
    profile: ProfileSummary | None = None
    triton: TritonInfo | None = None
    phase_times_ms: dict[str, float] = Field(default_factory=dict, description="graph_construction, engine_generation, ...")
    facts: dict[str, str | int | float | bool] = Field(default_factory=dict, description="Other facts: command, device, versions")
    # additive (grey-box parser, issue 15: quantization scales and plugin kernels); all optional
    quantization_scales: dict[str, float] = Field(
        default_factory=dict, description="Tensor or layer → quantization scale ('[Quantization] ... scale='); INT8/FP8 ranges also in calibration"
    )
    quantization_missing: list[str] = Field(
        default_factory=list, description="Tensors TensorRT had no INT8 scale for ('Missing scale and zero-point'); they run wider"
    )
    plugin_kernels: dict[str, str] = Field(default_factory=dict, description="Node → kernel its plugin chose ('[Plugin] Using kernel K for node N')")


class LayerProfile(EventBase):
    """One row of a per-layer profile (trtexec --dumpProfile / exportProfile)."""

    spec = EventSpec(routing=Routing.ENGINE, windows=None, trace=None, build_report=False, high_value=False, derived=False)

    event: Literal["layer_profile"] = "layer_profile"
    engine_id: NonEmpty
    layer: str
    time_ms: Millis | None = Field(None, description="Total time over all iterations")
    avg_ms: Millis | None = None
    median_ms: Millis | None = None
    time_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    precision: str | None = None
    # additive (runtime profiles, issue 15): a worker's profile of one sampled request sets these
    layer_type: str | None = Field(None, description="Op / layer type (Conv, MatMul, ...) when the profiler says")
    iterations: Annotated[int, Field(ge=1)] | None = Field(None, description="Runs summed in time_ms (1 for one request)")


class EngineRuntime(EventBase):
    """An engine load as seen by the engine's partition: the streams app reroutes each ``engine_load_complete``
    that names an ``engine_id`` here (keyed by ``engine_id``), so it meets the engine's build report and the
    runtime versions are checked against the build's. ``event_id`` = the load's ``event_id`` + ``:engine``."""

    spec = EventSpec(routing=Routing.ENGINE, windows=None, trace=None, build_report=False, high_value=False, derived=True)

    event: Literal["engine_runtime"] = "engine_runtime"
    engine_id: NonEmpty
    engine_path: str | None = None
    load_event_id: str | None = Field(None, description="event_id of the engine_load_complete it came from")
    runtime_versions: dict[str, str] = Field(default_factory=dict)
    device_name: str | None = None
    compute_capability: str | None = None
    precision: str | None = None


Event = Annotated[
    Union[
        RequestReceived,
        EngineLoadStart,
        EngineLoadComplete,
        InferenceComplete,
        RequestComplete,
        ErrorEvent,
        GpuSample,
        EngineBuild,
        LayerProfile,
        EngineRuntime,
    ],
    Field(discriminator="event"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

EVENT_TYPES: dict[str, type[EventBase]] = build_registry(Event, EventBase)
"""The registry: event name → model, in union order. Every consumer derives its handling from it."""

_ROUTES: dict[Routing, tuple[tuple[str, ...], str]] = {r: (r.fields[:-1], r.fields[-1]) for r in Routing}
_DICT_ROUTES = {name: _ROUTES[model.spec.routing] for name, model in EVENT_TYPES.items()}
_TYPE_ROUTES = {model: _ROUTES[model.spec.routing] for model in EVENT_TYPES.values()}
_ENVELOPE_ROUTE = _ROUTES[Routing.REQUEST_ELSE_WORKER]


def routing_key_of(event: Mapping[str, Any]) -> str:
    """The Kafka key of an event in its JSON form (a dict): the rule of :attr:`EventBase.routing_key`.

    For producers that publish dicts without building models. A type this
    version does not know (a newer producer) is routed by the envelope rule.
    """
    first, last = _DICT_ROUTES.get(event.get("event", ""), _ENVELOPE_ROUTE)
    for name in first:
        key = event.get(name)
        if key:
            return key
    return event[last]


def types_where(predicate: Callable[[EventSpec], bool]) -> dict[str, type[EventBase]]:
    """The registry entries whose spec satisfies ``predicate(spec)``, in registry order."""
    return {name: model for name, model in EVENT_TYPES.items() if predicate(model.spec)}


TERMINAL_EVENT = next(iter(types_where(lambda s: s.trace is not None and s.trace.role is TraceRole.TERMINAL)))
