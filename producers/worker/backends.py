"""The backend interface of the inference worker, and the ONNX Runtime (CPU) backend.

A backend loads an engine/model, runs a batch and reports where the time went:

    backend.load() -> LoadInfo          # duration_ms, cache_hit, engine_path, identity
    backend.infer(batch) -> Timings     # latency_ms and h2d/compute/d2h where measured
    backend.infer(batch, profile=True)  # the same, plus per-layer times (Timings.layers)
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
from trtlens.producers.instrument.profiling import LayerTiming  # one layer of a profile (the library's type)
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
    """One inference. ``None`` = not measured by this backend; ``layers`` only when it was profiled."""

    latency_ms: float
    compute_ms: float | None = None
    h2d_ms: float | None = None
    d2h_ms: float | None = None
    layers: tuple[LayerTiming, ...] = ()
    """per layer/node, in execution order (``trtlens.producers.instrument.profiling.LayerTiming``)"""


class Backend(Protocol):
    name: str  # "onnxruntime" | "tensorrt" (the event's ``backend`` field)
    precision: str
    engine_path: str

    @property
    def loaded(self) -> bool: ...

    def load(self) -> LoadInfo: ...

    def unload(self) -> None: ...

    def input_shape(self, batch_size: int) -> tuple[int, ...]: ...

    def infer(self, batch: np.ndarray, *, profile: bool = False) -> Timings: ...

    def runtime_versions(self) -> dict[str, str]: ...


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


def ort_node_timings(trace: list[dict]) -> tuple[LayerTiming, ...]:
    """Per-node kernel times of the runs in an ONNX Runtime profile (``end_profiling()`` JSON).

    ONNX Runtime writes a Chrome-trace list; each executed node is an event with
    ``cat: "Node"``, ``name: "<node>_kernel_time"``, ``dur`` in microseconds and
    ``args.op_name``. Other events (session init, ``_fence_before``/``_fence_after``,
    ``model_run``) are not layers. Times of a node that ran several times are summed.
    """
    order: dict[str, list] = {}
    for ev in trace:
        if not isinstance(ev, dict) or ev.get("cat") != "Node":
            continue
        name = str(ev.get("name", ""))
        if not name.endswith("_kernel_time"):
            continue
        node = name[: -len("_kernel_time")]
        args = ev.get("args") or {}
        slot = order.setdefault(node, [0.0, args.get("op_name")])
        slot[0] += float(ev.get("dur", 0)) / 1000.0
    return tuple(LayerTiming(node, round(ms, 6), op) for node, (ms, op) in order.items())


class OnnxRuntimeBackend:
    """CPU inference with ONNX Runtime; ``compute_ms`` is the session run (no device copies on CPU).

    Profiled requests (``infer(batch, profile=True)``) run on a second session
    created with ``SessionOptions.enable_profiling``: ONNX Runtime profiles a
    session from its creation until ``end_profiling()``, which writes the trace
    and stops profiling for good. So each profiled request uses a fresh profiling
    session (prepared after the previous profiled request, outside its timing),
    whose trace is read, turned into per-node times and deleted.
    """

    name = "onnxruntime"

    def __init__(self, model_path: Path | str, *, intra_op_threads: int = 1, precision: str = "fp32") -> None:
        self.engine_path = str(model_path)
        self.precision = precision
        self._threads = intra_op_threads
        self._session = None
        self._profiling = None  # the next profiled request's session (enable_profiling)
        self._profile_dir: str | None = None
        self._input_name = ""
        self._input_dims: list = []
        self._input_dtype = np.float32

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def _ort(self):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise DependencyMissingError("onnxruntime", "pip install onnxruntime", cause=exc) from None
        return ort

    def _new_session(self, *, profiling: bool = False):
        ort = self._ort()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self._threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        if profiling:
            import tempfile

            if self._profile_dir is None:
                self._profile_dir = tempfile.mkdtemp(prefix="trtlens-ort-profile-")
            opts.enable_profiling = True
            opts.profile_file_prefix = str(Path(self._profile_dir) / "run")
        try:
            return ort.InferenceSession(self.engine_path, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/NoSuchFile types
            raise BackendError(self.name, "engine_load", f"{self.engine_path}: {exc}") from exc

    def load(self) -> LoadInfo:
        self._ort()
        t0 = time.perf_counter()
        session = self._new_session()
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
        self._drop_profiling()

    def runtime_versions(self) -> dict[str, str]:
        ort = self._ort()
        return {"onnxruntime": str(ort.__version__), "provider": "CPUExecutionProvider"}

    def input_shape(self, batch_size: int) -> tuple[int, ...]:
        """Read from the model file (does not load a session: the first request stays cold)."""
        if not self._input_dims:
            self._input_dims = _onnx_input_dims(self.engine_path)
        return _concrete(self._input_dims, batch_size)

    def infer(self, batch: np.ndarray, *, profile: bool = False) -> Timings:
        if self._session is None:
            raise BackendError(self.name, "compute", "model not loaded")
        session = self._session
        if profile:
            session = self._profiling or self._new_session(profiling=True)
            self._profiling = None
        t0 = time.perf_counter()
        try:
            session.run(None, {self._input_name: batch.astype(self._input_dtype, copy=False)})
        except Exception as exc:
            raise BackendError(self.name, "compute", str(exc)) from exc
        ms = (time.perf_counter() - t0) * 1000.0
        layers: tuple[LayerTiming, ...] = ()
        if profile:
            layers = self._read_profile(session)
            self._profiling = self._new_session(profiling=True)  # ready for the next profiled request
        return Timings(latency_ms=ms, compute_ms=ms, layers=layers)

    def _read_profile(self, session) -> tuple[LayerTiming, ...]:
        import json
        import os

        path = session.end_profiling()
        if not path:
            return ()
        try:
            with open(path, encoding="utf-8") as f:
                return ort_node_timings(json.load(f))
        except (OSError, ValueError) as exc:
            raise BackendError(self.name, "compute", f"unreadable ONNX Runtime profile {path}: {exc}") from exc
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass

    def _drop_profiling(self) -> None:
        if self._profiling is not None:
            self._read_profile(self._profiling)  # ends it and removes its (empty) trace
            self._profiling = None


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
