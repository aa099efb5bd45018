"""Decode + validate one record (pure): the fast path of :func:`trtlens.schemas.codec.decode_record`.

``orjson.loads`` the record once and validate a whole batch (or the record's one
event) with one pydantic call (a list TypeAdapter: ~3 µs per event, against ~5.5 µs for one call per
event). Validation is exactly the codec's — same models, same discriminator —
and on any failure the record is decoded again by the codec, which reports each
bad event on its own (reason, field, index, raw bytes) and keeps its neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def decode_singles(raws: Sequence[bytes | None]) -> list[EventBase | None]:
    """Records of one event each, validated in one call: per record its event, or None.

    None marks a record that is not exactly one valid event (too large, not
    JSON, an array, or invalid): the caller decodes it on its own with
    :func:`decode`, which reports its errors. One call for a run costs ~3 µs an
    event, against ~9 µs for a call per record; a run with invalid events is
    validated again without them (pydantic names the failing indices).
    """
    out: list[EventBase | None] = [None] * len(raws)
    objs: list[dict] = []
    where: list[int] = []
    for k, raw in enumerate(raws):
        if raw is None or raw[:1] != b"{" or len(raw) > MAX_RECORD_BYTES:
            continue  # (a batch record, "[...]", is parsed once, by decode())
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if type(obj) is dict:
            objs.append(obj)
            where.append(k)
    while objs:
        try:
            events = _LIST.validate_python(objs)
        except ValidationError as e:
            bad = {err["loc"][0] for err in e.errors() if err["loc"] and isinstance(err["loc"][0], int)}
            if not bad:
                return out
            objs = [o for j, o in enumerate(objs) if j not in bad]
            where = [k for j, k in enumerate(where) if j not in bad]
            continue
        except (TypeError, ValueError, RecursionError):
            return out
        for k, ev in zip(where, events):
            out[k] = ev
        break
    return out
