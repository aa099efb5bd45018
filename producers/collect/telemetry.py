"""Lambda Telemetry API events → contract events, with the platform's cold-start facts joined in (pure).

The Telemetry API pushes JSON arrays of ``{"time": <RFC 3339>, "type": ..., "record": ...}``
(schema 2022-12-13). Used here:

* ``platform.initStart`` / ``platform.initReport`` (``record.initializationType``,
  ``record.metrics.durationMs``): an init happened. An ``on-demand`` (or ``snap-start``) init is paid
  by the **first request after it**; a ``provisioned-concurrency`` init is paid by nobody.
* ``platform.start`` (``record.requestId``): an invocation begins; it is the current one for
  function log lines that carry no request id (text log format).
* ``function`` (``record``: the line as a string, or with JSON log format an object with
  ``requestId`` and ``message``): the function's own output, decoded and mapped as contract events.
* ``platform.report`` (``record.requestId``, ``record.status``, ``record.metrics.durationMs``,
  ``billedDurationMs``, ``initDurationMs``): the invocation is over: its events go out enriched.

Enrichment of a cold invocation: ``cold_start: true`` on its ``inference_complete`` and
``request_complete``; ``engine_load_ms`` (the init duration) on ``inference_complete`` if unset; and an
``engine_load_complete`` for the init, keyed to the request, so the cold-start distribution sees it.
Every ``request_complete`` gets ``lambda_request_id``, ``billed_duration_ms``, ``lambda_duration_ms``
and (cold) ``init_duration_ms`` — extra fields, kept by decoders (``extra="ignore"`` keeps them in the
raw JSON). An invocation that logged no ``request_complete`` (an uninstrumented function) gets
``request_received`` + ``request_complete`` made from the platform's report, so it is still counted.

Function records wait at most ``hold_ms`` for their report; then they go out unenriched. Event time is
the records' own (``ts_ms`` of the events; ``time`` of platform records for made-up events).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from trtlens.producers.collect.mapping import Mapper, deterministic_id, parse_time_ms
from trtlens.schemas.codec import DecodeError

COLD_INIT_TYPES = frozenset({"on-demand", "snap-start"})


@dataclass
class _Invocation:
    request_id: str
    start_ts_ms: int | None
    seen_s: float
    events: list[dict] = field(default_factory=list)
    cold: bool = False
    init_ms: float | None = None
    init_ts_ms: int | None = None


@dataclass
class Joined:
    events: list[dict] = field(default_factory=list)
    errors: list[tuple[dict, DecodeError]] = field(default_factory=list)
    cold_starts: int = 0
    reports: int = 0


class TelemetryJoiner:
    def __init__(self, mapper: Mapper, *, function_name: str, model: str | None = None,
                 model_version: str = "$LATEST", hold_ms: int = 2000,
                 clock_s: Callable[[], float] = time.monotonic) -> None:
        self.mapper = mapper
        self.function_name = function_name
        self.model = model or function_name
        self.model_version = model_version
        self.hold_s = hold_ms / 1000
        self._clock = clock_s
        self._pending_init: tuple[str, float | None, int | None] | None = None  # (type, duration ms, ts)
        self._init_start_ts: int | None = None
        self._current: str | None = None
        self._open: dict[str, _Invocation] = {}

    # ------------------------------------------------------------------ input
    def feed(self, batch: Any, *, delivery_id: str = "") -> Joined:
        """One Telemetry API push (a JSON array). Returns what is ready to publish."""
        out = Joined()
        if not isinstance(batch, list):
            out.errors.append(({"delivery": delivery_id}, DecodeError(
                "not_an_event", "a telemetry push is a JSON array of events", orjson.dumps(batch)[:1024])))
            return out
        for i, item in enumerate(batch):
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                out.errors.append(({"delivery": delivery_id, "index": i}, DecodeError(
                    "not_an_event", "telemetry event without a 'type'", orjson.dumps(item)[:1024])))
                continue
            self._one(item, out, delivery_id, i)
        self.expire(out)
        return out

    def _one(self, item: dict, out: Joined, delivery_id: str, index: int) -> None:
        kind = item["type"]
        record = item.get("record")
        ts = parse_time_ms(item.get("time"))
        rec = record if isinstance(record, dict) else {}
        metrics = rec.get("metrics") if isinstance(rec.get("metrics"), dict) else {}
        if kind == "platform.initStart":
            self._init_start_ts = ts
        elif kind == "platform.initReport":
            self._pending_init = (str(rec.get("initializationType", "on-demand")), metrics.get("durationMs"),
                                  self._init_start_ts or ts)
        elif kind == "platform.start":
            rid = str(rec.get("requestId", ""))
            if rid:
                inv = _Invocation(rid, ts, self._clock())
                if self._pending_init is not None:
                    init_type, duration, init_ts = self._pending_init
                    self._pending_init = None
                    if init_type in COLD_INIT_TYPES:
                        inv.cold, inv.init_ms, inv.init_ts_ms = True, duration, init_ts
                self._open[rid] = inv
                self._current = rid
        elif kind == "function":
            self._function(record, ts, out, delivery_id, index)
        elif kind == "platform.report":
            rid = str(rec.get("requestId", ""))
            inv = self._open.pop(rid, None) or _Invocation(rid, None, self._clock())
            if self._current == rid:
                self._current = None
            self._finish(inv, rec, metrics, ts, out)

    def _function(self, record: Any, ts: int | None, out: Joined, delivery_id: str, index: int) -> None:
        rid = None
        if isinstance(record, dict):  # JSON log format: {"timestamp", "level", "requestId", "message"}
            rid = record.get("requestId")
            obj, raw = record, orjson.dumps(record)
        elif isinstance(record, str):
            raw = record.encode()
            text = record.strip()
            if not text.startswith("{"):
                return  # the runtime's own text lines (START/END/REPORT, prints): not events
            try:
                obj = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                out.errors.append(({"delivery": delivery_id, "index": index},
                                   DecodeError("invalid_json", str(exc), raw)))
                return
        else:
            return
        inner, _ = self.mapper.unwrap(obj, raw) if isinstance(obj, dict) else (obj, None)
        if isinstance(inner, dict) and "event" not in inner:
            return  # a structured log line that is no event (the function's other logging)
        rid = rid or self._current
        try:  # a record without event_id: the id derives from its time and bytes (a re-delivery repeats it)
            event = self.mapper.to_event(obj, raw, source_id=f"lambda:{self.function_name}:{rid or '-'}",
                                         position=f"{ts}:{raw.hex()}", fallback_ts_ms=ts)
        except DecodeError as err:
            out.errors.append(({"delivery": delivery_id, "index": index, "lambda_request_id": rid}, err))
            return
        inv = self._open.get(rid) if rid else None
        if inv is None:
            out.events.append(event)  # init-phase output (engine loads) or no invocation known
        else:
            inv.events.append(event)

    def _finish(self, inv: _Invocation, rec: dict, metrics: dict, ts: int | None, out: Joined) -> None:
        out.reports += 1
        events = inv.events
        init_ms = metrics.get("initDurationMs", inv.init_ms)
        cold = inv.cold or (init_ms is not None and inv.init_ms is None and "initDurationMs" in metrics)
        trace_id = next((e["request_id"] for e in events if e.get("request_id")), inv.request_id)
        model = next((e["model"] for e in events if e.get("model")), self.model)
        version = next((e["model_version"] for e in events if e.get("model_version")), self.model_version)
        end_ts = ts or inv.start_ts_ms or 0
        status = "ok" if rec.get("status", "success") == "success" else "error"
        base = {"request_id": trace_id, "worker_id": self.mapper.worker_id, "model": model,
                "model_version": version}
        if not any(e.get("event") == "request_received" for e in events):
            events.insert(0, {**base, "event": "request_received", "event_id": deterministic_id(
                f"lambda:{inv.request_id}", "received"), "ts_ms": inv.start_ts_ms or end_ts})
        if not any(e.get("event") == "request_complete" for e in events):
            events.append({**base, "event": "request_complete", "event_id": deterministic_id(
                f"lambda:{inv.request_id}", "complete"), "ts_ms": end_ts,
                "total_ms": float(metrics.get("durationMs") or 0.0), "status": status})
        for e in events:
            kind = e.get("event")
            if kind == "request_complete":
                e["lambda_request_id"] = inv.request_id
                if metrics.get("billedDurationMs") is not None:
                    e["billed_duration_ms"] = metrics["billedDurationMs"]
                if metrics.get("durationMs") is not None:
                    e["lambda_duration_ms"] = metrics["durationMs"]
                if cold:
                    e["cold_start"] = True
                    if init_ms is not None:
                        e["init_duration_ms"] = init_ms
            elif kind == "inference_complete" and cold:
                e["cold_start"] = True
                if e.get("engine_load_ms") is None and init_ms is not None:
                    e["engine_load_ms"] = init_ms
        if cold:
            out.cold_starts += 1
            if init_ms is not None:
                events.insert(0, {**base, "event": "engine_load_complete", "event_id": deterministic_id(
                    f"lambda:{inv.request_id}", "init"), "ts_ms": inv.init_ts_ms or inv.start_ts_ms or end_ts,
                    "engine_path": f"lambda-init:{self.function_name}", "duration_ms": float(init_ms)})
        out.events.extend(events)

    # ------------------------------------------------------------------ time-outs
    def expire(self, out: Joined, *, everything: bool = False) -> None:
        """Invocations older than ``hold_ms`` (or all) go out as they are."""
        now = self._clock()
        for rid in list(self._open):
            inv = self._open[rid]
            if everything or now - inv.seen_s >= self.hold_s:
                del self._open[rid]
                out.events.extend(inv.events)
                if self._current == rid:
                    self._current = None

    @property
    def open_invocations(self) -> int:
        return len(self._open)
