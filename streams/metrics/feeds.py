"""What each window measure does with one event (pure).

The event specs (``schemas/roles.py``) say which :class:`WindowMeasure` an
event type feeds; this module says what each measure does to the partial
windows an event lands in, and :func:`feeds_for` turns the registry into the
per-type dispatch table :class:`~trtlens.streams.metrics.core.PartitionWindows`
reads on the hot path: one dict lookup by the event's class, then one call.
Nothing here compares ``event`` strings, and each ``add`` is typed to the model
it reads. (Reading a field of a pydantic model costs about as much as a call
here, ~0.1 µs: the generic attribute path, as ``BaseModel`` defines
``__getattr__``; so the hot path reads no field it does not need.)

======================  ======================================================
measure                 effect on each partial (model_version, worker, all)
======================  ======================================================
``REQUESTS``            requests; errors (status error); cold_starts
                        (cold_start); latency sketch of ``total_ms``;
                        ``engine_id`` into the window's engines
``FIRST_INFERENCE``     first-inference sketch of ``latency_ms`` — cold
                        inferences only (``gate_field`` ``cold_start``: a
                        warm one feeds nothing, not even late counts)
``ENGINE_LOAD``         engine-load sketch of ``duration_ms``; ``engine_id``
                        into the window's engines
``GPU``                 GPU memory / utilisation max; worker and all scopes
                        only (a GPU sample names no model version); per
                        GPU used max and total in the worker scope
======================  ======================================================

An event's ``sample_weight`` ``w`` (``1/rate`` when its source sampled its
request by a rate) scales what it adds: the counts by ``w`` (the part beyond
1 into the partial's ``extra_*``: ``core.py``), the sketches by ``w``
(:meth:`~trtlens.streams.metrics.sketch.DDSketch.add_weighted`). GPU maxima are
not weighted. Each ``add`` reads the weight once and takes its unweighted path,
unchanged, when it is 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from trtlens.schemas.events import (
    EVENT_TYPES,
    EngineLoadComplete,
    EventBase,
    GpuSample,
    InferenceComplete,
    RequestComplete,
)
from trtlens.schemas.roles import WindowMeasure
from trtlens.streams.metrics.sketch import MIN_VALUE, DDSketch, log_gamma

if TYPE_CHECKING:
    from trtlens.streams.metrics.core import WindowPartial

Add = Callable[[Any, "list[WindowPartial]"], None]
"""``add(event, partials)``: apply one event to the partials it lands in."""


Feed = tuple[bool, Add, "str | None", bool]
"""How one event type feeds the windows: ``(with_model, add, gate_field, hints_p99)``.

* ``with_model``: lands in the model_version scope too (else worker and all only);
* ``add``: what it does to each partial it lands in;
* ``gate_field``: None, or a boolean field that must be true for the event to feed
  anything (late counting included);
* ``hints_p99``: its model-version window's latency P99 is what the slow-trace rule
  compares with.

