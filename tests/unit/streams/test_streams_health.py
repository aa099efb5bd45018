"""Pipeline-health rules (streams/health/core.py): lag growth, DLQ rate, sink stall, with hysteresis."""

from __future__ import annotations

import pytest

from trtlens.streams.health.config import HealthConfig
from trtlens.streams.health.core import (
    DLQ_RULE,
    LAG_RULE,
    SINK_RULE,
    TOO_LATE_RULE,
    HealthRules,
    MergeSample,
    PartitionSample,
    SinkSample,
)

T0 = 1_800_000_000_000
STEP = 10_000


def run(cfg: HealthConfig, lags=(), dlq=(), sinks=()) -> list[tuple[int, str, str, str]]:
    """Feed one sample per period; returns (period index, rule, scope_key, state) of every alert."""
    rules = HealthRules(cfg, events_topic="ev")
    n = max(len(lags), len(dlq), len(sinks))
    out = []
    for i in range(n):
        parts = []
        if i < len(lags) or i < len(dlq):
            lag = lags[i] if i < len(lags) else 0
            events, dead = dlq[i] if i < len(dlq) else (0, 0)
            parts.append(PartitionSample(2, lag, events, dead))
        sink = sinks[i] if i < len(sinks) else None
        for a in rules.evaluate(T0 + i * STEP + 17, parts, sink):
            assert a.window_start_ms == T0 + i * STEP and a.window_ms == STEP and a.scope == "all"
            assert a.doc_id == f"{a.rule_id}:{a.scope_key}:{a.window_start_ms}:{a.state}"
            out.append((i, a.rule_id, a.scope_key, a.state))
    return out


LAG = HealthConfig(interval_s=10, lag_growing_windows=3, lag_min_records=100, dlq_rate_above=0, sink_stalled_s=0,
                   resolve_after=2)


@pytest.mark.parametrize(("lags", "expected"), [
    # grows 3 windows in a row above the floor → fires on the third growth; 2 flat windows → resolves
    ([100, 200, 300, 400, 400, 400], [(3, "firing"), (5, "resolved")]),
    # growth interrupted by one flat window: the streak starts again
    ([100, 200, 300, 300, 400, 500], []),
    # growing, but under lag_min_records
    ([1, 2, 3, 4, 5, 6], []),
    # shrinking lag never fires
    ([900, 800, 700, 600], []),
    # unknown high-watermark (None) is skipped, not a growth
    ([None, 100, 200, 300, 400], [(4, "firing")]),
])
def test_lag_growing(lags, expected):
    assert [(i, s) for i, r, k, s in run(LAG, lags=lags)] == expected
    assert all(r == LAG_RULE and k == "ev/2" for _, r, k, _ in run(LAG, lags=lags))


DLQ = HealthConfig(interval_s=10, lag_growing_windows=0, dlq_rate_above=0.05, dlq_min_events=100, dlq_fire_after=2,
                   sink_stalled_s=0, resolve_after=1)


@pytest.mark.parametrize(("cumulative", "expected"), [
    # per window: 1000 events with 100 dead (9%) twice → fires; a clean window → resolves
    ([(0, 0), (1000, 100), (2000, 200), (3000, 200)], [(2, "firing"), (3, "resolved")]),
    # exactly at the threshold does not breach (rate > threshold)
    ([(0, 0), (950, 50), (1900, 100), (2850, 150)], []),
    # one breaching window is not enough (fire_after=2)
    ([(0, 0), (1000, 100), (2000, 100)], []),
    # too few events: neither breach nor clear — the streak survives a quiet window
    ([(0, 0), (1000, 100), (1010, 110), (2010, 210)], [(3, "firing")]),
    # the first window counts from 0 (the process's start); counters that go backwards count as zero
    ([(1000, 100), (2000, 200), (100, 0), (1100, 100), (2100, 200)], [(1, "firing")]),  # stays firing: the backwards window is skipped
])
def test_dlq_rate(cumulative, expected):
    got = run(DLQ, lags=[None] * len(cumulative), dlq=cumulative)
    assert [(i, s) for i, _, _, s in got] == expected
    assert all(r == DLQ_RULE for _, r, _, _ in got)


SINK = HealthConfig(interval_s=10, lag_growing_windows=0, dlq_rate_above=0, sink_stalled_s=25)


