"""One partition of the app, as a pure object: decode → dedup → drop → metrics + traces.

:class:`PartitionPipeline` holds the whole state of one source partition and
processes records in offset order. Every decision depends only on the record
sequence (event-time watermark advanced per event, windows/traces advanced per
record), so replaying the state log reproduces the state exactly. Outputs are
collected in :class:`Outputs`; with ``muted=True`` (recovery) they are not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trtlens.schemas.codec import DecodeError
from trtlens.schemas.documents import Alert, BuildReport, EngineFinding, LayerWindow
import orjson

from trtlens.schemas.events import EngineBuild, EngineLoadComplete, EngineRuntime, EventBase, LayerProfile, types_where
from trtlens.schemas.roles import TraceRole
from trtlens.streams.decode.core import decode, decode_singles
from trtlens.streams.dedup.config import DedupConfig
from trtlens.streams.dedup.core import Deduper
from trtlens.streams.drop.config import DropConfig
from trtlens.streams.drop.core import Dropper
from trtlens.streams.layers.config import LayersConfig
from trtlens.streams.layers.core import Correlator, LayerWindows
from trtlens.streams.metrics.config import MetricsConfig
from trtlens.streams.metrics.core import PartitionWindows, WindowPartial
from trtlens.streams.metrics.windows import close_at
from trtlens.streams.pipeline.statelog import Segment, StateLog
from trtlens.streams.traces.config import TracesConfig
from trtlens.streams.traces.core import TraceJoin

BuildEvaluator = Callable[[EventBase], BuildReport]
SINGLES_RUN_RECORDS = 16
"""One-event records decoded in one call by :meth:`PartitionPipeline.process_records`. Measured in-process
(CPU time, interleaved, one event per record): 16 took 12-19 % less than one call per record; a whole
group (~2,000) took 14 % *more*, though fewer instructions: its events are cold in the cache again by
the time dedup, windows and traces reach them."""
PIN_PREFIX = b"pin|"
"""State-table names (after the partition prefix) of values kept beside the state log's segments."""


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """What the partition pipeline needs of the ``streams`` settings section: its stages' configs."""

    dedup: DedupConfig
    drop: DropConfig
    metrics: MetricsConfig
    traces: TracesConfig
    state_horizon_ms: int
    segment_max_bytes: int
    advance_step_ms: int = 0
    layers: LayersConfig = field(default_factory=LayersConfig)

    @classmethod
    def of(cls, streams: Any) -> PipelineConfig:
        """From a ``StreamsSettings`` (read, not imported: the app's settings sit above the stages)."""
        if isinstance(streams, cls):
            return streams
        return cls(streams.dedup, streams.drop, streams.metrics, streams.traces, streams.state_horizon_ms(),
                   streams.segment_max_bytes, streams.advance_step_ms,
                   getattr(streams, "layers", None) or LayersConfig())


@dataclass
class Outputs:
    dlq: list[tuple[bytes | None, dict[str, Any]]] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)  # Trace documents as JSON dicts
    builds: list[BuildReport] = field(default_factory=list)
    partials: list[WindowPartial] = field(default_factory=list)
    layers: list[LayerWindow] = field(default_factory=list)
    findings: list[EngineFinding] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)  # build ↔ runtime findings as alerts
    reroutes: list[tuple[bytes, bytes]] = field(default_factory=list)  # engine_runtime events → events topic

    def __len__(self) -> int:
        return (len(self.dlq) + len(self.traces) + len(self.builds) + len(self.partials) + len(self.layers)
                + len(self.findings) + len(self.alerts) + len(self.reroutes))

    def add_layers(self, out: Any) -> None:
        self.layers.extend(out.layers)
        self.findings.extend(out.findings)
        self.alerts.extend(out.alerts)


