import math

import pytest

from trtlens.schemas.documents import WindowMetric
from trtlens.schemas.events import GpuSample, InferenceComplete, RequestComplete
from trtlens.streams.alerts.config import AlertsConfig, P99AboveRule
from trtlens.streams.metrics.config import MetricsConfig
from trtlens.streams.merge.combine import SourceWatermark, close_bound, merge_partials, merge_windows
from trtlens.streams.merge.core import Merger
from trtlens.streams.metrics.core import PartitionWindows

CFG = MetricsConfig(window_ms=10_000, grace_ms=5_000, late_retention_ms=20_000)
BASE = dict(worker_id="w1", model="m", model_version="v1")


def rc(i, ts, total=10.0, status="ok", cold=False, worker="w1"):
    return RequestComplete(event_id=f"e{i}", ts_ms=ts, request_id=f"r{i}", total_ms=total, status=status,
                           cold_start=cold, **{**BASE, "worker_id": worker})


def test_partial_counts_scopes_and_late():
    pw = PartitionWindows(CFG, partition=0)
    pw.observe(rc(1, 1_000, status="error"), 1, 1_000)
    pw.observe(rc(2, 2_000, cold=True), 2, 2_000)
    pw.observe(InferenceComplete(event_id="i", ts_ms=2_000, request_id="r2", latency_ms=900.0, cold_start=True, **BASE), 2, 2_000)
    pw.observe(GpuSample(event_id="g", ts_ms=3_000, worker_id="w1", utilization_pct=50, memory_used_bytes=7, memory_total_bytes=9), 3, 3_000)
    assert {k[:2] for k in pw.windows} == {("model_version", "m/v1"), ("worker", "w1"), ("all", "*")}
    mv = pw.windows[("model_version", "m/v1", 0)]
    assert (mv.requests, mv.errors, mv.cold_starts, mv.first_inference.count) == (2, 1, 1, 1)
    assert mv.gpu_memory_max_bytes is None and pw.windows[("worker", "w1", 0)].gpu_memory_max_bytes == 7
    # watermark 15_000 closes window 0; an event for it is late (counted on the window, not in requests)
    pw.advance(15_000)
    assert all(p.closed for p in pw.windows.values())
    pw.observe(rc(3, 4_000), 4, 15_000)
    assert mv.requests == 2 and mv.late_events == 1 and pw.late_events == 1
    pw.advance(35_000)  # + late retention: expired
    assert not pw.windows
    pw.observe(rc(4, 4_000), 5, 35_000)
    assert pw.too_late_events == 1 and not pw.windows


def partial_dict(partition, requests, offset, lat=(), ws=0, key="m/v1"):
    pw = PartitionWindows(CFG, partition)
    for i, v in enumerate(lat or [10.0] * requests):
        pw.observe(rc(i, ws + 1, total=v), offset, ws + 1)
    d = pw.windows[("model_version", key, ws)].to_dict()
    d["type"] = "partial"
    return d


def test_merge_keeps_newest_partial_per_partition():
    m = Merger(CFG, AlertsConfig(rules=[]), source_partitions=2)
    m.apply(partial_dict(0, 5, offset=10), 0)
    m.apply(partial_dict(0, 3, offset=4), 0)  # an older replayed partial: ignored
    m.apply(partial_dict(1, 2, offset=7), 0)
    for p in (0, 1):
        m.apply({"type": "watermark", "partition": p, "watermark_ms": 15_000, "source_partitions": 2}, 0)
    out = m.flush(0)
    [metric] = [x for x in out.metrics if x.scope == "model_version"]
    assert metric.final and metric.requests == 7 and metric.partitions == [0, 1]
    assert m.flush(0).metrics == []  # emitted once
    m.apply(partial_dict(1, 4, offset=9), 0)  # a later update of an emitted window re-emits it
    [again] = m.flush(0).metrics
    assert again.requests == 9 and again.doc_id == metric.doc_id


@pytest.mark.parametrize(
    ("wms", "bound"),
    [
        ({0: 100, 1: 200}, 100),
        ({0: 100}, -math.inf),  # partition 1 not heard from (starting, rebalancing): wait
        ({0: (100, True), 1: 200}, 200),  # partition 0 declared idle by its worker: ignored
        ({0: (100, True), 1: (200, True)}, math.inf),  # all idle: flush everything
    ],
)
def test_close_bound_idle_rule(wms, bound):
    marks = {p: SourceWatermark(*(v if isinstance(v, tuple) else (v, False))) for p, v in wms.items()}
    assert close_bound(marks, 2) == bound


