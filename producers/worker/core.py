"""What the inference worker does per request, and which events say so.

Per request, in this order (all carry ``request_id``, so they share a partition):

    request_received
    engine_load_start, engine_load_complete     only when the engine is (re)loaded: a cold start
    inference_complete                          latency_ms + queue/h2d/compute/d2h; cold_start, engine_load_ms
    layer_profile × layers                      only on profiled requests (``profile_share``): one per layer
    error                                       instead of inference_complete when something failed
    request_complete                            always last: total_ms, status, cold_start

The engine loads lazily on the first request and again after ``idle_unload_s``
without traffic (like a serverless function scaled to zero): the request that
pays for the load is the cold start. The clock and the backend are injected,
so this is tested without Kafka and without timing assumptions.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from trtlens.producers.worker.backends import Backend, BackendError, LayerTiming
from trtlens.producers.worker.identity import engine_id as content_engine_id
from trtlens.schemas.events import (
    EngineLoadComplete,
    EngineLoadStart,
    ErrorEvent,
    EventBase,
    InferenceComplete,
    LayerProfile,
    RequestComplete,
    RequestReceived,
)

log = logging.getLogger(__name__)


def profile_sampled(request_id: str, share: float) -> bool:
    """Whether ``request_id`` is profiled at ``share`` (0..1): decided by its hash, so it is repeatable."""
    if share >= 1.0:
        return True
    if share <= 0.0:
        return False
    return zlib.crc32(request_id.encode("utf-8")) / 0xFFFFFFFF < share


def layer_events(common: dict, engine_id: str, layers: tuple[LayerTiming, ...]) -> list[LayerProfile]:
    """``layer_profile`` events of one profiled request: time, and share of the request's summed layer time."""
    total = sum(t.time_ms for t in layers)
    base = {k: v for k, v in common.items() if k != "event_id"}
    rid = common.get("request_id") or common["event_id"]
    return [
        LayerProfile(**base, event_id=f"{rid}:layer:{i}", engine_id=engine_id, layer=t.layer, layer_type=t.layer_type,
                     time_ms=round(t.time_ms, 6), avg_ms=round(t.time_ms, 6), iterations=1,
                     time_pct=round(min(100.0, t.time_ms / total * 100.0), 4) if total > 0 else None)
        for i, t in enumerate(layers)
    ]


class InjectedFailure(Exception):
    """A deliberate failure (``--error-rate``), to show the error path."""


@dataclass
class Outcome:
    request_id: str
    status: str
    cold_start: bool
    total_ms: float
    latency_ms: float | None = None


@dataclass
class WorkerStats:
    requests: int = 0
    errors: int = 0
    cold_starts: int = 0
    engine_loads: int = 0
    unloads: int = 0
    profiled: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        lat = sorted(self.latencies_ms)

        def q(p: float) -> float | None:
            return round(lat[max(0, int(np.ceil(p * len(lat))) - 1)], 3) if lat else None

        return {"requests": self.requests, "errors": self.errors, "cold_starts": self.cold_starts,
                "engine_loads": self.engine_loads, "unloads": self.unloads, "profiled": self.profiled,
                "p50_ms": q(0.5), "p95_ms": q(0.95), "p99_ms": q(0.99)}


