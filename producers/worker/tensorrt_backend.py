"""TensorRT backend (TensorRT 10 Python API) and ``build-engine``.

* **Online**: deserialize a ``.engine`` plan, allocate pycuda page-locked host
  and device buffers per I/O tensor, bind them with ``set_tensor_address`` and
  run ``execute_async_v3`` on a CUDA stream with CUDA events around the
  host→device copy, the compute and the device→host copy, so ``h2d_ms``,
  ``compute_ms`` and ``d2h_ms`` are measured separately (the instrumentation
  library's ``CudaStageTimer``). A profiled request
  (``infer(batch, profile=True)``: the worker's sampled share, or every request
  on demand) runs with the library's ``IProfiler`` (``layer_profiler``) attached to the execution context:
  TensorRT calls ``report_layer_time`` once per engine layer for the
  ``execute_async_v3`` (TensorRT ≥ 8.5 reports for enqueueV3); the profiler is
  detached afterwards so unsampled requests pay nothing.
* **Offline**: ``build_engine`` parses an ONNX file, sets FP16/INT8 flags and the
  workspace pool, adds an optimisation profile for a dynamic batch dim, builds
  the serialized plan, and captures **every** builder message through an
  ``ILogger`` subclass into a log file (trtexec's ``[date] [I] [TRT] msg`` line
  format) for the grey-box checks of ``trtlens.producers.trtlog``.

tensorrt and pycuda are imported lazily; without them (or without a GPU) the
calls raise :class:`~trtlens.errors.DependencyMissingError` saying what to
install. Everything that does not touch the GPU — shape/binding resolution,
timing bookkeeping, log capture — is plain Python and unit-tested.

NOT EXECUTED on the machines this was written on (no NVIDIA GPU, no TensorRT).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from trtlens.errors import DependencyMissingError, TrtlensError
from trtlens.producers.instrument.cuda import CudaStageTimer
from trtlens.producers.instrument.profiling import LayerTimes, layer_profiler
from trtlens.producers.worker.backends import BackendError, LoadInfo, Timings
from trtlens.producers.worker.identity import EngineIdentity, engine_id_of_bytes, tensorrt_versions

TRT_HINT = "pip install 'trtlens[tensorrt]' (tensorrt>=10, pycuda) on a host with an NVIDIA GPU and driver"
SEVERITY_LETTER = {"INTERNAL_ERROR": "F", "ERROR": "E", "WARNING": "W", "INFO": "I", "VERBOSE": "V"}


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise DependencyMissingError("tensorrt", TRT_HINT, cause=exc) from None
    major = int(str(getattr(trt, "__version__", "0")).split(".")[0] or 0)
    if major < 10:
        raise DependencyMissingError("tensorrt", f"found TensorRT {trt.__version__}, need >= 10; {TRT_HINT}")
    return trt


def import_pycuda():
    try:
        import pycuda.driver as cuda
    except ImportError as exc:
        raise DependencyMissingError("pycuda", TRT_HINT, cause=exc) from None
    try:
        cuda.init()
        if cuda.Device.count() == 0:
            raise RuntimeError("no CUDA device")
    except Exception as exc:  # pycuda.driver.Error, RuntimeError
        raise DependencyMissingError("pycuda", f"CUDA is not usable here ({exc}); {TRT_HINT}", cause=exc) from None
    return cuda


# --------------------------------------------------------------------------- logger capture
class LogCapture:
    """Writes TensorRT messages as trtexec-style lines and counts them per severity.

    Thread-safe (TensorRT may log from its own threads). ``min_severity`` is the
    name of the least severe level kept (``VERBOSE`` keeps everything the
    grey-box parser wants: fusions, tactics, per-layer precisions).
    """

    ORDER = ("INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE")

    def __init__(self, path: Path | str | None, *, min_severity: str = "VERBOSE", echo=None) -> None:
        if min_severity not in self.ORDER:
            raise ValueError(f"min_severity must be one of {self.ORDER}, got {min_severity!r}")
        self.path = Path(path) if path else None
        self.min_rank = self.ORDER.index(min_severity)
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._file = open(self.path, "a", encoding="utf-8") if self.path else None  # noqa: SIM115
        self._echo = echo

    @staticmethod
    def severity_name(severity: Any) -> str:
        """``trt.ILogger.Severity.WARNING`` / ``"WARNING"`` / ``Severity.kWARNING`` → ``"WARNING"``."""
        name = getattr(severity, "name", None) or str(severity).rsplit(".", 1)[-1]
        name = name.upper().removeprefix("K")
        return name if name in SEVERITY_LETTER else "INFO"

    def format(self, severity: str, message: str, now: datetime | None = None) -> str:
        ts = (now or datetime.now()).strftime("%m/%d/%Y-%H:%M:%S")
        return f"[{ts}] [{SEVERITY_LETTER[severity]}] [TRT] {message.rstrip()}"

    def log(self, severity: Any, message: str) -> None:
        name = self.severity_name(severity)
        if self.ORDER.index(name) > self.min_rank:
            return
        line = self.format(name, message)
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            if name in ("ERROR", "INTERNAL_ERROR"):
                self.errors.append(message.strip())
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()
        if self._echo is not None and name in ("INTERNAL_ERROR", "ERROR", "WARNING"):
            self._echo(line)

    def write_note(self, message: str) -> None:
        """A line of our own in the same format (command, versions) for the parser's context."""
        self.log("INFO", message)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def make_trt_logger(trt, capture: LogCapture):
    """An instance of a ``trt.ILogger`` subclass that forwards every message to ``capture``."""

    class _CapturingLogger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.capture = capture

        def log(self, severity, msg):  # noqa: D401 - TensorRT's callback signature
            self.capture.log(severity, msg)

    return _CapturingLogger()


