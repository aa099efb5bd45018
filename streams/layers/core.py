"""Runtime layer profiles per engine × layer × window, and what they say against the engine's build (pure).

Input, per partition (``layer_profile``, ``engine_build`` and ``engine_runtime``
events are keyed by ``engine_id``, so one engine's profiles, build report and
rerouted engine loads meet in one partition — no merge stage is needed):

* ``layer_profile`` → the event-time window of its ``ts_ms`` (the metrics
  windows: ``window_ms``/``grace_ms``/``late_retention_ms``), one accumulator per
  (window, engine) holding per layer a DDSketch of its time, its sum and type;
* ``engine_build`` → the latest build per engine (LRU, ``max_builds``);
* ``engine_runtime`` → the runtime versions a worker loaded the engine with
  (LRU, ``max_loads``), compared with the build's as soon as both are known.

Output when a window closes (watermark ≥ end + grace), or when the partition is
idle: one :class:`LayerWindow` per layer (``share`` = the layer's summed time /
the engine's summed layer time in the window). A late event within
``late_retention_ms`` re-emits the window (same ids); later ones are counted
``too_late``. On a window's first emission, if the engine's build is known, the
grey-box correlation runs on the window's layer table; findings and version
mismatches become :class:`EngineFinding` documents plus one firing
:class:`Alert` per (build, kind) — ids derived from the build, so a replay or a
restart re-sends the same documents instead of new ones.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from trtlens.schemas.documents import Alert, EngineFinding, Finding, LayerWindow
from trtlens.schemas.events import EngineBuild, EngineRuntime, LayerProfile
from trtlens.streams.layers.config import LayersConfig
from trtlens.streams.metrics.config import MetricsConfig
from trtlens.streams.metrics.sketch import DDSketch

RULE_KIND = "build_runtime"


class Correlator(Protocol):
    """The grey-box side (``streams/builds/evaluator.py`` builds it from ``trtlens.greybox``)."""

    def correlate(self, build: EngineBuild, profile: list[LayerProfile]) -> list[Finding]: ...

    def versions(self, build: EngineBuild, runtime_versions: dict[str, str]) -> list[tuple[Finding, str | None, str | None]]:
        """``(finding, runtime version, build version)`` per part that differs."""
        ...

    def build_versions(self, build: EngineBuild) -> dict[str, str]: ...


@dataclass(slots=True)
class _Layer:
    layer_type: str | None
    sketch: DDSketch
    total_ms: float = 0.0


@dataclass(slots=True)
class _EngineWindow:
    model: str | None
    model_version: str | None
    layers: dict[str, _Layer] = field(default_factory=dict)
    total_ms: float = 0.0
    emitted: bool = False
    changed: bool = False
    correlated: bool = False


@dataclass
class LayerOutputs:
    layers: list[LayerWindow] = field(default_factory=list)
    findings: list[EngineFinding] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.layers) + len(self.findings) + len(self.alerts)


def layer_time_ms(ev: LayerProfile) -> float | None:
    """One observation of a profile row: per-run time (``avg_ms``; else ``time_ms`` / ``iterations``)."""
    if ev.avg_ms is not None:
        return ev.avg_ms
    if ev.time_ms is not None:
        return ev.time_ms / (ev.iterations or 1)
    return ev.median_ms


class LayerWindows:
    """One partition's layer windows, latest builds and engine loads."""

    def __init__(self, metrics: MetricsConfig, config: LayersConfig, correlator: Correlator | None = None) -> None:
        self.metrics = metrics
        self.config = config
        self.correlator = correlator
        self.windows: dict[tuple[int, str], _EngineWindow] = {}
        self.builds: OrderedDict[str, EngineBuild] = OrderedDict()
        self.loads: OrderedDict[tuple[str, str], EngineRuntime] = OrderedDict()  # (engine_id, worker_id)
        self.sent: set[str] = set()  # doc ids of findings/alerts already sent (bounded with the builds)
        # builds outlive the state log's horizon (a build is hours older than its engine's traffic): each
        # remembered build is also kept under its own state key; changes since the last take_pins()
        self._pins: dict[str, EngineBuild | None] = {}
        self.out = LayerOutputs()
        self._next_due_ms: int | None = None  # watermark at which advance() next has something to emit or forget
        self._late_changed = False  # a closed window took a late row: re-emit at the next advance()
        self.late_events = 0
        self.too_late_events = 0
        self.overflow_layers = 0
        self.rows_without_time = 0

    # -- input ----------------------------------------------------------------
    def observe(self, events: Sequence[LayerProfile], watermarks_ms: Sequence[int]) -> None:
        m = self.metrics
        window_ms, grace_ms, late_ms = m.window_ms, m.grace_ms, m.late_retention_ms
        for ev, wm in zip(events, watermarks_ms):
            value = layer_time_ms(ev)
            if value is None:
                self.rows_without_time += 1
                continue
            ws = ev.ts_ms - ev.ts_ms % window_ms
            closes = ws + window_ms + grace_ms
            key = (ws, ev.engine_id)
            win = self.windows.get(key)
            if wm >= closes + late_ms:
                self.too_late_events += 1
                continue
            if wm >= closes:
                self.late_events += 1
                self._late_changed = True
            if win is None:
                win = self.windows[key] = _EngineWindow(ev.model, ev.model_version)
                if self._next_due_ms is None or closes < self._next_due_ms:
                    self._next_due_ms = closes
            layer = win.layers.get(ev.layer)
            if layer is None:
                if len(win.layers) >= self.config.max_layers_per_window:
                    self.overflow_layers += 1
                    continue
                layer = win.layers[ev.layer] = _Layer(ev.layer_type, DDSketch(self.config.relative_accuracy))
            layer.sketch.add(value)
            layer.total_ms += value
            if layer.layer_type is None and ev.layer_type:
                layer.layer_type = ev.layer_type
            win.total_ms += value
            win.model = win.model or ev.model
            win.model_version = win.model_version or ev.model_version
            win.changed = True

    def note_builds(self, builds: Sequence[EngineBuild], *, muted: bool = False) -> None:
        """Remember each engine's latest build; check engine loads that waited for it."""
        for build in builds:
            old = self.builds.get(build.engine_id)
            if old is not None and old.ts_ms > build.ts_ms:
                continue  # an older build re-sent: keep the newer one
            self.builds[build.engine_id] = build
            self.builds.move_to_end(build.engine_id)
            if not muted:
                self._pins[build.engine_id] = build
            while len(self.builds) > self.config.max_builds:
                gone, _ = self.builds.popitem(last=False)
                if not muted:
                    self._pins[gone] = None
            for (eid, _worker), load in list(self.loads.items()):
                if eid == build.engine_id:
                    self._check_versions(build, load, muted)
        if len(self.sent) > 64 * max(1, self.config.max_builds):
            self.sent.clear()  # bounded; ids are deterministic, so a re-send only overwrites

    def take_pins(self) -> list[tuple[str, bytes | None]]:
        """Builds to keep (engine_id, JSON) or forget (engine_id, None) in the partition's state, since the last call."""
        pins, self._pins = self._pins, {}
        return [(eid, None if b is None else b.model_dump_json(exclude_defaults=True).encode()) for eid, b in pins.items()]

    def restore_pins(self, values: list[bytes]) -> None:
        """Recovery: the builds kept by :meth:`take_pins`, before the state log is replayed."""
        builds = sorted((EngineBuild.model_validate_json(v) for v in values), key=lambda b: b.ts_ms)
        self.note_builds(builds, muted=True)

    def note_loads(self, loads: Sequence[EngineRuntime], *, muted: bool = False) -> None:
        for load in loads:
            key = (load.engine_id, load.worker_id)
            self.loads[key] = load
            self.loads.move_to_end(key)
            while len(self.loads) > self.config.max_loads:
                self.loads.popitem(last=False)
            build = self.builds.get(load.engine_id)
            if build is not None:
                self._check_versions(build, load, muted)

    # -- windows --------------------------------------------------------------
    def advance(self, watermark_ms: int, *, muted: bool = False) -> None:
        m = self.metrics
        due = self._next_due_ms
        if due is None or (watermark_ms < due and not self._late_changed):
            return  # called once per record: nothing to emit or forget yet
        self._late_changed = False
        for key in sorted(self.windows):
            ws, _eid = key
            win = self.windows[key]
            closes = ws + m.window_ms + m.grace_ms
            if watermark_ms >= closes and win.changed:
                self._emit(key, win, muted)
            if watermark_ms >= closes + m.late_retention_ms:
                if win.changed:
                    self._emit(key, win, muted)
                del self.windows[key]
        late_ms = m.late_retention_ms
        self._next_due_ms = min(
            (ws + m.window_ms + m.grace_ms + (0 if w.changed else late_ms) for (ws, _), w in self.windows.items()),
            default=None)

    def flush_open(self, *, muted: bool = False) -> None:
        """Idle partition: emit every changed window as it is (later events re-emit it)."""
        for key in sorted(self.windows):
            win = self.windows[key]
            if win.changed:
                self._emit(key, win, muted)

    def take(self) -> LayerOutputs:
        out, self.out = self.out, LayerOutputs()
        return out

    def _emit(self, key: tuple[int, str], win: _EngineWindow, muted: bool) -> None:
        ws, eid = key
        win.changed = False
        win.emitted = True
        docs = self.documents(ws, eid, win)
        if not muted:
            self.out.layers.extend(docs)
        if not win.correlated and self.config.correlate and self.correlator is not None:
            build = self.builds.get(eid)
            if build is not None:
                win.correlated = True
                findings = self.correlator.correlate(build, [self.profile_row(d) for d in docs])
                self._findings(build, ws, findings, None, {}, muted)

    def documents(self, ws: int, eid: str, win: _EngineWindow) -> list[LayerWindow]:
        wms = self.metrics.window_ms
        out = []
        for name, layer in win.layers.items():
            sk = layer.sketch
            p50, p99 = sk.quantiles((0.5, 0.99))
            out.append(LayerWindow(
                window_start_ms=ws, window_end_ms=ws + wms, window_ms=wms, model=win.model,
                model_version=win.model_version, engine_id=eid, layer=name, layer_type=layer.layer_type,
                count=sk.count, mean_ms=_r(sk.sum / sk.count) if sk.count else None, p50_ms=_r(p50), p99_ms=_r(p99),
                total_ms=_r(layer.total_ms) or 0.0,
                share=min(1.0, round(layer.total_ms / win.total_ms, 6)) if win.total_ms > 0 else None,
            ))
        return out

    @staticmethod
    def profile_row(doc: LayerWindow) -> LayerProfile:
        """A window's layer as a profile row, the shape the grey-box correlation reads."""
        return LayerProfile(
            event_id=f"layer_window:{doc.doc_id}", ts_ms=doc.window_start_ms, worker_id="trtlens-streams",
            model=doc.model, model_version=doc.model_version, engine_id=doc.engine_id, layer=doc.layer,
            layer_type=doc.layer_type, time_ms=doc.total_ms, avg_ms=doc.mean_ms, median_ms=doc.p50_ms,
            time_pct=round(doc.share * 100, 4) if doc.share is not None else None,
        )

    # -- findings -------------------------------------------------------------
    def _check_versions(self, build: EngineBuild, load: EngineRuntime, muted: bool) -> None:
        if not self.config.check_versions or self.correlator is None or not load.runtime_versions:
            return
        found = self.correlator.versions(build, load.runtime_versions)
        findings = [f.model_copy(update={"value": None}) for f, _, _ in found]
        values = [(runtime, built) for _, runtime, built in found]
        self._findings(build, load.ts_ms, findings, load.worker_id, load.runtime_versions, muted, values)

    def _findings(self, build: EngineBuild, at_ms: int, findings: list[Finding], worker_id: str | None,
                  runtime_versions: dict[str, str], muted: bool,
                  values: list[tuple[str | None, str | None]] | None = None) -> None:
        if not findings:
            return
        built = self.correlator.build_versions(build) if self.correlator is not None else {}
        by_kind: dict[str, list[EngineFinding]] = {}
        for i, f in enumerate(findings):
            value, expected = values[i] if values else (f.value, f.expected)
            doc = EngineFinding(
                engine_id=build.engine_id, kind=f.kind, message=f.message, ref_ms=build.ts_ms, window_start_ms=at_ms,
                model=build.model, model_version=build.model_version, worker_id=worker_id, layer=f.layer,
                layers=list(f.layers), value=value, expected=expected, build_versions=built,
                runtime_versions=dict(runtime_versions),
            )
            if doc.doc_id in self.sent:
                continue  # the same finding for the same build (another window): said once
            self.sent.add(doc.doc_id)
            by_kind.setdefault(f.kind, []).append(doc)
        if muted:
            return
        for kind, docs in by_kind.items():
            self.out.findings.extend(docs)
            self.out.alerts.append(finding_alert(build, kind, docs, self.metrics.window_ms, worker_id))


def finding_alert(build: EngineBuild, kind: str, docs: list[EngineFinding], window_ms: int,
                  worker_id: str | None = None) -> Alert:
    """One firing alert per (build, kind): ``window_start_ms`` is the build's time, so its id is stable."""
    if build.model and build.model_version:
        scope, scope_key = "model_version", f"{build.model}/{build.model_version}"
    else:
        scope, scope_key = "all", build.engine_id
    if kind == "version_mismatch" and worker_id:
        scope, scope_key = "worker", worker_id
    shown = "; ".join(d.message for d in docs[:3]) + (f"; +{len(docs) - 3} more" if len(docs) > 3 else "")
    first = docs[0]
    return Alert(
        rule_id=f"{RULE_KIND}.{kind}", rule_kind=RULE_KIND, scope=scope, scope_key=scope_key, state="firing",
        window_start_ms=build.ts_ms, window_ms=window_ms,
        value=first.value if isinstance(first.value, (int, float)) else float(len(docs)),
        threshold=first.expected if isinstance(first.expected, (int, float)) else 0.0,
        message=f"engine {build.engine_id} ({scope_key}): {len(docs)} {kind} finding(s): {shown}",
        breaching_windows=1,
    )


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)

