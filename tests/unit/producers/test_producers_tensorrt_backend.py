"""TensorRT backend without a GPU: shapes and bindings, timing bookkeeping, log capture, import errors.

The GPU path (deserialize, pycuda buffers, execute_async_v3, builder) cannot run
here; what surrounds it is tested with small stand-ins for the TensorRT objects.
"""

from __future__ import annotations

import enum
import sys
import threading
import types
from datetime import datetime

import numpy as np
import pytest

from trtlens.errors import DependencyMissingError
from trtlens.producers.worker import tensorrt_backend as tb
from trtlens.producers.worker.backends import BackendError


def _spec(shape, profile=None, name="input"):
    return tb.TensorSpec(name, True, np.dtype(np.float32), tuple(shape), profile)


@pytest.mark.parametrize(("shape", "profile", "batch", "expected"), [
    ((-1, 3, 224, 224), ((1, 3, 224, 224), (8, 3, 224, 224), (32, 3, 224, 224)), 4, (4, 3, 224, 224)),
    ((-1, 3, 224, 224), ((1, 3, 224, 224), (8, 3, 224, 224), (32, 3, 224, 224)), 32, (32, 3, 224, 224)),
    ((1, 3, 64, 64), None, 1, (1, 3, 64, 64)),
    ((-1, 3, -1, -1), ((1, 3, 32, 32), (4, 3, 128, 96), (8, 3, 256, 256)), 2, (2, 3, 128, 96)),
])
def test_concrete_input_shape(shape, profile, batch, expected):
    assert tb.concrete_input_shape(_spec(shape, profile), batch) == expected


@pytest.mark.parametrize(("shape", "profile", "batch", "message"), [
    ((-1, 3, 8, 8), ((1, 3, 8, 8), (8, 3, 8, 8), (16, 3, 8, 8)), 17, "outside the engine's profile"),
    ((1, 3, 8, 8), None, 4, "fixed batch dim 1"),
    ((-1, 3, -1, 8), None, 2, "dim 2 is dynamic and has no profile"),
])
def test_concrete_input_shape_rejects_what_the_engine_cannot_take(shape, profile, batch, message):
    with pytest.raises(BackendError, match=message) as err:
        tb.concrete_input_shape(_spec(shape, profile), batch)
    assert err.value.backend == "tensorrt"


def test_volume():
    assert tb.volume((4, 3, 2)) == 24 and tb.volume(()) == 1
    with pytest.raises(ValueError):
        tb.volume((-1, 3))


class _Mode(enum.Enum):
    INPUT = 0
    OUTPUT = 1


class FakeEngine:
    """The TensorRT 10 name-based engine API surface tensor_specs reads."""

    tensors = [("images", _Mode.INPUT, "float32", (-1, 3, 64, 64)), ("probs", _Mode.OUTPUT, "float16", (-1, 10))]
    num_optimization_profiles = 1

    @property
    def num_io_tensors(self):
        return len(self.tensors)

    def get_tensor_name(self, i):
        return self.tensors[i][0]

    def _t(self, name):
        return next(t for t in self.tensors if t[0] == name)

    def get_tensor_mode(self, name):
        return self._t(name)[1]

    def get_tensor_dtype(self, name):
        return self._t(name)[2]

    def get_tensor_shape(self, name):
        return self._t(name)[3]

    def get_tensor_profile_shape(self, name, profile):
        return [(1, 3, 64, 64), (8, 3, 64, 64), (32, 3, 64, 64)]


FAKE_TRT = types.SimpleNamespace(TensorIOMode=_Mode, nptype=lambda name: getattr(np, name))


def test_tensor_specs_from_the_engine_bindings():
    specs = tb.tensor_specs(FakeEngine(), FAKE_TRT)
    assert specs[0] == tb.TensorSpec("images", True, np.dtype(np.float32), (-1, 3, 64, 64),
                                     ((1, 3, 64, 64), (8, 3, 64, 64), (32, 3, 64, 64)))
    assert specs[1] == tb.TensorSpec("probs", False, np.dtype(np.float16), (-1, 10), None)
    assert tb.concrete_input_shape(specs[0], 5) == (5, 3, 64, 64)


