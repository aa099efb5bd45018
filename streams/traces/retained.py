"""An emitted trace kept for late events, in a compact form (pure).

Once :meth:`~trtlens.streams.traces.core.TraceJoin.take_ready` has emitted a
trace (stored or sampled out), the join keeps it until its end of retention
only so that a late event can update it: the event re-opens it (:func:`unpack`,
the same :class:`TraceState` again) and it is emitted again under the same
request id. On the bench load ~97% of the traces held at any time are these,
so each is held as a tuple of two (four when it has an error or an exemplar
partial) instead of a slotted object with a list of id strings and a dict of
floats (README "Memory"):

* ``blob`` (bytes): start and end ``ts_ms``, the flags (terminal, cold start,
  slow, kept), the number of event ids and each one's length in bytes, which
  stages are set and their values (8-byte doubles: the stage fields are floats,
  so they come back equal), the kinds mask (its length in one byte, then as many
  bytes as it needs), then the event ids themselves (UTF-8, one after the other);
* ``common``: what the trace shares with many others, as one tuple shared by
  all traces with the same values (:func:`_common`): batch size, model,
  version, worker, host, backend, precision, status, engine id (interned
  strings) and the weight of its source's sampling;
* only when set: the error dict and the exemplar partial.

Packing is ~1 µs a request (once per emission); unpacking happens only for a
late event.
"""

from __future__ import annotations

import struct
from typing import Any

from trtlens.schemas.documents import STAGE_FIELDS
from trtlens.streams.traces.state import TraceState

if len(STAGE_FIELDS) > 16:  # pragma: no cover - a schema change that needs a wider mask here
    raise TypeError("streams/traces/retained.py packs at most 16 stage fields in a 16-bit mask")

_HEAD = struct.Struct("<qqBIHB")  # start_ts_ms, end_ts_ms, flags, number of event ids, stage mask, kinds bytes
_TERMINAL, _COLD, _SLOW, _KEPT = 1, 2, 4, 8
_STAGE_BIT = {name: 1 << i for i, name in enumerate(STAGE_FIELDS)}
_STAGES = tuple(enumerate(STAGE_FIELDS))
_CACHED_IDS = 32
_structs: dict[tuple[int, int], struct.Struct] = {}  # (event ids, stages set) → the layout after the head
# the tuples of values traces share (_common); emptied when it reaches this many, so it stays small whatever
# the fleet's cardinality (a tuple already held by a retained trace stays valid: it is only not shared further)
_COMMON_MAX = 4096
_commons: dict[tuple, tuple] = {}

Retained = tuple
"""``(blob, common)``, or ``(blob, common, error, exemplar)`` when either is set: see the module docstring."""


def _tail(n_ids: int, n_stages: int) -> struct.Struct:
    s = _structs.get((n_ids, n_stages))
    if s is None:
        s = struct.Struct(f"<{n_ids}I{n_stages}d")
        if n_ids <= _CACHED_IDS:  # at most _CACHED_IDS × (stages + 1) layouts cached; longer traces are rare
            _structs[(n_ids, n_stages)] = s
    return s


def _common(values: tuple) -> tuple:
    """``values`` as the one tuple every retained trace with these values shares."""
    t = _commons.get(values)
    if t is None:
        if len(_commons) >= _COMMON_MAX:
            _commons.clear()
        t = _commons[values] = values
    return t


def pack(tr: TraceState) -> Retained:
    """``tr`` (emitted and unchanged) as its compact form; :func:`unpack` gives back an equal trace."""
    ids = [i.encode("utf-8", "surrogatepass") for i in tr.event_ids]
    stages = tr.stages
    mask = 0
    values = []
    for name in stages:
        mask |= _STAGE_BIT[name]  # every stage a role fills is a STAGE_FIELDS name (schemas/documents.py checks)
    if mask:
        values = [stages[name] for i, name in _STAGES if mask >> i & 1]
    flags = (tr.terminal and _TERMINAL) | (tr.cold_start and _COLD) | (tr.slow and _SLOW) | (tr.kept and _KEPT)
    kinds = tr.kinds
    kinds_len = (kinds.bit_length() + 7) // 8
    blob = b"".join((
        _HEAD.pack(tr.start_ts_ms, tr.end_ts_ms, flags, len(ids), mask, kinds_len),
        _tail(len(ids), len(values)).pack(*map(len, ids), *values),
        kinds.to_bytes(kinds_len, "little"),
        *ids,
    ))
    common = _common((tr.batch_size, tr.model, tr.model_version, tr.worker_id, tr.host, tr.backend, tr.precision,
                      tr.status, tr.engine_id, tr.source_weight))
    if tr.error is None and tr.exemplar is None:
        return blob, common
    return blob, common, tr.error, tr.exemplar


def start_ts_ms(r: Retained) -> int:
    """The retained trace's ``start_ts_ms`` (its end of retention follows from it), without unpacking it."""
    return _HEAD.unpack_from(r[0])[0]


def unpack(request_id: str, r: Retained) -> TraceState:
    """The :class:`TraceState` that :func:`pack` was given (emitted, unchanged since)."""
    blob, common = r[0], r[1]
    start, end, flags, n_ids, mask, kinds_len = _HEAD.unpack_from(blob)
    tail = _tail(n_ids, mask.bit_count())
    fields = tail.unpack_from(blob, _HEAD.size)
    at = _HEAD.size + tail.size
    tr = TraceState(request_id, start, end)
    (tr.batch_size, tr.model, tr.model_version, tr.worker_id, tr.host, tr.backend, tr.precision, tr.status,
     tr.engine_id, tr.source_weight) = common  # the shared strings are interned already: set as they are
    tr.kinds = int.from_bytes(blob[at:at + kinds_len], "little")
    at += kinds_len
    event_ids = tr.event_ids
    for n in fields[:n_ids]:
        event_ids.append(blob[at:at + n].decode("utf-8", "surrogatepass"))
        at += n
    if mask:
        values = iter(fields[n_ids:])
        tr.stages = {name: next(values) for i, name in _STAGES if mask >> i & 1}
    tr.terminal = bool(flags & _TERMINAL)
    tr.cold_start = bool(flags & _COLD)
    tr.slow = bool(flags & _SLOW)
    tr.kept = bool(flags & _KEPT)
    if len(r) > 2:
        tr.error, tr.exemplar = r[2], r[3]
    tr.emitted = True
    tr.changed = False
    return tr


def fields_of(tr: TraceState) -> dict[str, Any]:
    """Every slot of ``tr`` by name (for comparing two traces)."""
    return {name: getattr(tr, name) for name in TraceState.__slots__}
