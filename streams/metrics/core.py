"""Per-partition partial windows: the first half of the metrics stage (pure).

Each worker sees only its partitions, so it keeps, per partition and per
(scope, scope_key, window_start), a :class:`WindowPartial` of counts, sketches
and gauges. Partials are **cumulative**: every send carries the whole partial
so far plus the source ``offset`` it reflects, so the merge stage can keep the
newest per partition and a replay (at-least-once) overwrites instead of adding.

Which event types feed windows, and with what, is declared once per type in
the event specs (``WindowMeasure``, ``schemas/roles.py``); what each measure
does is in :mod:`~trtlens.streams.metrics.feeds`. Every measure lands in the
window of the event's own ``ts_ms``, in the model_version, worker and all
scopes (GPU samples: worker and all).

**Sample weights** (``sample_weight`` of an event, ``1/rate`` when its source
kept its request by a sampling rate): ``requests``, ``errors`` and
``cold_starts`` count the requests *seen*, always integers; what weighted
requests stand for beyond themselves goes to ``extra_requests``,
``extra_errors`` and ``extra_cold_starts`` (the sum of ``w - 1``), so the
estimates are ``requests + extra_requests`` and so on, and a partial of
unweighted events is what it was before weights existed (its extras are 0 and
left out of :meth:`WindowPartial.to_dict`). The sketches hold the weights
themselves (``sketch.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trtlens.schemas.events import EventBase
from trtlens.streams.metrics.attribution import Tail, attribute_many
from trtlens.streams.metrics.config import MetricsConfig
from trtlens.streams.metrics.feeds import feeds_for
from trtlens.streams.metrics.sketch import MIN_VALUE, DDSketch, log_gamma
from trtlens.streams.metrics.windows import close_at, window_start

ALL_KEY = "*"


def model_version_key(model: str, model_version: str) -> str:
    return f"{model}/{model_version}"


@dataclass(slots=True)
class WindowPartial:
    scope: str
    scope_key: str
    window_start_ms: int
    window_ms: int
    partition: int
    model: str | None = None
    model_version: str | None = None
    worker_id: str | None = None
    requests: int = 0
    errors: int = 0
    cold_starts: int = 0
    late_events: int = 0
    # weight beyond 1 of the weighted requests seen (estimates: requests + extra_requests, ...; module doc)
    extra_requests: float = 0.0
    extra_errors: float = 0.0
    extra_cold_starts: float = 0.0
    latency: DDSketch | None = None
    first_inference: DDSketch | None = None
    engine_load: DDSketch | None = None
    gpu_memory_max_bytes: int | None = None
    gpu_utilization_max_pct: float | None = None
    engines: set[str] | None = None  # engine ids serving the window (request and engine-load events)
    tail: Tail | None = None  # tail attribution rows + exemplars (model_version scope; attribution.py)
    gpus: dict[int, list[int]] | None = None  # worker scope: gpu_index → [memory used max, memory total]
    offset: int = -1
    closed: bool = False
    dirty: bool = False
    _p99: float | None = field(default=None, repr=False)
    _p99_next: float = field(default=0, repr=False)  # the sketch count at which _p99 is recomputed

    def p99_hint(self, min_count: int) -> float | None:
        """The latency P99 so far, recomputed when the count grew by ~6% (cheap per event)."""
        sk = self.latency
        if sk is None or sk.count < min_count:
            return None
        if self._p99 is None or sk.count >= self._p99_next:
            self._p99 = sk.quantile(0.99)
            n = sk.count
            self._p99_next = n + max(16, int(n) >> 4)
        return self._p99

    def to_dict(self) -> dict[str, Any]:
        d = {
            "scope": self.scope,
            "scope_key": self.scope_key,
            "window_start_ms": self.window_start_ms,
            "window_ms": self.window_ms,
            "partition": self.partition,
            "model": self.model,
            "model_version": self.model_version,
            "worker_id": self.worker_id,
            "requests": self.requests,
            "errors": self.errors,
            "cold_starts": self.cold_starts,
            "late_events": self.late_events,
            "latency": self.latency.to_dict() if self.latency else None,
            "first_inference": self.first_inference.to_dict() if self.first_inference else None,
            "engine_load": self.engine_load.to_dict() if self.engine_load else None,
            "gpu_memory_max_bytes": self.gpu_memory_max_bytes,
            "gpu_utilization_max_pct": self.gpu_utilization_max_pct,
            "engines": sorted(self.engines) if self.engines else [],
            "tail": self.tail.to_dict() if self.tail is not None else None,
            "gpus": [[i, *v] for i, v in sorted(self.gpus.items())] if self.gpus else [],
            "offset": self.offset,
            "closed": self.closed,
        }
        if self.extra_requests:  # weighted requests seen (never for unweighted traffic: its dict stays as it was)
            d["extra_requests"] = self.extra_requests
            d["extra_errors"] = self.extra_errors
            d["extra_cold_starts"] = self.extra_cold_starts
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "WindowPartial":
        return cls(
            scope=d["scope"], scope_key=d["scope_key"], window_start_ms=d["window_start_ms"],
            window_ms=d["window_ms"], partition=d["partition"], model=d.get("model"),
            model_version=d.get("model_version"), worker_id=d.get("worker_id"),
            requests=d["requests"], errors=d["errors"], cold_starts=d["cold_starts"],
            late_events=d["late_events"], extra_requests=d.get("extra_requests", 0.0),
            extra_errors=d.get("extra_errors", 0.0), extra_cold_starts=d.get("extra_cold_starts", 0.0),
            latency=DDSketch.from_dict(d["latency"]) if d.get("latency") else None,
            first_inference=DDSketch.from_dict(d["first_inference"]) if d.get("first_inference") else None,
            engine_load=DDSketch.from_dict(d["engine_load"]) if d.get("engine_load") else None,
            gpu_memory_max_bytes=d.get("gpu_memory_max_bytes"),
            gpu_utilization_max_pct=d.get("gpu_utilization_max_pct"),
            engines=set(d["engines"]) if d.get("engines") else None,
            tail=Tail.from_dict(d["tail"]) if d.get("tail") else None,
            gpus={int(g[0]): [int(g[1]), int(g[2])] for g in d["gpus"]} if d.get("gpus") else None,
            offset=d.get("offset", -1), closed=d.get("closed", False),
        )


WindowKey = tuple[str, str, int]


class PartitionWindows:
    """Open (and recently closed) partial windows of one partition."""

    def __init__(self, config: MetricsConfig, partition: int) -> None:
        self.config = config
        self.partition = partition
        self.windows: dict[WindowKey, WindowPartial] = {}
        self.dirty: set[WindowKey] = set()
        self._evicted: list[WindowPartial] = []  # dropped while dirty: their last change still goes out
        self.late_events = 0
        self.too_late_events = 0
        self._cache: dict[tuple, list[WindowPartial]] = {}  # (model, version, worker, window) → its partials
        self._feeds = feeds_for(config.relative_accuracy)  # event model → how it feeds windows (the registry's)
        self._gamma_ln = log_gamma(config.relative_accuracy)

    # -- event intake ---------------------------------------------------------
    def _partial(self, scope: str, scope_key: str, ws: int, ev: EventBase) -> WindowPartial:
        key = (scope, scope_key, ws)
        p = self.windows.get(key)
        if p is None:
            p = WindowPartial(scope, scope_key, ws, self.config.window_ms, self.partition)
            if scope == "model_version":
                p.model, p.model_version = ev.model, ev.model_version
            elif scope == "worker":
                p.worker_id = ev.worker_id
            self.windows[key] = p
        return p

    def _targets(self, ev: EventBase, ws: int, with_model: bool) -> list[WindowPartial]:
        ck = (ev.model if with_model else None, ev.model_version if with_model else None, ev.worker_id, ws)
        hit = self._cache.get(ck)
        if hit is not None:
            return hit
        out = []
        if with_model and ev.model and ev.model_version:
            out.append(self._partial("model_version", model_version_key(ev.model, ev.model_version), ws, ev))
        out.append(self._partial("worker", ev.worker_id, ws, ev))
        out.append(self._partial("all", ALL_KEY, ws, ev))
        self._cache[ck] = out
        return out

    def observe(self, ev: EventBase, offset: int, watermark_ms: int) -> WindowPartial | None:
        """Apply one event seen while the partition watermark is ``watermark_ms``.

        Returns the model_version partial the event landed in (for the slow-trace
        rule), or None.
        """
        landed: list[WindowPartial | None] = [None]
        self.observe_many((ev,), (watermark_ms,), offset, landed_out=landed)
        return landed[0]

    def observe_many(
        self,
        events: Sequence[EventBase],
        watermarks_ms: Sequence[int],
        offset: int,
        *,
        p99_min_count: int | None = None,
        landed_out: list[WindowPartial | None] | None = None,
        requests_out: list[tuple[EventBase, WindowPartial]] | None = None,
    ) -> list[float | None] | None:
        """:meth:`observe` each event (seen at its watermark) of one record in turn: the hot path.

        Events that feed no window (types whose spec has no window measure, warm
        ``inference_complete``) are skipped. With ``p99_min_count``, returns the
        current latency P99 hint of the model-version window of each event that
        feeds requests (aligned with ``events``; None elsewhere) for the
        slow-trace rule. ``landed_out`` (aligned with ``events``) receives the
        model-version partial each event landed in. ``requests_out`` receives
        ``(event, model-version partial)`` of each request event that fed a window,
        for :meth:`attribute` once the trace join has its stages.
        """
        cfg = self.config
        window_ms, grace_ms, late_ms = cfg.window_ms, cfg.grace_ms, cfg.late_retention_ms
        if window_ms <= 0:
            raise ValueError("window_ms must be positive")
        feeds, cache, targets_for, dirty = self._feeds, self._cache, self._targets, self.dirty
        p99s: list[float | None] | None = [None] * len(events) if p99_min_count is not None else None
        min_count = p99_min_count if p99_min_count is not None else 0
        i = -1
        for ev, watermark_ms in zip(events, watermarks_ms):
            i += 1
            try:
                feed = feeds[type(ev)]  # total over the registry (a try costs nothing when it does not raise)
            except KeyError:
                feed = feeds[type(ev)] = None  # an EventBase subclass outside the registry feeds nothing
            if feed is None:
                continue
            with_model, add, gate_field, hints_p99 = feed
            if gate_field is not None and not getattr(ev, gate_field):
                continue
            ts = ev.ts_ms
            ws = ts - ts % window_ms  # window_start()
            closes = ws + window_ms + grace_ms  # close_at()
            if watermark_ms >= closes:
                if watermark_ms >= closes + late_ms:
                    self.too_late_events += 1
                    continue
                self.late_events += 1
                for p in targets_for(ev, ws, with_model):
                    p.late_events += 1
                    p.offset = offset
                    p.closed = True
                    p.dirty = True
                    dirty.add((p.scope, p.scope_key, ws))
                continue
            if with_model:
                targets = cache.get((ev.model, ev.model_version, ev.worker_id, ws))
            else:
                targets = cache.get((None, None, ev.worker_id, ws))
            if targets is None:
                targets = targets_for(ev, ws, with_model)
            add(ev, targets)
            for p in targets:
                p.offset = offset
                if not p.dirty:
                    p.dirty = True
                    dirty.add((p.scope, p.scope_key, ws))
            mv = targets[0]
            if mv.scope == "model_version":
                if landed_out is not None:
                    landed_out[i] = mv
                if hints_p99:
                    if p99s is not None:
                        p99s[i] = mv.p99_hint(min_count)
                    if requests_out is not None:
                        requests_out.append((ev, mv))
        return p99s

    def attribute(self, requests: Sequence[tuple[EventBase, WindowPartial]], traces: dict[str, Any],
                  waiting: dict[str, tuple[EventBase, WindowPartial]] | None = None,
                  inference: int = 0) -> list[tuple[str, WindowPartial]]:
        """Add each request (from ``observe_many``'s ``requests_out``) to its window's tail rows and exemplars.

        ``traces``: the trace join's open traces by request_id (their joined stage
        breakdown; a request without one is attributed to ``other``). Returns
        ``(request_id, partial)`` of each request that became an exemplar candidate
        of its partial: the caller marks their traces, which tail sampling keeps if
        they are still among the partial's exemplars when it closes. With
        ``waiting``: the requests that completed before their inference go there
        instead (``attribute_many``).
        """
        cfg = self.config
        if not cfg.attribution:
            return []
        return attribute_many(requests, traces, self._gamma_ln, cfg.exemplars, MIN_VALUE,  # type: ignore[arg-type]
                              waiting, inference)

    def attribute_late(self, requests: Sequence[tuple[EventBase, WindowPartial]],
                       traces: dict[str, Any]) -> list[tuple[str, WindowPartial]]:
        """:meth:`attribute` for requests whose breakdown arrived after them: their partials go out again."""
        for _ev, p in requests:
            if not p.dirty:
                p.dirty = True
                self.dirty.add((p.scope, p.scope_key, p.window_start_ms))
        return self.attribute(requests, traces)

    def current(self, model: str, model_version: str, ts_ms: int) -> WindowPartial | None:
        ws = window_start(ts_ms, self.config.window_ms)
        return self.windows.get(("model_version", model_version_key(model, model_version), ws))

    # -- watermark ------------------------------------------------------------
    def advance(self, watermark_ms: int) -> None:
        """Mark windows closed at ``watermark_ms`` (dirty: their final partial goes out) and drop expired ones."""
        cfg = self.config
        gone = []
        for key, p in self.windows.items():
            closes = close_at(p.window_start_ms, cfg.window_ms, cfg.grace_ms)
            if watermark_ms >= closes + cfg.late_retention_ms:
                gone.append(key)
            elif watermark_ms >= closes and not p.closed:
                p.closed = True
                p.dirty = True
                self.dirty.add(key)
        for key in gone:
            p = self.windows.pop(key)
            p.closed = True  # past its close (exemplar candidates held for it are decided by that: traces/core.py)
            if key in self.dirty:
                # changed since its last send: one processing group can move the watermark past a
                # window's whole retention (a backlog after a takeover, a fast backfill of a quiet
                # service); its final partial must still reach the merge stage
                self.dirty.discard(key)
                self._evicted.append(p)
        if gone:
            self._cache.clear()

    def take_dirty(self) -> list[WindowPartial]:
        """Every partial changed since the last call (final ones of evicted windows included), window order."""
        out = self._evicted + [self.windows[k] for k in self.dirty if k in self.windows]
        out.sort(key=lambda p: (p.window_start_ms, p.scope, p.scope_key))
        for p in out:
            p.dirty = False
        self.dirty.clear()
        self._evicted = []
        return out

