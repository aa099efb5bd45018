"""Trace join by request_id on event time (pure).

All events of a request share a partition, so the join is local. A trace is
**ready** when its terminal ``request_complete`` arrived, or **timed out** when
the partition watermark reaches ``start_ts_ms + join_timeout_ms`` (emitted
incomplete, naming the missing stages). After emission it is kept until the
watermark reaches ``start_ts_ms + join_timeout_ms + retention_ms``; an event for
it in that time re-emits it (same document id). A request event older than
``watermark - (join_timeout_ms + retention_ms)`` whose trace is gone is counted
as ``too_late`` and not joined (it would otherwise start a new, partial trace
that overwrites the stored one).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from trtlens.schemas.documents import StageBreakdown, Trace, TraceError
from trtlens.schemas.events import EventBase
from trtlens.streams.traces.config import TracesConfig
from trtlens.streams.traces.sampling import decide


@dataclass(slots=True)
class TraceState:
    request_id: str
    start_ts_ms: int
    end_ts_ms: int
    model: str | None = None
    model_version: str | None = None
    worker_id: str | None = None
    host: str | None = None
    backend: str | None = None
    kinds: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    event_ids: list[str] = field(default_factory=list)
    terminal: bool = False
    status: str | None = None
    cold_start: bool = False
    batch_size: int | None = None
    precision: str | None = None
    stages: dict[str, float] = field(default_factory=dict)
    error: dict | None = None
    slow: bool = False
    emitted: bool = False
    kept: bool = False
    changed: bool = True


class TraceJoin:
    def __init__(self, config: TracesConfig) -> None:
        self.config = config
        self.traces: dict[str, TraceState] = {}
        self._deadlines: list[tuple[int, str]] = []  # (timeout at, request_id)
        self.too_late_events = 0
        self.ready: set[str] = set()

    @property
    def horizon_ms(self) -> int:
        return self.config.join_timeout_ms + self.config.retention_ms

    def observe(self, ev: EventBase, watermark_ms: int, p99_ms: float | None) -> None:
        rid = ev.request_id
        if rid is None:
            return
        tr = self.traces.get(rid)
        if tr is None:
            if ev.ts_ms < watermark_ms - self.horizon_ms:
                self.too_late_events += 1
                return
            tr = self.traces[rid] = TraceState(rid, ev.ts_ms, ev.ts_ms)
            heapq.heappush(self._deadlines, (ev.ts_ms + self.config.join_timeout_ms, rid))
        elif ev.event_id in tr.ids:  # dedup off, or a replay: joining twice changes nothing
            return
        tr.ids.add(ev.event_id)
        tr.event_ids.append(ev.event_id)
        if ev.ts_ms < tr.start_ts_ms:
            tr.start_ts_ms = ev.ts_ms
        if ev.ts_ms > tr.end_ts_ms:
            tr.end_ts_ms = ev.ts_ms
        tr.model = tr.model or ev.model
        tr.model_version = tr.model_version or ev.model_version
        tr.worker_id = tr.worker_id or ev.worker_id
        tr.host = tr.host or ev.host
        tr.backend = tr.backend or ev.backend
        kind = ev.event  # type: ignore[attr-defined]
        tr.kinds.add(kind)
        if kind == "request_complete":
            tr.terminal = True
            tr.status = ev.status  # type: ignore[attr-defined]
            tr.cold_start = tr.cold_start or ev.cold_start  # type: ignore[attr-defined]
            tr.batch_size = ev.batch_size  # type: ignore[attr-defined]
            total = ev.total_ms  # type: ignore[attr-defined]
            tr.stages["total_ms"] = total
            cfg = self.config
            tr.slow = (cfg.slow_ms is not None and total >= cfg.slow_ms) or (
                cfg.slow_above_p99 and p99_ms is not None and total > p99_ms
            )
        elif kind == "inference_complete":
            for name in ("queue_ms", "engine_load_ms", "h2d_ms", "compute_ms", "d2h_ms"):
                v = getattr(ev, name)
                if v is not None:
                    tr.stages[name] = v
            tr.stages["inference_ms"] = ev.latency_ms  # type: ignore[attr-defined]
            tr.cold_start = tr.cold_start or ev.cold_start  # type: ignore[attr-defined]
            tr.precision = ev.precision  # type: ignore[attr-defined]
            tr.batch_size = tr.batch_size or ev.batch_size  # type: ignore[attr-defined]
        elif kind == "request_received":
            tr.batch_size = tr.batch_size or ev.batch_size  # type: ignore[attr-defined]
        elif kind == "error":
            if tr.error is None:
                tr.error = {"error_type": ev.error_type, "message": ev.message, "stage": ev.stage}  # type: ignore[attr-defined]
        tr.changed = True
        if tr.terminal or tr.emitted:
            self.ready.add(rid)

    def advance(self, watermark_ms: int) -> None:
        """Time out traces whose join window passed; forget emitted ones past retention.

        Each trace has one deadline in the heap: first its timeout (``join_timeout_ms``
        after the first event that arrived), then its end of retention.
        """
        dl = self._deadlines
        while dl and dl[0][0] <= watermark_ms:
            _, rid = heapq.heappop(dl)
            tr = self.traces.get(rid)
            if tr is None:
                continue
            forget_at = tr.start_ts_ms + self.horizon_ms
            if not tr.emitted and not tr.terminal:
                self.ready.add(rid)
                heapq.heappush(dl, (forget_at, rid))
            elif watermark_ms >= forget_at and tr.emitted and rid not in self.ready:
                del self.traces[rid]
            else:  # not yet, or still to be emitted first: look again later
                heapq.heappush(dl, (max(forget_at, watermark_ms + 1), rid))

    def flush_open(self) -> None:
        """Idle partition: make every open trace ready (emitted incomplete, updated if more arrives)."""
        for rid, tr in self.traces.items():
            if not tr.emitted:
                self.ready.add(rid)

    def take_ready(self) -> list[Trace]:
        """Traces to emit now (sampled), in request_id order; marks them emitted."""
        out: list[Trace] = []
        cfg = self.config
        for rid in sorted(self.ready):
            tr = self.traces.get(rid)
            if tr is None or not tr.changed:
                continue
            tr.changed = False
            incomplete = not tr.terminal
            keep, reason, weight = decide(
                rid, error=tr.status == "error" or tr.error is not None, cold_start=tr.cold_start,
                incomplete=incomplete, slow=tr.slow, sample_rate=cfg.sample_rate,
            )
            tr.emitted = True
            if tr.kept and not keep:
                keep, reason, weight = True, "update", 1.0  # an update of a kept trace is kept
            if not keep:
                continue
            tr.kept = True
            out.append(_document(tr, cfg.expected_stages, reason, weight))
        self.ready.clear()
        return out


def _document(tr: TraceState, expected: list[str], reason: str, weight: float) -> Trace:
    if tr.terminal:
        status = "error" if tr.status == "error" else "ok"
    else:
        status = "incomplete"
    missing = [s for s in expected if s not in tr.kinds]
    if tr.terminal and status == "error":
        missing = [s for s in missing if s != "inference_complete"]  # failed before inference is normal
    err = TraceError(**tr.error) if tr.error else (
        TraceError(error_type="request_failed", stage="other") if status == "error" else None
    )
    return Trace(
        request_id=tr.request_id, model=tr.model, model_version=tr.model_version, worker_id=tr.worker_id,
        host=tr.host, backend=tr.backend, start_ts_ms=tr.start_ts_ms, end_ts_ms=tr.end_ts_ms, status=status,
        complete=tr.terminal, missing_stages=missing, cold_start=tr.cold_start, batch_size=tr.batch_size,
        precision=tr.precision, stages=StageBreakdown(**tr.stages), error=err, event_ids=list(tr.event_ids),
        event_count=len(tr.event_ids), sample_weight=weight, sample_reason=reason,
    )
