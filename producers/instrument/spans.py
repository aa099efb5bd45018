"""Context managers and a decorator that emit the contract events of ``schemas/events.py``.

This is the one place trtlens builds these events: users' own inference code calls it, and so does the
``trtlens worker`` (``producers/worker/core.py``).

* ``with inst.engine_load(path, **fields) as load:`` → ``engine_load_start`` + ``engine_load_complete``
  (``duration_ms``, ``status``; ``fields`` — ``engine_id``, ``runtime_versions``, ``precision`` … — go on
  both; ``load.update(...)`` inside the block adds what is known only after the load to the complete
  event, ``load.duration_ms`` / ``load.engine_path`` override the measured duration and the path). An
  exception inside → ``status: error`` plus an ``error`` event (``stage: engine_load``), re-raised.
  The next request is then a **cold start**: its ``inference_complete`` and ``request_complete``
  carry ``cold_start: true`` and ``engine_load_ms``. Called inside a request (``req.engine_load(path)``)
  the load events carry that request's id and the request is cold even if the load fails. The last
  ``engine_id`` a load named is stamped on ``inference_complete`` and ``request_complete``.
* ``with inst.request(request_id, batch_size=n, queue_ms=q, **fields) as req:`` → ``request_received``
  (with ``fields``, e.g. ``input_shape``) at entry, ``request_complete`` (``total_ms`` = time in the
  block + ``queue_ms``, ``status``) at exit; an exception → an ``error`` event, ``status: error``,
  re-raised. The request's events are held and sampled together (``emitter.py``).
* ``with req.inference(batch_size=n) as inf:`` → ``inference_complete`` (``latency_ms`` measured around
  the block unless ``inf.latency_ms`` is set; ``inf.h2d_ms`` … or ``inf.record(times)`` fill the
  breakdown; ``queue_ms`` is the request's; ``inf.stage = "h2d"`` names a failure's stage).
* ``req.layer_profile(engine_id, layers)`` → one ``layer_profile`` per layer (``profiling.py``).
* ``inst.gpu_sample(...)`` → a worker-scoped ``gpu_sample``.
* ``@inst.handler`` wraps a Lambda-style ``handler(event, context)``: the request id is
  ``context.aws_request_id`` (so the collector can join the platform's report to it).

An error's ``stage``: the exception's own ``stage`` attribute when it names a contract stage (a
backend error says ``engine_load`` or ``compute``), else where it happened. Event ids are random
(uuid4), so a retried request id never collides with its first attempt; layer profiles are
``<request_id>:layer:<i>``. Event time is the injected wall clock at the event (``ts_ms``); durations
use the injected ``perf_s`` (``time.perf_counter``).
"""

from __future__ import annotations

import functools
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, get_args

from trtlens.producers.instrument.emitter import Emitter
from trtlens.producers.instrument.profiling import LayerTiming, layer_profile_events
from trtlens.schemas.events import Stage

STAGES = frozenset(get_args(Stage))
MESSAGE_CHARS = 2000


def _ms(seconds: float, digits: int = 4) -> float:
    return round(seconds * 1000, digits)


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def error_fields(exc: BaseException, stage: str) -> dict[str, Any]:
    """``error`` event fields of an exception raised at ``stage`` (its own ``stage`` attribute wins)."""
    own = getattr(exc, "stage", None)
    stage = own if isinstance(own, str) and own in STAGES else stage
    return {"level": "error", "error_type": type(exc).__name__, "message": str(exc)[:MESSAGE_CHARS],
            "stage": stage if stage in STAGES else "other"}


class Inference:
    """Fields of one ``inference_complete`` being measured."""

    def __init__(self, batch_size: int, queue_ms: float | None) -> None:
        self.batch_size = batch_size
        self.stage = "compute"
        self.latency_ms: float | None = None
        self.h2d_ms: float | None = None
        self.compute_ms: float | None = None
        self.d2h_ms: float | None = None
        self.queue_ms = queue_ms
        self.precision: str | None = None
        self.extra: dict[str, Any] = {}

    def record(self, times: Any) -> None:
        """Take ``h2d_ms``/``compute_ms``/``d2h_ms`` (and ``latency_ms`` where the object has one) from a
        :class:`~trtlens.producers.instrument.cuda.StageTimes` or a backend's timings."""
        for name in ("latency_ms", "h2d_ms", "compute_ms", "d2h_ms"):
            value = getattr(times, name, None)
            if value is not None:
                setattr(self, name, float(value))


