"""One partition of the app, as a pure object: decode → dedup → drop → metrics + traces.

:class:`PartitionPipeline` holds the whole state of one source partition and
processes records in offset order. Every decision depends only on the record
sequence (event-time watermark advanced per event, windows/traces advanced per
record), so replaying the state log reproduces the state exactly. Outputs are
collected in :class:`Outputs`; with ``muted=True`` (recovery) they are not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trtlens.schemas.codec import DecodeError
from trtlens.schemas.documents import BuildReport
from trtlens.schemas.events import EventBase, types_where
from trtlens.streams.decode.core import decode
from trtlens.streams.dedup.config import DedupConfig
from trtlens.streams.dedup.core import Deduper
from trtlens.streams.drop.config import DropConfig
from trtlens.streams.drop.core import Dropper
from trtlens.streams.metrics.config import MetricsConfig
from trtlens.streams.metrics.core import PartitionWindows, WindowPartial
from trtlens.streams.metrics.windows import close_at
from trtlens.streams.pipeline.statelog import Segment, StateLog
from trtlens.streams.traces.config import TracesConfig
from trtlens.streams.traces.core import TraceJoin

BuildEvaluator = Callable[[EventBase], BuildReport]


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

    @classmethod
    def of(cls, streams: Any) -> PipelineConfig:
        """From a ``StreamsSettings`` (read, not imported: the app's settings sit above the stages)."""
        if isinstance(streams, cls):
            return streams
        return cls(streams.dedup, streams.drop, streams.metrics, streams.traces, streams.state_horizon_ms(),
                   streams.segment_max_bytes, streams.advance_step_ms)


@dataclass
class Outputs:
    dlq: list[tuple[bytes | None, dict[str, Any]]] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)  # Trace documents as JSON dicts
    builds: list[BuildReport] = field(default_factory=list)
    partials: list[WindowPartial] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.dlq) + len(self.traces) + len(self.builds) + len(self.partials)


class PartitionPipeline:
    def __init__(
        self,
        settings: PipelineConfig | Any,
        *,
        topic: str,
        partition: int,
        build_evaluator: BuildEvaluator | None = None,
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
        self.counters: Counter[str] = Counter()
        self.out = Outputs()
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
        if not muted:  # an invalid-only record is logged as null: its offset counts as applied
            self.log.add(offset, raw if decoded.events else None, wm_before, self.watermark_ms)
        step = self._advance_step_ms
        if step <= 0 or self.watermark_ms // step != self._advanced_step:
            self._apply_pending()
            self._advance(muted)
            self._advanced_step = self.watermark_ms // step if step > 0 else 0
        self.applied_offset = offset
        return True

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
        """The pending run through drop, windows, trace join and build reports, each called once.

        Windows and the trace join take the kept events with their watermarks
        (they do not depend on each other, except the P99 hint the windows hand
        to the join). Build reports (the types whose spec says ``build_report``)
        go to the grey-box rules instead, and to nothing else. The partials the
        run touched carry the run's last record offset (the merge keeps the
        partial of the highest offset; a replay's runs end at the same record
        or later, never earlier).
        """
        events, wms = self._pending, self._pending_wms
        if not events:
            return
        self._pending, self._pending_wms = [], []
        kept, kept_wms = self.dropper.keep(events, wms)
        reports = self._build_reports
        builds = [ev for ev in kept if type(ev) in reports]
        if builds:
            kept_wms = [wm for ev, wm in zip(kept, kept_wms) if type(ev) not in reports]
            kept = [ev for ev in kept if type(ev) not in reports]
        if kept:
            p99s = self.windows.observe_many(kept, kept_wms, self._pending_offset,
                                             p99_min_count=self.settings.traces.p99_min_count)
            self.traces.observe_many(kept, kept_wms, p99s)  # type: ignore[arg-type]
        if builds and not self._pending_muted and self.build_evaluator is not None:
            self.out.builds.extend(self.build_evaluator(ev) for ev in builds)
        self.counters["accepted_events"] += len(kept) + len(builds)

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
        self.traces.advance(wm)
        self.dedup.expire(wm)
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
        segments, gone = self.log.seal(self.watermark_ms)
        c = self.counters
        c["late_events"] = self.windows.late_events
        c["too_late_events"] = self.windows.too_late_events + self.traces.too_late_events
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
        out, self.out = self.out, Outputs()
        out.traces = self.traces.take_ready()
        out.partials = self.windows.take_dirty()
        return out

    # -- recovery ---------------------------------------------------------------
    def recover(self, segments: list[Segment]) -> int:
        """Rebuild state from the retained segments (oldest first); return records replayed."""
        segments = sorted(segments, key=lambda s: s.last_offset)
        if segments:
            self.watermark_ms = segments[0].watermark_before_ms
            if self._advance_step_ms > 0:  # after every record the live run is at its watermark's step
                self._advanced_step = self.watermark_ms // self._advance_step_ms
        n = 0
        import orjson

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
        self.out = Outputs()
        self.counters["records_recovered"] += n
        return n
