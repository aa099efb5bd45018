"""Foreign log records → contract events: unwrap, rename, defaults, event time, deterministic ids, validation.

Pure (no I/O). What a mapping does is configuration (:class:`~trtlens.producers.collect.config.MappingConfig`):

* **unwrap**: a record without ``event`` whose ``message``/``log``/... field holds a JSON object (as a
  string or nested) is replaced by that object; the wrapper's time fills a missing ``ts_ms``.
* **rename**: ``{"ctx.req": "request_id", "lat": "latency_ms"}``: a foreign field (dotted path into
  nested objects) moves to a contract field unless the contract field is already set.
* **event_values**: ``{"done": "request_complete"}`` translates foreign event type names.
* **defaults**: contract fields that are still missing (``model_version: v1``).
* **event time** stays the log's own: ``ts_ms``, else the first of ``ts_fields`` that parses (epoch
  seconds/ms/µs/ns or RFC 3339), else the container runtime's line time, else the event is invalid.
* **ids**: a record without ``event_id`` gets ``cl-<blake2b(source identity, position)>``: reading the
  same bytes again (a restart before the checkpoint) yields the same id, so dedup removes the copy.

Every failure raises :class:`~trtlens.schemas.codec.DecodeError` (code, reason, field); callers send it
to the DLQ with the record's source.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson

from trtlens.producers.collect.config import MappingConfig
from trtlens.schemas.codec import DecodeError, validate_event
from trtlens.schemas.events import EVENT_TYPES, routing_key_of

# event type → its required fields (no default): what the "envelope" check looks for
_REQUIRED = {name: tuple(f for f, info in model.model_fields.items() if info.is_required() and f != "ts_ms")
             for name, model in EVENT_TYPES.items()}


def deterministic_id(source_id: str, position: str | int) -> str:
    digest = hashlib.blake2b(f"{source_id}\n{position}".encode(), digest_size=16)
    return "cl-" + digest.hexdigest()


def parse_time_ms(value: Any) -> int | None:
    """Epoch seconds / ms / µs / ns (by magnitude) or an RFC 3339 string → epoch ms; None if it does not parse."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        v = float(value)
        if v <= 0:
            return None
        if v < 1e11:      # seconds (until year 5138)
            return int(v * 1000)
        if v < 1e14:      # milliseconds
            return int(v)
        if v < 1e17:      # microseconds
            return int(v / 1000)
        return int(v / 1_000_000)
    if isinstance(value, str) and value:
        s = value.strip()
        if s.replace(".", "", 1).isdigit():
            return parse_time_ms(float(s))
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            return None
        if dt.tzinfo is None:
            return None  # a wall-clock time without zone is ambiguous: say so rather than guess
        return int(dt.timestamp() * 1000)
    return None


def _pop_path(obj: dict, path: str) -> tuple[bool, Any]:
    if path in obj:
        return True, obj.pop(path)
    parts = path.split(".")
    cur: Any = obj
    for part in parts[:-1]:
        if not isinstance(cur, dict) or part not in cur:
            return False, None
        cur = cur[part]
    if isinstance(cur, dict) and parts[-1] in cur:
        return True, cur.pop(parts[-1])
    return False, None