class EngineLoad:
    """The engine load being measured: fields of both load events, and overrides for the complete one."""

    def __init__(self, engine_path: str, fields: dict[str, Any]) -> None:
        self.engine_path = engine_path
        self.fields = dict(fields)
        self.duration_ms: float | None = None

    def update(self, **fields: Any) -> None:
        self.fields.update(fields)


class Request:
    def __init__(self, inst: Instrument, request_id: str, batch_size: int, queue_ms: float | None) -> None:
        self.inst = inst
        self.request_id = request_id
        self.batch_size = batch_size
        self.queue_ms = queue_ms
        self.events: list[dict[str, Any]] = []
        self.cold_start = False
        self.engine_load_ms: float | None = None
        self.error = False
        self.stage = "other"
        self.total_ms: float | None = None
        self._reported: BaseException | None = None  # an exception already turned into an error event

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {**self.inst.common(), "event": kind, "event_id": uuid.uuid4().hex, "ts_ms": self.inst.now_ms(),
                 "request_id": self.request_id, **fields}
        self.events.append(event)
        return event

    @property
    def status(self) -> str:
        return "error" if self.error else "ok"

    @contextmanager
    def engine_load(self, engine_path: str, **fields: Any) -> Iterator[EngineLoad]:
        self.stage = "engine_load"
        self.cold_start = True  # it pays for the load, whether or not the load succeeds
        with self.inst._load(engine_path, request=self, fields=fields) as load:
            yield load
        self.stage = "other"

    @contextmanager
    def inference(self, batch_size: int | None = None) -> Iterator[Inference]:
        inf = Inference(batch_size or self.batch_size, self.queue_ms)
        perf = self.inst.perf_s
        t0 = perf()
        try:
            yield inf
        except BaseException:
            self.stage = inf.stage
            raise
        latency = inf.latency_ms if inf.latency_ms is not None else (perf() - t0) * 1000
        fields = {k: v for k, v in (("queue_ms", _r(inf.queue_ms)), ("h2d_ms", _r(inf.h2d_ms)),
                                     ("compute_ms", _r(inf.compute_ms)), ("d2h_ms", _r(inf.d2h_ms)),
                                     ("precision", inf.precision), ("engine_id", self.inst.engine_id))
                  if v is not None}
        if self.cold_start:
            fields["cold_start"] = True
            if self.engine_load_ms is not None:
                fields["engine_load_ms"] = self.engine_load_ms
        self.add("inference_complete", latency_ms=round(latency, 4), batch_size=inf.batch_size, **fields, **inf.extra)

    def layer_profile(self, engine_id: str, layers: Iterable[LayerTiming], *, iterations: int = 1) -> None:
        """One ``layer_profile`` per layer of this request's profile, held and sampled with the request."""
        common = {**self.inst.common(), "ts_ms": self.inst.now_ms(), "request_id": self.request_id}
        self.events.extend(layer_profile_events(common, engine_id, layers, id_prefix=self.request_id,
                                                iterations=iterations))


