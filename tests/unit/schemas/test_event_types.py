"""Every event type is declared once and handled everywhere (issue 10), table-driven over the registry.

Adding a model to ``schemas/events.py`` fails here until it has a spec, a
sample below, and every consumer handles what its spec declares: the
publisher's routing, the windows, the trace join, the pipeline's build split,
the load generator's list, the JSON Schema output.
"""

from __future__ import annotations

import inspect
from typing import Literal, Union

import pytest

from trtlens.producers.load import core as load_core
from trtlens.producers.load.config import LoadConfig
from trtlens.producers.publisher import HIGH_VALUE_EVENTS, routing_key
from trtlens.schemas import events as events_module
from trtlens.schemas.documents import STAGE_FIELDS, StageBreakdown
from trtlens.schemas.events import EVENT_ADAPTER, EVENT_TYPES, TERMINAL_EVENT, EventBase, RequestComplete
from trtlens.schemas.jsonschema import all_schemas
from trtlens.schemas.roles import EventSpec, Expected, Routing, TraceRole, WindowMeasure, build_registry
from trtlens.settings import load_settings
from trtlens.sinks.templates import MAPPINGS
from trtlens.streams.metrics.config import MetricsConfig
from trtlens.streams.metrics.core import PartitionWindows
from trtlens.streams.metrics.feeds import MEASURES
from trtlens.streams.pipeline.core import PartitionPipeline
from trtlens.streams.traces.config import TracesConfig
from trtlens.streams.traces.core import TraceJoin
from trtlens.streams.traces.state import ROLES

T0 = 1_700_000_005_000
ENV = {"ts_ms": T0, "worker_id": "w1", "host": "h", "backend": "synthetic"}
REQ = {**ENV, "request_id": "r1", "model": "m", "model_version": "v1"}

# one valid event per type, in its JSON form; a new type needs one here
SAMPLES: dict[str, dict] = {
    "request_received": {**REQ, "event": "request_received", "event_id": "e1", "batch_size": 4},
    "engine_load_start": {**REQ, "event": "engine_load_start", "event_id": "e2", "engine_path": "/m.plan"},
    "engine_load_complete": {**REQ, "event": "engine_load_complete", "event_id": "e3", "engine_path": "/m.plan",
                             "duration_ms": 800.0},
    "inference_complete": {**REQ, "event": "inference_complete", "event_id": "e4", "latency_ms": 7.5,
                           "queue_ms": 0.2, "compute_ms": 6.0, "cold_start": True, "precision": "fp16"},
    "request_complete": {**REQ, "event": "request_complete", "event_id": "e5", "total_ms": 9.0, "status": "error",
                         "cold_start": True, "batch_size": 4},
    "error": {**REQ, "event": "error", "event_id": "e6", "error_type": "CudaError", "message": "oom",
              "stage": "compute"},
    "gpu_sample": {**ENV, "event": "gpu_sample", "event_id": "e7", "utilization_pct": 50.0,
                   "memory_used_bytes": 1 << 30, "memory_total_bytes": 16 << 30},
    "engine_build": {**ENV, "event": "engine_build", "event_id": "e8", "engine_id": "eng-1", "request_id": "r1"},
    "layer_profile": {**ENV, "event": "layer_profile", "event_id": "e9", "engine_id": "eng-1", "layer": "conv1"},
    "engine_runtime": {**ENV, "event": "engine_runtime", "event_id": "e3:engine", "engine_id": "eng-1",
                       "runtime_versions": {"tensorrt": "10.3.0", "cuda": "12.4"}},
}
NAMES = list(EVENT_TYPES)


def _sample(name: str) -> dict:
    if name not in SAMPLES:
        pytest.fail(f"no sample of {name!r}: add one to SAMPLES in {__file__}")
    return SAMPLES[name]


def _model(name: str) -> EventBase:
    return EVENT_ADAPTER.validate_python(_sample(name))


# -- declarations ---------------------------------------------------------------


def test_every_event_model_is_in_the_registry():
    models = [c for _, c in inspect.getmembers(events_module, inspect.isclass)
              if issubclass(c, EventBase) and "event" in c.model_fields]
    missing = [c.__name__ for c in models if c not in EVENT_TYPES.values()]
    assert missing == [], f"{missing} have an `event` field but are not in the Event union of schemas/events.py: add them"


@pytest.mark.parametrize("name", NAMES)
def test_every_type_declares_its_own_spec(name):
    model = EVENT_TYPES[name]
    assert isinstance(model.__dict__.get("spec"), EventSpec), f"{model.__name__} declares no spec of its own"


def test_every_type_has_a_sample_here():
    assert set(SAMPLES) == set(EVENT_TYPES), (
        f"add a valid JSON sample of {sorted(set(EVENT_TYPES) - set(SAMPLES))} to SAMPLES in {__file__}")


class _Teleport(EventBase):
    event: Literal["teleport"] = "teleport"
    request_id: str