class InferenceWorker:
    """Serves requests on one backend and emits the event sequence of each."""

    def __init__(
        self,
        backend: Backend,
        emit: Callable[[EventBase], None],
        *,
        model: str,
        model_version: str,
        worker_id: str | None = None,
        host: str | None = None,
        idle_unload_s: float = 0.0,
        error_rate: float = 0.0,
        seed: int = 0,
        clock_ms: Callable[[], float] = lambda: time.time() * 1000.0,
        perf_s: Callable[[], float] = time.perf_counter,
        profile_share: float = 0.0,
    ) -> None:
        self.backend = backend
        self.emit = emit
        self.model = model
        self.model_version = model_version
        self.host = host or socket.gethostname()
        self.worker_id = worker_id or f"{self.host}-{uuid.uuid4().hex[:8]}"
        self.idle_unload_s = idle_unload_s
        self.error_rate = error_rate
        self._rng = np.random.default_rng(seed)
        self._clock_ms = clock_ms
        self._perf = perf_s
        self._last_done_s: float | None = None
        self.stats = WorkerStats()
        self.profile_share = profile_share  # share of requests run with the layer profiler (1.0 = every one)
        self._configured_share = profile_share
        self.engine_id: str | None = None  # content hash of the loaded plan/model (identity.engine_id); on every request event
        self.runtime_versions: dict[str, str] = {}

    def _common(self, request_id: str | None) -> dict:
        return {"event_id": uuid.uuid4().hex, "ts_ms": int(self._clock_ms()), "request_id": request_id,
                "worker_id": self.worker_id, "host": self.host, "model": self.model,
                "model_version": self.model_version, "backend": self.backend.name}

    def toggle_profiling(self) -> float:
        """On demand (``SIGUSR1`` in ``trtlens worker``): profile every request, or back to the configured share."""
        if self.profile_share >= 1.0 and self._configured_share < 1.0:
            self.profile_share = self._configured_share
        else:
            self._configured_share, self.profile_share = self.profile_share, 1.0
        log.info("worker=%s profile_share=%s msg='layer profiling toggled'", self.worker_id, self.profile_share)
        return self.profile_share

    def maybe_unload(self) -> bool:
        """Unload an engine idle for ``idle_unload_s``; the next request is then cold."""
        if (self.idle_unload_s > 0 and self.backend.loaded and self._last_done_s is not None
                and self._perf() - self._last_done_s >= self.idle_unload_s):
            self.backend.unload()
            self.stats.unloads += 1
            log.info("worker=%s msg='engine unloaded after %.1fs idle'", self.worker_id, self.idle_unload_s)
            return True
        return False

    def handle(self, request_id: str, batch: np.ndarray, *, queue_ms: float = 0.0) -> Outcome:
        """Serve one request; every path ends with ``request_complete``."""
        t0 = self._perf()
        batch_size = int(batch.shape[0])
        self.stats.requests += 1
        self.emit(RequestReceived(**self._common(request_id), batch_size=batch_size, input_shape=list(batch.shape)))
        self.maybe_unload()
        cold = False
        load_ms: float | None = None
        status, latency = "ok", None
        try:
            if not self.backend.loaded:
                cold = True
                load_ms = self._load(request_id)
            if self.error_rate and self._rng.random() < self.error_rate:
                raise InjectedFailure("injected failure (--error-rate)")
            profiled = profile_sampled(request_id, self.profile_share)
            timings = self.backend.infer(batch, profile=True) if profiled else self.backend.infer(batch)
            latency = timings.latency_ms
            self.emit(InferenceComplete(
                **self._common(request_id), latency_ms=round(timings.latency_ms, 4), queue_ms=round(queue_ms, 4),
                engine_load_ms=round(load_ms, 3) if load_ms is not None else None,
                h2d_ms=_r(timings.h2d_ms), compute_ms=_r(timings.compute_ms), d2h_ms=_r(timings.d2h_ms),
                batch_size=batch_size, precision=self.backend.precision, cold_start=cold, engine_id=self.engine_id,
            ))
            if timings.layers and self.engine_id:
                self.stats.profiled += 1
                for ev in layer_events(self._common(request_id), self.engine_id, timings.layers):
                    self.emit(ev)
        except Exception as exc:  # every failure still ends the request with a terminal event
            status = "error"
            stage = exc.stage if isinstance(exc, BackendError) else "compute"
            self.stats.errors += 1
            self.emit(ErrorEvent(**self._common(request_id), error_type=type(exc).__name__,
                                 message=str(exc)[:2000], stage=stage if stage in _STAGES else "other"))
        total_ms = (self._perf() - t0) * 1000.0 + queue_ms
        if cold:
            self.stats.cold_starts += 1
        self.stats.latencies_ms.append(total_ms)
        self.emit(RequestComplete(**self._common(request_id), total_ms=round(total_ms, 4), status=status,
                                  cold_start=cold, batch_size=batch_size, engine_id=self.engine_id))
        self._last_done_s = self._perf()
        return Outcome(request_id, status, cold, total_ms, latency)

    def _identity(self) -> dict:
        """Engine identity of the engine-load events: content hash, runtime versions, precision."""
        if self.engine_id is None:
            try:
                self.engine_id = content_engine_id(self.backend.engine_path)
            except OSError:
                self.engine_id = None  # the load fails and says why
        return {"engine_id": self.engine_id, "runtime_versions": dict(self.runtime_versions),
                "precision": self.backend.precision}

    def _load(self, request_id: str) -> float:
        self.emit(EngineLoadStart(**self._common(request_id), engine_path=self.backend.engine_path, **self._identity()))
        t0 = self._perf()
        try:
            info = self.backend.load()
        except Exception:
            self.emit(EngineLoadComplete(**self._common(request_id), engine_path=self.backend.engine_path,
                                         duration_ms=round((self._perf() - t0) * 1000.0, 3), status="error",
                                         **self._identity()))
            raise
        versions = getattr(self.backend, "runtime_versions", None)
        self.runtime_versions = versions() if callable(versions) else {}
        self.stats.engine_loads += 1
        # the backend's own identity (hash of the bytes it loaded, device, capability) wins over the content
        # hash taken before the load; a backend that cannot tell gets the content hash and its versions
        identity = info.identity.event_fields() if info.identity is not None else self._identity()
        if identity.get("engine_id"):
            self.engine_id = identity["engine_id"]
        if not identity.get("runtime_versions"):
            identity["runtime_versions"] = dict(self.runtime_versions)
        self.runtime_versions = dict(identity["runtime_versions"])
        self.emit(EngineLoadComplete(**self._common(request_id), engine_path=info.engine_path,
                                     duration_ms=round(info.duration_ms, 3), status="ok", cache_hit=info.cache_hit,
                                     **identity))
        return info.duration_ms


_STAGES = {"queue", "engine_load", "preprocess", "h2d", "compute", "d2h", "postprocess", "publish", "other"}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def run_synthetic_client(
    worker: InferenceWorker,
    *,
    rps: float,
    duration_s: float,
    batch_size: int = 1,
    seed: int = 0,
    sleep: Callable[[float], None] = time.sleep,
    on_tick: Callable[[], None] | None = None,
    request_prefix: str | None = None,
) -> list[Outcome]:
    """Open-loop client: a request every ``1/rps`` s for ``duration_s``; lateness becomes ``queue_ms``."""
    rng = np.random.default_rng(seed)
    shape = worker.backend.input_shape(batch_size)
    n = max(1, int(round(rps * duration_s)))
    interval = 1.0 / rps
    prefix = request_prefix or f"{worker.worker_id}-{uuid.uuid4().hex[:6]}"
    start = worker._perf()
    out = []
    for i in range(n):
        due = start + i * interval
        wait = due - worker._perf()
        if wait > 0:
            sleep(wait)
        if on_tick:
            on_tick()
        queue_ms = max(0.0, (worker._perf() - due) * 1000.0)
        batch = rng.standard_normal(shape, dtype=np.float32)
        out.append(worker.handle(f"{prefix}-{i}", batch, queue_ms=queue_ms))
    return out