class Instrument:
    def __init__(self, emitter: Emitter, *, model: str, model_version: str, backend: str | None = None,
                 worker_id: str | None = None, host: str | None = None,
                 clock_ms: Callable[[], float] | None = None, perf_s: Callable[[], float] = time.perf_counter) -> None:
        self.emitter = emitter
        self.model = model
        self.model_version = model_version
        self.backend = backend
        self.worker_id = worker_id or os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME") or f"{socket.gethostname()}-{os.getpid()}"
        self.host = host or socket.gethostname()
        self._clock_ms = clock_ms or (lambda: time.time() * 1000)
        self.perf_s = perf_s
        self.engine_id: str | None = None  # the engine the last load named: stamped on request events
        self._cold_pending: float | None = None  # an engine load no request has paid for yet

    def now_ms(self) -> int:
        return int(self._clock_ms())

    def common(self) -> dict[str, Any]:
        out = {"worker_id": self.worker_id, "host": self.host, "model": self.model, "model_version": self.model_version}
        if self.backend:
            out["backend"] = self.backend
        return out

    def _worker_event(self, kind: str, fields: dict[str, Any], *, common: dict[str, Any] | None = None) -> None:
        self.emitter.emit({**(self.common() if common is None else common), "event": kind,
                           "event_id": uuid.uuid4().hex, "ts_ms": self.now_ms(), **fields})

    # ------------------------------------------------------------------ engine loads
    @contextmanager
    def engine_load(self, engine_path: str, **fields: Any) -> Iterator[EngineLoad]:
        with self._load(engine_path, request=None, fields=fields) as load:
            yield load

    @contextmanager
    def _load(self, engine_path: str, *, request: Request | None, fields: dict) -> Iterator[EngineLoad]:
        load = EngineLoad(engine_path, fields)

        def add(kind: str, **more: Any) -> None:
            body = {"engine_path": load.engine_path, **more, **load.fields}
            if request is not None:
                request.add(kind, **body)
            else:
                self._worker_event(kind, body)

        if load.fields.get("engine_id"):
            self.engine_id = load.fields["engine_id"]
        add("engine_load_start")
        t0 = self.perf_s()
        try:
            yield load
        except BaseException as exc:
            add("engine_load_complete", duration_ms=_ms(self.perf_s() - t0, 3), status="error")
            err = error_fields(exc, "engine_load")
            if request is not None:
                request.error, request._reported = True, exc
                request.add("error", **err)
            else:
                self._worker_event("error", err)
            raise
        duration = round(load.duration_ms, 3) if load.duration_ms is not None else _ms(self.perf_s() - t0, 3)
        if load.fields.get("engine_id"):
            self.engine_id = load.fields["engine_id"]
        add("engine_load_complete", duration_ms=duration, status="ok")
        if request is not None:
            request.engine_load_ms = duration
        else:
            self._cold_pending = duration

    # ------------------------------------------------------------------ requests
    @contextmanager
    def request(self, request_id: str | None = None, *, batch_size: int = 1, queue_ms: float | None = None,
                **fields: Any) -> Iterator[Request]:
        req = Request(self, request_id or uuid.uuid4().hex, batch_size, queue_ms)
        if self._cold_pending is not None:
            req.cold_start, req.engine_load_ms = True, self._cold_pending
            self._cold_pending = None
        req.add("request_received", batch_size=batch_size, **fields)
        t0 = self.perf_s()
        try:
            yield req
        except BaseException as exc:
            req.error = True
            if exc is not req._reported:
                req.add("error", **error_fields(exc, req.stage))
            self._complete(req, t0)
            raise
        self._complete(req, t0)

    def _complete(self, req: Request, t0: float) -> None:
        req.total_ms = round((self.perf_s() - t0) * 1000 + (req.queue_ms or 0.0), 4)
        fields = {"engine_id": self.engine_id} if self.engine_id else {}
        req.add("request_complete", total_ms=req.total_ms, status=req.status, cold_start=req.cold_start,
                batch_size=req.batch_size, **fields)
        self.emitter.finish_request(req.events, request_id=req.request_id, model=self.model, error=req.error,
                                    cold_start=req.cold_start, total_ms=req.total_ms)

    # ------------------------------------------------------------------ worker-scoped events
    def layer_profile(self, engine_id: str, layers: Iterable[LayerTiming], *, iterations: int = 1) -> None:
        """A profile outside any request (e.g. over ``iterations`` warm-up runs): never sampled."""
        prefix = f"{engine_id}:{uuid.uuid4().hex[:12]}"
        common = {**self.common(), "ts_ms": self.now_ms()}
        for event in layer_profile_events(common, engine_id, layers, id_prefix=prefix, iterations=iterations):
            self.emitter.emit(event)

    def gpu_sample(self, *, gpu_index: int, utilization_pct: float, memory_used_bytes: int,
                   memory_total_bytes: int) -> None:
        """A ``gpu_sample`` of this process's GPU (worker-scoped: no model, a GPU may serve several)."""
        self._worker_event("gpu_sample", {"gpu_index": gpu_index, "utilization_pct": float(utilization_pct),
                                          "memory_used_bytes": int(memory_used_bytes),
                                          "memory_total_bytes": int(memory_total_bytes)},
                           common={"worker_id": self.worker_id, "host": self.host})

    def handler(self, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        """Wrap a Lambda-style ``handler(event, context)``; the request id is ``context.aws_request_id``."""
        @functools.wraps(fn)
        def wrapped(event: Any, context: Any) -> Any:
            rid = getattr(context, "aws_request_id", None)
            with self.request(rid) as req:
                return fn(event, context, req) if _wants_request(fn) else fn(event, context)

        return wrapped


def _wants_request(fn: Callable) -> bool:
    import inspect

    try:
        return len(inspect.signature(fn).parameters) >= 3
    except (TypeError, ValueError):
        return False
