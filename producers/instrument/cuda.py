"""CUDA-event timing for TensorRT inference (the worker's TensorRT backend uses it too).

:class:`CudaStageTimer` records CUDA events on the inference stream around host→device copies, the
engine's enqueue and device→host copies; after the stream is synchronised,
``times()`` gives :class:`StageTimes` (``h2d_ms``, ``compute_ms``, ``d2h_ms``: GPU time between the
events, not host wall time, never negative) for ``Inference.record``::

    timer = CudaStageTimer(stream)          # a pycuda.driver.Stream
    timer.mark("start"); cuda.memcpy_htod_async(d_in, h_in, stream)
    timer.mark("h2d");   context.execute_async_v3(stream.handle)
    timer.mark("compute"); cuda.memcpy_dtoh_async(h_out, d_out, stream)
    timer.mark("d2h");   stream.synchronize()
    inf.record(timer.times())

The per-layer profiler hook (``layer_profiler``) is in :mod:`~trtlens.producers.instrument.profiling`.

pycuda is imported lazily; without it (no NVIDIA GPU here) construction raises
:class:`~trtlens.errors.DependencyMissingError` saying what to install. NOT EXECUTED here: no GPU;
the arithmetic over events is tested with stand-in event objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trtlens.errors import DependencyMissingError
from trtlens.producers.instrument.profiling import HINT

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
            return max(0.0, float(events[b].time_since(events[a])))
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
