"""Worker core with a scripted backend: event sequence per request, cold starts, idle unload, failures."""

from __future__ import annotations

import numpy as np
import pytest

from trtlens.producers.worker.backends import BackendError, LoadInfo, OnnxRuntimeBackend, Timings, make_backend
from trtlens.producers.worker.core import InferenceWorker, run_synthetic_client
from trtlens.producers.worker.demo_model import CLASSES, INPUT_SHAPE, build_demo_model, demo_model_path


class ScriptedBackend:
    """A backend whose load/infer outcomes the test decides (no inference library involved)."""

    name = "onnxruntime"
    precision = "fp32"
    engine_path = "/models/m.onnx"

    def __init__(self, *, fail_load: bool = False, fail_infer: bool = False) -> None:
        self.fail_load, self.fail_infer = fail_load, fail_infer
        self._loaded = False
        self.loads = 0

    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self) -> LoadInfo:
        self.loads += 1
        if self.fail_load:
            raise BackendError(self.name, "engine_load", "corrupt plan")
        self._loaded = True
        return LoadInfo(self.engine_path, 120.0)

    def unload(self) -> None:
        self._loaded = False

    def input_shape(self, batch_size: int):
        return (batch_size, 3, 8, 8)

    def infer(self, batch):
        if self.fail_infer:
            raise BackendError(self.name, "compute", "CUDA error 700")
        return Timings(latency_ms=2.0, compute_ms=1.5, h2d_ms=0.25, d2h_ms=0.25)


class FakeClock:
    def __init__(self) -> None:
        self.s = 100.0

    def perf(self) -> float:
        return self.s

    def ms(self) -> float:
        return 1_700_000_000_000 + self.s * 1000


def _worker(backend, events, clock, **kw) -> InferenceWorker:
    return InferenceWorker(backend, events.append, model="m", model_version="v1", worker_id="w1", host="h",
                           clock_ms=clock.ms, perf_s=clock.perf, **kw)


def test_first_request_is_cold_and_pays_for_the_load():
    events, clock = [], FakeClock()
    w = _worker(ScriptedBackend(), events, clock)
    batch = np.zeros((2, 3, 8, 8), np.float32)
    w.handle("r1", batch)
    w.handle("r2", batch)
    kinds = [(e.request_id, e.event) for e in events]
    assert kinds == [
        ("r1", "request_received"), ("r1", "engine_load_start"), ("r1", "engine_load_complete"),
        ("r1", "inference_complete"), ("r1", "request_complete"),
        ("r2", "request_received"), ("r2", "inference_complete"), ("r2", "request_complete"),
    ]
    inf1, done1, inf2, done2 = events[3], events[4], events[6], events[7]
    assert inf1.cold_start and inf1.engine_load_ms == 120.0 and done1.cold_start
    assert not inf2.cold_start and inf2.engine_load_ms is None and not done2.cold_start
    assert (inf2.h2d_ms, inf2.compute_ms, inf2.d2h_ms, inf2.batch_size) == (0.25, 1.5, 0.25, 2)
    assert events[2].duration_ms == 120.0 and events[2].status == "ok"
    assert all(e.routing_key == e.request_id for e in events)
    assert len({e.event_id for e in events}) == len(events)
    assert w.stats.cold_starts == 1 and w.stats.engine_loads == 1


@pytest.mark.parametrize(("gap_s", "cold"), [(0.5, False), (0.99, False), (1.0, True), (30.0, True)])
def test_idle_unload_makes_the_next_request_cold(gap_s, cold):
    events, clock = [], FakeClock()
    backend = ScriptedBackend()
    w = _worker(backend, events, clock, idle_unload_s=1.0)
    batch = np.zeros((1, 3, 8, 8), np.float32)
    w.handle("r1", batch)
    clock.s += gap_s
    w.handle("r2", batch)
    done = [e for e in events if e.event == "request_complete"]
    assert done[1].cold_start is cold
    assert backend.loads == (2 if cold else 1)


