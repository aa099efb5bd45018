"""The streams worker's self-metrics: per-partition tallies across rebalances, and what the collector serves.

The runtime is a fake (no Faust, no Kafka) around the real pipeline agent; the
collector is scraped through a real listener on a loopback port.
"""

from __future__ import annotations

import asyncio

import orjson
from streams_fakes import FakeTable, Msg

from trtlens.obs import Observability, scrape
from trtlens.settings import ObsSettings, load_settings
from trtlens.streams.malloc import Trimmer
from trtlens.streams.offsets import Rereads
from trtlens.streams.pipeline.agent import PipelineAgent
from trtlens.streams.selfmetrics import StreamsCollector, readiness

T0 = 1_700_000_000_000


class FakeSender:
    def __init__(self) -> None:
        self.sent = {"t.traces": 3, "t.events.dlq": 1}
        self.resent = 2

    async def flush(self):
        return None

    async def send_watermark(self, *a, **kw):
        return None


class FakeProbe:
    async def first_offset(self, topic, partition, offset):
        return offset


class FakeMerge:
    def __init__(self, runtime) -> None:
        self.rereads = runtime.rereads_for("t.metrics.partials")
        self.windows_emitted = 5
        self.alerts_emitted = 1
        self.bad_records = 0
        self.too_late_partials = {1: 2}


class FakeRuntime:
    def __init__(self) -> None:
        self.settings = load_settings(topics={"events": "t.events", "metrics_partials": "t.metrics.partials"},
                                      streams={"traces": {"sample_rate": 1.0}})
        self.state = FakeTable()
        self.sender = FakeSender()
        self.lock = asyncio.Lock()
        self.build_evaluator = None
        self.probe = FakeProbe()
        self.trimmer = Trimmer(0)  # never trims
        self.highwaters: dict[int, int] = {}
        self.recovering = False
        self.pipeline = PipelineAgent(self)
        self.merge = FakeMerge(self)

    def rereads_for(self, topic):
        async def seek(topic_, partition, offset):
            return None

        return Rereads(topic, self.probe, seek)

    def highwater(self, topic, partition):
        return self.highwaters.get(partition)

    async def deliver_pipeline(self, pipe, out, *, idle=False):
        return None


def record(i: int, *, bad: bool = False, duplicate_of: int | None = None) -> bytes:
    b = dict(request_id=f"r{i}", worker_id="w", model="m", model_version="v1")
    events = [dict(b, event="request_received", event_id=f"{i}a", ts_ms=T0 + i),
              dict(b, event="request_complete", event_id=f"{i}c", ts_ms=T0 + i + 1, total_ms=3.0)]
    if bad:
        events.append({"event": "no_such_event", "event_id": f"{i}x"})
    if duplicate_of is not None:
        events.append(dict(b, event="request_received", event_id=f"{duplicate_of}a", ts_ms=T0 + i))
    events.append(dict(b, event="request_received", event_id=f"{i}h", ts_ms=T0 + i, request_id=f"health-{i}"))
    return orjson.dumps(events)


def group(partition: int, offsets, **kw) -> list[Msg]:
    return [Msg(partition, o, b"k", record(o, **kw)) for o in offsets]


def test_counts_survive_a_rebalance_and_leave_the_state_replay_out():
    rt = FakeRuntime()
    a = rt.pipeline
    a.on_assigned({0})
    asyncio.run(a.process_group(group(0, range(0, 4))))
    before = a.tallies.snapshot()[0]
    assert (before["records"], before["events"], before["dropped.health_checks"]) == (4, 12, 4)
    a.on_assigned({0})  # a rebalance gives the partition back: its pipeline is rebuilt from the state log
    asyncio.run(a.process_group(group(0, range(0, 6))))  # redelivered from the last commit, then two new records
    after = a.tallies.snapshot()[0]
    assert a.pipelines[0].counters["records"] == 4 + 2  # the replay ran through the pipeline's own counters
    assert (after["records"], after["events"], after["accepted_events"]) == (6, 18, 12)
    assert after["records_skipped_applied"] == 4
    assert after["recovered_records"] == 4 and after["dropped.health_checks"] == 6


def test_the_collector_serves_the_live_counters():
    rt = FakeRuntime()
    a = rt.pipeline
    a.on_assigned({0, 1})
    asyncio.run(a.process_group(group(0, [0, 1], bad=True) + group(1, [0]) + group(1, [1], duplicate_of=0)))
    rt.highwaters = {0: 10, 1: 2}
    a.rereads.book.counters["gaps"] = 2
    obs = Observability(ObsSettings())
    obs.register(StreamsCollector(rt))
    obs.start()
    try:
        s = scrape(obs.url)
        assert s.by_label("trtlens_streams_records_total", "partition") == {"0": 2, "1": 2}
        assert s.value("trtlens_streams_events_total") == 2 * 3 + 3 + 4  # valid events; invalid ones apart
        assert s.by_label("trtlens_streams_invalid_events_total", "code") == {"unknown_event_type": 2}
        assert s.value("trtlens_streams_duplicate_events_total", partition="1") == 1
        assert s.value("trtlens_streams_dropped_events_total", rule="health_checks") == 4
        assert s.value("trtlens_streams_accepted_events_total") == 4 * 2
        assert s.value("trtlens_streams_outputs_sent_total", topic="t.traces") == 3
        assert s.value("trtlens_streams_outputs_resent_total") == 2
        assert s.value("trtlens_streams_gaps_total", topic="t.events") == 2
        assert s.value("trtlens_streams_gaps_total", topic="t.metrics.partials") == 0
        assert s.value("trtlens_streams_group_duration_seconds_count") == 1
        assert s.value("trtlens_streams_applied_offset", partition="0") == 1
        assert s.by_label("trtlens_streams_consumer_lag_records", "partition") == {"0": 8, "1": 0}
        # held until the watermark passes: one emitted (packed), one still open
        assert s.value("trtlens_streams_open_traces", partition="0") == 1
        assert s.value("trtlens_streams_retained_traces", partition="0") == 1
        assert s.value("trtlens_streams_dedup_ids", partition="1") == 6
        assert s.value("trtlens_streams_assigned_partitions") == 2
        assert s.value("trtlens_streams_merge_windows_emitted_total") == 5
        assert s.value("trtlens_streams_merge_too_late_partials_total", partition="1") == 2
        asyncio.run(a.process_group(group(0, [2])))
        assert scrape(obs.url).value("trtlens_streams_records_total", partition="0") == 3  # read at scrape time
    finally:
        obs.stop()


def test_ready_when_partitions_are_assigned_and_no_recovery_runs():
    rt = FakeRuntime()
    assert readiness(rt) == (False, "assigned_partitions=0 recovering=false")
    rt.pipeline.on_assigned({0, 2})
    rt.recovering = True
    assert readiness(rt)[0] is False
    rt.recovering = False
    assert readiness(rt) == (True, "assigned_partitions=2 recovering=false")
