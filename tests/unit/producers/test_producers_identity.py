"""Engine identity: the content hash, the event fields, and what the backends and the worker report."""

from __future__ import annotations

import hashlib

import pytest

from trtlens.producers.worker.backends import LoadInfo, OnnxRuntimeBackend
from trtlens.producers.worker.core import InferenceWorker
from trtlens.producers.worker.demo_model import demo_model_path
from trtlens.producers.worker.identity import (
    EngineIdentity,
    engine_id,
    engine_id_of_bytes,
    synthetic_engine_id,
    tensorrt_versions,
)
from trtlens.schemas.events import EngineLoadComplete, InferenceComplete, RequestComplete


def test_engine_id_is_the_first_16_hex_of_sha256_of_the_file(tmp_path):
    data = bytes(range(256)) * 9000  # > 1 MiB chunk: the chunked read must hash the same bytes
    path = tmp_path / "m.plan"
    path.write_bytes(data)
    assert engine_id(path) == hashlib.sha256(data).hexdigest()[:16] == engine_id_of_bytes(data)
    path.write_bytes(data + b"x")
    assert engine_id(path) != engine_id_of_bytes(data)


def test_synthetic_ids_are_stable_and_distinct():
    assert synthetic_engine_id("m", "v1") == synthetic_engine_id("m", "v1")
    assert synthetic_engine_id("m", "v1") != synthetic_engine_id("m", "v2")
    assert len(synthetic_engine_id("m", "v1")) == 16


def test_identity_rejects_unknown_runtime_keys():
    with pytest.raises(ValueError, match="unknown keys"):
        EngineIdentity(runtime_versions={"tensorflow": "2"})


class _Trt:
    __version__ = "10.3.0"

    @staticmethod
    def get_cudnn_version():
        return 8906


class _Cuda:
    @staticmethod
    def get_driver_version():
        return 12040


def test_tensorrt_versions_read_trt_cuda_and_cudnn():
    assert tensorrt_versions(_Trt, _Cuda) == {"tensorrt": "10.3.0", "cuda": "12.4", "cudnn": "8.9.6"}

    class NoDriver:
        @staticmethod
        def get_driver_version():
            raise RuntimeError("no driver")

    assert tensorrt_versions(type("T", (), {"__version__": "10.0.1"}), NoDriver) == {"tensorrt": "10.0.1"}


def test_onnxruntime_backend_reports_its_identity(tmp_path):
    import onnxruntime as ort

    path = demo_model_path(tmp_path)
    info = OnnxRuntimeBackend(path).load()
    ident = info.identity
    assert ident is not None
    assert ident.engine_id == engine_id(path)
    assert ident.runtime_versions == {"onnxruntime": ort.__version__, "provider": "CPUExecutionProvider"}
    assert ident.device_name and ident.device_name.startswith("CPU")
    assert ident.precision == "fp32" and ident.compute_capability is None


class _Backend:
    name, precision, engine_path = "onnxruntime", "fp16", "/m.onnx"

    def __init__(self):
        self._loaded = False

    @property
    def loaded(self):
        return self._loaded

    def load(self):
        self._loaded = True
        return LoadInfo(self.engine_path, 5.0, identity=EngineIdentity(
            engine_id="abcdef0123456789", runtime_versions={"onnxruntime": "1.2", "provider": "CPUExecutionProvider"},
            device_name="CPU x86_64", precision="fp16"))

    def unload(self):
        self._loaded = False

    def input_shape(self, batch_size):
        return (batch_size, 2)

    def infer(self, batch):
        from trtlens.producers.worker.backends import Timings

        return Timings(latency_ms=1.0, compute_ms=1.0)


def test_worker_puts_identity_on_load_events_and_the_engine_id_on_request_events():
    import numpy as np

    events = []
    w = InferenceWorker(_Backend(), events.append, model="m", model_version="v1", worker_id="w", host="h")
    w.handle("r1", np.zeros((1, 2), dtype=np.float32))
    load = next(e for e in events if isinstance(e, EngineLoadComplete))
    assert (load.engine_id, load.device_name, load.precision) == ("abcdef0123456789", "CPU x86_64", "fp16")
    assert load.runtime_versions["provider"] == "CPUExecutionProvider"
    for kind in (InferenceComplete, RequestComplete):
        assert next(e for e in events if isinstance(e, kind)).engine_id == "abcdef0123456789"


def test_tensorrt_identity_reads_the_device_and_hashes_the_plan():
    from trtlens.producers.worker.tensorrt_backend import tensorrt_identity

    class Device:
        def compute_capability(self):
            return (8, 9)

        def name(self):
            return "NVIDIA L4"

    ident = tensorrt_identity(b"plan-bytes", _Trt, _Cuda, Device(), "fp16")
    assert ident.engine_id == engine_id_of_bytes(b"plan-bytes")
    assert (ident.device_name, ident.compute_capability, ident.precision) == ("NVIDIA L4", "8.9", "fp16")
    assert ident.runtime_versions == {"tensorrt": "10.3.0", "cuda": "12.4", "cudnn": "8.9.6"}

    class Broken:
        def compute_capability(self):
            raise RuntimeError("context lost")

        def name(self):
            raise RuntimeError("context lost")

    assert tensorrt_identity(b"x", _Trt, _Cuda, Broken(), "int8").device_name is None