def test_a_model_without_a_spec_fails_saying_what_to_declare():
    with pytest.raises(TypeError, match=r"'teleport' \(_Teleport in schemas/events.py\) declares no spec") as err:
        build_registry(Union[RequestComplete, _Teleport], EventBase)
    assert "spec = EventSpec(routing=" in str(err.value)


def test_a_spec_naming_a_field_the_model_lacks_fails():
    class Routed(EventBase):
        spec = EventSpec(routing=Routing.ENGINE, windows=None, trace=None, build_report=False, high_value=False, derived=False)
        event: Literal["routed"] = "routed"

    with pytest.raises(TypeError, match="routing ENGINE reads field 'engine_id'"):
        build_registry(Union[Routed], EventBase)


def test_a_build_report_has_no_other_role():
    class Both(EventBase):
        spec = EventSpec(routing=Routing.REQUEST_ELSE_WORKER, windows=WindowMeasure.ENGINE_LOAD, trace=None,
                         build_report=True, high_value=False, derived=False)
        event: Literal["both"] = "both"
        duration_ms: float

    with pytest.raises(TypeError, match="grey-box rules only"):
        build_registry(Union[Both], EventBase)


def test_today_s_roles_are_kept():
    specs = {name: model.spec for name, model in EVENT_TYPES.items()}
    assert {n for n, s in specs.items() if s.routing is Routing.ENGINE} == {"engine_build", "layer_profile", "engine_runtime"}
    assert {n: s.windows for n, s in specs.items() if s.windows} == {
        "request_complete": WindowMeasure.REQUESTS, "inference_complete": WindowMeasure.FIRST_INFERENCE,
        "engine_load_complete": WindowMeasure.ENGINE_LOAD, "gpu_sample": WindowMeasure.GPU}
    assert TERMINAL_EVENT == "request_complete"
    assert TracesConfig().expected_stages == ["request_received", "inference_complete", "request_complete"]
    assert {n for n, s in specs.items() if s.build_report} == {"engine_build"}
    assert HIGH_VALUE_EVENTS == {"request_complete", "error", "engine_build"}


# -- consumers ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_publisher_routes_by_the_declared_field(name):
    d, model = _sample(name), _model(name)
    fields = model.spec.routing.fields
    expected = next((d[f] for f in fields if d.get(f)), None)
    assert routing_key(d) == model.routing_key == expected
    if "request_id" in fields and "worker_id" in fields:  # without a request: the worker
        bare = {k: v for k, v in d.items() if k != "request_id"}
        assert routing_key(bare) == "w1"


def test_publisher_routes_an_unknown_type_by_the_envelope_rule():
    assert routing_key({"event": "teleport", "request_id": "r", "worker_id": "w"}) == "r"
    assert routing_key({"event": "teleport", "worker_id": "w"}) == "w"


WINDOW_EFFECT = {
    WindowMeasure.REQUESTS: lambda p: p.requests == 1 and p.errors == 1 and p.cold_starts == 1 and p.latency.count == 1,
    WindowMeasure.FIRST_INFERENCE: lambda p: p.first_inference.count == 1 and p.requests == 0,
    WindowMeasure.ENGINE_LOAD: lambda p: p.engine_load.count == 1 and p.requests == 0,
    WindowMeasure.GPU: lambda p: p.gpu_memory_max_bytes == 1 << 30 and p.gpu_utilization_max_pct == 50.0,
}


def test_every_window_measure_is_implemented_and_tested():
    assert set(MEASURES) == set(WindowMeasure), "implement the new measure in streams/metrics/feeds.py MEASURES"
    assert set(WINDOW_EFFECT) == set(WindowMeasure), f"say what the new measure does in WINDOW_EFFECT ({__file__})"


@pytest.mark.parametrize("name", NAMES)
def test_windows_take_each_type_as_its_spec_says(name):
    model = _model(name)
    windows = PartitionWindows(MetricsConfig(), partition=0)
    windows.observe(model, offset=1, watermark_ms=T0)
    changed = windows.take_dirty()
    measure = model.spec.windows
    if measure is None or model.spec.build_report:
        assert changed == []
        return
    scopes = {p.scope for p in changed}
    assert scopes == ({"worker", "all"} if measure is WindowMeasure.GPU else {"model_version", "worker", "all"})
    assert all(WINDOW_EFFECT[measure](p) for p in changed)


ROLE_EFFECT = {
    TraceRole.RECEIVED: lambda t: t["batch_size"] == 4 and not t["complete"],
    TraceRole.INFERENCE: lambda t: t["stages"]["inference_ms"] == 7.5 and t["stages"]["queue_ms"] == 0.2
    and t["precision"] == "fp16" and t["cold_start"],
    TraceRole.TERMINAL: lambda t: t["complete"] and t["status"] == "error" and t["stages"]["total_ms"] == 9.0,
    TraceRole.ERROR: lambda t: t["error"]["error_type"] == "CudaError",
    TraceRole.STAGE: lambda t: not t["complete"] and all(v is None for v in t["stages"].values()),
}