def sink(offset: int, waiting: bool) -> SinkSample:
    return SinkSample("trtlens-sink", (("t.traces", 0, offset),), waiting)


@pytest.mark.parametrize(("samples", "expected"), [
    # records wait and the offsets stand still from period 0: 25 s later (period 3 = 30 s) it fires; moves → resolves
    ([sink(5, True), sink(5, True), sink(5, True), sink(5, True), sink(9, True)], [(3, "firing"), (4, "resolved")]),
    # offsets keep moving while records wait: a busy sink, not a stalled one
    ([sink(i, True) for i in range(6)], []),
    # nothing waits: an idle pipeline is healthy
    ([sink(5, False)] * 6, []),
    # caught up (nothing waiting) resolves too
    ([sink(5, True)] * 4 + [sink(5, False)], [(3, "firing"), (4, "resolved")]),
])
def test_sink_stalled(samples, expected):
    got = run(SINK, sinks=samples)
    assert [(i, s) for i, _, _, s in got] == expected
    assert all(r == SINK_RULE and k == "sink-group=trtlens-sink" for _, r, k, _ in got)


TOO_LATE = HealthConfig(interval_s=10, lag_growing_windows=0, dlq_rate_above=0, sink_stalled_s=0, resolve_after=2)


@pytest.mark.parametrize(("cumulative", "expected"), [
    # refused partials in a window fire at once; two windows without one resolve
    ([0, 0, 3, 3, 3], [(2, "firing"), (4, "resolved")]),
    # more in the next window: still firing, no new document; then quiet
    ([0, 2, 5, 5, 5], [(1, "firing"), (4, "resolved")]),
    # counts from the process's start: the first sample already had some
    ([4, 4, 4], [(0, "firing"), (2, "resolved")]),
    ([0, 0, 0, 0], []),
])
def test_partials_too_late(cumulative, expected):
    rules = HealthRules(TOO_LATE, events_topic="ev", partials_topic="ev.partials")
    got = []
    for i, n in enumerate(cumulative):
        for a in rules.evaluate(T0 + i * STEP, [], None, [MergeSample(1, n)]):
            assert (a.rule_id, a.scope_key) == (TOO_LATE_RULE, "ev.partials/1")
            got.append((i, a.state))
    assert got == expected
    off = HealthRules(TOO_LATE.model_copy(update={"too_late_partials": False}), events_topic="ev")
    assert [off.evaluate(T0 + i * STEP, [], None, [MergeSample(1, i)]) for i in range(3)] == [[], [], []]


def test_a_revoked_partition_starts_again_and_a_rule_set_to_zero_is_off():
    rules = HealthRules(LAG, events_topic="ev")
    for i, lag in enumerate([100, 200, 300]):
        assert rules.evaluate(T0 + i * STEP, [PartitionSample(1, lag, 0, 0)]) == []
    rules.forget({1})
    assert rules.evaluate(T0 + 3 * STEP, [PartitionSample(1, 400, 0, 0)]) == []  # the streak began again
    # DLQ counts continue from where the partition left (tallies are per process, cumulative)
    dlq = HealthRules(DLQ, events_topic="ev")
    assert dlq.evaluate(T0, [PartitionSample(0, None, 1000, 0)]) == []
    dlq.forget({0})
    assert dlq.evaluate(T0 + STEP, [PartitionSample(0, None, 1000, 0)]) == []  # nothing new: no window
    off = HealthConfig(lag_growing_windows=0, dlq_rate_above=0, sink_stalled_s=0)
    assert run(off, lags=[100 * i for i in range(20)], dlq=[(i * 100, i * 100) for i in range(20)],
               sinks=[sink(1, True)] * 20) == []


def test_defaults_are_on_and_load_from_the_environment(monkeypatch):
    from trtlens.settings import load_settings

    h = load_settings().streams.health
    assert h.enabled and h.lag_growing_windows and h.dlq_rate_above and h.sink_stalled_s and h.too_late_partials
    monkeypatch.setenv("TRTLENS_STREAMS__HEALTH__SINK_STALLED_S", "0")
    monkeypatch.setenv("TRTLENS_STREAMS__HEALTH__INTERVAL_S", "2.5")
    h = load_settings().streams.health
    assert (h.sink_stalled_s, h.interval_s) == (0, 2.5)