class Mapper:
    """Applies one :class:`MappingConfig`; ``to_event`` is the whole path of one record."""

    def __init__(self, config: MappingConfig, *, worker_id: str, validate: str = "full") -> None:
        if validate not in ("full", "envelope"):
            raise ValueError(f"validate must be full or envelope, got {validate!r}")
        self.config = config
        self.worker_id = worker_id
        self.full = validate == "full"
        self._plain = not (config.rename or config.defaults or config.event_values)

    def unwrap(self, obj: Any, raw: bytes) -> tuple[dict, int | None]:
        """The event object inside a wrapper, and the wrapper's own time (or None)."""
        if not isinstance(obj, dict):
            raise DecodeError("not_an_event", f"expected a JSON object, got {type(obj).__name__}", raw)
        if "event" in obj:
            return obj, None
        for name in self.config.unwrap:
            inner = obj.get(name)
            if isinstance(inner, str):
                text = inner.strip()
                if not text.startswith("{"):
                    continue
                try:
                    inner = orjson.loads(text)
                except orjson.JSONDecodeError as exc:
                    raise DecodeError("invalid_json", f"field {name!r} holds broken JSON: {exc}", raw,
                                      field=name) from None
            if isinstance(inner, dict):
                wrapper_ts = None
                for ts_name in self.config.ts_fields:
                    if ts_name in obj and ts_name != name:
                        wrapper_ts = parse_time_ms(obj[ts_name])
                        if wrapper_ts is not None:
                            break
                return inner, wrapper_ts
        return obj, None

    def unchanged_key(self, obj: Any, raw: bytes) -> str | None:
        """For a record that is already a complete contract event this mapping leaves as it is: validate it
        (raises :class:`DecodeError`) and return its routing key. ``None``: the mapping has work to do."""
        if not (self._plain and type(obj) is dict and "event" in obj and obj.get("event_id")
                and obj.get("ts_ms") is not None and obj.get("worker_id")):
            return None
        if self.full:
            return validate_event(obj, raw).routing_key
        check_envelope(obj, raw)
        return routing_key_of(obj)

    def to_event(self, obj: Any, raw: bytes, *, source_id: str, position: str | int,
                 fallback_ts_ms: int | None = None) -> dict[str, Any]:
        """Map and validate one parsed record; returns the event dict (unknown fields kept)."""
        if self.unchanged_key(obj, raw) is not None:
            return obj  # already a complete contract event, nothing to change (so no copy)
        inner, wrapper_ts = self.unwrap(obj, raw)
        event = dict(inner)  # never change the caller's object
        cfg = self.config
        if not self._plain:
            for foreign, contract in cfg.rename.items():
                found, value = _pop_path(event, foreign)
                if found and contract not in event:
                    event[contract] = value
            if cfg.event_values and event.get("event") in cfg.event_values:
                event["event"] = cfg.event_values[event["event"]]
            for key, value in cfg.defaults.items():
                event.setdefault(key, value)
        if event.get("ts_ms") is None:
            ts = None
            for name in cfg.ts_fields:
                if name != "ts_ms" and name in event:
                    ts = parse_time_ms(event[name])
                    if ts is not None:
                        break
            ts = ts if ts is not None else wrapper_ts if wrapper_ts is not None else fallback_ts_ms
            if ts is None:
                raise DecodeError("invalid_event", "no event time: ts_ms missing and no time field parses", raw,
                                  field="ts_ms")
            event["ts_ms"] = ts
        if not event.get("worker_id"):
            event["worker_id"] = self.worker_id
        if not event.get("event_id"):
            event["event_id"] = deterministic_id(source_id, position)
        if self.full:
            validate_event(event, raw)
        else:
            check_envelope(event, raw)
        return event


def check_envelope(event: dict[str, Any], raw: bytes) -> None:
    """The cheap check (``validate: envelope``): a known type, an integer ``ts_ms``, every required field present.

    Field types and ranges are left to the streams app's decoder (its DLQ names topic/partition/offset).
    """
    kind = event.get("event")
    required = _REQUIRED.get(kind) if isinstance(kind, str) else None
    if required is None:
        if kind is None:
            raise DecodeError("invalid_event", "missing 'event' (the event type)", raw, field="event")
        raise DecodeError("unknown_event_type", f"unknown event type {kind!r}; known: {', '.join(sorted(EVENT_TYPES))}",
                          raw, field="event")
    ts = event.get("ts_ms")
    if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
        raise DecodeError("invalid_event", "ts_ms must be a non-negative integer (epoch ms)", raw, field="ts_ms")
    for name in required:
        if event.get(name) is None:
            raise DecodeError("invalid_event", "Field required", raw, field=name)
