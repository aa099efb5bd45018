"""The Faust glue (issue 9): Faust's own recovery and commit code run against a small fake consumer.

A fake is right here: what is tested is the order of our corrections around
Faust's code, not Kafka. The integration tests run the real worker on the real
embedded broker.
"""

import asyncio
from collections import defaultdict

from faust.types import TP

from trtlens.streams.faust_glue import CommitGuard, SeekFirstRecovery


class FakeConsumer:
    """What ``Recovery.on_recovery_completed`` and the commit path touch, recording the order of calls."""

    def __init__(self, log: list, assignment: set) -> None:
        self.log = log
        self._assignment = assignment
        self.flow_active = True
        self._acked = defaultdict(list)
        self._acked_index = defaultdict(set)

    def assignment(self):
        return self._assignment

    def stop_flow(self):
        self.flow_active = False
        self.log.append("stop_flow")

    def resume_flow(self):
        self.flow_active = True
        self.log.append("resume_flow")

    def resume_partitions(self, tps):
        self.log.append(("resume_partitions", self.flow_active))

    async def perform_seek(self):
        # a record fetched now would race with the seek: the flow must be stopped
        self.log.append(("perform_seek", self.flow_active))


class FakeFlowControl:
    def __init__(self, log: list) -> None:
        self.log = log

    def suspend(self):
        self.log.append("flow_control.suspend")

    def clear(self):
        self.log.append("flow_control.clear")

    def resume(self):
        self.log.append("flow_control.resume")


class _Signal:
    async def send(self, *a, **kw):
        return None


class _Fetcher:
    async def maybe_start(self):
        return None


class _Assignor:
    def assigned_standbys(self):
        return set()


class FakeConf:
    stream_recovery_delay = 0.0
    broker_request_timeout = 5.0


class FakeApp:
    def __init__(self, log: list, assignment: set) -> None:
        self.conf = FakeConf()
        self.consumer = FakeConsumer(log, assignment)
        self.flow_control = FakeFlowControl(log)
        self.on_rebalance_complete = _Signal()
        self._fetcher = _Fetcher()
        self.assignor = _Assignor()
        self.consumer_generation_id = 3
        self.in_recovery = True
        self.log = log

    def on_rebalance_end(self):
        self.log.append("on_rebalance_end")


class FakeTables(dict):
    changelog_topics = {"app-state-changelog"}

    def on_actives_ready(self):
        pass

    def on_standbys_ready(self):
        pass


def test_recovery_stops_the_flow_before_resuming_and_seeking_the_stream_partitions():
    """Issue 9's cause: Faust resumed the stream partitions and seeked them while records flowed."""
    log: list = []
    app = FakeApp(log, {TP("events", 0), TP("app-state-changelog", 0)})

    async def run():
        recovery = SeekFirstRecovery(app, FakeTables())
        await recovery.on_recovery_completed(generation_id=3)

    asyncio.run(run())
    assert log.index("stop_flow") < log.index(("resume_partitions", False))
    assert ("perform_seek", False) in log and ("perform_seek", True) not in log
    assert log.index(("perform_seek", False)) < log.index("resume_flow")  # Faust resumes it after the seek
    assert "flow_control.clear" in log and log[-2:] == ["resume_flow", "on_rebalance_end"]


def test_commit_guard_commits_what_was_written_not_what_faust_acknowledged():
    log: list = []
    consumer = FakeConsumer(log, set())
    written = {("events", 0): 41, ("events", 1): None}
    guard = CommitGuard(lambda topic, partition: written[(topic, partition)])
    guard.install(consumer)
    guard.install(consumer)  # idempotent: one guard per consumer
    # Faust acknowledged 0..99 (including a "gap" it filled in itself); only 0..40 are written
    consumer._acked[TP("events", 0)].extend(range(100))
    consumer._acked_index[TP("events", 0)].update(range(100))
    assert consumer._new_offset(TP("events", 0)) == 41
    assert consumer._acked[TP("events", 0)] == [] and not consumer._acked_index[TP("events", 0)]
    assert consumer._new_offset(TP("events", 1)) is None  # nothing written yet: nothing committed


def test_a_seek_floor_lets_the_re_read_through_until_its_target_arrives():
    """Records fetched before a re-read seek moved the read offset past its target (drain loop's filter)."""
    from trtlens.streams.faust_glue import SeekFloors

    floors, tp, other = SeekFloors(), ("events", 2), ("events", 0)
    assert not floors and floors.read_offset(tp, 630, 505, 7) == 630  # no seek of ours: Faust's own rule
    floors.note(tp, 505, generation=7)
    assert floors
    assert floors.read_offset(tp, 640, 641, 7) == 505  # a stale record past the gap: still delivered
    assert floors.read_offset(other, 90, 91, 7) == 90  # another partition is not touched
    assert floors.read_offset(tp, 641, 505, 7) == 505  # the target itself passes (505 >= 505) and clears it
    assert not floors and floors.read_offset(tp, 505, 506, 7) == 505


def test_a_rebalance_clears_the_floors_and_a_lower_read_offset_is_kept():
    from trtlens.streams.faust_glue import SeekFloors

    floors, tp = SeekFloors(), ("events", 1)
    floors.note(tp, 300, generation=3)
    assert floors.read_offset(tp, None, 310, 3) is None  # no read offset yet: nothing filtered
    assert floors.read_offset(tp, 250, 310, 3) == 250  # already below the floor: unchanged
    assert floors.read_offset(tp, 900, 901, 4) == 900 and not floors  # a new generation: Faust seeked itself
