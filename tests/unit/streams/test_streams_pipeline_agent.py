"""The partition agent's glue (issue 9): gaps, re-reads, tails and commit limits, with fakes around it.

The runtime here is a fake (no Faust, no Kafka): what is tested is the agent's
own bookkeeping. The real worker runs on the real broker in the integration tests.
"""

import asyncio

import orjson
from streams_fakes import FakeTable, Msg

from trtlens.settings import load_settings
from trtlens.streams.malloc import Trimmer
from trtlens.streams.offsets import Rereads
from trtlens.streams.pipeline.agent import PipelineAgent

T0 = 1_700_000_000_000


class FakeSender:
    def __init__(self) -> None:
        self.watermarks: list[tuple[int, bool]] = []

    async def flush(self):
        return None

    async def send_watermark(self, partition, watermark_ms, *a, idle=False):
        self.watermarks.append((partition, idle))


class FakeProbe:
    def __init__(self) -> None:
        self.first: dict[int, int] = {}

    async def first_offset(self, topic, partition, offset):
        return self.first.get(partition, offset)


class FakeRuntime:
    def __init__(self) -> None:
        self.settings = load_settings(streams={"idle_timeout_ms": 1000, "traces": {"sample_rate": 1.0}})
        self.state = FakeTable()
        self.sender = FakeSender()
        self.lock = asyncio.Lock()
        self.build_evaluator = None
        self.probe = FakeProbe()
        self.trimmer = Trimmer(0)  # never trims
        self.seeks: list[tuple[int, int]] = []
        self.delivered: list = []
        self.highwaters: dict[int, int] = {}

    def rereads_for(self, topic):
        async def seek(topic_, partition, offset):
            self.seeks.append((partition, offset))

        return Rereads(topic, self.probe, seek)

    def highwater(self, topic, partition):
        return self.highwaters.get(partition)

    async def deliver_pipeline(self, pipe, out, *, idle=False):
        self.delivered.append((pipe.partition, idle, out))


def record(i: int) -> bytes:
    b = dict(request_id=f"r{i}", worker_id="w", model="m", model_version="v1")
    return orjson.dumps([dict(b, event="request_received", event_id=f"{i}a", ts_ms=T0 + i),
                         dict(b, event="request_complete", event_id=f"{i}c", ts_ms=T0 + i + 1, total_ms=3.0)])


def group(partition: int, offsets) -> list[Msg]:
    return [Msg(partition, o, b"k", record(o)) for o in offsets]


def agent() -> tuple[PipelineAgent, FakeRuntime]:
    rt = FakeRuntime()
    a = PipelineAgent(rt)
    a.on_assigned({0, 1})
    return a, rt


def test_a_gap_stops_the_partition_reads_again_and_commits_only_what_was_written():
    a, rt = agent()
    asyncio.run(a.process_group(group(0, range(0, 5)) + group(1, [0, 1])))
    assert a.commit_limit(0) == 5 and a.commit_limit(1) == 2
    asyncio.run(a.process_group(group(0, [5, 7, 8]) + group(1, [2])))  # offset 6 never delivered
    assert a.pipelines[0].applied_offset == 5 and a.commit_limit(0) == 6  # 7 and 8 held back
    assert rt.seeks == [(0, 6)] and a.commit_limit(1) == 3
    asyncio.run(a.process_group(group(0, [7, 8])))  # fetched before the seek took effect: held again
    assert rt.seeks == [(0, 6)] and a.rereads.book.counters["held_records"] == 4
    asyncio.run(a.process_group(group(0, [6, 7, 8, 9])))  # the re-read
    assert a.pipelines[0].applied_offset == 9 and a.commit_limit(0) == 10 and not a.rereads.book.pending
    assert a.pipelines[0].counters["records"] == 10


def test_a_partition_starting_past_zero_is_checked_with_the_broker():
    a, rt = agent()
    rt.probe.first[1] = 40  # retention deleted 0..39 (a real cluster)
    asyncio.run(a.process_group(group(1, [40, 41])))
    assert rt.seeks == [(1, 40)] and a.pipelines[1].applied_offset == 39
    assert a.rereads.book.counters["confirmed_gap_offsets"] == 40
    asyncio.run(a.process_group(group(1, [40, 41])))
    assert a.pipelines[1].applied_offset == 41 and a.commit_limit(1) == 42


def test_an_idle_partition_with_records_left_on_the_broker_is_read_again():
    """The stall of the first landing: fetched records that never reached the agent, at a partition's end."""
    a, rt = agent()
    asyncio.run(a.process_group(group(0, range(0, 3))))
    rt.highwaters = {0: 6, 1: 0}  # offsets 3..5 exist; partition 1 is empty
    a.last_record_at = {p: t - 5.0 for p, t in a.last_record_at.items()}  # quiet for longer than the timeout
    a.flowing_since -= 5.0
    asyncio.run(a.on_idle_tick())
    assert rt.seeks == [(0, 3)]
    asyncio.run(a.on_idle_tick())  # the re-read is on its way: not asked twice
    assert rt.seeks == [(0, 3)]


