"""Decode + validate one record (pure): the fast path of :func:`trtlens.schemas.codec.decode_record`.

``orjson.loads`` the record once and validate each event with its type's own
model validator (:func:`~trtlens.schemas.codec.validate_all_known`: ~3 µs an event,
against ~4.5 µs through the discriminated union and ~4.6 µs for a list
TypeAdapter over the union). Validation is exactly the codec's — same models,
same schema — and on any failure the record is decoded again by the codec, which
reports each bad event on its own (reason, field, index, raw bytes) and keeps its
neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from trtlens.schemas.codec import MAX_RECORD_BYTES, DecodeError, decode_record, validate_all_known, validate_known
from trtlens.schemas.events import EventBase


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
            events = validate_all_known(obj)
            if events is not None:
                return Decoded(events)
        elif isinstance(obj, dict):  # one event per record
            event = validate_known(obj)
            if event is not None:
                return Decoded([event])
    slow = decode_record(raw)
    return Decoded(slow.events, slow.errors)