def test_every_trace_role_is_implemented_and_tested():
    assert set(ROLES) == set(TraceRole), "implement the new role in streams/traces/state.py ROLES"
    assert set(ROLE_EFFECT) == set(TraceRole), f"say what the new role does in ROLE_EFFECT ({__file__})"


@pytest.mark.parametrize("name", NAMES)
def test_trace_join_takes_each_type_as_its_spec_says(name):
    model = EVENT_ADAPTER.validate_python({**_sample(name), "request_id": "r1"})  # every type can carry one
    join = TraceJoin(TracesConfig(sample_rate=1.0, join_timeout_ms=1))
    join.observe(model, T0, None)
    join.advance(T0 + 1)
    [trace] = join.take_ready()
    assert trace["event_ids"] == [_sample(name)["event_id"]]
    spec = model.spec.trace
    if spec is None:
        assert not trace["complete"] and trace["error"] is None
    else:
        assert ROLE_EFFECT[spec.role](trace)
        assert name not in trace["missing_stages"]


def test_stage_fields_have_one_definition():
    assert STAGE_FIELDS == tuple(StageBreakdown.model_fields)
    assert tuple(MAPPINGS["traces"]["stages"]["properties"]) == STAGE_FIELDS
    declared = {dst for m in EVENT_TYPES.values() if m.spec.trace for dst, _ in m.spec.trace.stage_fields}
    assert declared == set(STAGE_FIELDS)  # each breakdown field is filled by some event type


def test_a_failed_trace_does_not_miss_what_a_failed_request_never_reaches():
    optional = {n for n, m in EVENT_TYPES.items() if m.spec.trace and m.spec.trace.expected is Expected.UNLESS_FAILED}
    assert optional == {"inference_complete"}
    join = TraceJoin(TracesConfig(sample_rate=1.0))
    for name in ("request_received", "request_complete"):
        join.observe(_model(name), T0, None)
    [trace] = join.take_ready()
    assert trace["status"] == "error" and trace["missing_stages"] == []


def test_traces_config_rejects_an_unknown_expected_stage():
    with pytest.raises(ValueError, match="'request_recieved' is not an event type; known: request_received"):
        TracesConfig(expected_stages=["request_recieved"])


def test_pipeline_sends_build_reports_to_the_rules_and_the_rest_to_windows_and_traces():
    import orjson

    seen: list[EventBase] = []
    pipe = PartitionPipeline(load_settings().streams, topic="e", partition=0,
                             build_evaluator=lambda ev: seen.append(ev) or _report(ev))
    pipe.process_record(0, None, orjson.dumps(list(SAMPLES.values())))
    assert pipe.counters["accepted_events"] == len(SAMPLES) and pipe.out.dlq == []
    assert [ev.event_id for ev in seen] == [d["event_id"] for n, d in SAMPLES.items() if EVENT_TYPES[n].spec.build_report]
    assert "r1" in pipe.traces and "engine_build" not in pipe.traces.kind_bits.names(pipe.traces.get("r1").kinds)


def _report(ev):
    from trtlens.schemas.documents import BuildReport

    return BuildReport(engine_id=ev.engine_id, built_at_ms=ev.ts_ms, report=ev)


def test_load_generator_lists_every_type():
    generated, skipped = set(load_core.GENERATED), set(load_core.NOT_GENERATED)
    assert not generated & skipped
    missing = sorted(n for n, m in EVENT_TYPES.items() if m not in generated | skipped)
    assert missing == [], (f"{missing}: emit them in producers/load/core.py (GENERATED) or list them in "
                           f"NOT_GENERATED with the reason")
    counted = [m for m in EVENT_TYPES.values() if m.spec.windows is WindowMeasure.REQUESTS]
    assert counted == [load_core.COUNTED], "the ground truth counts requests by the type that feeds the request windows"


def test_load_generator_emits_what_it_lists():
    from trtlens.producers.load.scenarios import scenario_models

    run = load_core.generate(LoadConfig(seed=3, rate_rps=200, duration_s=5, start_ms=T0))
    rebuild = load_core.generate(LoadConfig(seed=3, rate_rps=200, duration_s=5, start_ms=T0,
                                            models=scenario_models("engine-rebuild")))  # build reports: only with a rebuild
    emitted = {e["event"] for r in (run, rebuild) for e in r.events}
    assert emitted == {n for n, m in EVENT_TYPES.items() if m in load_core.GENERATED}


@pytest.mark.parametrize("name", NAMES)
def test_schema_output_carries_the_spec(name):
    schema = all_schemas()["events"][name]
    spec = EVENT_TYPES[name].spec
    assert schema["x-trtlens"] == spec.to_json()
    assert set(schema["x-trtlens"]["routing_key"]) <= set(schema["properties"])
