"""What an event type is for: its routing key and its roles in the pipeline.

Each event model in ``events.py`` declares one :class:`EventSpec` next to its
fields (``spec = EventSpec(...)``; ``EventBase`` makes it a ClassVar). Every consumer reads
these declarations through the registry (``events.EVENT_TYPES``) instead of
comparing ``event`` strings, so adding an event type means declaring it once:

* the publisher routes event dicts by :attr:`EventSpec.routing`;
* the metrics windows feed :attr:`EventSpec.windows` (one measure per type);
* the trace join applies :attr:`EventSpec.trace` (what the event adds to its
  request's trace, and whether a trace without it names it as missing);
* the pipeline hands :attr:`EventSpec.build_report` events to the grey-box rules
  (and to nothing else);
* the publisher's spool keeps :attr:`EventSpec.high_value` events when full;
* the streams app's partition watermark moves with every type but build reports and
  :attr:`EventSpec.derived` ones (:attr:`EventSpec.moves_watermark`);
* ``trtlens schema`` prints the spec of each type (``x-trtlens``).

Every field of :class:`EventSpec` is required, so a declaration always says
all of it (``None`` / ``False`` for "no such role"). :func:`build_registry`
checks the declarations when ``events.py`` is imported: a model without a spec,
or one naming fields it does not have, fails there with a message that says
what to declare.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


class Routing(Enum):
    """Which field is the Kafka key (it decides the partition): the first one that is set.

    ``REQUEST_ELSE_WORKER`` is the envelope rule. Request-scoped events always
    have ``request_id``; worker-scoped ones (engine loads, GPU samples) fall back
    to ``worker_id`` — except that an engine load *triggered by a request*
    carries that ``request_id`` and so lands on the request's partition, where
    the trace join sees it. ``ENGINE`` keys build reports and layer profiles by
    ``engine_id`` (all reports of one engine share a partition).
    """

    REQUEST_ELSE_WORKER = ("request_id", "worker_id")
    ENGINE = ("engine_id",)

    @property
    def fields(self) -> tuple[str, ...]:
        return self.value


class WindowMeasure(Enum):
    """What an event type adds to its event-time windows (``streams/metrics``); one measure per type."""

    REQUESTS = "requests"
    """requests, errors (status error), cold starts, latency sketch of ``total_ms``."""
    FIRST_INFERENCE = "first_inference"
    """first-inference sketch of ``latency_ms``, cold inferences only (``cold_start``)."""
    ENGINE_LOAD = "engine_load"
    """engine-load sketch of ``duration_ms``."""
    GPU = "gpu"
    """GPU memory / utilisation maxima (worker and all scopes: a GPU sample names no model)."""

    @property
    def fields(self) -> tuple[str, ...]:
        """The event fields the measure reads (checked at import)."""
        return _WINDOW_FIELDS[self]


_WINDOW_FIELDS = {
    WindowMeasure.REQUESTS: ("total_ms", "status", "cold_start", "engine_id", "request_id"),
    WindowMeasure.FIRST_INFERENCE: ("latency_ms", "cold_start"),
    WindowMeasure.ENGINE_LOAD: ("duration_ms",),  # and engine_id where the model has it
    WindowMeasure.GPU: ("memory_used_bytes", "utilization_pct", "gpu_index", "memory_total_bytes"),
}


class TraceRole(Enum):
    """What an event adds to its request's trace (``streams/traces``) beyond its id and type."""

    RECEIVED = "received"
    """the batch size, unless a later stage reported it."""
    INFERENCE = "inference"
    """precision, cold start, batch size (if not known yet), engine id, and its stage fields."""
    TERMINAL = "terminal"
    """completes the trace: status, cold start, batch size, engine id (if set), its stage fields (which must fill the trace's
    ``total_ms``: the slow rule reads it)."""
    ERROR = "error"
    """the first one names the trace's error."""
    STAGE = "stage"
    """named in the trace (``missing_stages`` looks for it), adds no field."""

    @property
    def fields(self) -> tuple[str, ...]:
        """The event fields the role reads (checked at import)."""
        return _TRACE_FIELDS[self]


_TRACE_FIELDS = {
    TraceRole.RECEIVED: ("batch_size",),
    TraceRole.INFERENCE: ("cold_start", "precision", "batch_size", "engine_id"),
    TraceRole.TERMINAL: ("status", "cold_start", "batch_size", "engine_id"),
    TraceRole.ERROR: ("error_type", "message", "stage"),
    TraceRole.STAGE: (),
}