A plain tuple: the hot path unpacks one per event (a NamedTuple unpacks on a
slower path)."""


def _requests(relative_accuracy: float) -> Add:
    gamma_ln = log_gamma(relative_accuracy)
    ceil, log = math.ceil, math.log

    def add(ev: RequestComplete, targets: list[WindowPartial]) -> None:
        d = ev.__dict__  # one lookup per field instead of pydantic's generic getattr path
        total = d["total_ms"]
        err = d["status"] == "error"
        cold = d["cold_start"]
        eid = d["engine_id"]
        key = ceil(log(total) / gamma_ln) if total > MIN_VALUE else None  # DDSketch.key()
        w = d["sample_weight"]
        if w != 1:
            weighted(targets, total, key, err, cold, eid, w)
            return
        for p in targets:
            p.requests += 1
            if eid is not None:
                engines = p.engines
                if engines is None:
                    p.engines = {eid}
                elif eid not in engines:
                    engines.add(eid)
            if err:
                p.errors += 1
            if cold:
                p.cold_starts += 1
            sk = p.latency
            if sk is None:
                sk = p.latency = DDSketch(relative_accuracy)
            # sk.add_keyed(total, key), inlined (three sketches per request)
            sk.count += 1
            sk.sum += total
            if total < sk.min:
                sk.min = total
            if total > sk.max:
                sk.max = total
            if key is None:
                sk.zero += 1
            else:
                bins = sk.bins
                bins[key] = bins.get(key, 0) + 1

    def weighted(targets: list[WindowPartial], total: float, key: int | None, err: bool, cold: bool,
                 eid: str | None, w: float) -> None:
        """``add`` of a request that stands for ``w`` requests (its source kept it at a rate of 1/w)."""
        extra = w - 1
        for p in targets:
            p.requests += 1
            p.extra_requests += extra
            if eid is not None:
                if p.engines is None:
                    p.engines = {eid}
                else:
                    p.engines.add(eid)
            if err:
                p.errors += 1
                p.extra_errors += extra
            if cold:
                p.cold_starts += 1
                p.extra_cold_starts += extra
            if p.latency is None:
                p.latency = DDSketch(relative_accuracy)
            p.latency.add_weighted(total, key, w)

    return add


def _first_inference(relative_accuracy: float) -> Add:
    def add(ev: InferenceComplete, targets: list[WindowPartial]) -> None:
        d = ev.__dict__
        value, w = d["latency_ms"], d["sample_weight"]
        for p in targets:
            if p.first_inference is None:
                p.first_inference = DDSketch(relative_accuracy)
            if w == 1:
                p.first_inference.add(value)
            else:
                p.first_inference.add_weighted(value, p.first_inference.key(value), w)

    return add


def _engine_load(relative_accuracy: float) -> Add:
    def add(ev: EngineLoadComplete, targets: list[WindowPartial]) -> None:
        d = ev.__dict__
        value, w = d["duration_ms"], d["sample_weight"]
        eid = d.get("engine_id")  # optional for this measure (see schemas/roles.py)
        for p in targets:
            if eid is not None:
                if p.engines is None:
                    p.engines = {eid}
                else:
                    p.engines.add(eid)
            if p.engine_load is None:
                p.engine_load = DDSketch(relative_accuracy)
            if w == 1:
                p.engine_load.add(value)
            else:
                p.engine_load.add_weighted(value, p.engine_load.key(value), w)

    return add


def _gpu(relative_accuracy: float) -> Add:
    def add(ev: GpuSample, targets: list[WindowPartial]) -> None:
        mem, util = ev.memory_used_bytes, ev.utilization_pct
        for p in targets:
            if p.scope == "worker":  # per GPU (the memory-trend rule); the rollup mixes workers' GPUs
                gpus = p.gpus
                if gpus is None:
                    gpus = p.gpus = {}
                g = gpus.get(ev.gpu_index)
                if g is None:
                    gpus[ev.gpu_index] = [mem, ev.memory_total_bytes]
                elif mem > g[0]:
                    g[0] = mem
            if p.gpu_memory_max_bytes is None or mem > p.gpu_memory_max_bytes:
                p.gpu_memory_max_bytes = mem
            if p.gpu_utilization_max_pct is None or util > p.gpu_utilization_max_pct:
                p.gpu_utilization_max_pct = util

    return add


class _Measure(NamedTuple):
    make_add: Callable[[float], Add]
    with_model: bool
    gate_field: str | None
    hints_p99: bool


MEASURES: dict[WindowMeasure, _Measure] = {
    WindowMeasure.REQUESTS: _Measure(_requests, True, None, True),
    WindowMeasure.FIRST_INFERENCE: _Measure(_first_inference, True, "cold_start", False),
    WindowMeasure.ENGINE_LOAD: _Measure(_engine_load, True, None, False),
    WindowMeasure.GPU: _Measure(_gpu, False, None, False),
}
"""Every window measure's implementation; a measure missing here fails :func:`feeds_for`."""


def feeds_for(relative_accuracy: float) -> dict[type[EventBase], Feed | None]:
    """``{event model: Feed}`` for every registry type: None for the types whose spec feeds no window.

    Total over the registry, so the hot path can index it (``feeds[type(ev)]``)
    instead of calling ``.get``.
    """
    adds: dict[WindowMeasure, Add] = {}
    out: dict[type[EventBase], Feed | None] = {}
    for name, model in EVENT_TYPES.items():
        measure = model.spec.windows
        if measure is None:
            out[model] = None
            continue
        impl = MEASURES.get(measure)
        if impl is None:
            raise TypeError(f"event type {name!r} feeds {measure}, which streams/metrics/feeds.py does not "
                            f"implement: add it to MEASURES")
        if measure not in adds:
            adds[measure] = impl.make_add(relative_accuracy)
        out[model] = (impl.with_model, adds[measure], impl.gate_field, impl.hints_p99)
    return out
