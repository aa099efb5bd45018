"""Trace join by request_id on event time (pure).

All events of a request share a partition, so the join is local. What each
event type adds to its trace is its spec's trace role (``schemas/roles.py``,
applied by ``state.py``). A trace is **ready** when its terminal event
(``request_complete``) arrived, or **timed out** when
the partition watermark reaches ``start_ts_ms + join_timeout_ms`` (emitted
incomplete, naming the missing stages). After emission it is kept until the
watermark reaches ``start_ts_ms + join_timeout_ms + retention_ms``, packed
(``retained.py``: what a late event needs, ~40% of an open trace's memory); an
event for it in that time re-opens it and re-emits it (same document id). A request event older than
``watermark - (join_timeout_ms + retention_ms)`` whose trace is gone is counted
as ``too_late`` and not joined (it would otherwise start a new, partial trace
that overwrites the stored one).
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from typing import Any

from trtlens.schemas.documents import STAGE_FIELDS
from trtlens.schemas.events import EventBase, types_where
from trtlens.schemas.roles import Expected, event_name
from trtlens.streams.traces.config import TracesConfig
from trtlens.streams.traces.retained import Retained, pack, start_ts_ms, unpack
from trtlens.streams.traces.sampling import decide, rate_keeps
from trtlens.streams.traces.state import KindBits, TraceState, joins_for


class TraceJoin:
    def __init__(self, config: TracesConfig) -> None:
        self.config = config
        # open traces: not emitted yet, or changed since (ready again); attribution reads their stages
        self.traces: dict[str, TraceState] = {}
        # emitted and unchanged since, kept until their end of retention for late events: packed (retained.py)
        self.retained: dict[str, Retained] = {}
        # each trace has exactly one deadline (at, request_id) at a time: its timeout, then its end of
        # retention. Both mostly come in order, so a deadline goes to the FIFO of its kind when it is not
        # earlier than that FIFO's last one, else to the heap (cheaper than a heap for everything)
        self._deadlines: list[tuple[int, str]] = []
        self._timeouts = _Fifo()
        self._retention = _Fifo()
        self.too_late_events = 0
        self.forgotten = 0  # traces forgotten so far (end of retention): callers can tell when one went
        self.ready: set[str] = set()
        self.held: dict[str, Any] = {}  # exemplar candidates waiting for their partial to close (take_ready)
        self.kind_bits = KindBits()  # TraceState.kinds: a bit per event type
        # event model → (its kinds bit, what it adds): the registry's trace roles
        self._joins = {model: (self.kind_bits.bit(name), apply) for model, (name, apply) in joins_for(config).items()}
        self._expected = [(name, self.kind_bits.bit(name)) for name in config.expected_stages]
        # expected stages a request that failed may never have reached (not named missing in an error trace)
        self._optional_if_failed = frozenset(types_where(
            lambda s: s.trace is not None and s.trace.expected is Expected.UNLESS_FAILED))

    def __len__(self) -> int:
        """Traces held: open and retained."""
        return len(self.traces) + len(self.retained)

    def __contains__(self, request_id: str) -> bool:
        return request_id in self.traces or request_id in self.retained

    def get(self, request_id: str) -> TraceState | None:
        """The trace of ``request_id`` as a :class:`TraceState`, open or retained (a retained one is unpacked:
        a copy; reading it changes nothing)."""
        tr = self.traces.get(request_id)
        if tr is None:
            r = self.retained.get(request_id)
            if r is not None:
                return unpack(request_id, r)
        return tr

    def items(self) -> Iterator[tuple[str, TraceState]]:
        """Every trace held, open then retained (unpacked copies): for inspection and tests, not the hot path."""
        yield from self.traces.items()
        for rid, r in self.retained.items():
            yield rid, unpack(rid, r)

    @property
    def horizon_ms(self) -> int:
        return self.config.join_timeout_ms + self.config.retention_ms

    def observe(self, ev: EventBase, watermark_ms: int, p99_ms: float | None) -> None:
        """Join one event seen while the partition watermark is ``watermark_ms``."""
        self.observe_many((ev,), (watermark_ms,), (p99_ms,))

    def observe_many(
        self, events: Sequence[EventBase], watermarks_ms: Sequence[int], p99s_ms: Sequence[float | None]
    ) -> None:
        """:meth:`observe` for each ``(event, watermark, p99)`` in turn (the hot path: one call per record).

        ``p99s_ms`` is the current window P99 of the event's model version (read by
        the terminal role only). Events without ``request_id`` are skipped; what an
        event adds beyond its id and type is its type's trace role (``state.py``).
        """
        cfg = self.config
        traces = self.traces
        get = traces.get
        ready_add = self.ready.add
        deadlines = self._deadlines
        push = heapq.heappush
        timeouts = self._timeouts
        in_order = timeouts.append
        timeouts_at = timeouts.at
        timeout = cfg.join_timeout_ms
        horizon = timeout + cfg.retention_ms
        joins = self._joins
        reopen = self.retained.pop
        too_late = 0
        for ev, watermark_ms, p99_ms in zip(events, watermarks_ms, p99s_ms):
            rid = ev.request_id
            if rid is None:
                continue
            tr = get(rid)
            if tr is None:
                r = reopen(rid, None)
                if r is not None:  # an emitted trace gets a late event: open again (its deadline stays as it is)
                    tr = traces[rid] = unpack(rid, r)
            ts = ev.ts_ms
            eid = ev.event_id
            if tr is None:
                if ts < watermark_ms - horizon:
                    too_late += 1
                    continue
                tr = traces[rid] = TraceState(
                    rid, ts, ts, ev.model, ev.model_version, ev.worker_id, ev.host, ev.backend
                )
                if not timeouts_at or timeouts_at[-1] <= ts + timeout:
                    in_order(ts + timeout, rid)
                else:
                    push(deadlines, (ts + timeout, rid))
            else:
                if eid in tr.event_ids:  # dedup off: joining an event twice changes nothing (short list)
                    continue
                if ts < tr.start_ts_ms:
                    tr.start_ts_ms = ts
                elif ts > tr.end_ts_ms:
                    tr.end_ts_ms = ts
                if tr.model is None:
                    tr.model, tr.model_version = ev.model, ev.model_version
                if tr.host is None:
                    tr.host, tr.backend = ev.host, ev.backend
            tr.event_ids.append(eid)
            try:
                bit, apply = joins[type(ev)]  # total over the registry (a try costs nothing when it does not raise)
            except KeyError:  # an EventBase subclass outside the registry: joined by its type only
                bit, apply = joins[type(ev)] = (self.kind_bits.bit(event_name(type(ev))), None)
            tr.kinds |= bit
            if apply is not None:
                apply(tr, ev, p99_ms)
            tr.changed = True
            if tr.terminal or tr.emitted:
                ready_add(rid)
        if too_late:
            self.too_late_events += too_late

    def advance(self, watermark_ms: int) -> None:
        """Time out traces whose join window passed; forget emitted ones past retention.

        Each trace has one deadline: first its timeout (``join_timeout_ms`` after the
        first event that arrived), then its end of retention.
        """
        dl, retention = self._deadlines, self._retention
        due: list[str] = []
        while dl and dl[0][0] <= watermark_ms:
            due.append(heapq.heappop(dl)[1])
        # a deadline is handled on its own (one per trace), so the three queues can be taken one after the
        # other; a rescheduled deadline is always after the watermark, so none is taken again here
        due += self._timeouts.take_until(watermark_ms)
        due += retention.take_until(watermark_ms)
        if not due:
            return
        traces, ready, retained = self.traces, self.ready, self.retained
        horizon = self.horizon_ms
        push, later, retention_at = heapq.heappush, retention.append, retention.at
        for rid in due:
            tr = traces.get(rid)
            if tr is None:
                r = retained.get(rid)
                if r is None:
                    continue
                forget_at = start_ts_ms(r) + horizon  # retained: emitted, unchanged, not ready
                if watermark_ms >= forget_at:
                    del retained[rid]
                    self.forgotten += 1
                    continue
            else:
                forget_at = tr.start_ts_ms + horizon
                if not tr.emitted and not tr.terminal:
                    # timed out: emit incomplete. (An older event may have moved start_ts_ms back past the
                    # watermark: never reschedule at or below it, it would be taken again at once, forever.)
                    ready.add(rid)
                elif watermark_ms >= forget_at and tr.emitted and rid not in ready:
                    del traces[rid]
                    self.forgotten += 1
                    continue
            # else: not yet, or still to be emitted first: look again later
            at = forget_at if forget_at > watermark_ms else watermark_ms + 1
            if not retention_at or retention_at[-1] <= at:
                later(at, rid)
            else:
                push(dl, (at, rid))

    def flush_open(self) -> None:
        """Idle partition: make every open trace ready (emitted incomplete, updated if more arrives)."""
        for rid, tr in self.traces.items():
            if not tr.emitted:
                self.ready.add(rid)

    def release_held(self) -> None:
        """Exemplar candidates held for their window: the ones whose partial closed are decided at the next take."""
        held = self.held
        if held:
            ready_add = self.ready.add
            for rid, p in held.items():
                if p.closed:
                    ready_add(rid)

    def take_ready(self, *, release: bool = False) -> list[dict]:
        """Trace documents (JSON dicts of :class:`Trace`) to emit now, sampled, in request_id order.

        A trace that only its exemplar candidacy would keep (``tr.exemplar``: the
        model-version partial it was among the slowest of) is held, not emitted,
        while that partial is open; once it closed (:meth:`release_held`), or with
        ``release`` (idle partition), it is kept as ``exemplar`` if it is still among
        the partial's exemplars, and otherwise sampled by rate like any request (with
        its ``1 / sample_rate`` weight: ``sum(sample_weight)`` stays an unbiased count).
        A candidate only leaves the partial's N slowest, never re-enters it, so every
        exemplar a window names is stored.
        """
        out: list[dict] = []
        if not self.ready:
            return out
        cfg = self.config
        traces, retained = self.traces, self.retained
        held = self.held
        expected = self._expected
        sample_rate = cfg.sample_rate
        for rid in sorted(self.ready):
            tr = traces.get(rid)
            if tr is None or not tr.changed:
                continue
            p = tr.exemplar
            keep, reason, weight = decide(
                rid, error=tr.status == "error" or tr.error is not None, cold_start=tr.cold_start,
                incomplete=not tr.terminal, slow=tr.slow, sample_rate=sample_rate, exemplar=p is not None,
                source_sampled=tr.source_weight != 1,
            )
            if reason == "exemplar" and not tr.kept and sample_rate < 1.0:
                if not (p.closed or release):
                    held[rid] = p  # decided when its partial closes (still changed, not emitted)
                    continue
                held.pop(rid, None)
                if not _among(p, rid):
                    # pushed out of the N slowest: an ordinary request, sampled by rate with its weight (a final
                    # exemplar is kept with weight 1, so sum(sample_weight) still estimates the request count)
                    keep = rate_keeps(rid, sample_rate, source_sampled=tr.source_weight != 1)
                    reason, weight = "rate", (1.0 / sample_rate) if sample_rate > 0 else 1.0
            elif held:
                held.pop(rid, None)
            tr.changed = False
            tr.emitted = True
            if tr.kept and not keep:
                keep, reason, weight = True, "update", 1.0  # an update of a kept trace is kept
            if keep:
                tr.kept = True
                out.append(_document(tr, expected, self._optional_if_failed, reason, weight))
            retained[rid] = pack(tr)  # emitted (stored or not): held packed until its end of retention
            del traces[rid]
        self.ready.clear()
        return out


def _among(partial: Any, request_id: str) -> bool:
    """Whether ``request_id`` is (still) one of the partial's exemplars (a heap of N ``(total_ms, id)``)."""
    tail = partial.tail
    return tail is not None and any(r == request_id for _, r in tail.exemplars)


