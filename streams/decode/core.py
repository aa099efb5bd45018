"""Decode + validate one record (pure): the fast path of :func:`trtlens.schemas.codec.decode_record`.

``orjson.loads`` the record once and validate a whole batch (or the record's one
event) with one pydantic call (a list TypeAdapter: ~3 µs per event, against ~5.5 µs for one call per
event). Validation is exactly the codec's — same models, same discriminator —
and on any failure the record is decoded again by the codec, which reports each
bad event on its own (reason, field, index, raw bytes) and keeps its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from pydantic import TypeAdapter, ValidationError

from trtlens.schemas.codec import EVENT_ADAPTER, MAX_RECORD_BYTES, DecodeError, decode_record
from trtlens.schemas.events import Event, EventBase

_LIST = TypeAdapter(list[Event])


@dataclass(slots=True)
class Decoded:
    events: list[EventBase] = field(default_factory=list)
    errors: list[DecodeError] = field(default_factory=list)


def decode(raw: bytes | None) -> Decoded:
    """Good events in record order, plus one DecodeError per bad event (never raises)."""
    if raw is not None and len(raw) <= MAX_RECORD_BYTES:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, list):
            try:
                return Decoded(_LIST.validate_python(obj))
            except (ValidationError, TypeError, ValueError, RecursionError):
                pass
        elif isinstance(obj, dict):  # one event per record
            try:
                return Decoded([EVENT_ADAPTER.validate_python(obj)])
            except (ValidationError, TypeError, ValueError, RecursionError):
                pass
    slow = decode_record(raw)
    return Decoded(slow.events, slow.errors)
