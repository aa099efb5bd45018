"""Layer profiling in the worker: sampling, layer_profile events, ONNX Runtime traces, the TensorRT collector."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from trtlens.producers.instrument.profiling import LayerTimes, LayerTiming, layer_profile_events, profile_sampled
from trtlens.producers.worker.backends import LoadInfo, Timings, ort_node_timings
from trtlens.producers.worker.core import InferenceWorker
from trtlens.producers.worker.identity import engine_id
from trtlens.schemas.codec import validate_event


class ProfilingBackend:
    """Scripted layers on profiled requests; records which requests were profiled."""

    name = "tensorrt"
    precision = "fp16"

    def __init__(self, path: str) -> None:
        self.engine_path = path
        self._loaded = False
        self.profiled: list[bool] = []

    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self) -> LoadInfo:
        self._loaded = True
        return LoadInfo(self.engine_path, 50.0)

    def unload(self) -> None:
        self._loaded = False

    def runtime_versions(self) -> dict[str, str]:
        return {"tensorrt": "10.3.0", "cuda": "12.4"}

    def input_shape(self, batch_size: int):
        return (batch_size, 4)

    def infer(self, batch, *, profile: bool = False):
        self.profiled.append(profile)
        layers = (LayerTiming("conv1 + relu1", 3.0, "CaskConvolution"), LayerTiming("fc", 1.0)) if profile else ()
        return Timings(latency_ms=5.0, compute_ms=4.0, layers=layers)


def test_engine_id_is_the_first_16_hex_of_the_file_sha256(tmp_path):
    plan = tmp_path / "m.plan"
    plan.write_bytes(b"\x00plan" * 300_000)  # more than one read chunk
    assert engine_id(plan) == hashlib.sha256(plan.read_bytes()).hexdigest()[:16]
    assert engine_id(str(plan)) == engine_id(plan)


def test_sampling_is_decided_by_request_id_and_keeps_the_share():
    ids = [f"req-{i}" for i in range(20_000)]
    picked = [rid for rid in ids if profile_sampled(rid, 0.05)]
    assert 0.045 < len(picked) / len(ids) < 0.055
    assert picked == [rid for rid in ids if profile_sampled(rid, 0.05)]  # the same request, the same decision
    assert all(profile_sampled(r, 1.0) for r in ids[:50]) and not any(profile_sampled(r, 0.0) for r in ids[:50])


def test_a_profiled_request_emits_one_layer_profile_per_layer_with_engine_id_and_share(tmp_path):
    plan = tmp_path / "m.plan"
    plan.write_bytes(b"engine bytes")
    events = []
    backend = ProfilingBackend(str(plan))
    w = InferenceWorker(backend, events.append, model="resnet", model_version="v2", worker_id="w1", host="h",
                        profile_share=1.0)
    w.handle("r1", np.zeros((1, 4), np.float32))
    kinds = [e.event for e in events]
    assert kinds == ["request_received", "engine_load_start", "engine_load_complete", "inference_complete",
                     "layer_profile", "layer_profile", "request_complete"]
    eid = engine_id(plan)
    load = events[2]
    assert load.engine_id == eid and load.runtime_versions == {"tensorrt": "10.3.0", "cuda": "12.4"}
    assert load.precision == "fp16"
    conv, fc = events[4], events[5]
    assert (conv.engine_id, conv.layer, conv.layer_type, conv.time_ms, conv.iterations) == (eid, "conv1 + relu1", "CaskConvolution", 3.0, 1)
    assert conv.time_pct == 75.0 and fc.time_pct == 25.0
    assert conv.request_id == "r1" and conv.routing_key == eid and conv.event_id == "r1:layer:0"
    assert w.stats.profiled == 1


def test_unsampled_requests_run_without_the_profiler(tmp_path):
    plan = tmp_path / "m.onnx"
    plan.write_bytes(b"x")
    events = []
    backend = ProfilingBackend(str(plan))
    w = InferenceWorker(backend, events.append, model="m", model_version="v1", worker_id="w1", host="h",
                        profile_share=0.0)
    for i in range(20):
        w.handle(f"r{i}", np.zeros((1, 4), np.float32))
    assert not any(backend.profiled) and not any(e.event == "layer_profile" for e in events)


def test_layer_events_of_an_all_zero_profile_have_no_share():
    common = {"ts_ms": 1, "request_id": "r", "worker_id": "w", "model": "m", "model_version": "v",
              "backend": "tensorrt"}
    evs = [validate_event(e) for e in layer_profile_events(common, "eng", (LayerTiming("a", 0.0),), id_prefix="r")]
    assert evs[0].time_pct is None and evs[0].time_ms == 0.0 and evs[0].event_id == "r:layer:0"


def test_onnxruntime_trace_events_become_node_times():
    trace = [
        {"cat": "Session", "name": "model_run", "dur": 900},
        {"cat": "Node", "name": "conv0_fence_before", "dur": 0, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "conv0_kernel_time", "dur": 245, "args": {"op_name": "Conv", "provider": "CPUExecutionProvider"}},
        {"cat": "Node", "name": "fc_kernel_time", "dur": 11, "args": {"op_name": "Gemm"}},
        {"cat": "Node", "name": "conv0_kernel_time", "dur": 55, "args": {"op_name": "Conv"}},
        "junk",
    ]
    assert ort_node_timings(trace) == (LayerTiming("conv0", 0.3, "Conv"), LayerTiming("fc", 0.011, "Gemm"))


def test_the_tensorrt_collector_sums_repeats_and_starts_empty_after_take():
    c = LayerTimes()  # what the TensorRT backend's IProfiler (instrument.profiling.layer_profiler) fills
    c.add("conv1 + relu1", 0.5)
    c.add("fc", 0.25)
    c.add("conv1 + relu1", 0.25)
    c.add("reformat", -1.0)  # a negative time is clamped
    assert c.take({"fc": "FullyConnected"}) == (
        LayerTiming("conv1 + relu1", 0.75), LayerTiming("fc", 0.25, "FullyConnected"), LayerTiming("reformat", 0.0))
    assert c.take() == ()


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_the_share_setting_is_bounded(share):
    from pydantic import ValidationError

    from trtlens.producers.worker.config import WorkerSettings

    with pytest.raises(ValidationError, match="profile_share"):
        WorkerSettings(profile_share=share)


def test_profiling_on_demand_toggles_between_every_request_and_the_share(tmp_path):
    plan = tmp_path / "m.plan"
    plan.write_bytes(b"p")
    w = InferenceWorker(ProfilingBackend(str(plan)), [].append, model="m", model_version="v1", worker_id="w",
                        host="h", profile_share=0.02)
    assert w.toggle_profiling() == 1.0 and w.toggle_profiling() == 0.02 and w.toggle_profiling() == 1.0