def test_idle_heartbeat_then_activity():
    m = Merger(CFG, AlertsConfig(rules=[]), source_partitions=2)
    m.apply(partial_dict(0, 5, offset=3), 0)
    m.apply({"type": "watermark", "partition": 0, "watermark_ms": 1_000, "source_partitions": 2}, 0)
    assert m.flush(0).metrics == []  # partition 1 silent: the window stays open
    m.apply({"type": "watermark", "partition": 1, "watermark_ms": 0, "source_partitions": 2, "idle": True}, 0)
    assert m.flush(0).metrics == []  # bound = partition 0's 1_000 < 15_000
    m.apply({"type": "watermark", "partition": 0, "watermark_ms": 1_000, "source_partitions": 2, "idle": True}, 0)
    assert {x.final for x in m.flush(0).metrics} == {True}  # all idle: flushed
    m2 = Merger(CFG, AlertsConfig(rules=[]), source_partitions=2)
    m2.load({}, m.watermarks_to_dict(), 0)
    assert all(w.idle for w in m2.watermarks.values())


def test_merger_state_roundtrip_and_alerts_in_window_order():
    rules = AlertsConfig(rules=[P99AboveRule(id="p", threshold_ms=50, fire_after=2, resolve_after=1)])
    m = Merger(CFG, rules, source_partitions=1)
    for w in range(3):
        m.apply(partial_dict(0, 10, offset=w, lat=[100.0] * 10, ws=w * 10_000), 0)
    m.apply({"type": "watermark", "partition": 0, "watermark_ms": 45_000, "source_partitions": 1}, 0)
    out = m.flush(0)
    assert [a.state for a in out.alerts] == ["firing"] and out.alerts[0].window_start_ms == 10_000
    m2 = Merger(CFG, rules, source_partitions=1)
    m2.load({sid: st.to_dict() for sid, st in m.scopes.items()}, m.watermarks_to_dict(), 0)
    assert m2.flush(0).metrics == []  # nothing re-emitted after recovery
    assert m2.scopes.keys() == m.scopes.keys()


def test_longer_windows_merge_from_shorter_ones():
    parts = [merge_partials([partial_dict(0, 0, 1, lat=[float(v) for v in range(1 + k, 200, 6)], ws=k * 10_000)], CFG, final=True)
             for k in range(6)]
    minute = merge_windows(parts, 60_000)
    assert minute.requests == sum(p.requests for p in parts) and minute.window_ms == 60_000
    values = sorted(float(v) for k in range(6) for v in range(1 + k, 200, 6))
    exact_p99 = values[math.ceil(0.99 * len(values)) - 1]
    assert abs(minute.latency_ms.p99 - exact_p99) <= 0.01 * exact_p99
    with pytest.raises(ValueError):
        merge_windows([p.model_copy(update={"sketch": None}) for p in parts], 60_000)
    assert isinstance(minute, WindowMetric)


@pytest.mark.parametrize(("emit_running", "expected"), [(False, []), (True, [False])])
def test_running_updates_are_optional(emit_running, expected):
    cfg = CFG.model_copy(update={"emit_running": emit_running})
    m = Merger(cfg, AlertsConfig(rules=[]), source_partitions=1)
    m.apply(partial_dict(0, 3, offset=1), 0)
    m.apply({"type": "watermark", "partition": 0, "watermark_ms": 5_000, "source_partitions": 1}, 0)  # still open
    assert [x.final for x in m.flush(0).metrics if x.scope == "model_version"] == expected


def test_merge_is_bit_identical_whatever_order_partials_arrive_in():
    # one latency per partition: (0.1 + 0.2) + 0.3 != (0.3 + 0.2) + 0.1 in floating point
    assert (0.1 + 0.2) + 0.3 != (0.3 + 0.2) + 0.1
    partials = [partial_dict(p, 1, offset=5, lat=[v]) for p, v in enumerate([0.1, 0.2, 0.3])]
    orders = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]]
    docs = [merge_partials([partials[i] for i in order], CFG, final=True).model_dump() for order in orders]
    assert all(d == docs[0] for d in docs[1:])


def test_a_lagging_source_still_reaches_windows_the_others_left_behind():
    """Issue 9: after a takeover one source partition lags far behind the others. Its partials for
    windows the merge has not seen yet must not be taken for replays of long-gone windows (the
    fastest source's watermark used to decide)."""
    m = Merger(CFG, AlertsConfig(rules=[]), source_partitions=2)
    for p, wm in ((0, 200_000), (1, 12_000)):  # partition 0 raced through its backlog; 1 is behind
        m.apply({"type": "watermark", "partition": p, "watermark_ms": wm, "source_partitions": 2}, 0)
    m.apply(partial_dict(1, 4, offset=30, ws=20_000), 0)  # a window partition 0 never had data for
    m.apply({"type": "watermark", "partition": 1, "watermark_ms": 200_000, "source_partitions": 2}, 0)
    [metric] = [x for x in m.flush(0).metrics if x.scope == "model_version"]
    assert metric.window_start_ms == 20_000 and metric.requests == 4 and metric.partitions == [1]


