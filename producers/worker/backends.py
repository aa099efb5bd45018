"""The backend interface of the inference worker, and the ONNX Runtime (CPU) backend.

A backend loads an engine/model, runs a batch and reports where the time went:

    backend.load() -> LoadInfo          # duration_ms, cache_hit, engine_path, identity
    backend.infer(batch) -> Timings     # latency_ms and h2d/compute/d2h where measured
    backend.unload()
    backend.input_shape(batch_size)     # the shape a synthetic client should send

``TensorRTBackend`` lives in ``tensorrt_backend.py`` (imported lazily: it needs
tensorrt, pycuda and a GPU).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from trtlens.errors import DependencyMissingError, TrtlensError
from trtlens.producers.worker.identity import EngineIdentity, onnxruntime_identity


class BackendError(TrtlensError):
    """A backend failed to load or run.

    Attributes: backend, stage (``engine_load`` | ``compute`` | ...), reason.
    """

    def __init__(self, backend: str, stage: str, reason: str) -> None:
        self.backend = backend
        self.stage = stage
        self.reason = reason
        super().__init__(f"{backend} {stage} failed: {reason}")


@dataclass(frozen=True)
class LoadInfo:
    engine_path: str
    duration_ms: float
    cache_hit: bool = False
    identity: EngineIdentity | None = None
    """engine id, runtime versions, device, precision (``identity.py``); None when the backend cannot tell."""


@dataclass(frozen=True)
class Timings:
    """One inference. ``None`` = not measured by this backend."""

    latency_ms: float
    compute_ms: float | None = None
    h2d_ms: float | None = None
    d2h_ms: float | None = None


class Backend(Protocol):
    name: str  # "onnxruntime" | "tensorrt" (the event's ``backend`` field)
    precision: str
    engine_path: str

    @property
    def loaded(self) -> bool: ...

    def load(self) -> LoadInfo: ...

    def unload(self) -> None: ...

    def input_shape(self, batch_size: int) -> tuple[int, ...]: ...

    def infer(self, batch: np.ndarray) -> Timings: ...


def _concrete(shape: list, batch_size: int) -> tuple[int, ...]:
    """ONNX input shape with the symbolic/unknown batch dim (and only it) set to ``batch_size``."""
    out = []
    for i, dim in enumerate(shape):
        if isinstance(dim, int) and dim > 0:
            if i == 0 and dim != batch_size:
                raise BackendError("onnxruntime", "engine_load", f"the model's batch dim is fixed at {dim}; use --batch-size {dim}")
            out.append(dim)
        elif i == 0:
            out.append(batch_size)
        else:
            raise BackendError("onnxruntime", "engine_load", f"input dim {i} is dynamic ({dim!r}); only the batch dim may be")
    return tuple(out)


def _onnx_input_dims(path: str) -> list:
    """First graph input's dims (ints, or the symbolic name / None where dynamic), initializers skipped."""
    import onnx

    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:
        raise BackendError("onnxruntime", "engine_load", f"{path}: not a readable ONNX model ({exc})") from exc
    initializers = {i.name for i in model.graph.initializer}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                for d in value.type.tensor_type.shape.dim]
    raise BackendError("onnxruntime", "engine_load", f"{path}: the model has no inputs")


class OnnxRuntimeBackend:
    """CPU inference with ONNX Runtime; ``compute_ms`` is the session run (no device copies on CPU)."""

    name = "onnxruntime"

    def __init__(self, model_path: Path | str, *, intra_op_threads: int = 1, precision: str = "fp32") -> None:
        self.engine_path = str(model_path)
        self.precision = precision
        self._threads = intra_op_threads
        self._session = None
        self._input_name = ""
        self._input_dims: list = []
        self._input_dtype = np.float32

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def load(self) -> LoadInfo:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise DependencyMissingError("onnxruntime", "pip install onnxruntime", cause=exc) from None
        t0 = time.perf_counter()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self._threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(self.engine_path, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/NoSuchFile types
            raise BackendError(self.name, "engine_load", f"{self.engine_path}: {exc}") from exc
        first = session.get_inputs()[0]
        self._input_name = first.name
        self._input_dims = list(first.shape)
        self._input_dtype = np.float16 if "float16" in first.type else np.float32
        self._session = session
        duration_ms = (time.perf_counter() - t0) * 1000.0  # the hash below is not part of the load
        return LoadInfo(self.engine_path, duration_ms, cache_hit=False,
                        identity=onnxruntime_identity(self.engine_path, session, self.precision))

    def unload(self) -> None:
        self._session = None

    def input_shape(self, batch_size: int) -> tuple[int, ...]:
        """Read from the model file (does not load a session: the first request stays cold)."""
        if not self._input_dims:
            self._input_dims = _onnx_input_dims(self.engine_path)
        return _concrete(self._input_dims, batch_size)

    def infer(self, batch: np.ndarray) -> Timings:
        if self._session is None:
            raise BackendError(self.name, "compute", "model not loaded")
        t0 = time.perf_counter()
        try:
            self._session.run(None, {self._input_name: batch.astype(self._input_dtype, copy=False)})
        except Exception as exc:
            raise BackendError(self.name, "compute", str(exc)) from exc
        ms = (time.perf_counter() - t0) * 1000.0
        return Timings(latency_ms=ms, compute_ms=ms)


def make_backend(kind: str, model_path: Path | str, **options) -> Backend:
    """``onnxruntime`` | ``tensorrt`` | ``auto`` (TensorRT for ``.engine``/``.plan`` files, else ONNX Runtime)."""
    path = str(model_path)
    if kind == "auto":
        kind = "tensorrt" if path.endswith((".engine", ".plan", ".trt")) else "onnxruntime"
    if kind == "onnxruntime":
        return OnnxRuntimeBackend(path, intra_op_threads=options.get("intra_op_threads", 1))
    if kind == "tensorrt":
        from trtlens.producers.worker.tensorrt_backend import TensorRTBackend

        return TensorRTBackend(path, device=options.get("device", 0), precision=options.get("precision"))
    raise TrtlensError(f"unknown backend {kind!r}; use onnxruntime, tensorrt or auto")