class PartitionPipeline:
    def __init__(
        self,
        settings: PipelineConfig | Any,
        *,
        topic: str,
        partition: int,
        build_evaluator: BuildEvaluator | None = None,
        correlator: Correlator | None = None,
    ) -> None:
        self.settings = settings = PipelineConfig.of(settings)
        self.topic = topic
        self.partition = partition
        self.watermark_ms = 0
        self.applied_offset = -1
        self.dedup = Deduper(settings.dedup.ttl_ms, settings.dedup.enabled)
        self.dropper = Dropper(settings.drop)
        self.windows = PartitionWindows(settings.metrics, partition)
        self.traces = TraceJoin(settings.traces)
        self.log = StateLog(partition, settings.state_horizon_ms, settings.segment_max_bytes)
        self.build_evaluator = build_evaluator
        self._build_reports = frozenset(types_where(lambda s: s.build_report).values())  # event models
        self.layers = LayerWindows(settings.metrics, settings.layers, correlator)
        # types the layer stage takes instead of windows/traces, and engine loads it reroutes (also kept)
        self._layer_only = frozenset({LayerProfile, EngineRuntime})
        self._side = self._build_reports | self._layer_only | {EngineLoadComplete}
        self.counters: Counter[str] = Counter()
        self.out = Outputs()
        # requests that completed before their inference_complete (out of order): attributed when it arrives
        # (or when their trace is gone), so the attribution does not depend on arrival order
        self._unattributed: dict[str, tuple[EventBase, WindowPartial]] = {}
        self._inference = self.traces.kind_bits.mask(  # TraceState.kinds bits of the inference types
            types_where(lambda s: s.trace is not None and s.trace.role is TraceRole.INFERENCE))
        self._inference_types = frozenset(types_where(lambda s: s.trace is not None and s.trace.role is TraceRole.INFERENCE).values())
        self._windows_due = (-1, -1)  # (watermark at which windows.advance() may act next, windows held then)
        self._advance_step_ms = settings.advance_step_ms
        self._advanced_step = -1  # watermark // advance_step_ms at the last advance
        self._pending: list[EventBase] = []  # first-seen events not yet through drop/windows/traces (a run)
        self._pending_wms: list[int] = []
        self._pending_offset = -1
        self._pending_muted = False

    # -- records ----------------------------------------------------------------
    def process_record(self, offset: int, key: bytes | None, raw: bytes | None, *, muted: bool = False) -> bool:
        """Apply the record at ``offset`` if it is the next one; False = a gap (``streams/offsets.py``).

        A redelivered record (at or below the applied offset) is skipped and counts as handled.
        Recovery (``muted``) replays the state log, whose offsets may jump over confirmed gaps.
        """
        if offset != self.applied_offset + 1:
            if offset <= self.applied_offset:
                self.counters["records_skipped_applied"] += 1
                return True
            if not muted:
                return False
        c = self.counters
        c["records"] += 1
        decoded = decode(raw)
        if decoded.errors:
            c["invalid_events"] += len(decoded.errors)
            if not muted:
                self._dead_letter(decoded.errors, offset, key)
        wm_before = self.watermark_ms
        if decoded.events:
            self._take(decoded.events, offset, muted)
        # an invalid-only record is logged as null: its offset counts as applied
        self._close_record(offset, raw if decoded.events else None, wm_before, muted)
        return True

    def process_records(self, records: Sequence[Any]) -> int:
        """:meth:`process_record` for each of ``records`` (``offset``, ``key``, ``value``; offset order).

        Returns how many were handled: all of them, or those before a gap (the
        record at the returned index was not applied). A run of up to
        ``SINGLES_RUN_RECORDS`` consecutive records of one event each is decoded in one call
        (:func:`~trtlens.streams.decode.core.decode_singles`) and its events go
        through dedup one by one, then each record is closed exactly as
        :meth:`process_record` closes it: same state, outputs and state log,
        at a third of the decode cost. Any other record (a batch, bad input,
        one out of sequence) takes :meth:`process_record`.
        """
        n, i = len(records), 0
        while i < n:
            j, first = i, self.applied_offset + 1
            while j < n and j - i < SINGLES_RUN_RECORDS and records[j].offset == first + j - i:
                j += 1
            if j - i >= 2:
                run = records[i:j]
                self._take_singles(run, decode_singles([r.value for r in run]))
                i = j
                continue
            r = records[i]
            if not self.process_record(r.offset, r.key, r.value):
                return i
            i += 1
        return n

    def _take_singles(self, run: Sequence[Any], events: list[EventBase | None]) -> None:
        """Consecutive records from the next offset with their events (None: decode that one alone).

        The steps of :meth:`process_record` for a record of one valid event.
        """
        first_seen_one = self.dedup.first_seen_one
        c = self.counters
        for r, ev in zip(run, events):
            if ev is None:  # not one valid event: decoded, dead-lettered and logged on its own
                self.process_record(r.offset, r.key, r.value)
                continue
            c["records"] += 1
            c["events"] += 1
            wm_before = self.watermark_ms
            fresh, self.watermark_ms = first_seen_one(ev, wm_before)
            if fresh:
                self._pending.append(ev)  # looked up each time: _apply_pending replaces the lists
                self._pending_wms.append(wm_before)
                self._pending_offset = r.offset
                self._pending_muted = False
            self._close_record(r.offset, r.value, wm_before, False)

    def _close_record(self, offset: int, logged: bytes | None, wm_before: int, muted: bool) -> None:
        """The record at ``offset`` is taken: log it, advance at the step, mark it applied."""
        if not muted:
            self.log.add(offset, logged, wm_before, self.watermark_ms)
        step = self._advance_step_ms
        if step <= 0 or self.watermark_ms // step != self._advanced_step:
            self._apply_pending()
            self._advance(muted)
            self._advanced_step = self.watermark_ms // step if step > 0 else 0
        self.applied_offset = offset

    def accept_gap(self, first_present: int) -> None:
        """The broker confirmed it holds no records between the applied offset and ``first_present``."""
        if first_present > self.applied_offset + 1:
            self.applied_offset = first_present - 1

    def _take(self, events: list[EventBase], offset: int, muted: bool) -> None:
        """Dedup one record's events (it decides the watermark); the rest of the stages take them in runs.

        Dedup decides each event's watermark (first-seen events advance it,
        duplicates do not; dropped events still tell the time). The first-seen
        events wait in the pending run until the watermark reaches the next
        multiple of ``advance_step_ms`` or the group ends (:meth:`_apply_pending`):
        windows and the trace join look at each event's own watermark, never at
        how events were split between calls, so a run is one call per stage
        instead of one per record.
        """
        unique, wms, self.watermark_ms = self.dedup.first_seen(events, self.watermark_ms)
        self.counters["events"] += len(events)
        if unique:
            self._pending.extend(unique)
            self._pending_wms.extend(wms)
            self._pending_offset = offset
            self._pending_muted = muted

    def _apply_pending(self) -> None:
        """The pending run through drop, windows, trace join, build reports and the layer stage, each called once.

        Windows and the trace join take the kept events with their watermarks
        (they do not depend on each other, except the P99 hint the windows hand
        to the join), and the windows' tail attribution then reads the joined
        stages of each request (marking its exemplars' traces, which tail
        sampling then keeps). Build reports (the types whose spec says ``build_report``)
        and the layer stage's events go to their stages instead (``_side_events``).
        The partials the run touched carry the run's last record offset (the merge
        keeps the partial of the highest offset; a replay's runs end at the same
        record or later, never earlier).
        """
        events, wms = self._pending, self._pending_wms
        if not events:
            return
        self._pending, self._pending_wms = [], []
        muted = self._pending_muted
        kept, kept_wms = self.dropper.keep(events, wms)
        side_types = self._side
        side = [ev for ev in kept if type(ev) in side_types]
        builds: list[EventBase] = []
        n_kept = len(kept)
        if side:
            builds, kept, kept_wms = self._side_events(kept, kept_wms, side, muted)
        if kept:
            requests: list | None = [] if self.settings.metrics.attribution else None
            p99s = self.windows.observe_many(kept, kept_wms, self._pending_offset,
                                             p99_min_count=self.settings.traces.p99_min_count, requests_out=requests)
            self.traces.observe_many(kept, kept_wms, p99s)  # type: ignore[arg-type]
            if requests or self._unattributed:  # after the join: each request's stages are in its trace
                self._attribute(kept, requests or [])
        if builds and not muted and self.build_evaluator is not None:
            self.out.builds.extend(self.build_evaluator(ev) for ev in builds)
        self.counters["accepted_events"] += n_kept

    def _side_events(self, kept: list[EventBase], wms: list[int], side: list[EventBase], muted: bool):  # noqa: ANN202
        """Build reports and layer-stage events out of the window/trace path; engine loads rerouted (and kept)."""
        reports, layer_only = self._build_reports, self._layer_only
        builds = [ev for ev in side if type(ev) in reports]
        profiles = [(ev, wm) for ev, wm in zip(kept, wms) if type(ev) is LayerProfile] if any(
            type(ev) is LayerProfile for ev in side) else []
        loads = [ev for ev in side if type(ev) is EngineRuntime]
        if self.settings.layers.enabled:
            if builds:
                self.layers.note_builds([b for b in builds if isinstance(b, EngineBuild)], muted=muted)
            if loads:
                self.layers.note_loads(loads, muted=muted)  # type: ignore[arg-type]
            if profiles:
                self.layers.observe([ev for ev, _ in profiles], [wm for _, wm in profiles])  # type: ignore[misc]
            if not muted and self.settings.layers.check_versions:
                for ev in side:
                    if type(ev) is EngineLoadComplete:
                        rerouted = engine_runtime_of(ev)  # type: ignore[arg-type]
                        if rerouted is not None:
                            self.out.reroutes.append(rerouted)
        drop = reports | layer_only
        if any(type(ev) in drop for ev in side):
            keep = [j for j, ev in enumerate(kept) if type(ev) not in drop]
            kept, wms = [kept[j] for j in keep], [wms[j] for j in keep]
        return builds, kept, wms

    def _attribute(self, kept: list[EventBase], requests: list[tuple[EventBase, WindowPartial]]) -> None:
        traces, waiting, inference = self.traces.traces, self._unattributed, self._inference
        get = traces.get
        # the requests whose trace has no inference yet (and no error) go to waiting instead
        marked = self.windows.attribute(requests, traces, waiting, inference) if requests else []
        late = []
        if waiting:
            # the waiting requests whose inference arrived in this run: by their traces while they are fewer
            # than the run's events (out-of-order requests: a few), else by the run's inference events (a
            # source that sends no inference at all makes every request wait until its trace goes)
            if len(waiting) * 4 < len(kept):
                ready = [rid for rid in waiting if (tr := get(rid)) is not None and tr.kinds & inference]
            else:
                types = self._inference_types
                ready = [ev.request_id for ev in kept if type(ev) in types and ev.request_id in waiting]
            if ready:
                late = [waiting.pop(rid) for rid in dict.fromkeys(ready)]  # type: ignore[arg-type]
                late.sort(key=lambda item: (item[0].total_ms, item[0].request_id))  # one order, whichever way found
        if late:
            marked += self.windows.attribute_late(late, traces)
        for rid, p in marked:
            tr = traces.get(rid)
            if tr is not None:
                tr.exemplar = p  # tail sampling keeps it if still among p's exemplars when p closes

    def _advance(self, muted: bool) -> None:
        """Close windows, time out and forget traces, forget dedup ids: at the watermark, now.

        Called after a record whose watermark reached the next multiple of
        ``advance_step_ms`` (every record with 0): a rule of the record sequence
        alone, so a replay of the state log advances at the same records.
        """
        wm = self.watermark_ms
        windows = self.windows
        # windows.advance() scans every window; it can only change something once the watermark reaches
        # the next window's close (or, for a closed one, its end of retention), or after a window was
        # added (only advance() removes windows and nothing re-opens one): skip it until then
        due_wm, held = self._windows_due
        if wm >= due_wm or len(windows.windows) != held:
            windows.advance(wm)
            self._windows_due = (self._next_window_change(), len(windows.windows))
            self.traces.release_held()  # exemplar candidates of windows that just closed: decided now
        forgotten = self.traces.forgotten
        self.traces.advance(wm)
        if self._unattributed and self.traces.forgotten != forgotten:
            # a trace went: the waiting requests whose trace it was are attributed without a breakdown
            # (a waiting request always has a trace, and only advance() forgets one)
            join = self.traces
            gone = [rid for rid in self._unattributed if rid not in join]  # neither open nor retained
            if gone:
                self.windows.attribute_late([self._unattributed.pop(rid) for rid in gone], join.traces)
        self.dedup.expire(wm)
        self.layers.advance(wm, muted=muted)
        ready = self.traces.take_ready()
        if not muted:
            self.out.traces.extend(ready)

    def _next_window_change(self) -> int:
        cfg = self.settings.metrics
        due = None
        for p in self.windows.windows.values():
            at = close_at(p.window_start_ms, cfg.window_ms, cfg.grace_ms) + (cfg.late_retention_ms if p.closed else 0)
            if due is None or at < due:
                due = at
        return due if due is not None else 1 << 62

    def _dead_letter(self, errors: list[DecodeError], offset: int, key: bytes | None) -> None:
        for err in errors:
            doc = err.to_dlq(topic=self.topic, partition=self.partition, offset=offset, source="streams")
            self.out.dlq.append((key, doc))

    # -- group boundaries -------------------------------------------------------
    def end_group(self) -> tuple[Outputs, list[Segment], list[bytes]]:
        """Outputs to deliver, then the state-log writes (segments, tombstones) to make after them."""
        self._apply_pending()  # no advance: that waits for its watermark step, whatever the group
        out, self.out = self.out, Outputs()
        out.partials = self.windows.take_dirty()
        out.add_layers(self.layers.take())
        segments, gone = self.log.seal(self.watermark_ms)
        c = self.counters
        c["late_events"] = self.windows.late_events
        c["too_late_events"] = self.windows.too_late_events + self.traces.too_late_events + self.layers.too_late_events
        c["layers_out"] += len(out.layers)
        c["findings_out"] += len(out.findings)
        c["duplicates"] = self.dedup.duplicates
        c["traces_out"] += len(out.traces)
        c["dlq_out"] += len(out.dlq)
        for rule_id, n in self.dropper.dropped.items():
            c[f"dropped.{rule_id}"] = n
        return out, segments, gone

    def flush_idle(self) -> Outputs:
        """Idle partition (no records for idle_timeout_ms): emit open traces as they are."""
        self._apply_pending()
        self.traces.flush_open()
        self.layers.flush_open()
        out, self.out = self.out, Outputs()
        out.traces = self.traces.take_ready(release=True)
        out.partials = self.windows.take_dirty()
        out.add_layers(self.layers.take())
        return out

    # -- recovery ---------------------------------------------------------------
    def take_pins(self) -> list[tuple[bytes, bytes | None]]:
        """State kept beside the state log (the layer stage's builds): ``(name, value)`` to put, None to delete.

        Written by the agent after the group's segments, under ``PIN_PREFIX + name``; given back to
        :meth:`recover`. Builds must outlive the log's horizon: a build is usually hours older than
        the traffic of its engine.
        """
        return [(PIN_PREFIX + eid.encode(), value) for eid, value in self.layers.take_pins()]

    def recover(self, segments: list[Segment], pinned: list[bytes] = ()) -> int:  # type: ignore[assignment]
        """Rebuild state from the pinned values and the retained segments (oldest first); return records replayed."""
        if pinned:
            self.layers.restore_pins(list(pinned))
        segments = sorted(segments, key=lambda s: s.last_offset)
        if segments:
            self.watermark_ms = segments[0].watermark_before_ms
            if self._advance_step_ms > 0:  # after every record the live run is at its watermark's step
                self._advanced_step = self.watermark_ms // self._advance_step_ms
        n = 0
        for seg in segments:
            for offset, rec in zip(seg.offsets, seg.records):
                if rec is None:
                    self.applied_offset = max(self.applied_offset, offset)
                    continue
                self.process_record(offset, None, orjson.dumps(rec), muted=True)
                n += 1
        self._apply_pending()  # the live run applied these at its group's end
        self.log.restore(segments)
        self.windows.take_dirty()  # already delivered before the segments were written
        self.layers.take()
        self.out = Outputs()
        self.counters["records_recovered"] += n
        return n


def engine_runtime_of(ev: EngineLoadComplete) -> tuple[bytes, bytes] | None:
    """The ``engine_runtime`` record (key = engine_id) of a successful engine load that names its engine."""
    engine_id = getattr(ev, "engine_id", None)
    if not engine_id or ev.status != "ok":
        return None
    derived = EngineRuntime(
        event_id=f"{ev.event_id}:engine", ts_ms=ev.ts_ms, worker_id=ev.worker_id, host=ev.host, model=ev.model,
        model_version=ev.model_version, backend=ev.backend, level=ev.level, engine_id=engine_id,
        engine_path=ev.engine_path, load_event_id=ev.event_id, runtime_versions=dict(ev.runtime_versions),
        device_name=ev.device_name, compute_capability=ev.compute_capability, precision=ev.precision,
    )
    return engine_id.encode("utf-8"), orjson.dumps(derived.model_dump(mode="json", exclude_none=True))