@pytest.mark.parametrize(
    ("wms", "bound"),
    [
        ({0: 200, 1: 100}, 100),  # the slowest active source decides
        ({0: 200}, -math.inf),  # a source not heard from: forget nothing
        ({0: (200, True), 1: 100}, 100),
        ({0: (200, True), 1: (100, True)}, 200),  # all idle: the newest watermark
    ],
)
def test_retention_bound_follows_the_slowest_active_source(wms, bound):
    from trtlens.streams.merge.combine import retention_bound

    marks = {p: SourceWatermark(*(v if isinstance(v, tuple) else (v, False))) for p, v in wms.items()}
    assert retention_bound(marks, 2) == bound


def test_a_window_evicted_within_one_group_still_sends_its_final_partial():
    """Issue 9: one processing group (a backlog after a takeover, a fast backfill of a quiet
    service) can move the watermark past a window's whole retention. The window's last change
    used to be dropped with it, before the group's partials were taken."""
    pw = PartitionWindows(CFG, partition=0)
    pw.observe(rc(1, 1_000), 1, 1_000)
    pw.observe(rc(2, 2_000), 2, 2_000)
    pw.advance(2_000)
    pw.observe(rc(3, 90_000), 3, 2_000)  # same group: the watermark jumps 88 s
    pw.advance(90_000)
    assert ("model_version", "m/v1", 0) not in pw.windows
    sent = {(p.scope, p.window_start_ms): p for p in pw.take_dirty()}
    assert sent[("model_version", 0)].requests == 2 and sent[("model_version", 0)].closed
    assert sent[("model_version", 90_000)].requests == 1
    assert pw.take_dirty() == []


def test_a_forgotten_window_stays_forgotten_when_the_watermarks_key_was_lost():
    """Chaos seed 101: a worker forgot a merged window, wrote the scope's key and was killed before
    its watermarks key and applied offset reached the changelog. Its successor re-applied the slow
    source's partial with the old watermarks, found no window, and emitted a final window of that
    one partial over the complete one."""
    m = Merger(CFG, AlertsConfig(rules=[]), source_partitions=2)
    m.apply(partial_dict(0, 5, offset=10), 0)
    m.apply(wm(0, 200_000), 0)
    m.apply(wm(1, 1_000), 0)
    old_watermarks = m.watermarks_to_dict()  # the last watermarks key that reached the changelog
    late = partial_dict(1, 3, offset=20)
    m.apply(late, 0)
    m.apply(wm(1, 200_000), 0)
    [final] = [x for x in m.flush(0).metrics if x.scope == "model_version"]
    assert final.requests == 8 and not m.scopes["model_version|m/v1"].windows  # emitted and forgotten
    successor = Merger(CFG, AlertsConfig(rules=[]), source_partitions=2)
    successor.load({sid: st.to_dict() for sid, st in m.scopes.items()}, old_watermarks, 0)
    successor.apply(late, 0)  # re-read from the older applied offset
    successor.apply(wm(1, 200_000), 0)
    assert [x for x in successor.flush(0).metrics if x.scope == "model_version"] == []


def wm(p, ms, idle=False):
    return {"type": "watermark", "partition": p, "watermark_ms": ms, "source_partitions": 2, "idle": idle}


def test_a_partial_for_a_window_forgotten_while_its_source_was_idle_is_refused_not_applied():
    """Source 1 declared idle, source 0 moves on: window 0 closes, is emitted and forgotten. Source 1
    then wakes with old event times (a producer's spool, a paused service): its partial cannot join a
    window that is gone; ``apply`` says so, and the agent counts it (next test)."""
    m = Merger(CFG, AlertsConfig(rules=[]), source_partitions=2)
    assert m.apply(partial_dict(0, 5, offset=10), 0)
    assert m.apply(wm(1, 1_000, idle=True), 0)
    assert m.apply(wm(0, 200_000), 0)
    [final] = [x for x in m.flush(0).metrics if x.scope == "model_version"]
    assert final.requests == 5 and not m.scopes["model_version|m/v1"].windows
    assert m.apply(partial_dict(1, 3, offset=20), 0) is False
    assert m.flush(0).metrics == [] and not m.scopes["model_version|m/v1"].windows
    # a partial of a window still held is applied as before
    assert m.apply(partial_dict(1, 2, offset=21, ws=180_000), 0)
    assert m.apply(partial_dict(0, 1, offset=30, ws=180_000), 0)
    assert m.apply(wm(1, 200_000), 0)
    assert [x.requests for x in m.flush(0).metrics if x.scope == "model_version"] == [3]


