"""The engine as the grey-box rules see it: an ordered list of kernels (entries),
each holding the original network layers TensorRT put into it.

Sources, best first: the build's engine layers (``Engine Layer Information``,
``--exportLayerInfo``, Polygraphy ``inspect model``) — *complete*; the runtime
profile's rows (``--dumpProfile``: one row per engine layer) — *complete*; the
fusion lines of a verbose build (``Fusing a with b``) grouped into the layers
they produced, plus removed layers — *partial*: a layer that was not fused
leaves no line, so rules that need the unfused ones skip on a partial view.

Types of original layers: the fusion kind names them when it can
(``ConvReluFusion: Fusing a with b`` → a is Conv, b is Relu), else the name
(:func:`trtlens.greybox.names.op_type`), else, for a one-layer entry, the engine
layer type (``CaskPooling`` → Pool).
"""

from __future__ import annotations

from dataclasses import dataclass

from trtlens.greybox.names import canonical_type, entry_kind, fusion_kind_types, op_type, parts
from trtlens.schemas.events import EngineBuild, LayerProfile


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    kind: str  # layer | reformat | myelin | foreign
    parts: tuple[str, ...]
    types: tuple[str | None, ...]
    layer_type: str | None = None  # engine kernel type, when the log gives it
    time_ms: float | None = None  # runtime (profile entries only): total, else avg, else share

    @property
    def fused(self) -> bool:
        """More than one original layer in one kernel, or a Myelin kernel/region."""
        return len(self.parts) > 1 or self.kind in ("myelin", "foreign")


@dataclass(frozen=True, slots=True)
class EngineView:
    entries: tuple[Entry, ...]
    source: str  # layers | profile | fusions
    complete: bool
    removed: tuple[tuple[str, str | None], ...] = ()  # (name, type) of layers the optimiser removed


def type_hints(report: EngineBuild) -> dict[str, str]:
    """Original layer → type, from the fusion kinds that name their layers' types."""
    hints: dict[str, str] = {}
    for fusion in report.fusions:
        types = fusion_kind_types(fusion.kind, len(fusion.layers))
        if types is None:
            continue
        for layer, typ in zip(fusion.layers, types, strict=True):
            if " + " not in layer:  # "a + b" fused further: its own kind named a and b
                hints.setdefault(layer, typ)
    return hints


def _entry(name: str, hints: dict[str, str], layer_type: str | None = None, time_ms: float | None = None) -> Entry:
    kind = entry_kind(name)
    names = tuple(parts(name))
    types = [hints.get(p) or op_type(p) for p in names]
    if len(names) == 1 and types[0] is None and kind == "layer":
        types[0] = canonical_type(layer_type)
    return Entry(name=name, kind=kind, parts=names, types=tuple(types), layer_type=layer_type, time_ms=time_ms)


def _time(row: LayerProfile) -> float | None:
    for value in (row.time_ms, row.avg_ms, row.time_pct):
        if value is not None:
            return value
    return None


def profile_view(
    profile: list[LayerProfile], hints: dict[str, str] | None = None, layer_types: dict[str, str | None] | None = None
) -> EngineView | None:
    """The profile's rows as entries; ``layer_types`` (engine layer name → kernel type) from the build when it lists them."""
    if not profile:
        return None
    types = layer_types or {}
    entries = tuple(_entry(p.layer, hints or {}, types.get(p.layer), time_ms=_time(p)) for p in profile)
    return EngineView(entries=entries, source="profile", complete=True)


def fusion_groups(report: EngineBuild) -> list[list[str]]:
    """The layers each fusion line produced, fused further ones merged (``a+b`` then ``(a+b)+c``)."""
    groups: list[list[str]] = []
    where: dict[str, int] = {}
    for fusion in report.fusions:
        members = [p for layer in fusion.layers for p in parts(layer)]
        ids = sorted({where[m] for m in members if m in where})
        target = ids[0] if ids else len(groups)
        if not ids:
            groups.append([])
        for other in ids[1:]:
            for m in groups[other]:
                groups[target].append(m)
                where[m] = target
            groups[other] = []
        for m in members:
            if where.get(m) != target:
                groups[target].append(m)
                where[m] = target
    return [g for g in groups if g]


def build_view(report: EngineBuild, profile: list[LayerProfile] | None = None) -> EngineView | None:
    """The most complete view the inputs allow (see the module doc); None when they show no layers."""
    hints = type_hints(report)
    removed = tuple((name, hints.get(name) or op_type(name)) for name in report.removed_layers)
    if report.layers:
        entries = tuple(_entry(layer.name, hints, layer.layer_type) for layer in report.layers)
        return EngineView(entries=entries, source="layers", complete=True, removed=removed)
    if profile:
        view = profile_view(profile, hints)
        assert view is not None
        return EngineView(entries=view.entries, source="profile", complete=True, removed=removed)
    if report.fusions:
        entries = tuple(_entry(" + ".join(group), hints) for group in fusion_groups(report))
        return EngineView(entries=entries, source="fusions", complete=False, removed=removed)
    return None


def data_movement_types(non_compute_layer_types: list[str]) -> frozenset[str]:
    """The rules' ``non_compute_layer_types`` in the canonical vocabulary (lower case)."""
    return frozenset((canonical_type(t) or t).lower() for t in non_compute_layer_types)


def is_data_movement(entry: Entry, movement: frozenset[str]) -> bool:
    """A reformat copy, or an entry whose layers (or kernel type) only move data."""
    if entry.kind == "reformat":
        return True
    if entry.layer_type and (canonical_type(entry.layer_type) or entry.layer_type).lower() in movement:
        return True
    return bool(entry.types) and all(t is not None and t.lower() in movement for t in entry.types)
