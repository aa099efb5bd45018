"""CUDA-event timing for TensorRT inference, and a per-layer profiler hook.

:class:`CudaStageTimer` records CUDA events on the inference stream around host→device copies, the
engine's enqueue and device→host copies; after the stream is synchronised,
``times()`` gives :class:`StageTimes` (``h2d_ms``, ``compute_ms``, ``d2h_ms``: GPU time between the
events, not host wall time) for ``Inference.record``::

    timer = CudaStageTimer(stream)          # a pycuda.driver.Stream
    timer.mark("start"); cuda.memcpy_htod_async(d_in, h_in, stream)
    timer.mark("h2d");   context.execute_async_v3(stream.handle)
    timer.mark("compute"); cuda.memcpy_dtoh_async(h_out, d_out, stream)
    timer.mark("d2h");   stream.synchronize()
    inf.record(timer.times())

:func:`layer_profiler` builds a ``tensorrt.IProfiler`` whose ``report_layer_time`` collects per-layer
milliseconds; :meth:`LayerTimes.events` turns them into ``layer_profile`` events.

pycuda and tensorrt are imported lazily; without them (no NVIDIA GPU here) construction raises
:class:`~trtlens.errors.DependencyMissingError` saying what to install. NOT EXECUTED here: no GPU;
the arithmetic over events is tested with stand-in event objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trtlens.errors import DependencyMissingError

HINT = "pip install 'trtlens[tensorrt]' (tensorrt>=10, pycuda) on a host with an NVIDIA GPU and driver"
MARKS = ("start", "h2d", "compute", "d2h")


@dataclass(frozen=True)
class StageTimes:
    h2d_ms: float | None
    compute_ms: float | None
    d2h_ms: float | None


def stage_times(events: dict[str, Any]) -> StageTimes:
    """From recorded events by mark name (pycuda: ``later.time_since(earlier)`` = ms between them)."""
    def between(a: str, b: str) -> float | None:
        if a in events and b in events:
            return float(events[b].time_since(events[a]))
        return None

    return StageTimes(between("start", "h2d"), between("h2d", "compute"), between("compute", "d2h"))


class CudaStageTimer:
    def __init__(self, stream: Any = None, *, driver: Any = None) -> None:
        if driver is None:
            try:
                import pycuda.driver as driver  # noqa: F811
            except ImportError as exc:
                raise DependencyMissingError("pycuda", HINT, cause=exc) from None
        self._driver = driver
        self.stream = stream
        self._events: dict[str, Any] = {}

    def mark(self, name: str) -> None:
        if name not in MARKS:
            raise ValueError(f"mark must be one of {', '.join(MARKS)}, got {name!r}")
        ev = self._driver.Event()
        ev.record(self.stream)
        self._events[name] = ev

    def times(self) -> StageTimes:
        """Call after the stream is synchronised (or it synchronises on the last event)."""
        last = self._events.get("d2h") or self._events.get("compute")
        if last is not None:
            last.synchronize()
        out = stage_times(self._events)
        self._events = {}
        return out


@dataclass
class LayerTimes:
    ms: dict[str, float] = field(default_factory=dict)
    calls: int = 0

    def add(self, layer: str, ms: float) -> None:
        self.ms[layer] = self.ms.get(layer, 0.0) + float(ms)

    def events(self, *, engine_id: str, common: dict[str, Any], ts_ms: int, iterations: int = 1) -> list[dict]:
        total = sum(self.ms.values()) or 1.0
        return [{**common, "event": "layer_profile", "event_id": f"{engine_id}-{ts_ms}-{i}", "ts_ms": ts_ms,
                 "engine_id": engine_id, "layer": name, "time_ms": round(t, 6),
                 "avg_ms": round(t / max(1, iterations), 6), "time_pct": round(100.0 * t / total, 3)}
                for i, (name, t) in enumerate(sorted(self.ms.items()))]


def layer_profiler(times: LayerTimes, *, trt: Any = None) -> Any:
    """A ``tensorrt.IProfiler`` filling ``times`` (set it as ``context.profiler``)."""
    if trt is None:
        try:
            import tensorrt as trt  # noqa: F811
        except ImportError as exc:
            raise DependencyMissingError("tensorrt", HINT, cause=exc) from None

    class _Profiler(trt.IProfiler):
        def __init__(self) -> None:
            trt.IProfiler.__init__(self)

        def report_layer_time(self, layer_name: str, ms: float) -> None:  # TensorRT's callback name
            times.add(layer_name, ms)

    return _Profiler()
