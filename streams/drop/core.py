"""Drop low-value events by rules, each counted (pure).

Rules are checked in order; the first that matches drops the event and its
counter (``dropped[rule.id]``) goes up. An event missing the field a rule looks
at does not match that rule (kept).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from trtlens.schemas.events import EventBase
from trtlens.streams.drop.config import (
    DropConfig,
    EventTypeRule,
    FieldEqualsRule,
    HealthCheckRule,
    LevelRule,
)


class Dropper:
    def __init__(self, config: DropConfig) -> None:
        self.dropped: Counter[str] = Counter()
        self._checks = [(r.id, _compile(r)) for r in config.rules]
        self._quick = _quick_sets(config.rules)  # None: check every rule; else what any rule can drop
        self.prefilter = _prefilter(self._quick)  # False = surely kept (None: no shortcut)

    def keep(self, events: Sequence[EventBase], watermarks_ms: Sequence[int]) -> tuple[list[EventBase], list[int]]:
        """The events no rule drops, in order, with their watermarks (the hot path: one call per record).

        Each drop is counted under its rule id. The prefilter runs inline: an event
        whose level, type, model and ``request_id`` prefix no rule mentions costs a
        few set lookups.
        """
        quick = self._quick
        if quick is not None and not any(quick):
            return list(events), list(watermarks_ms)  # no rules
        out: list[EventBase] = []
        out_wms: list[int] = []
        keep, keep_wm = out.append, out_wms.append
        if quick is None:
            for ev, wm in zip(events, watermarks_ms):
                if self._first_match(ev) is None:
                    keep(ev)
                    keep_wm(wm)
            return out, out_wms
        levels, types, models, firsts, prefixes = quick
        first_match = self._first_match
        for ev, wm in zip(events, watermarks_ms):
            rid = ev.request_id
            if (ev.level in levels or ev.event in types or ev.model in models
                    or (rid is not None and rid[:1] in firsts and rid.startswith(prefixes))) \
                    and first_match(ev) is not None:
                continue
            keep(ev)
            keep_wm(wm)
        return out, out_wms

    def rule_for(self, ev: EventBase) -> str | None:
        """The id of the first rule that drops ``ev`` (counted), or None to keep it (one event)."""
        if self.prefilter is not None and not self.prefilter(ev):
            return None
        return self._first_match(ev)

    def _first_match(self, ev: EventBase) -> str | None:
        for rule_id, check in self._checks:
            if check(ev):
                self.dropped[rule_id] += 1
                return rule_id
        return None


def _compile(rule):
    if isinstance(rule, EventTypeRule):
        types = frozenset(rule.types)
        return lambda ev: ev.event in types
    if isinstance(rule, LevelRule):
        levels = frozenset(rule.levels)
        return lambda ev: ev.level in levels
    if isinstance(rule, HealthCheckRule):
        prefixes = tuple(rule.request_id_prefixes)
        models = frozenset(rule.models)

        def health(ev: EventBase) -> bool:
            rid = ev.request_id
            return (rid is not None and bool(prefixes) and rid.startswith(prefixes)) or (ev.model in models)

        return health
    if isinstance(rule, FieldEqualsRule):
        name, values = rule.field, frozenset(rule.values)

        def equals(ev: EventBase) -> bool:
            v = getattr(ev, name, None)
            return v is not None and str(v) in values

        return equals
    raise TypeError(f"unknown drop rule {rule!r}")  # pragma: no cover


def _quick_sets(rules):
    """(levels, types, models, first characters of prefixes, prefixes) that any rule can drop, or None.

    An event whose level, type and model are not in them and whose ``request_id``
    does not start with a prefix is surely kept (what the prefilter tests).
    """
    if any(isinstance(r, FieldEqualsRule) for r in rules):
        return None  # arbitrary fields: check the rules one by one
    types = frozenset(t for r in rules if isinstance(r, EventTypeRule) for t in r.types)
    levels = frozenset(lv for r in rules if isinstance(r, LevelRule) for lv in r.levels)
    prefixes = tuple(p for r in rules if isinstance(r, HealthCheckRule) for p in r.request_id_prefixes)
    models = frozenset(m for r in rules if isinstance(r, HealthCheckRule) for m in r.models)
    firsts = frozenset(p[:1] for p in prefixes)  # request ids rarely share a prefix's first character
    return levels, types, models, firsts, prefixes


def _prefilter(quick):
    """One cheap test that is False for (almost) every event no rule drops: the common case costs one call."""
    if quick is None:
        return None
    levels, types, models, firsts, prefixes = quick

    def maybe(ev: EventBase) -> bool:
        rid = ev.request_id
        return (
            ev.level in levels or ev.event in types or ev.model in models
            or (rid is not None and rid[:1] in firsts and rid.startswith(prefixes))
        )

    return maybe
