"""Per-layer profiles: which requests are profiled, the TensorRT profiler hook, the ``layer_profile`` events.

* :func:`profile_sampled` / :class:`ProfileShare`: a request is profiled when the crc32 of its
  ``request_id`` falls in the share (repeatable: the same id gets the same decision in every process);
  ``ProfileShare.toggle()`` switches between every request and the configured share (``trtlens worker``
  binds it to ``SIGUSR1``).
* :class:`LayerTimes` collects what a profiler reports for one inference (a layer reported twice is
  summed, a negative time clamped to 0) and :meth:`LayerTimes.take` hands it over as
  :class:`LayerTiming` s in execution order. :func:`layer_profiler` is a ``tensorrt.IProfiler``
  filling it (set it as ``context.profiler`` for the profiled ``execute_async_v3`` only); tensorrt is
  imported lazily, NOT EXECUTED here (no NVIDIA GPU).
* :func:`layer_profile_events` builds the ``layer_profile`` events (one per layer: ``time_ms`` over
  ``iterations``, ``avg_ms``, ``time_pct`` of the summed layer time); ``Request.layer_profile`` and
  ``Instrument.layer_profile`` call it, so there is one builder for the worker and for users' code.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from trtlens.errors import DependencyMissingError

HINT = "pip install 'trtlens[tensorrt]' (tensorrt>=10, pycuda) on a host with an NVIDIA GPU and driver"


def profile_sampled(request_id: str, share: float) -> bool:
    """Whether ``request_id`` is profiled at ``share`` (0..1): decided by its crc32, so it is repeatable."""
    if share >= 1.0:
        return True
    if share <= 0.0:
        return False
    return zlib.crc32(request_id.encode("utf-8")) / 0xFFFFFFFF < share


class ProfileShare:
    """The share of requests profiled, switchable on demand between every request and the configured one."""

    def __init__(self, share: float = 0.0) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"profile share must be within 0..1, got {share}")
        self.share = share
        self._configured = share

    def sampled(self, request_id: str) -> bool:
        return profile_sampled(request_id, self.share)

    def toggle(self) -> float:
        """Every request ↔ the configured share; returns the share now in force."""
        if self.share >= 1.0 and self._configured < 1.0:
            self.share = self._configured
        else:
            self._configured, self.share = self.share, 1.0
        return self.share


@dataclass(frozen=True)
class LayerTiming:
    """One layer (TensorRT) or graph node (ONNX Runtime) of one profile: ``time_ms`` over its iterations."""

    layer: str
    time_ms: float
    layer_type: str | None = None


class LayerTimes:
    """What a profiler reports for one inference: layers in execution order, ms each (thread-safe)."""

    def __init__(self) -> None:
        self._ms: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, layer: str, ms: float) -> None:
        with self._lock:
            self._ms[layer] = self._ms.get(layer, 0.0) + max(0.0, float(ms))

    def take(self, layer_types: dict[str, str] | None = None) -> tuple[LayerTiming, ...]:
        """The collected layers (types from ``layer_types`` where known); starts empty again."""
        with self._lock:
            times, self._ms = self._ms, {}
        types = layer_types or {}
        return tuple(LayerTiming(name, round(ms, 6), types.get(name)) for name, ms in times.items())


def layer_profiler(times: LayerTimes, *, trt: Any = None) -> Any:
    """A ``tensorrt.IProfiler`` filling ``times`` (set it as ``context.profiler``). NOT EXECUTED here."""
    if trt is None:
        try:
            import tensorrt as trt  # noqa: F811
        except ImportError as exc:
            raise DependencyMissingError("tensorrt", HINT, cause=exc) from None

    class _Profiler(trt.IProfiler):
        def __init__(self) -> None:
            trt.IProfiler.__init__(self)
            self.times = times

        def report_layer_time(self, layer_name, ms):  # noqa: D401 - TensorRT's callback name
            times.add(layer_name, ms)

    return _Profiler()


def layer_profile_events(common: dict[str, Any], engine_id: str, layers: Iterable[LayerTiming], *,
                         id_prefix: str, iterations: int = 1) -> list[dict[str, Any]]:
    """One ``layer_profile`` per layer; ``event_id`` = ``<id_prefix>:layer:<i>``, keyed by ``engine_id``."""
    layers = tuple(layers)
    n = max(1, int(iterations))
    total = sum(t.time_ms for t in layers)
    out = []
    for i, t in enumerate(layers):
        event = {**common, "event": "layer_profile", "event_id": f"{id_prefix}:layer:{i}", "engine_id": engine_id,
                 "layer": t.layer, "time_ms": round(t.time_ms, 6), "avg_ms": round(t.time_ms / n, 6),
                 "iterations": n}
        if total > 0:
            event["time_pct"] = round(min(100.0, t.time_ms / total * 100.0), 4)
        if t.layer_type is not None:
            event["layer_type"] = t.layer_type
        out.append(event)
    return out