def test_a_failing_inference_ends_with_error_and_terminal_event():
    events, clock = [], FakeClock()
    w = _worker(ScriptedBackend(fail_infer=True), events, clock)
    out = w.handle("r1", np.zeros((1, 3, 8, 8), np.float32))
    assert [e.event for e in events][-2:] == ["error", "request_complete"]
    err, done = events[-2], events[-1]
    assert err.stage == "compute" and err.error_type == "BackendError" and "CUDA error 700" in err.message
    assert err.level == "error" and done.status == "error" and out.status == "error"
    assert "inference_complete" not in [e.event for e in events]


def test_a_failing_engine_load_reports_the_load_and_still_completes():
    events, clock = [], FakeClock()
    w = _worker(ScriptedBackend(fail_load=True), events, clock)
    w.handle("r1", np.zeros((1, 3, 8, 8), np.float32))
    assert [e.event for e in events] == ["request_received", "engine_load_start", "engine_load_complete", "error",
                                         "request_complete"]
    assert events[2].status == "error" and events[3].stage == "engine_load" and events[4].cold_start


def test_injected_errors_follow_the_rate_and_the_seed():
    def run(seed):
        events, clock = [], FakeClock()
        w = _worker(ScriptedBackend(), events, clock, error_rate=0.3, seed=seed)
        for i in range(200):
            w.handle(f"r{i}", np.zeros((1, 3, 8, 8), np.float32))
        return [e.request_id for e in events if e.event == "error"]

    a = run(1)
    assert a == run(1) and 30 < len(a) < 90


def test_synthetic_client_sends_rps_times_duration_and_reports_lateness_as_queue_time():
    events, clock = [], FakeClock()
    w = _worker(ScriptedBackend(), events, clock)
    slept = []

    def sleep(s):
        slept.append(s)
        clock.s += s

    outcomes = run_synthetic_client(w, rps=10, duration_s=2, batch_size=4, sleep=sleep, request_prefix="c")
    assert [o.request_id for o in outcomes] == [f"c-{i}" for i in range(20)]
    received = [e for e in events if e.event == "request_received"]
    assert all(e.input_shape == [4, 3, 8, 8] for e in received)
    assert all(e.queue_ms == 0 for e in events if e.event == "inference_complete")
    assert len(slept) == 19


def test_demo_model_is_deterministic_and_cached(tmp_path):
    assert build_demo_model().SerializeToString() == build_demo_model().SerializeToString()
    path = demo_model_path(tmp_path)
    assert path.is_file() and demo_model_path(tmp_path) == path
    assert path.read_bytes() == build_demo_model().SerializeToString()


@pytest.mark.parametrize("batch_size", [1, 3])
def test_onnxruntime_backend_runs_the_demo_model(tmp_path, batch_size):
    backend = OnnxRuntimeBackend(demo_model_path(tmp_path))
    assert backend.input_shape(batch_size) == (batch_size, *INPUT_SHAPE) and not backend.loaded
    info = backend.load()
    assert info.duration_ms > 0 and backend.loaded
    t = backend.infer(np.random.default_rng(0).standard_normal((batch_size, *INPUT_SHAPE), dtype=np.float32))
    assert t.latency_ms > 0 and t.compute_ms == t.latency_ms and t.h2d_ms is None and t.d2h_ms is None
    out = backend._session.run(None, {"input": np.ones((batch_size, *INPUT_SHAPE), np.float32)})[0]
    assert out.shape == (batch_size, CLASSES) and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)
    backend.unload()
    assert not backend.loaded
    with pytest.raises(BackendError, match="not loaded"):
        backend.infer(np.zeros((1, *INPUT_SHAPE), np.float32))


def test_onnxruntime_backend_names_the_file_it_cannot_load(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    backend = OnnxRuntimeBackend(bad)
    with pytest.raises(BackendError) as err:
        backend.load()
    assert err.value.stage == "engine_load" and str(bad) in str(err.value)


def test_make_backend_picks_by_kind_and_file_type(tmp_path):
    assert make_backend("auto", tmp_path / "m.onnx").name == "onnxruntime"
    trt = make_backend("auto", tmp_path / "m.engine")  # constructed lazily: no tensorrt import yet
    assert trt.name == "tensorrt" and not trt.loaded