def test_the_merge_agent_counts_and_logs_refused_partials(caplog):
    import asyncio

    import orjson
    from streams_fakes import FakeTable, Msg

    from trtlens.settings import load_settings
    from trtlens.streams.merge.agent import MergeAgent
    from trtlens.streams.offsets import Rereads

    class Sender:
        def __init__(self):
            self.docs = []

        async def send_docs(self, topic, docs):
            self.docs.extend(docs)

        async def flush(self):
            return None

    class Runtime:
        def __init__(self):
            self.settings = load_settings(topics={"partitions": 2}, streams={"metrics": CFG.model_dump()})
            self.merge_state, self.sender, self.lock = FakeTable(), Sender(), asyncio.Lock()

        def rereads_for(self, topic):
            async def seek(*a):
                return None

            return Rereads(topic, None, seek)

        def now_ms(self):
            return 0

    class Ev:
        def __init__(self, offset, record):
            self.message = Msg(0, offset, None, orjson.dumps(record))

    rt = Runtime()
    agent = MergeAgent(rt)
    records = [partial_dict(0, 5, offset=10), wm(1, 1_000, idle=True), wm(0, 200_000), partial_dict(1, 3, offset=20)]
    asyncio.run(agent.process_group([Ev(i, r) for i, r in enumerate(records[:3])]))  # emitted and forgotten
    asyncio.run(agent.process_group([Ev(3, records[3])]))
    assert agent.too_late_partials == {0: 1}
    assert [d.requests for d in rt.sender.docs if d.scope == "model_version"] == [5]
    [line] = [r.getMessage() for r in caplog.records if "too_late_partials" in r.getMessage()]
    assert "too_late_partials=1" in line and "window_start_ms=0 source_partition=1 requests=3" in line
    assert agent.applied[0] == 3  # refused, and past it: nothing waits on it


def test_weighted_partials_merge_into_estimates_and_state_reads_old_partials():
    from trtlens.streams.metrics.core import WindowPartial

    a, b = PartitionWindows(CFG, partition=0), PartitionWindows(CFG, partition=1)
    a.observe(rc(1, 1_000, status="error"), 1, 1_000)  # always kept at the source: weight 1
    a.observe(rc(2, 1_100).model_copy(update={"sample_weight": 4.0}), 2, 1_100)
    b.observe(rc(3, 1_200, cold=True), 1, 1_200)
    b.observe(rc(4, 1_300, status="error").model_copy(update={"sample_weight": 2.5}), 2, 1_300)
    pa, pb = (w.windows[("model_version", "m/v1", 0)] for w in (a, b))
    assert (pa.requests, pa.extra_requests, pa.errors, pa.extra_errors) == (2, 3.0, 1, 0.0)
    assert pa.latency.count == 5.0 and pb.latency.count == 3.5
    da, db = pa.to_dict(), pb.to_dict()
    assert WindowPartial.from_dict(da).to_dict() == da  # the state round trip keeps the extras
    m = merge_partials([da, db], CFG, final=True)
    # 1 + 4 + 1 + 2.5 requests, errors 1 + 2.5, one cold start; 4 seen
    assert (m.requests, m.sampled_requests, m.errors, m.cold_starts) == (8, 4, 4, 1)
    assert m.qps == 8.5 * 1000 / 10_000 and m.error_rate == 3.5 / 8.5 and m.cold_start_rate == 1 / 8.5
    assert m.latency_ms.count == 8 and sum(m.latency_buckets.values()) == 8
    # a partial stored before weights (no extra_* keys) reads and merges as it always did
    old = {k: v for k, v in merge_partial_dict().items()}
    assert WindowPartial.from_dict(old).extra_requests == 0.0
    m_old = merge_partials([old], CFG, final=True)
    assert (m_old.requests, m_old.sampled_requests, type(m_old.requests)) == (old["requests"], old["requests"], int)


def merge_partial_dict():
    pw = PartitionWindows(CFG, partition=2)
    for i in range(5):
        pw.observe(rc(10 + i, 2_000 + i, total=3.0 + i), 10 + i, 2_000 + i)
    d = pw.windows[("model_version", "m/v1", 0)].to_dict()
    assert "extra_requests" not in d
    return d
