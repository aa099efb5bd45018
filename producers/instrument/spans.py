"""Context managers and a decorator that emit the contract events of ``schemas/events.py``.

* ``with inst.engine_load(path):`` → ``engine_load_start`` + ``engine_load_complete`` (``duration_ms``,
  ``status``); an exception inside → ``status: error`` plus an ``error`` event (``stage: engine_load``),
  re-raised. The next request is then a **cold start**: its ``inference_complete`` and
  ``request_complete`` carry ``cold_start: true`` and ``engine_load_ms``. Called inside a request
  (``req.engine_load(path)``) the load events carry that request's id.
* ``with inst.request(request_id) as req:`` → ``request_received`` at entry, ``request_complete``
  (``total_ms``, ``status``) at exit; an exception → an ``error`` event (``stage`` from where it
  happened), ``status: error``, re-raised. The request's events are held and sampled together.
* ``with req.inference(batch_size=n) as inf:`` → ``inference_complete`` (``latency_ms``; ``inf.h2d_ms`` …
  or ``inf.record(cuda_times)`` fill the breakdown; ``inf.stage = "compute"`` names a failure's stage).
* ``@inst.handler`` wraps a Lambda-style ``handler(event, context)``: the request id is
  ``context.aws_request_id`` (so the collector can join the platform's report to it).

Event ids: ``<request_id>-<n>`` within a request, ``<worker_id>-<uuid>`` outside one. Event time is
the wall clock at the event (``ts_ms``); durations use ``time.perf_counter``.
"""

from __future__ import annotations

import functools
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from trtlens.producers.instrument.emitter import Emitter


def _now_ms() -> int:
    return int(time.time() * 1000)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


class Inference:
    """Fields of one ``inference_complete`` being measured."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.stage = "compute"
        self.h2d_ms: float | None = None
        self.compute_ms: float | None = None
        self.d2h_ms: float | None = None
        self.queue_ms: float | None = None
        self.precision: str | None = None
        self.extra: dict[str, Any] = {}

    def record(self, times: Any) -> None:
        """Take ``h2d_ms``/``compute_ms``/``d2h_ms`` from a :class:`~trtlens.producers.instrument.cuda.StageTimes`."""
        for name in ("h2d_ms", "compute_ms", "d2h_ms"):
            value = getattr(times, name, None)
            if value is not None:
                setattr(self, name, round(float(value), 3))


class Request:
    def __init__(self, inst: Instrument, request_id: str, batch_size: int) -> None:
        self.inst = inst
        self.request_id = request_id
        self.batch_size = batch_size
        self.events: list[dict[str, Any]] = []
        self.cold_start = False
        self.engine_load_ms: float | None = None
        self.error = False
        self.stage = "other"
        self._n = 0

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        self._n += 1
        event = {**self.inst.common(), "event": kind, "event_id": f"{self.request_id}-{self._n}",
                 "ts_ms": _now_ms(), "request_id": self.request_id, **fields}
        self.events.append(event)
        return event

    @contextmanager
    def engine_load(self, engine_path: str, **extra: Any) -> Iterator[dict[str, Any]]:
        self.stage = "engine_load"
        with self.inst._load(engine_path, request=self, extra=extra) as info:
            yield info
        self.stage = "other"

    @contextmanager
    def inference(self, batch_size: int | None = None) -> Iterator[Inference]:
        inf = Inference(batch_size or self.batch_size)
        t0 = time.perf_counter()
        try:
            yield inf
        except BaseException:
            self.stage = inf.stage
            raise
        latency = _ms(time.perf_counter() - t0)
        fields = {k: v for k, v in (("h2d_ms", inf.h2d_ms), ("compute_ms", inf.compute_ms),
                                     ("d2h_ms", inf.d2h_ms), ("queue_ms", inf.queue_ms),
                                     ("precision", inf.precision)) if v is not None}
        if self.cold_start:
            fields.update(cold_start=True, engine_load_ms=self.engine_load_ms)
        self.add("inference_complete", latency_ms=latency, batch_size=inf.batch_size, **fields, **inf.extra)


class Instrument:
    def __init__(self, emitter: Emitter, *, model: str, model_version: str, backend: str | None = None,
                 worker_id: str | None = None, host: str | None = None) -> None:
        self.emitter = emitter
        self.model = model
        self.model_version = model_version
        self.backend = backend
        self.worker_id = worker_id or os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME") or f"{socket.gethostname()}-{os.getpid()}"
        self.host = host or socket.gethostname()
        self._cold_pending: float | None = None  # an engine load no request has paid for yet

    def common(self) -> dict[str, Any]:
        out = {"worker_id": self.worker_id, "host": self.host, "model": self.model, "model_version": self.model_version}
        if self.backend:
            out["backend"] = self.backend
        return out

    # ------------------------------------------------------------------ engine loads
    @contextmanager
    def engine_load(self, engine_path: str, **extra: Any) -> Iterator[dict[str, Any]]:
        with self._load(engine_path, request=None, extra=extra) as info:
            yield info

    @contextmanager
    def _load(self, engine_path: str, *, request: Request | None, extra: dict) -> Iterator[dict[str, Any]]:
        info: dict[str, Any] = dict(extra)  # the caller may add engine_id, runtime_versions, ...

        def add(kind: str, **fields: Any) -> None:
            if request is not None:
                request.add(kind, engine_path=engine_path, **fields, **info)
            else:
                self.emitter.emit({**self.common(), "event": kind, "event_id": f"{self.worker_id}-{uuid.uuid4().hex}",
                                   "ts_ms": _now_ms(), "engine_path": engine_path, **fields, **info})

        add("engine_load_start")
        t0 = time.perf_counter()
        try:
            yield info
        except BaseException as exc:
            duration = _ms(time.perf_counter() - t0)
            add("engine_load_complete", duration_ms=duration, status="error")
            err = {"error_type": type(exc).__name__, "message": str(exc)[:500], "stage": "engine_load"}
            if request is not None:
                request.error = True
                request.add("error", **err)
            else:
                self.emitter.emit({**self.common(), "event": "error", "level": "error",
                                   "event_id": f"{self.worker_id}-{uuid.uuid4().hex}", "ts_ms": _now_ms(), **err})
            raise
        duration = _ms(time.perf_counter() - t0)
        add("engine_load_complete", duration_ms=duration, status="ok")
        if request is not None:
            request.cold_start, request.engine_load_ms = True, duration
        else:
            self._cold_pending = duration

    # ------------------------------------------------------------------ requests
    @contextmanager
    def request(self, request_id: str | None = None, *, batch_size: int = 1) -> Iterator[Request]:
        req = Request(self, request_id or uuid.uuid4().hex, batch_size)
        if self._cold_pending is not None:
            req.cold_start, req.engine_load_ms = True, self._cold_pending
            self._cold_pending = None
        req.add("request_received", batch_size=batch_size)
        t0 = time.perf_counter()
        try:
            yield req
        except BaseException as exc:
            req.error = True
            req.add("error", level="error", error_type=type(exc).__name__, message=str(exc)[:500],
                    stage=req.stage)
            self._complete(req, t0)
            raise
        self._complete(req, t0)

    def _complete(self, req: Request, t0: float) -> None:
        total = _ms(time.perf_counter() - t0)
        status = "error" if req.error else "ok"
        req.add("request_complete", total_ms=total, status=status, cold_start=req.cold_start, batch_size=req.batch_size)
        self.emitter.finish_request(req.events, request_id=req.request_id, model=self.model, error=req.error,
                                    cold_start=req.cold_start, total_ms=total)

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