class Expected(Enum):
    """Whether a trace lacking this event type names it in ``missing_stages`` (the default
    ``traces.expected_stages`` is every type that is not ``NO``)."""

    NO = "no"
    ALWAYS = "always"
    UNLESS_FAILED = "unless_failed"
    """expected in an ok trace; a request that failed may never have reached it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceSpec:
    """How an event type joins its request's trace."""

    role: TraceRole
    expected: Expected
    stage_fields: tuple[tuple[str, str], ...] = ()
    """``(breakdown field, event field)`` pairs copied into ``Trace.stages`` when the event field is
    not None; breakdown fields are those of ``documents.StageBreakdown``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventSpec:
    """Everything the pipeline needs to know about an event type, declared on its model."""

    routing: Routing
    windows: WindowMeasure | None
    """the window measure it feeds, or None."""
    trace: TraceSpec | None
    """how it joins a request trace, or None: not a stage of a request (such an event that carries
    a ``request_id`` anyway is still listed in that trace's ``event_ids``, adding nothing else)."""
    build_report: bool
    """an engine build report: routed to the grey-box rules, not to windows or traces."""
    high_value: bool
    """never among the first dropped when the producer's spool is full (at info/debug level)."""
    derived: bool
    """written into the events topic by the streams app itself, from an event of another partition
    (``engine_runtime``): its ``ts_ms`` is that partition's event time, not this one's."""
    moves_watermark: bool = field(init=False)
    """whether the event's ``ts_ms`` advances its partition's watermark: not for a build report (a log's own
    date, possibly months from the traffic) nor a derived event (another partition's time: that partition may
    be ahead, and this one's own on-time events would turn late)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "moves_watermark", not (self.build_report or self.derived))

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON (``x-trtlens`` in ``trtlens schema``), for consumers in other languages."""
        trace = None
        if self.trace is not None:
            trace = {"role": self.trace.role.value, "expected": self.trace.expected.value,
                     "stage_fields": dict(self.trace.stage_fields)}
        return {
            "routing_key": list(self.routing.fields),
            "windows": self.windows.value if self.windows is not None else None,
            "trace": trace,
            "build_report": self.build_report,
            "high_value": self.high_value,
            "derived": self.derived,
        }


_SPEC_HINT = (
    "spec = EventSpec(routing=Routing..., windows=WindowMeasure... | None, "
    "trace=TraceSpec(role=TraceRole..., expected=Expected...) | None, build_report=..., high_value=..., derived=...)"
)


def event_name(model: type[BaseModel]) -> str:
    """The ``event`` value (discriminator) of an event model."""
    field = model.model_fields.get("event")
    if field is None or not isinstance(field.default, str):
        raise TypeError(f"{model.__name__} has no `event: Literal[...]` field with its type name as default")
    return field.default


def build_registry(union: Any, base: type[M]) -> dict[str, type[M]]:
    """``{event name: model}`` of the members of the discriminated ``Event`` union, in union order.

    Raises TypeError, naming the model and what to declare, when a member is not
    a ``base``, has no spec of its own, or its spec names fields the model does
    not have.
    """
    if typing.get_origin(union) is typing.Annotated:
        union = typing.get_args(union)[0]
    out: dict[str, type[M]] = {}
    for model in typing.get_args(union) or (union,):  # Union[X] is X itself
        if not (isinstance(model, type) and issubclass(model, base)):
            raise TypeError(f"{model!r} in the Event union is not a {base.__name__}")
        name = event_name(model)
        if name in out:
            raise TypeError(f"{model.__name__} and {out[name].__name__} both use event={name!r}")
        spec = model.__dict__.get("spec")
        if not isinstance(spec, EventSpec):
            raise TypeError(
                f"event type {name!r} ({model.__name__} in schemas/events.py) declares no spec of its own: "
                f"add `{_SPEC_HINT}` next to its fields (see schemas/roles.py)"
            )
        _check_fields(model, name, spec)
        out[name] = model
    return out


def _check_fields(model: type[BaseModel], name: str, spec: EventSpec) -> None:
    fields = model.model_fields
    wanted: list[tuple[str, str]] = [(f, f"routing {spec.routing.name}") for f in spec.routing.fields]
    if spec.windows is not None:
        wanted += [(f, f"windows {spec.windows.name}") for f in spec.windows.fields]
    if spec.trace is not None:
        wanted += [(f, f"trace role {spec.trace.role.name}") for f in spec.trace.role.fields]
        wanted += [(src, f"trace stage field {dst!r}") for dst, src in spec.trace.stage_fields]
    for field, why in wanted:
        if field not in fields:
            raise TypeError(f"event type {name!r} ({model.__name__}): its spec's {why} reads field {field!r}, "
                            f"which the model does not have")
    if spec.trace is not None and spec.trace.role is TraceRole.TERMINAL and "total_ms" not in dict(spec.trace.stage_fields):
        raise TypeError(f"event type {name!r} ({model.__name__}): a terminal event fills the trace's total_ms "
                        f"(the slow rule reads it): map it in stage_fields")
    if spec.build_report and (spec.windows is not None or spec.trace is not None):
        raise TypeError(f"event type {name!r} ({model.__name__}): a build report goes to the grey-box rules "
                        f"only: declare windows=None and trace=None")