def test_recovered_partition_commits_its_recovered_offset():
    a, rt = agent()
    asyncio.run(a.process_group(group(0, range(0, 4))))
    b = PipelineAgent(rt)  # another worker takes the partition over: state from the table
    b.on_assigned({0})
    asyncio.run(b.process_group(group(0, range(0, 6))))  # redelivered from an older commit
    assert b.pipelines[0].counters["records_skipped_applied"] == 4 and b.commit_limit(0) == 6


def test_idle_partitions_are_announced_once_per_quiet_spell():
    """The idle rule's worker side: quiet for idle_timeout_ms → open traces out, heartbeat idle: true."""
    a, rt = agent()
    asyncio.run(a.process_group(group(0, range(0, 3))))
    rt.highwaters = {0: 3, 1: 0}  # caught up: partition 0 applied 0..2, partition 1 empty
    asyncio.run(a.on_idle_tick())
    assert not any(idle for _, idle, _ in rt.delivered)  # not quiet long enough yet
    a.last_record_at = {p: t - 2.0 for p, t in a.last_record_at.items()}
    a.assigned = {p: t - 2.0 for p, t in a.assigned.items()}
    a.flowing_since -= 2.0
    asyncio.run(a.on_idle_tick())
    idle = [(p, out) for p, is_idle, out in rt.delivered if is_idle]
    assert [p for p, _ in idle] == [0]
    # partition 1 never had a record: announced by a heartbeat alone (nothing to flush)
    assert rt.sender.watermarks == [(1, True)]
    asyncio.run(a.on_idle_tick())  # once per spell
    assert len([1 for _, is_idle, _ in rt.delivered if is_idle]) == 1 and len(rt.sender.watermarks) == 1
    asyncio.run(a.process_group(group(0, [3])))  # a record ends the spell
    assert 0 not in a.idle_flushed


def test_no_partition_is_idle_while_nothing_flows_after_an_assignment():
    """Table recovery can take a while after an assignment: silence counts double until records flow."""
    a, rt = agent()
    rt.highwaters = {0: 0, 1: 0}  # both empty
    a.assigned = {p: t - 1.5 for p, t in a.assigned.items()}  # assigned 1.5 s ago, idle_timeout 1 s
    asyncio.run(a.on_idle_tick())
    assert rt.sender.watermarks == []
    a.assigned = {p: t - 1.0 for p, t in a.assigned.items()}  # 2.5 s > twice the timeout
    asyncio.run(a.on_idle_tick())
    assert sorted(rt.sender.watermarks) == [(0, True), (1, True)]


def test_a_quiet_partition_with_records_left_on_the_broker_is_not_idle():
    """Issue 9 (found under CPU load): a slow worker is silent too, but its partition is not idle —
    declaring it so closed windows without its records."""
    a, rt = agent()
    asyncio.run(a.process_group(group(0, range(0, 3))))
    rt.highwaters = {0: 9, 1: None}  # 3..8 still to come on partition 0; partition 1 not fetched yet
    a.last_record_at = {p: t - 5.0 for p, t in a.last_record_at.items()}
    a.assigned = {p: t - 5.0 for p, t in a.assigned.items()}
    a.flowing_since -= 5.0
    asyncio.run(a.on_idle_tick())
    assert rt.sender.watermarks == [] and not any(idle for _, idle, _ in rt.delivered)
    rt.highwaters = {0: 3, 1: 0}  # caught up
    asyncio.run(a.on_idle_tick())
    assert sorted(rt.sender.watermarks) == [(1, True)] and [p for p, idle, _ in rt.delivered if idle] == [0]


def test_a_partition_taken_over_after_the_input_ended_is_declared_idle_once_recovered():
    """Issue 9 (CI under load): the last takeover came after the load's end. No record ever reached
    the new owner, so it never counted as recovered, never declared its partitions idle, and the merge
    stage held the last windows open for good. Table recovery ends the wait as well as a record does."""
    a, rt = agent()
    asyncio.run(a.process_group(group(0, range(0, 4))))  # the old owner applied and wrote 0..3
    b = PipelineAgent(rt)
    b.on_assigned({0})
    rt.highwaters = {0: 4}  # nothing left on the broker
    b.assigned = {0: b.assigned[0] - 5.0}
    rt.delivered.clear()
    asyncio.run(b.on_idle_tick())
    assert not rt.delivered  # before recovery the applied offset is unknown: not idle
    b.recovery_completed()
    b.flowing_since -= 2.0  # quiet for longer than the timeout since recovery
    asyncio.run(b.on_idle_tick())
    assert [(p, idle) for p, idle, _ in rt.delivered] == [(0, True)]
    assert b.pipelines[0].applied_offset == 3


def test_the_heap_is_trimmed_after_a_group_once_its_records_are_written():
    a, rt = agent()
    ticks = iter([0.0, 0.1, 0.3])
    rt.trimmer = Trimmer(250, clock=lambda: next(ticks))
    rt.trimmer._libc = type("Libc", (), {"malloc_trim": lambda self, pad: 1})()  # the call, not glibc's effect
    for offsets in ([0, 1], [2, 3], [4]):
        asyncio.run(a.process_group(group(0, offsets)))
    assert rt.trimmer.trims == 2  # after the first group and the third (0.3 s ≥ 250 ms); not after the second
    assert a.commit_limit(0) == 5
