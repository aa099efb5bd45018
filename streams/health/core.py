"""Pipeline-health rules over periodic samples of the pipeline's own counters (pure; clock injected).

Four rules, each an :class:`~trtlens.schemas.documents.Alert` on ``trtlens.alerts``
like the window rules (scope ``all``), with hysteresis:

* ``pipeline_lag_growing`` per events-topic partition: the consumer lag
  (high-watermark - applied offset - 1) grew in ``lag_growing_windows``
  consecutive windows and is at least ``lag_min_records``; resolves after
  ``resolve_after`` windows in which it did not grow.
* ``pipeline_dlq_rate_above`` per partition: dead letters / (events + dead
  letters) of one window above ``dlq_rate_above`` for ``dlq_fire_after``
  windows (windows with fewer than ``dlq_min_events`` neither breach nor clear).
* ``pipeline_sink_stalled`` per sink group: records wait past the group's
  committed offsets on an output topic and those offsets did not move for
  ``sink_stalled_s`` (the sink is in backpressure, stuck or down); resolves
  once the offsets move again or nothing waits.
* ``pipeline_partials_too_late`` per merge partition: the merge stage refused
  partials of windows it had already emitted and forgotten during the window
  (streams/merge: a source partition idle or behind past ``late_retention_ms``,
  whose counts those final windows now miss); fires on the first such window,
  resolves after ``resolve_after`` windows without one.

A window here is one evaluation period (``interval_s``, wall clock: these are
facts about the processes, not about event time). Alert ids are deterministic:
``window_start_ms`` is the evaluation time rounded down to the period, so a
re-evaluation in the same period produces the same document.
State is per process and per partition, in memory: a partition that moves to
another worker starts its streaks again there. The DLQ rule's first window of
a partition counts from the process's start (its tallies start at 0 there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from trtlens.schemas.documents import Alert
from trtlens.streams.health.config import HealthConfig

LAG_RULE = "pipeline_lag_growing"
DLQ_RULE = "pipeline_dlq_rate_above"
SINK_RULE = "pipeline_sink_stalled"
TOO_LATE_RULE = "pipeline_partials_too_late"


@dataclass(frozen=True, slots=True)
class PartitionSample:
    """What one events-topic partition's counters say now (cumulative counts)."""

    partition: int
    lag_records: int | None  # None: high-watermark not known yet
    events: int
    dead_letters: int


@dataclass(frozen=True, slots=True)
class SinkSample:
    """The sink group's position on the output topics: committed offsets and whether records wait past them."""

    group: str
    committed: tuple[tuple[str, int, int], ...]  # (topic, partition, committed offset), sorted
    waiting: bool


@dataclass(frozen=True, slots=True)
class MergeSample:
    """One merge partition's refused partials (cumulative over this process's life)."""

    partition: int
    too_late_partials: int


@dataclass(slots=True)
class _Streak:
    firing: bool = False
    bad: int = 0
    good: int = 0


@dataclass(slots=True)
class _Partition:
    lag: _Streak = field(default_factory=_Streak)
    dlq: _Streak = field(default_factory=_Streak)
    last_lag: int | None = None
    # the tallies are cumulative over this process's life (a partition that comes back continues them):
    # a partition seen for the first time starts from 0, one that comes back from where it left
    last_events: int = 0
    last_dead: int = 0


@dataclass(slots=True)
class _Sink:
    firing: bool = False
    since_ms: int | None = None  # wall time since which records wait and the offsets stand still
    committed: tuple = ()


