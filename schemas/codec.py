"""orjson codec and the wire format of ``trtlens.events``.

Wire format (what topic consumers read):

* A record **value** is UTF-8 JSON: either **one event object** or a **JSON
  array of event objects** (a batch). Producers batch events per partition, so
  every event in one record belongs to the same partition: the one the Kafka
  key-based (murmur2) partitioner picks for each event's ``routing_key``.
* The record **key** is the ``routing_key`` of the record's first event
  (``request_id``, else ``worker_id``; ``engine_id`` for build reports). With a
  batch, other events in the record may have other keys that hash to the same
  partition: read ``request_id`` from each event, never from the key.
* A bad event inside a batch is reported on its own (with its index); its
  neighbours decode normally.

Decoding never raises anything but :class:`DecodeError`, whatever the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson
from pydantic import BaseModel, ValidationError

from trtlens.errors import TrtlensError
from trtlens.schemas.events import EVENT_ADAPTER, EVENT_TYPES, EventBase

MAX_RECORD_BYTES = 8 * 1024 * 1024
_VALIDATE_EVENT = EVENT_ADAPTER.validator.validate_python
"""The union's core validator, called directly: ``TypeAdapter.validate_python`` adds a Python call per event."""


class DecodeError(TrtlensError):
    """A record or one event in it could not be decoded.

    Attributes:
        code: machine-readable reason: ``invalid_json``, ``not_an_event``,
            ``unknown_event_type``, ``invalid_event``, ``too_large``.
        reason: a sentence for a person.
        field: the offending field path (``latency_ms``, ``stages.0``), if any.
        raw: the bytes that failed: the event's own JSON for an event inside a
            batch, the whole record otherwise. This is what the DLQ receives.
        index: position inside a batch record, ``None`` for a single event.
    """

    def __init__(self, code: str, reason: str, raw: bytes, *, field: str | None = None, index: int | None = None):
        self.code = code
        self.reason = reason
        self.field = field
        self.raw = raw
        self.index = index
        where = f" (field {field!r})" if field else ""
        at = f" [event {index} of batch]" if index is not None else ""
        super().__init__(f"{code}: {reason}{where}{at}")

    def to_dlq(self, **context: object) -> dict[str, object]:
        """The dead-letter document: reason, field, raw payload and where it came from."""
        try:
            raw_text: str | None = self.raw.decode("utf-8")
        except UnicodeDecodeError:
            raw_text = None
        out: dict[str, object] = {
            "code": self.code,
            "reason": self.reason,
            "field": self.field,
            "index": self.index,
            "raw": raw_text,
        }
        if raw_text is None:
            out["raw_hex"] = self.raw.hex()
        out.update(context)
        return out


@dataclass(slots=True)
class DecodedRecord:
    """What one record yielded: its good events, and one error per bad one."""

    events: list[EventBase] = field(default_factory=list)
    errors: list[DecodeError] = field(default_factory=list)


def encode(event: BaseModel) -> bytes:
    """One event as a JSON object (``None`` fields omitted: smaller, same meaning)."""
    return orjson.dumps(event.model_dump(mode="json", exclude_none=True))


def encode_batch(events: Sequence[BaseModel]) -> bytes:
    """A batch record: a JSON array of events (all for the same partition)."""
    return orjson.dumps([e.model_dump(mode="json", exclude_none=True) for e in events])


def encode_dicts(events: Sequence[dict]) -> bytes:
    """A batch record from already-serialisable dicts (the fast path of producers)."""
    return orjson.dumps(list(events))


def _validation_error(exc: ValidationError, raw: bytes, index: int | None, obj: object) -> DecodeError:
    first = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    if first.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        kind = obj.get("event") if isinstance(obj, dict) else None
        if kind is None:
            return DecodeError("invalid_event", "missing 'event' (the event type)", raw, field="event", index=index)
        return DecodeError(
            "unknown_event_type",
            f"unknown event type {kind!r}; known: {', '.join(sorted(EVENT_TYPES))}",
            raw,
            field="event",
            index=index,
        )
    # the discriminator value prefixes loc (``request_complete.total_ms``): drop it
    if isinstance(obj, dict) and loc.startswith(f"{obj.get('event')}."):
        loc = loc.split(".", 1)[1]
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return DecodeError("invalid_event", f"{first['msg']}{more}", raw, field=loc or None, index=index)


def _validate(obj: object, raw: bytes, index: int | None) -> EventBase:
    if not isinstance(obj, dict):
        raise DecodeError("not_an_event", f"expected a JSON object, got {type(obj).__name__}", raw, index=index)
    try:
        return _VALIDATE_EVENT(obj)
    except ValidationError as exc:
        raise _validation_error(exc, raw, index, obj) from None
    except (TypeError, ValueError, RecursionError) as exc:  # pathological input inside pydantic
        raise DecodeError("invalid_event", str(exc) or type(exc).__name__, raw, index=index) from None


def validate_event(obj: object, raw: bytes = b"") -> EventBase:
    """Validate an already-parsed event object (a collector's mapped record); raises :class:`DecodeError` only.

    ``raw`` is what a resulting error carries for the DLQ (the original line or record).
    """
    if type(obj) is not dict:
        return _validate(obj, raw, None)
    try:  # the collector's per-event path: the same as _validate, one Python call less
        return _VALIDATE_EVENT(obj)
    except ValidationError as exc:
        raise _validation_error(exc, raw, None, obj) from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise DecodeError("invalid_event", str(exc) or type(exc).__name__, raw) from None


def _loads(data: bytes) -> object:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError("invalid_json", f"expected bytes, got {type(data).__name__}", b"")
    data = bytes(data)
    if len(data) > MAX_RECORD_BYTES:
        raise DecodeError("too_large", f"record of {len(data)} bytes exceeds {MAX_RECORD_BYTES}", data[:1024])
    try:
        return orjson.loads(data)
    except (orjson.JSONDecodeError, RecursionError) as exc:
        raise DecodeError("invalid_json", str(exc), data) from None


def decode(data: bytes) -> EventBase:
    """Decode a record that holds exactly one event. Raises :class:`DecodeError` only."""
    obj = _loads(data)
    if isinstance(obj, list):
        raise DecodeError("not_an_event", "got a batch (JSON array); use decode_record()", data)
    return _validate(obj, data, None)


def decode_record(data: bytes | None) -> DecodedRecord:
    """Decode a record holding one event or a batch; never raises.

    Each bad event of a batch becomes its own :class:`DecodeError` (its
    ``raw`` is that event's JSON); the good ones are returned in order.
    """
    out = DecodedRecord()
    if data is None:
        out.errors.append(DecodeError("invalid_json", "record has no value (tombstone)", b""))
        return out
    try:
        obj = _loads(data)
    except DecodeError as err:
        out.errors.append(err)
        return out
    if not isinstance(obj, list):
        try:
            out.events.append(_validate(obj, bytes(data), None))
        except DecodeError as err:
            out.errors.append(err)
        return out
    for i, item in enumerate(obj):
        try:
            out.events.append(_validate(item, b"", i))
        except DecodeError as err:
            err.raw = _safe_dumps(item)
            out.errors.append(err)
    return out


def _safe_dumps(obj: object) -> bytes:
    try:
        return orjson.dumps(obj)
    except (TypeError, orjson.JSONEncodeError):
        return repr(obj).encode("utf-8", "replace")


def iter_events(records: Iterable[bytes]) -> Iterable[EventBase]:
    """Convenience for tests and tools: every good event of many records."""
    for value in records:
        yield from decode_record(value).events