# --------------------------------------------------------------------------- layer types
def inspector_layer_types(engine, trt) -> dict[str, str]:
    """Engine layer name → type from the engine inspector (needs a build with detailed profiling verbosity).

    Best effort: an engine built without it names no types, and this returns ``{}``.
    """
    import json

    out: dict[str, str] = {}
    try:
        inspector = engine.create_engine_inspector()
        for i in range(engine.num_layers):
            info = json.loads(inspector.get_layer_information(i, trt.LayerInformationFormat.JSON))
            if isinstance(info, dict) and info.get("Name") and info.get("LayerType"):
                out[str(info["Name"])] = str(info["LayerType"])
    except Exception:  # noqa: BLE001 - older engines/TensorRT: no inspector data, no types
        return {}
    return out


# --------------------------------------------------------------------------- shapes and bindings
@dataclass(frozen=True)
class TensorSpec:
    name: str
    is_input: bool
    dtype: Any  # numpy dtype
    shape: tuple[int, ...]  # as the engine reports it: -1 = dynamic
    profile: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None = None  # (min, opt, max) of inputs


def volume(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        if d < 0:
            raise ValueError(f"shape {shape} is not concrete")
        n *= d
    return n


def concrete_input_shape(spec: TensorSpec, batch_size: int) -> tuple[int, ...]:
    """The input shape for ``batch_size``: dynamic batch dim set, other dynamic dims from the profile's opt."""
    shape = list(spec.shape)
    for i, dim in enumerate(shape):
        if dim >= 0:
            if i == 0 and dim != batch_size:
                raise BackendError("tensorrt", "engine_load",
                                   f"input {spec.name!r} has a fixed batch dim {dim}; use --batch-size {dim}")
            continue
        if i == 0:
            shape[0] = batch_size
        elif spec.profile is not None:
            shape[i] = spec.profile[1][i]
        else:
            raise BackendError("tensorrt", "engine_load", f"input {spec.name!r} dim {i} is dynamic and has no profile")
    if spec.profile is not None:
        lo, _, hi = spec.profile
        for i, d in enumerate(shape):
            if not lo[i] <= d <= hi[i]:
                raise BackendError(
                    "tensorrt", "engine_load",
                    f"input {spec.name!r} shape {tuple(shape)} is outside the engine's profile {lo}..{hi} (dim {i})",
                )
    return tuple(shape)


def tensor_specs(engine, trt) -> list[TensorSpec]:
    """I/O tensors of a deserialized engine (TensorRT 10 name-based API)."""
    specs = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
        shape = tuple(int(d) for d in engine.get_tensor_shape(name))
        profile = None
        if is_input and any(d < 0 for d in shape) and engine.num_optimization_profiles > 0:
            lo, opt, hi = engine.get_tensor_profile_shape(name, 0)
            profile = (tuple(lo), tuple(opt), tuple(hi))
        specs.append(TensorSpec(name, is_input, dtype, shape, profile))
    return specs


# --------------------------------------------------------------------------- backend
@dataclass
class _Buffers:
    host: dict[str, Any] = field(default_factory=dict)
    device: dict[str, Any] = field(default_factory=dict)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    batch_size: int = 0


def tensorrt_identity(plan: bytes, trt, cuda, device, precision: str) -> EngineIdentity:
    """Identity of a deserialized plan on ``device`` (a ``pycuda.driver.Device``); NOT EXECUTED here."""
    try:
        major, minor = device.compute_capability()
        capability: str | None = f"{major}.{minor}"
    except Exception:  # noqa: BLE001 - a figure we cannot read is left out, the load still counts
        capability = None
    try:
        name: str | None = str(device.name())
    except Exception:  # noqa: BLE001
        name = None
    return EngineIdentity(engine_id=engine_id_of_bytes(plan), runtime_versions=tensorrt_versions(trt, cuda),
                          device_name=name, compute_capability=capability, precision=precision)


class TensorRTBackend:
    """Runs a serialized TensorRT engine with pycuda buffers; NOT EXECUTED here (no GPU)."""

    name = "tensorrt"

    def __init__(self, engine_path: Path | str, *, device: int = 0, precision: str | None = None,
                 log_path: Path | str | None = None) -> None:
        self.engine_path = str(engine_path)
        self.precision = precision or "mixed"
        self.device = device
        self._capture = LogCapture(log_path, min_severity="WARNING")
        self._trt = None
        self._cuda = None
        self._ctx = None
        self._engine = None
        self._context = None
        self._stream = None
        self._specs: list[TensorSpec] = []
        self._buf = _Buffers()
        self._layers = LayerTimes()
        self._profiler = None
        self._layer_types: dict[str, str] = {}

    @property
    def loaded(self) -> bool:
        return self._context is not None

    def load(self) -> LoadInfo:
        trt = self._trt = import_tensorrt()
        cuda = self._cuda = import_pycuda()
        t0 = time.perf_counter()
        try:
            plan = Path(self.engine_path).read_bytes()
        except OSError as exc:
            raise BackendError(self.name, "engine_load", f"cannot read {self.engine_path}: {exc}") from exc
        device = cuda.Device(self.device)
        self._ctx = device.make_context()
        try:
            runtime = trt.Runtime(make_trt_logger(trt, self._capture))
            engine = runtime.deserialize_cuda_engine(plan)
            if engine is None:
                raise BackendError(self.name, "engine_load",
                                   f"deserialize failed: {'; '.join(self._capture.errors[-3:]) or 'see TensorRT log'}")
            self._engine = engine
            self._context = engine.create_execution_context()
            self._stream = cuda.Stream()
            self._specs = tensor_specs(engine, trt)
            self._layer_types = inspector_layer_types(engine, trt)
        finally:
            self._ctx.pop()
        duration_ms = (time.perf_counter() - t0) * 1000.0
        return LoadInfo(self.engine_path, duration_ms, cache_hit=False,
                        identity=tensorrt_identity(plan, trt, cuda, device, self.precision))

    def unload(self) -> None:
        if self._ctx is None:
            return
        self._ctx.push()
        try:
            for mem in self._buf.device.values():
                mem.free()
            self._buf = _Buffers()
            self._context = None
            self._engine = None
            self._stream = None
        finally:
            self._ctx.pop()
            self._ctx.detach()
            self._ctx = None

    def runtime_versions(self) -> dict[str, str]:
        """TensorRT and the CUDA version pycuda was built against (``tensorrt``, ``cuda``); empty before load."""
        out: dict[str, str] = {}
        if self._trt is not None:
            out["tensorrt"] = str(self._trt.__version__)
        if self._cuda is not None:
            try:
                out["cuda"] = ".".join(str(x) for x in self._cuda.get_version())
            except Exception:  # noqa: BLE001 - pycuda without the call: leave it out
                pass
        return out

    def input_shape(self, batch_size: int) -> tuple[int, ...]:
        """Needs the engine's bindings: loads it once and unloads again, so the first request stays cold."""
        if not self._specs:
            self.load()
            self.unload()
        first = next(s for s in self._specs if s.is_input)
        return concrete_input_shape(first, batch_size)

    def _bind(self, batch_size: int) -> None:
        """(Re)allocate buffers and set tensor addresses when the batch size changes."""
        cuda = self._cuda
        for mem in self._buf.device.values():
            mem.free()
        buf = _Buffers(batch_size=batch_size)
        for spec in self._specs:
            if spec.is_input:
                shape = concrete_input_shape(spec, batch_size)
                if not self._context.set_input_shape(spec.name, shape):
                    raise BackendError(self.name, "compute", f"set_input_shape({spec.name}, {shape}) rejected")
                buf.shapes[spec.name] = shape
        for spec in self._specs:
            if not spec.is_input:
                buf.shapes[spec.name] = tuple(int(d) for d in self._context.get_tensor_shape(spec.name))
        for spec in self._specs:
            shape = buf.shapes[spec.name]
            host = cuda.pagelocked_empty(volume(shape), spec.dtype)
            dev = cuda.mem_alloc(host.nbytes)
            buf.host[spec.name], buf.device[spec.name] = host, dev
            self._context.set_tensor_address(spec.name, int(dev))
        self._buf = buf

    def _attach_profiler(self, on: bool) -> None:
        if on:
            if self._profiler is None:
                self._profiler = layer_profiler(self._layers, trt=self._trt)
            self._context.profiler = self._profiler
        else:
            try:
                self._context.profiler = None
            except TypeError:  # a binding that refuses None: keep it attached; take() clears between requests
                pass

    def infer(self, batch: np.ndarray, *, profile: bool = False) -> Timings:
        if self._context is None:
            raise BackendError(self.name, "compute", "engine not loaded")
        cuda = self._cuda
        self._ctx.push()
        try:
            if self._buf.batch_size != batch.shape[0]:
                self._bind(batch.shape[0])
            inputs = [s for s in self._specs if s.is_input]
            outputs = [s for s in self._specs if not s.is_input]
            t0 = time.perf_counter()
            timer = CudaStageTimer(self._stream, driver=cuda)
            timer.mark("start")
            for spec in inputs:
                host = self._buf.host[spec.name]
                np.copyto(host.reshape(self._buf.shapes[spec.name]), batch.astype(spec.dtype, copy=False))
                cuda.memcpy_htod_async(self._buf.device[spec.name], host, self._stream)
            timer.mark("h2d")
            if profile:
                self._attach_profiler(True)
            try:
                if not self._context.execute_async_v3(stream_handle=self._stream.handle):
                    raise BackendError(self.name, "compute", "execute_async_v3 returned False")
            finally:
                if profile:
                    self._attach_profiler(False)
            timer.mark("compute")
            for spec in outputs:
                cuda.memcpy_dtoh_async(self._buf.host[spec.name], self._buf.device[spec.name], self._stream)
            timer.mark("d2h")
            self._stream.synchronize()
            wall_ms = (time.perf_counter() - t0) * 1000.0
            stages = timer.times()
            return Timings(latency_ms=wall_ms, h2d_ms=stages.h2d_ms, compute_ms=stages.compute_ms,
                           d2h_ms=stages.d2h_ms, layers=self._layers.take(self._layer_types) if profile else ())
        finally:
            self._ctx.pop()


# --------------------------------------------------------------------------- offline build
class EngineBuildError(TrtlensError):
    """The TensorRT builder failed. Attributes: onnx_path, log_path, reason."""

    def __init__(self, onnx_path: str, log_path: str, reason: str) -> None:
        self.onnx_path = onnx_path
        self.log_path = log_path
        self.reason = reason
        super().__init__(f"engine build of {onnx_path} failed: {reason} (builder log: {log_path})")


@dataclass(frozen=True)
class BuildOptions:
    fp16: bool = False
    int8: bool = False
    workspace_mb: int = 1024
    min_batch: int = 1
    opt_batch: int = 8
    max_batch: int = 32
    calibration_batches: int = 8

    def __post_init__(self) -> None:
        if self.workspace_mb < 1:
            raise ValueError(f"workspace_mb={self.workspace_mb}: must be >= 1")
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ValueError(f"batch profile {self.min_batch}/{self.opt_batch}/{self.max_batch}: need 1 <= min <= opt <= max")

    @property
    def precisions(self) -> list[str]:
        return ["fp32"] + (["fp16"] if self.fp16 else []) + (["int8"] if self.int8 else [])

    def profile_shapes(self, shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """(min, opt, max) for an ONNX input whose batch dim (only) is dynamic."""
        rest = tuple(shape[1:])
        if any(d < 0 for d in rest):
            raise ValueError(f"only the batch dim may be dynamic, input shape is {shape}")
        return (self.min_batch, *rest), (self.opt_batch, *rest), (self.max_batch, *rest)


@dataclass
class BuildResult:
    engine_path: Path
    log_path: Path
    build_time_ms: float
    engine_bytes: int
    warnings: int
    errors: int


def _make_calibrator(trt, cuda, input_shape: tuple[int, ...], batches: int, cache_path: Path):
    """An INT8 entropy calibrator fed with deterministic synthetic batches (no dataset needed for a demo)."""
    rng = np.random.default_rng(0)

    class _Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.left = batches
            self.host = np.zeros(input_shape, dtype=np.float32)
            self.device = cuda.mem_alloc(self.host.nbytes)

        def get_batch_size(self):
            return input_shape[0]

        def get_batch(self, names):
            if self.left == 0:
                return None
            self.left -= 1
            self.host[...] = rng.standard_normal(input_shape, dtype=np.float32)
            cuda.memcpy_htod(self.device, self.host)
            return [int(self.device)]

        def read_calibration_cache(self):
            return cache_path.read_bytes() if cache_path.is_file() else None

        def write_calibration_cache(self, cache):
            cache_path.write_bytes(bytes(cache))

    return _Calibrator()


def build_engine(onnx_path: Path | str, engine_path: Path | str, log_path: Path | str, options: BuildOptions,
                 *, echo=None) -> BuildResult:
    """Build a serialized engine from ONNX with the TensorRT 10 builder, capturing its log (VERBOSE)."""
    onnx_path, engine_path, log_path = Path(onnx_path), Path(engine_path), Path(log_path)
    trt = import_tensorrt()
    cuda = import_pycuda() if options.int8 else None
    log_path.parent.mkdir(parents=True, exist_ok=True)
    capture = LogCapture(log_path, min_severity="VERBOSE", echo=echo)
    capture.write_note(f"trtlens build-engine: TensorRT version {trt.__version__}; onnx={onnx_path}; "
                       f"precisions={','.join(options.precisions)}; workspace={options.workspace_mb} MiB")
    logger = make_trt_logger(trt, capture)
    ctx = cuda.Device(0).make_context() if cuda else None
    t0 = time.perf_counter()
    try:
        builder = trt.Builder(logger)
        network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(onnx_path.read_bytes()):
            reasons = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise EngineBuildError(str(onnx_path), str(log_path), f"ONNX parse failed: {reasons}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mb << 20)
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
        if options.fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        dynamic = False
        calib_shape = None
        for i in range(network.num_inputs):
            tensor = network.get_input(i)
            shape = tuple(int(d) for d in tensor.shape)
            if any(d < 0 for d in shape):
                lo, opt, hi = options.profile_shapes(shape)
                profile.set_shape(tensor.name, lo, opt, hi)
                dynamic = True
                calib_shape = calib_shape or opt
            else:
                calib_shape = calib_shape or shape
        if dynamic:
            config.add_optimization_profile(profile)
        if options.int8:
            config.set_flag(trt.BuilderFlag.INT8)
            config.int8_calibrator = _make_calibrator(trt, cuda, calib_shape, options.calibration_batches,
                                                      engine_path.with_suffix(".calib"))
            if dynamic:
                config.set_calibration_profile(profile)
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            raise EngineBuildError(str(onnx_path), str(log_path),
                                   "; ".join(capture.errors[-3:]) or "builder returned no engine")
        engine_path.parent.mkdir(parents=True, exist_ok=True)
        data = bytes(plan)
        engine_path.write_bytes(data)
        build_ms = (time.perf_counter() - t0) * 1000.0
        capture.write_note(f"trtlens build-engine: wrote {engine_path} ({len(data)} bytes) in {build_ms:.0f} ms")
        return BuildResult(engine_path, log_path, build_ms, len(data), capture.counts.get("WARNING", 0),
                           capture.counts.get("ERROR", 0) + capture.counts.get("INTERNAL_ERROR", 0))
    finally:
        capture.close()
        if ctx is not None:
            ctx.pop()
            ctx.detach()