class FakeDriver:
    """Stands in for ``pycuda.driver``: an Event records the stream's clock when it is recorded."""

    def __init__(self, times_ms):
        self.times_ms = list(times_ms)
        self.synced = 0
        driver = self

        class Event:
            def record(self, stream):
                self.at_ms = driver.times_ms.pop(0)

            def synchronize(self):
                driver.synced += 1

            def time_since(self, earlier):  # pycuda: ms from `earlier` to self
                return self.at_ms - earlier.at_ms

        self.Event = Event


def test_cuda_event_bookkeeping_splits_h2d_compute_d2h():
    # the timer the TensorRT backend records its four events with (the instrumentation library's)
    from trtlens.producers.instrument.cuda import CudaStageTimer

    driver = FakeDriver([10.0, 10.4, 13.4, 13.5])
    timer = CudaStageTimer("stream", driver=driver)
    for mark in ("start", "h2d", "compute", "d2h"):
        timer.mark(mark)
    t = timer.times()
    assert (t.h2d_ms, t.compute_ms, t.d2h_ms) == pytest.approx((0.4, 3.0, 0.1)) and driver.synced == 1
    clock_skew = FakeDriver([5.0, 4.9, 6.0, 6.0])  # events never give a negative stage time
    timer = CudaStageTimer("stream", driver=clock_skew)
    for mark in ("start", "h2d", "compute", "d2h"):
        timer.mark(mark)
    assert timer.times().h2d_ms == 0.0


def test_log_capture_writes_trtexec_lines_counts_and_keeps_errors(tmp_path):
    path = tmp_path / "build.log"
    echoed = []
    cap = tb.LogCapture(path, min_severity="INFO", echo=echoed.append)
    cap.log("VERBOSE", "Tactic 0x1 time 0.1")  # below INFO: dropped
    cap.log("INFO", "Layer(Conv) conv0 + relu0 fused")
    cap.log("WARNING", "Weights fc.w: FP16 subnormal")
    cap.log(types.SimpleNamespace(name="ERROR"), "Error Code 2: OutOfMemory")
    cap.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("] [I] [TRT] Layer(Conv) conv0 + relu0 fused") and lines[0].startswith("[")
    assert "[W] [TRT]" in lines[1] and "[E] [TRT]" in lines[2]
    assert cap.counts == {"INFO": 1, "WARNING": 1, "ERROR": 1}
    assert cap.errors == ["Error Code 2: OutOfMemory"]
    assert len(echoed) == 2  # warnings and errors reach the terminal


@pytest.mark.parametrize(("severity", "name"), [
    ("WARNING", "WARNING"), ("Severity.kVERBOSE", "VERBOSE"), (types.SimpleNamespace(name="INTERNAL_ERROR"), "INTERNAL_ERROR"),
    ("something-else", "INFO"),
])
def test_severity_names(severity, name):
    assert tb.LogCapture.severity_name(severity) == name


def test_log_line_format_is_what_the_trtexec_parsers_read():
    cap = tb.LogCapture(None)
    assert cap.format("INFO", "hello  \n", datetime(2024, 8, 23, 10, 1, 2)) == "[08/23/2024-10:01:02] [I] [TRT] hello"
    with pytest.raises(ValueError, match="min_severity"):
        tb.LogCapture(None, min_severity="LOUD")