class HealthRules:
    """Feed one sample per period to :meth:`evaluate`; it returns the alerts whose state changed."""

    def __init__(self, cfg: HealthConfig, *, events_topic: str, partials_topic: str = "trtlens.metrics.partials") -> None:
        self.cfg = cfg
        self.events_topic = events_topic
        self.partials_topic = partials_topic
        self.interval_ms = int(cfg.interval_s * 1000)
        self.partitions: dict[int, _Partition] = {}
        self.sinks: dict[str, _Sink] = {}
        self.merges: dict[int, tuple[_Streak, list[int]]] = {}  # merge partition → (streak, [last count])

    def forget(self, partitions: set[int]) -> None:
        """Partitions revoked from this worker: their streaks end here (the count baselines stay)."""
        for p in partitions:
            st = self.partitions.get(p)
            if st is not None:
                st.lag, st.dlq, st.last_lag = _Streak(), _Streak(), None

    def evaluate(self, now_ms: int, partitions: list[PartitionSample], sink: SinkSample | None = None,
                 merges: Sequence[MergeSample] = ()) -> list[Alert]:
        window_ms = now_ms // self.interval_ms * self.interval_ms
        out: list[Alert] = []
        for s in partitions:
            st = self.partitions.setdefault(s.partition, _Partition())
            out.extend(a for a in (self._lag(window_ms, s, st), self._dlq(window_ms, s, st)) if a is not None)
        if sink is not None:
            alert = self._sink(now_ms, window_ms, sink)
            if alert is not None:
                out.append(alert)
        if self.cfg.too_late_partials:
            out.extend(a for a in (self._too_late(window_ms, m) for m in merges) if a is not None)
        return out

    # ---------------------------------------------------------------- rules

    def _lag(self, window_ms: int, s: PartitionSample, st: _Partition) -> Alert | None:
        need = self.cfg.lag_growing_windows
        if not need or s.lag_records is None:
            return None
        grew = st.last_lag is not None and s.lag_records > st.last_lag
        first = st.last_lag is None
        st.last_lag = s.lag_records
        if first:
            return None
        bad = grew and s.lag_records >= self.cfg.lag_min_records
        return self._step(st.lag, bad, need, window_ms, LAG_RULE, f"{self.events_topic}/{s.partition}",
                          float(s.lag_records), float(self.cfg.lag_min_records),
                          f"consumer lag of {self.events_topic}/{s.partition} grew for {need} windows of "
                          f"{self.cfg.interval_s:g}s: {s.lag_records} records behind",
                          f"consumer lag of {self.events_topic}/{s.partition} stopped growing: {s.lag_records} records")

    def _dlq(self, window_ms: int, s: PartitionSample, st: _Partition) -> Alert | None:
        threshold = self.cfg.dlq_rate_above
        prev_events, prev_dead = st.last_events, st.last_dead
        st.last_events, st.last_dead = s.events, s.dead_letters
        if not threshold:
            return None
        events, dead = max(0, s.events - prev_events), max(0, s.dead_letters - prev_dead)
        if events + dead < self.cfg.dlq_min_events:
            return None
        rate = dead / (events + dead)
        key = f"{self.events_topic}/{s.partition}"
        return self._step(st.dlq, rate > threshold, self.cfg.dlq_fire_after, window_ms, DLQ_RULE, key, rate, threshold,
                          f"dead-letter rate of {key}: {rate:.2%} of {events + dead} events in the last "
                          f"{self.cfg.interval_s:g}s (threshold {threshold:.2%})",
                          f"dead-letter rate of {key} back to {rate:.2%}")

    def _sink(self, now_ms: int, window_ms: int, s: SinkSample) -> Alert | None:
        limit_ms = int(self.cfg.sink_stalled_s * 1000)
        if not limit_ms:
            return None
        st = self.sinks.setdefault(s.group, _Sink())
        moved = s.committed != st.committed
        st.committed = s.committed
        if not s.waiting or moved:
            st.since_ms = now_ms if s.waiting else None
            if st.firing:
                st.firing = False
                return self._alert(SINK_RULE, f"sink-group={s.group}", "resolved", window_ms, 0.0, limit_ms / 1000,
                                   f"sink group {s.group} is moving again", 0)
            return None
        if st.since_ms is None:
            st.since_ms = now_ms
        stalled_s = (now_ms - st.since_ms) / 1000
        if not st.firing and stalled_s >= self.cfg.sink_stalled_s:
            st.firing = True
            return self._alert(SINK_RULE, f"sink-group={s.group}", "firing", window_ms, stalled_s, limit_ms / 1000,
                               f"sink group {s.group}: records wait on the output topics and its committed offsets "
                               f"have not moved for {stalled_s:.0f}s (backpressure, stuck or down)", 1)
        return None

    def _too_late(self, window_ms: int, m: MergeSample) -> Alert | None:
        st, last = self.merges.setdefault(m.partition, (_Streak(), [0]))
        new = max(0, m.too_late_partials - last[0])
        last[0] = m.too_late_partials
        key = f"{self.partials_topic}/{m.partition}"
        return self._step(st, new > 0, 1, window_ms, TOO_LATE_RULE, key, float(new), 0.0,
                          f"merge partition {key}: {new} partials of windows already final and forgotten were not "
                          f"applied in the last {self.cfg.interval_s:g}s: a source partition was idle or behind for "
                          "longer than late_retention_ms, and those windows miss its counts (streams README: idle rule)",
                          f"merge partition {key}: no partial refused for {self.cfg.resolve_after} windows")

    # ---------------------------------------------------------------- hysteresis

    def _step(self, st: _Streak, bad: bool, fire_after: int, window_ms: int, rule: str, key: str, value: float,
              threshold: float, firing_msg: str, resolved_msg: str) -> Alert | None:
        if bad:
            st.bad, st.good = st.bad + 1, 0
        else:
            st.good, st.bad = st.good + 1, 0
        if not st.firing and st.bad >= fire_after:
            st.firing = True
            return self._alert(rule, key, "firing", window_ms, value, threshold, firing_msg, st.bad)
        if st.firing and st.good >= self.cfg.resolve_after:
            st.firing = False
            return self._alert(rule, key, "resolved", window_ms, value, threshold, resolved_msg, 0)
        return None

    def _alert(self, rule: str, key: str, state: str, window_ms: int, value: float, threshold: float, message: str,
               breaching: int) -> Alert:
        return Alert(rule_id=rule, rule_kind=rule, scope="all", scope_key=key, state=state,  # type: ignore[arg-type]
                     window_start_ms=window_ms, window_ms=self.interval_ms, value=value, threshold=threshold,
                     message=message, breaching_windows=breaching)
