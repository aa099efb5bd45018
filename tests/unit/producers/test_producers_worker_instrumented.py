"""The worker's events come from the instrumentation library: its emitter's sampling, holding and verbose
switch apply to them, and GPU samples go through it too (one implementation of the contract events)."""

from __future__ import annotations

import types

import numpy as np
import pytest

from trtlens.producers.instrument import Emitter, Instrument, ModelSink, Sampler, VerboseSwitch
from trtlens.producers.worker.backends import BackendError, LoadInfo, Timings
from trtlens.producers.worker.core import InferenceWorker
from trtlens.producers.worker.gpu import GpuSampler
from trtlens.schemas.codec import encode, validate_event


class Backend:
    name = "onnxruntime"
    precision = "fp32"
    engine_path = "/models/m.onnx"

    def __init__(self, fail_every: int = 0) -> None:
        self._loaded = False
        self.fail_every = fail_every
        self.calls = 0

    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self) -> LoadInfo:
        self._loaded = True
        return LoadInfo(self.engine_path, 40.0)

    def unload(self) -> None:
        self._loaded = False

    def input_shape(self, batch_size: int):
        return (batch_size, 2)

    def infer(self, batch, *, profile: bool = False):
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise BackendError(self.name, "compute", "CUDA error 700")
        return Timings(latency_ms=2.0, compute_ms=2.0)


class Recorder:
    """A sink: what the library's emitter hands over, one call per kept request."""

    def __init__(self) -> None:
        self.calls: list[list[dict]] = []

    def __call__(self, events: list[dict]) -> None:
        self.calls.append(events)


def test_the_workers_requests_are_held_and_sampled_by_the_library_emitter():
    sink = Recorder()
    now = [1_700_000_000_000]
    verbose = VerboseSwitch(clock_ms=lambda: now[0])
    emitter = Emitter(sink, sampler=Sampler(0.0), verbose=verbose)  # rate 0: only what must be kept
    w = InferenceWorker(Backend(fail_every=5), model="m", model_version="v1", worker_id="w", host="h",
                        emitter=emitter, clock_ms=lambda: now[0])
    batch = np.zeros((1, 2), np.float32)
    for i in range(10):
        w.handle(f"r{i}", batch)
    # kept: r0 (cold start) and the two failures (r4, r9); the seven plain requests were dropped at the source
    kept = [{e["request_id"] for e in call} for call in sink.calls]
    assert kept == [{"r0"}, {"r4"}, {"r9"}]
    assert (emitter.kept_requests, emitter.dropped_requests) == (3, 7)
    assert [e["event"] for e in sink.calls[0]] == ["request_received", "engine_load_start", "engine_load_complete",
                                                   "inference_complete", "request_complete"]
    assert [e["event"] for e in sink.calls[1]] == ["request_received", "error", "request_complete"]
    assert w.stats.requests == 10 and w.stats.errors == 2  # the worker's own counts see every request
    verbose.set(minutes=1, model="m")  # flipped from outside: every request kept while it lasts
    w.handle("r10", batch)
    assert {e["request_id"] for e in sink.calls[-1]} == {"r10"} and emitter.kept_requests == 4
    for call in sink.calls:
        for event in call:
            validate_event(event)


def test_warm_requests_kept_at_a_rate_carry_their_weight():
    sink = Recorder()
    w = InferenceWorker(Backend(), model="m", model_version="v1", worker_id="w", host="h",
                        emitter=Emitter(sink, sampler=Sampler(0.5)))
    for i in range(200):
        w.handle(f"req-{i}", np.zeros((1, 2), np.float32))
    warm = [call for call in sink.calls if call[0]["request_id"] != "req-0"]
    assert 70 < len(warm) < 130
    assert all(e["sample_weight"] == 2.0 for call in warm for e in call)


def test_the_model_sink_keeps_the_weight_and_publishes_it():
    # what `trtlens worker` does: ModelSink validates each event into its contract model, then publishes it
    published = []
    w = InferenceWorker(Backend(), model="m", model_version="v1", worker_id="w", host="h",
                        emitter=Emitter(ModelSink(published.append), sampler=Sampler(0.5)))
    for i in range(50):
        w.handle(f"req-{i}", np.zeros((1, 2), np.float32))
    cold = [e for e in published if e.request_id == "req-0"]
    warm = [e for e in published if e.request_id not in (None, "req-0")]
    assert warm and all(e.sample_weight == 2.0 and b'"sample_weight":2.0' in encode(e) for e in warm)
    assert cold and all(e.sample_weight == 1 and b"sample_weight" not in encode(e) for e in cold)  # always kept


def test_the_worker_takes_one_way_out():
    with pytest.raises(TypeError, match="exactly one"):
        InferenceWorker(Backend(), model="m", model_version="v1")
    with pytest.raises(TypeError, match="exactly one"):
        InferenceWorker(Backend(), [].append, model="m", model_version="v1", emitter=Emitter(Recorder()))


def test_gpu_samples_are_built_by_the_library_and_never_sampled_away():
    sink = Recorder()
    inst = Instrument(Emitter(sink, sampler=Sampler(0.0)), model="m", model_version="v1", worker_id="w", host="h")
    nvml = types.SimpleNamespace(
        nvmlDeviceGetUtilizationRates=lambda handle: types.SimpleNamespace(gpu=37),
        nvmlDeviceGetMemoryInfo=lambda handle: types.SimpleNamespace(used=3 << 30, total=16 << 30))
    sampler = GpuSampler(inst, interval_s=5, device=1, nvml=(nvml, "handle"))
    assert sampler.sample() and sampler.samples == 1
    (event,) = sink.calls[0]
    sample = validate_event(event)
    assert (sample.event, sample.gpu_index, sample.utilization_pct, sample.memory_used_bytes) == (
        "gpu_sample", 1, 37.0, 3 << 30)
    assert (sample.worker_id, sample.host, sample.model) == ("w", "h", None)  # a GPU is the host's, not a model's


def test_a_failed_load_inside_a_request_is_one_error_event():
    sink = Recorder()
    inst = Instrument(Emitter(sink), model="m", model_version="v1", worker_id="w", host="h")
    with pytest.raises(BackendError):
        with inst.request("r1") as req:
            with req.engine_load("/m.plan", engine_id="abc"):
                raise BackendError("tensorrt", "engine_load", "corrupt plan")
    events = sink.calls[0]
    assert [e["event"] for e in events] == ["request_received", "engine_load_start", "engine_load_complete",
                                            "error", "request_complete"]
    assert events[3]["stage"] == "engine_load" and events[4]["cold_start"] is True
    assert events[4]["engine_id"] == "abc" and events[2]["status"] == "error"