def _document(tr: TraceState, expected: list[tuple[str, int]], optional_if_failed: frozenset[str], reason: str,
              weight: float) -> dict:
    """The trace as the JSON dict of :class:`~trtlens.schemas.documents.Trace` (``model_dump(mode="json")``).

    Built directly (no pydantic round trip: this is per kept request, on the hot
    path); a unit test checks it equals ``Trace.model_validate(d).model_dump(mode="json")``.
    """
    if tr.terminal:
        status = "error" if tr.status == "error" else "ok"
    else:
        status = "incomplete"
    kinds = tr.kinds
    missing = [s for s, bit in expected if not kinds & bit]
    if tr.terminal and status == "error":
        missing = [s for s in missing if s not in optional_if_failed]  # e.g. failed before inference: normal
    if tr.error:
        err = dict(tr.error)
    elif status == "error":
        err = {"error_type": "request_failed", "message": "", "stage": "other"}
    else:
        err = None
    st = tr.stages
    return {
        "request_id": tr.request_id,
        "model": tr.model,
        "model_version": tr.model_version,
        "worker_id": tr.worker_id,
        "host": tr.host,
        "backend": tr.backend,
        "start_ts_ms": tr.start_ts_ms,
        "end_ts_ms": tr.end_ts_ms,
        "status": status,
        "complete": tr.terminal,
        "missing_stages": missing,
        "cold_start": tr.cold_start,
        "batch_size": tr.batch_size,
        "precision": tr.precision,
        "engine_id": tr.engine_id,
        "stages": {name: st.get(name) for name in STAGE_FIELDS},
        "error": err,
        "event_ids": list(tr.event_ids),
        "event_count": len(tr.event_ids),
        "sample_weight": weight * tr.source_weight,  # source sampling x tail sampling: sum() estimates requests
        "sample_reason": reason,
    }


class _Fifo:
    """Deadlines in the order they were added, each not earlier than the one before: ``(at, request_id)`` as a
    flat array of 8-byte ints and a list of the ids (~16 bytes a deadline instead of ~100 for a tuple with its
    int in a deque). Entries before ``head`` are taken; the two are compacted once that is half of them."""

    __slots__ = ("at", "rid", "head")

    def __init__(self) -> None:
        self.at = array("q")
        self.rid: list[str] = []
        self.head = 0

    def __len__(self) -> int:
        return len(self.at) - self.head

    def append(self, at: int, request_id: str) -> None:
        self.at.append(at)
        self.rid.append(request_id)

    def take_until(self, watermark_ms: int) -> list[str]:
        """The ids of every deadline at or before ``watermark_ms``, in order (taken: gone from the queue)."""
        at, head = self.at, self.head
        if head == len(at) or at[head] > watermark_ms:
            return []
        end = bisect_right(at, watermark_ms, head)
        taken = self.rid[head:end]
        if end == len(at):
            del at[:], self.rid[:]
            end = 0
        elif end > 4096 and end * 2 > len(at):  # amortised O(1) per deadline
            del at[:end], self.rid[:end]
            end = 0
        self.head = end
        return taken
