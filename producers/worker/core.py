"""What the inference worker does per request, and which events say so.

Per request, in this order (all carry ``request_id``, so they share a partition):

    request_received
    engine_load_start, engine_load_complete     only when the engine is (re)loaded: a cold start
    inference_complete                          latency_ms + queue/h2d/compute/d2h; cold_start, engine_load_ms
    layer_profile × layers                      only on profiled requests (``profile_share``): one per layer
    error                                       instead of inference_complete when something failed
    request_complete                            always last: total_ms, status, cold_start

The events are built, timed and emitted by the instrumentation library
(:class:`~trtlens.producers.instrument.Instrument` → its :class:`~trtlens.producers.instrument.Emitter`),
the same code users' own services call; this module decides what happens (lazy load, idle unload,
injected failures, which requests are profiled) and supplies the engine identity
(``identity.py``). The engine loads lazily on the first request and again after ``idle_unload_s``
without traffic (like a serverless function scaled to zero): the request that pays for the load is
the cold start. The clock and the backend are injected, so this is tested without Kafka and without
timing assumptions.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from trtlens.producers.instrument import Emitter, Instrument, ModelSink, ProfileShare
from trtlens.producers.instrument.spans import Request
from trtlens.producers.worker.backends import Backend
from trtlens.producers.worker.identity import engine_id as content_engine_id
from trtlens.schemas.events import EventBase

log = logging.getLogger(__name__)


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
    """Serves requests on one backend; its events go out through the instrumentation library.

    ``emit`` receives each event as its validated contract model (``Publisher.publish``); or pass an
    ``emitter`` of the library instead (its sink, sampler and verbose switch then apply to the worker's
    events as to any instrumented service's).
    """

    def __init__(
        self,
        backend: Backend,
        emit: Callable[[EventBase], None] | None = None,
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
        emitter: Emitter | None = None,
    ) -> None:
        if (emit is None) == (emitter is None):
            raise TypeError("InferenceWorker takes exactly one of emit (a callable) or emitter (an Emitter)")
        self.backend = backend
        self.model = model
        self.model_version = model_version
        self.host = host or socket.gethostname()
        self.worker_id = worker_id or f"{self.host}-{uuid.uuid4().hex[:8]}"
        self.idle_unload_s = idle_unload_s
        self.error_rate = error_rate
        self._rng = np.random.default_rng(seed)
        self._perf = perf_s
        self._last_done_s: float | None = None
        self.stats = WorkerStats()
        self.profiling = ProfileShare(profile_share)  # share of requests run with the layer profiler
        self.instrument = Instrument(emitter or Emitter(ModelSink(emit)), model=model, model_version=model_version,
                                     backend=backend.name, worker_id=self.worker_id, host=self.host,
                                     clock_ms=clock_ms, perf_s=perf_s)
        self.runtime_versions: dict[str, str] = {}

    @property
    def engine_id(self) -> str | None:
        """Content hash of the loaded plan/model (``identity.engine_id``); on every request event."""
        return self.instrument.engine_id

    @property
    def profile_share(self) -> float:
        return self.profiling.share

    def toggle_profiling(self) -> float:
        """On demand (``SIGUSR1`` in ``trtlens worker``): profile every request, or back to the configured share."""
        share = self.profiling.toggle()
        log.info("worker=%s profile_share=%s msg='layer profiling toggled'", self.worker_id, share)
        return share

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
        """Serve one request; every path ends with ``request_complete`` (the library's ``request``)."""
        batch_size = int(batch.shape[0])
        self.stats.requests += 1
        latency = None
        span = self.instrument.request(request_id, batch_size=batch_size, queue_ms=queue_ms,
                                       input_shape=list(batch.shape))
        try:
            with span as req:
                self.maybe_unload()
                if not self.backend.loaded:
                    self._load(req)
                with req.inference(batch_size) as inf:
                    if self.error_rate and self._rng.random() < self.error_rate:
                        raise InjectedFailure("injected failure (--error-rate)")
                    profiled = self.profiling.sampled(request_id)
                    timings = self.backend.infer(batch, profile=True) if profiled else self.backend.infer(batch)
                    inf.record(timings)
                    inf.precision = self.backend.precision
                latency = timings.latency_ms
                if timings.layers and self.engine_id:
                    self.stats.profiled += 1
                    req.layer_profile(self.engine_id, timings.layers)
        except Exception:  # noqa: BLE001 - the library emitted the error and request_complete; the outcome says so
            pass
        if req.error:
            self.stats.errors += 1
        if req.cold_start:
            self.stats.cold_starts += 1
        self.stats.latencies_ms.append(req.total_ms)
        self._last_done_s = self._perf()
        return Outcome(request_id, req.status, req.cold_start, req.total_ms, latency)

    def _identity(self) -> dict:
        """Engine identity known before a load: content hash, the runtime versions seen last, precision."""
        eid = self.engine_id
        if eid is None:
            try:
                eid = content_engine_id(self.backend.engine_path)
            except OSError:
                eid = None  # the load fails and says why
        return {"engine_id": eid, "runtime_versions": dict(self.runtime_versions),
                "precision": self.backend.precision}

    def _load(self, req: Request) -> None:
        with req.engine_load(self.backend.engine_path, **self._identity()) as load:
            info = self.backend.load()
            versions = getattr(self.backend, "runtime_versions", None)
            self.runtime_versions = versions() if callable(versions) else {}
            self.stats.engine_loads += 1
            # the backend's own identity (hash of the bytes it loaded, device, capability) wins over the content
            # hash taken before the load; a backend that cannot tell gets the content hash and its versions
            identity = info.identity.event_fields() if info.identity is not None else self._identity()
            if not identity.get("runtime_versions"):
                identity["runtime_versions"] = dict(self.runtime_versions)
            self.runtime_versions = dict(identity["runtime_versions"])
            load.engine_path = info.engine_path
            load.duration_ms = info.duration_ms
            load.update(cache_hit=info.cache_hit, **identity)


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
