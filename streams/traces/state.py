"""One request being joined, and what each trace role adds to it (pure).

The event specs (``schemas/roles.py``) say which :class:`TraceRole` an event
type plays and which of its fields go into the stage breakdown; this module
says what each role does to the :class:`TraceState`, and :func:`joins_for`
turns the registry into the per-type table the join reads on the hot path
(one dict lookup by the event's class, then at most one call). Each ``apply``
is typed to the model it reads; nothing here compares ``event`` strings.
Stage fields are copied from the model's ``__dict__`` (where pydantic keeps
field values): one lookup each, where a ``getattr`` on a pydantic model takes
the generic path (~0.1 µs, ``BaseModel`` defines ``__getattr__``).

=============  ===============================================================
role           adds to the trace
=============  ===============================================================
``RECEIVED``   batch size, unless a stage already reported it
``INFERENCE``  its stage fields, precision, cold start, batch size (if unknown),
               engine id
``TERMINAL``   completes it: status, cold start, batch size, engine id, its stage fields,
               the slow flag (the trace's ``total_ms`` against ``slow_ms`` /
               the window P99)
``ERROR``      the first error names the trace's error
``STAGE``      nothing but its type (named in ``missing_stages`` when expected)
=============  ===============================================================

Every event with a ``request_id`` joins its trace (its id and type are
recorded whatever its role), as it always has. The ``RECEIVED``, ``INFERENCE``
and ``TERMINAL`` roles also take the event's ``sample_weight`` when it is not 1
(its source kept the request at a rate of ``1/w``): the trace's *source
weight*, which multiplies the tail-sampling weight of its document.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from trtlens.schemas.events import EVENT_TYPES, ErrorEvent, EventBase, InferenceComplete, RequestComplete, RequestReceived
from trtlens.schemas.roles import TraceRole
from trtlens.streams.traces.config import TracesConfig


_intern = sys.intern


def shared(text: str | None) -> str | None:
    """``text`` as the one interned copy (model, version, worker, host...: a few values repeated in every trace).

    Each decoded event brings its own copies of these strings; a trace keeping them costs ~55 bytes each,
    ~8 per trace. Interned strings are freed with their last reference (bounded by what traces hold).
    """
    return _intern(text) if text is not None else None


class TraceState:
    """One request being joined (a plain slotted class: created once per request on the hot path).

    Memory (README "Memory"): ``kinds`` is a bit mask of the event types joined (:class:`KindBits`, not
    a set of names: ~28 bytes instead of 216-728), and the strings that repeat across requests are
    interned (:func:`shared`).
    """

    __slots__ = (
        "request_id", "start_ts_ms", "end_ts_ms", "model", "model_version", "worker_id", "host", "backend",
        "kinds", "event_ids", "terminal", "status", "cold_start", "batch_size", "precision", "stages", "error",
        "slow", "emitted", "kept", "changed", "engine_id", "exemplar", "source_weight",
    )

    def __init__(self, request_id: str, start_ts_ms: int, end_ts_ms: int, model: str | None = None,
                 model_version: str | None = None, worker_id: str | None = None, host: str | None = None,
                 backend: str | None = None) -> None:
        self.request_id = request_id
        self.start_ts_ms = start_ts_ms
        self.end_ts_ms = end_ts_ms
        self.model = shared(model)
        self.model_version = shared(model_version)
        self.worker_id = shared(worker_id)
        self.host = shared(host)
        self.backend = shared(backend)
        self.kinds = 0  # bit mask of the event types joined (KindBits)
        self.event_ids: list[str] = []
        self.terminal = False
        self.status: str | None = None
        self.cold_start = False
        self.batch_size: int | None = None
        self.precision: str | None = None
        self.stages: dict[str, float] = {}
        self.error: dict | None = None
        self.slow = False
        self.emitted = False
        self.kept = False
        self.changed = True
        self.engine_id: str | None = None
        # its model-version partial once it was among the partial's slowest (streams/metrics/attribution.py):
        # kept if still among them when the partial closes (streams/traces/core.py, take_ready)
        self.exemplar: Any = None
        # requests its source's sampling says it stands for (its events' sample_weight; 1: not sampled there)
        self.source_weight: float = 1


Apply = Callable[[TraceState, Any, "float | None"], None]
"""``apply(trace, event, p99_ms)``: what one event adds to its trace (``p99_ms``: the current latency P99
of its model version's window, for the slow rule)."""

StageFields = tuple[tuple[str, str], ...]


Join = tuple[str, "Apply | None"]
"""How one event type joins a trace: ``(name, apply)`` — its ``event`` value, recorded in the trace's
kinds (``missing_stages``), and what else it adds (None: nothing). A plain tuple: unpacked per event."""


def _received(stage_fields: StageFields, cfg: TracesConfig) -> Apply:
    def apply(tr: TraceState, ev: RequestReceived, p99_ms: float | None) -> None:
        fields = ev.__dict__
        if tr.batch_size is None:
            tr.batch_size = fields["batch_size"]
        w = fields["sample_weight"]
        if w != 1:
            tr.source_weight = w

    return apply


def _inference(stage_fields: StageFields, cfg: TracesConfig) -> Apply:
    def apply(tr: TraceState, ev: InferenceComplete, p99_ms: float | None) -> None:
        st, fields = tr.stages, ev.__dict__
        for dst, src in stage_fields:
            v = fields[src]
            if v is not None:
                st[dst] = v
        tr.cold_start = tr.cold_start or ev.cold_start
        tr.precision = shared(ev.precision)
        eid = fields["engine_id"]
        if eid is not None:
            tr.engine_id = _intern(eid)
        if tr.batch_size is None:
            tr.batch_size = ev.batch_size
        w = fields["sample_weight"]
        if w != 1:
            tr.source_weight = w

    return apply


def _terminal(stage_fields: StageFields, cfg: TracesConfig) -> Apply:
    slow_ms, slow_p99 = cfg.slow_ms, cfg.slow_above_p99

    def apply(tr: TraceState, ev: RequestComplete, p99_ms: float | None) -> None:
        tr.terminal = True
        tr.status = shared(ev.status)
        tr.cold_start = tr.cold_start or ev.cold_start
        tr.batch_size = ev.batch_size
        st, fields = tr.stages, ev.__dict__
        eid = fields["engine_id"]
        if eid is not None:
            tr.engine_id = _intern(eid)
        for dst, src in stage_fields:
            v = fields[src]
            if v is not None:
                st[dst] = v
        w = fields["sample_weight"]
        if w != 1:
            tr.source_weight = w
        total = st.get("total_ms")  # the trace's total (a terminal spec maps it: checked in roles.py)
        tr.slow = total is not None and (
            (slow_ms is not None and total >= slow_ms) or (slow_p99 and p99_ms is not None and total > p99_ms))

    return apply


def _error(stage_fields: StageFields, cfg: TracesConfig) -> Apply:
    def apply(tr: TraceState, ev: ErrorEvent, p99_ms: float | None) -> None:
        if tr.error is None:
            tr.error = {"error_type": ev.error_type, "message": ev.message, "stage": ev.stage}

    return apply


ROLES: dict[TraceRole, Callable[[StageFields, TracesConfig], Apply] | None] = {
    TraceRole.RECEIVED: _received,
    TraceRole.INFERENCE: _inference,
    TraceRole.TERMINAL: _terminal,
    TraceRole.ERROR: _error,
    TraceRole.STAGE: None,  # its type is recorded, nothing else
}
"""Every trace role's implementation; a role missing here fails :func:`joins_for`."""


class KindBits:
    """Event type name ↔ bit of :attr:`TraceState.kinds` (registry types first, others as they appear).

    One per :class:`~trtlens.streams.traces.core.TraceJoin` (never module state): a type outside the
    registry gets the next free bit the first time it joins.
    """

    def __init__(self) -> None:
        self.bits: dict[str, int] = {name: 1 << i for i, name in enumerate(EVENT_TYPES)}

    def bit(self, name: str) -> int:
        b = self.bits.get(name)
        if b is None:
            b = self.bits[name] = 1 << len(self.bits)
        return b

    def mask(self, names) -> int:  # noqa: ANN001 - any iterable of names
        out = 0
        for name in names:
            out |= self.bit(name)
        return out

    def names(self, kinds: int) -> list[str]:
        """The names in the mask ``kinds``, in bit order."""
        return [name for name, b in self.bits.items() if kinds & b]


def joins_for(cfg: TracesConfig) -> dict[type[EventBase], Join]:
    """``{event model: Join}`` for every registry type (types with no trace role join with ``apply=None``)."""
    out: dict[type[EventBase], Join] = {}
    for name, model in EVENT_TYPES.items():
        trace = model.spec.trace
        if trace is None:
            out[model] = (name, None)
            continue
        if trace.role not in ROLES:
            raise TypeError(f"event type {name!r} plays {trace.role} in traces, which streams/traces/state.py "
                            f"does not implement: add it to ROLES")
        make = ROLES[trace.role]
        out[model] = (name, make(trace.stage_fields, cfg) if make is not None else None)
    return out