def test_log_capture_is_safe_across_threads(tmp_path):
    cap = tb.LogCapture(tmp_path / "t.log")
    threads = [threading.Thread(target=lambda: [cap.log("INFO", "m") for _ in range(500)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cap.close()
    assert cap.counts["INFO"] == 2000 and len((tmp_path / "t.log").read_text().splitlines()) == 2000


def test_trt_logger_subclass_forwards_to_the_capture():
    class ILogger:
        def __init__(self):
            self.base_called = True

    cap = tb.LogCapture(None)
    logger = tb.make_trt_logger(types.SimpleNamespace(ILogger=ILogger), cap)
    assert isinstance(logger, ILogger) and logger.base_called
    logger.log("WARNING", "careful")
    assert cap.counts == {"WARNING": 1}


def test_missing_tensorrt_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(DependencyMissingError) as err:
        tb.import_tensorrt()
    assert err.value.package == "tensorrt" and "pip install" in str(err.value) and "trtlens[tensorrt]" in str(err.value)


def test_old_tensorrt_is_refused(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="8.6.1"))
    with pytest.raises(DependencyMissingError, match="need >= 10"):
        tb.import_tensorrt()


def test_missing_pycuda_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)
    with pytest.raises(DependencyMissingError) as err:
        tb.import_pycuda()
    assert err.value.package == "pycuda"


def test_backend_load_without_tensorrt_fails_with_the_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    backend = tb.TensorRTBackend(tmp_path / "m.engine")
    with pytest.raises(DependencyMissingError, match="tensorrt"):
        backend.load()
    with pytest.raises(BackendError, match="not loaded"):
        backend.infer(np.zeros((1, 3, 8, 8), np.float32))


def test_build_engine_without_tensorrt_fails_before_touching_files(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(DependencyMissingError):
        tb.build_engine(tmp_path / "m.onnx", tmp_path / "m.engine", tmp_path / "b.log", tb.BuildOptions(fp16=True))
    assert not (tmp_path / "b.log").exists()


def test_build_options():
    opts = tb.BuildOptions(fp16=True, int8=True, min_batch=1, opt_batch=4, max_batch=16)
    assert opts.precisions == ["fp32", "fp16", "int8"]
    assert opts.profile_shapes((-1, 3, 64, 64)) == ((1, 3, 64, 64), (4, 3, 64, 64), (16, 3, 64, 64))
    with pytest.raises(ValueError, match="only the batch dim"):
        opts.profile_shapes((-1, 3, -1, 64))
    with pytest.raises(ValueError, match="workspace_mb"):
        tb.BuildOptions(workspace_mb=0)
    with pytest.raises(ValueError, match="min <= opt <= max"):
        tb.BuildOptions(min_batch=8, opt_batch=4)


def test_captured_build_log_feeds_the_grey_box_parser(tmp_path):
    pytest.importorskip("trtlens.producers.trtlog")
    from trtlens.producers.worker.cli import parse_build_log

    cap = tb.LogCapture(tmp_path / "b.log")
    cap.write_note("trtlens build-engine: TensorRT version 10.3.0")
    cap.log("WARNING", "onnxOpImporters.cpp:123: Your ONNX model has been generated with INT64 weights")
    cap.log("ERROR", "1: [defaultAllocator.cpp::allocate::20] Error Code 1: Cuda Runtime (out of memory)")
    cap.close()
    parsed = parse_build_log(tmp_path / "b.log", "demo-fp16")
    if parsed is None:
        pytest.skip("trtlog has no parse_log yet")
    assert parsed.build.engine_id == "demo-fp16"
    assert any(d.severity == "error" for d in parsed.build.diagnostics)


def test_infer_times_stages_with_the_library_timer_and_profiles_with_its_iprofiler():
    """TensorRTBackend.infer on stand-ins for pycuda and the execution context (the real ones need a GPU)."""

    class FakeIProfiler:
        def __init__(self):
            pass

    class Context:
        profiler = None

        def set_input_shape(self, name, shape):
            return True

        def get_tensor_shape(self, name):
            return (2, 10)

        def set_tensor_address(self, name, addr):
            pass

        def execute_async_v3(self, stream_handle):
            if self.profiler is not None:
                self.profiler.report_layer_time("conv1 + relu1", 0.75)
                self.profiler.report_layer_time("fc", 0.25)
            return True

    class Mem(int):
        def free(self):
            pass

    driver = FakeDriver([0.0, 0.5, 3.5, 3.75] * 2)
    driver.pagelocked_empty = lambda n, dtype: np.zeros(n, dtype)
    driver.mem_alloc = lambda nbytes: Mem(1)
    driver.memcpy_htod_async = driver.memcpy_dtoh_async = lambda *a: None
    b = tb.TensorRTBackend("/m.plan")
    b._trt, b._cuda, b._context = types.SimpleNamespace(IProfiler=FakeIProfiler), driver, Context()
    b._ctx = types.SimpleNamespace(push=lambda: None, pop=lambda: None)
    b._stream = types.SimpleNamespace(handle=0, synchronize=lambda: None)
    b._specs = [tb.TensorSpec("in", True, np.dtype(np.float32), (-1, 4), None),
                tb.TensorSpec("out", False, np.dtype(np.float32), (-1, 10), None)]
    plain = b.infer(np.ones((2, 4), np.float32))
    assert (plain.h2d_ms, plain.compute_ms, plain.d2h_ms, plain.layers) == (0.5, 3.0, 0.25, ())
    profiled = b.infer(np.ones((2, 4), np.float32), profile=True)
    assert [(t.layer, t.time_ms) for t in profiled.layers] == [("conv1 + relu1", 0.75), ("fc", 0.25)]
    assert b._context.profiler is None  # detached after the profiled enqueue
