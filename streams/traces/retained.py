"""An emitted trace kept for late events, in a compact form (pure).

Once :meth:`~trtlens.streams.traces.core.TraceJoin.take_ready` has emitted a
trace (stored or sampled out), the join keeps it until its end of retention
only so that a late event can update it: the event re-opens it (:func:`unpack`,
the same :class:`TraceState` again) and it is emitted again under the same
request id. On the bench load ~97% of the traces held at any time are these,
so they are held as one tuple instead of a slotted object with a list of id
strings and a dict of floats (~1,100 → ~450 bytes a trace with its dict slot
and deadline, README "Memory"):

* ``blob`` (bytes): start and end ``ts_ms``, the flags (terminal, cold start,
  slow, kept), the number of event ids and each one's length, which stages are
  set and their values (8-byte doubles: the stage fields are floats, so they
  come back equal), then the kinds mask (as many bytes as it needs);
* ``ids``: the event ids joined into one string (cut again by the lengths);
* the objects a trace shares with others or rarely has, as references: batch
  size (a small int), model, version, worker, host, backend, precision,
  status, engine id (interned strings), the error dict, the exemplar partial.

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

_HEAD = struct.Struct("<qqBIH")  # start_ts_ms, end_ts_ms, flags, number of event ids, stage mask
_TERMINAL, _COLD, _SLOW, _KEPT = 1, 2, 4, 8
_STAGE_BIT = {name: 1 << i for i, name in enumerate(STAGE_FIELDS)}
_STAGES = tuple(enumerate(STAGE_FIELDS))
_CACHED_IDS = 32
_structs: dict[tuple[int, int], struct.Struct] = {}  # (event ids, stages set) → the layout after the head

Retained = tuple
"""``(blob, ids, batch_size, model, model_version, worker_id, host, backend, precision, status, engine_id, error,
exemplar)``: see the module docstring."""


def _tail(n_ids: int, n_stages: int) -> struct.Struct:
    s = _structs.get((n_ids, n_stages))
    if s is None:
        s = struct.Struct(f"<{n_ids}I{n_stages}d")
        if n_ids <= _CACHED_IDS:  # at most _CACHED_IDS × (stages + 1) layouts cached; longer traces are rare
            _structs[(n_ids, n_stages)] = s
    return s


def pack(tr: TraceState) -> Retained:
    """``tr`` (emitted and unchanged) as its compact form; :func:`unpack` gives back an equal trace."""
    ids = tr.event_ids
    stages = tr.stages
    mask = 0
    values = []
    for name, v in stages.items():
        mask |= _STAGE_BIT[name]  # every stage a role fills is a STAGE_FIELDS name (schemas/documents.py checks)
    if mask:
        values = [stages[name] for i, name in _STAGES if mask >> i & 1]
    flags = (tr.terminal and _TERMINAL) | (tr.cold_start and _COLD) | (tr.slow and _SLOW) | (tr.kept and _KEPT)
    kinds = tr.kinds
    blob = b"".join((
        _HEAD.pack(tr.start_ts_ms, tr.end_ts_ms, flags, len(ids), mask),
        _tail(len(ids), len(values)).pack(*map(len, ids), *values),
        kinds.to_bytes((kinds.bit_length() + 7) // 8, "little"),
    ))
    return (blob, "".join(ids), tr.batch_size, tr.model, tr.model_version, tr.worker_id, tr.host, tr.backend,
            tr.precision, tr.status, tr.engine_id, tr.error, tr.exemplar)


def start_ts_ms(r: Retained) -> int:
    """The retained trace's ``start_ts_ms`` (its end of retention follows from it), without unpacking it."""
    return _HEAD.unpack_from(r[0])[0]


def unpack(request_id: str, r: Retained) -> TraceState:
    """The :class:`TraceState` that :func:`pack` was given (emitted, unchanged since)."""
    blob, ids, batch_size, model, version, worker, host, backend, precision, status, engine_id, error, exemplar = r
    start, end, flags, n_ids, mask = _HEAD.unpack_from(blob)
    n_stages = mask.bit_count()
    tail = _tail(n_ids, n_stages)
    fields = tail.unpack_from(blob, _HEAD.size)
    tr = TraceState(request_id, start, end)  # the shared strings are interned already: set as they are
    tr.model, tr.model_version, tr.worker_id, tr.host, tr.backend = model, version, worker, host, backend
    tr.kinds = int.from_bytes(blob[_HEAD.size + tail.size:], "little")
    at = 0
    event_ids = tr.event_ids
    for n in fields[:n_ids]:
        event_ids.append(ids[at:at + n])
        at += n
    if mask:
        values = iter(fields[n_ids:])
        tr.stages = {name: next(values) for i, name in _STAGES if mask >> i & 1}
    tr.terminal = bool(flags & _TERMINAL)
    tr.cold_start = bool(flags & _COLD)
    tr.slow = bool(flags & _SLOW)
    tr.kept = bool(flags & _KEPT)
    tr.status, tr.batch_size, tr.precision, tr.engine_id = status, batch_size, precision, engine_id
    tr.error, tr.exemplar = error, exemplar
    tr.emitted = True
    tr.changed = False
    return tr


def fields_of(tr: TraceState) -> dict[str, Any]:
    """Every slot of ``tr`` by name (for comparing two traces)."""
    return {name: getattr(tr, name) for name in TraceState.__slots__}
