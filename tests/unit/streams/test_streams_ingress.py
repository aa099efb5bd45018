"""The batched ingress under Faust (issue 13): one fetch, queue, flow control, generations, what a rebalance waits for.

Faust's fetch loop itself (``BatchIngress._drain_messages``) runs in the real
worker only; the integration tests (takeovers with SIGKILL, one event per
record and batched) run it on the real broker. Here one fetch
(``BatchIngress._fetch``) and the hand-over after it run against a small fake
consumer and Faust's own flow-control event.
"""

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from mode.utils.queues import FlowControlEvent

from trtlens.streams.faust_glue import BatchIngress, SeekFloors, _Batch


@dataclass(eq=False)
class Msg:
    partition: int
    offset: int
    generation_id: int = 1
    serialized_value_size: int = 100
    acked: bool = False


class FakeConsumer:
    def __init__(self) -> None:
        self._unacked_messages: set = set()
        self.suspend_flow = asyncio.Event()
        self.acked: list = []

    def ack(self, message) -> bool:
        message.acked = True
        self.acked.append((message.partition, message.offset))
        return True


class FakeApp:
    def __init__(self) -> None:
        self.flow_control = FlowControlEvent(initially_suspended=False)
        self.consumer_generation_id = 1
        self.consumer = FakeConsumer()


def ingress(max_records=100, max_bytes=10**9):
    app = FakeApp()
    ing = BatchIngress("events", max_records=max_records, max_bytes=max_bytes, max_pending=4)
    ing.attach(app, app.consumer)
    return ing, app


def batch(partition, offsets, generation=1):
    msgs = [Msg(partition, o, generation) for o in offsets]
    return _Batch(generation, msgs).close(msgs[-1], sum(m.serialized_value_size for m in msgs))


def test_queued_batches_reach_the_agent_as_one_group_and_a_rebalance_waits_for_it():
    async def go():
        ing, app = ingress()
        c = app.consumer
        await ing._put(c, batch(0, range(0, 3)))
        await ing._put(c, batch(1, range(0, 2)))
        assert len(c._unacked_messages) == 2  # one record of each batch: Consumer.wait_empty waits for them
        it = ing.batches()
        group = await it.__anext__()
        assert [(m.partition, m.offset) for m in group] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
        assert len(c._unacked_messages) == 2 and c.acked == []  # in flight: still unacked
        await ing._put(c, batch(0, [3]))
        group = await it.__anext__()  # the previous group is done once the agent asks for the next
        assert c.acked == [(0, 2), (1, 1)] and [m.offset for m in group] == [3]
        await it.aclose()
        assert not c._unacked_messages

    asyncio.run(go())


def test_groups_stop_at_max_records_and_max_bytes():
    async def go():
        ing, app = ingress(max_records=4, max_bytes=250)
        for p in range(3):
            await ing._put(app.consumer, batch(p, range(0, 2)))
        it = ing.batches()
        sizes = [len(await it.__anext__()), len(await it.__anext__())]
        assert sizes == [4, 2]  # 2 + 2 reach 4 records (and 400 bytes ≥ 250): the third waits
        await it.aclose()

    asyncio.run(go())


def test_batches_of_an_older_generation_or_taken_while_the_flow_is_suspended_are_dropped():
    async def go():
        ing, app = ingress()
        c = app.consumer
        await ing._put(c, batch(0, range(0, 3), generation=1))
        app.consumer_generation_id = 2  # a rebalance happened: Faust's streams skip these too
        await ing._put(c, batch(0, range(0, 2), generation=2))
        it = ing.batches()
        group = await it.__anext__()
        assert [(m.offset, m.generation_id) for m in group] == [(0, 2), (1, 2)]  # (Msg keeps the generation too)
        assert (0, 2) in c.acked  # the dropped batch no longer holds up a rebalance
        await it.aclose()
        assert ing.batches_dropped == 1

    asyncio.run(go())


def test_faust_clearing_its_queues_clears_ours_and_releases_what_it_held():
    async def go():
        ing, app = ingress()
        c = app.consumer
        await ing._put(c, batch(0, range(0, 3)))
        await ing._put(c, batch(1, range(0, 3)))
        app.flow_control.suspend()
        app.flow_control.clear()  # what Faust does when partitions are revoked
        assert ing._queue.empty() and not c._unacked_messages and ing.batches_dropped == 2
        await ing._put(c, batch(0, [3]))  # fetched while the flow is suspended: never queued
        assert ing._queue.empty() and not c._unacked_messages

    asyncio.run(go())


def test_a_full_queue_makes_the_fetch_loop_wait_unless_a_rebalance_begins():
    async def go():
        ing, app = ingress()
        c = app.consumer
        for i in range(4):
            await ing._put(c, batch(0, [i]))
        waiting = asyncio.ensure_future(ing._put(c, batch(0, [4])))
        await asyncio.sleep(0.01)
        assert not waiting.done()  # back-pressure: the fetch loop waits for room
        c.suspend_flow.set()  # a rebalance begins: the waiting batch is given up (the seek re-reads it)
        await asyncio.wait_for(waiting, 1)
        assert ing._queue.qsize() == 4 and ing.batches_dropped == 1
        assert all(m.offset != 4 for m in c._unacked_messages)

    asyncio.run(go())


# -- one fetch -----------------------------------------------------------------------------------


class TP(NamedTuple):
    topic: str
    partition: int


@dataclass(eq=False)
class Record:  # the fields of aiokafka's ConsumerRecord that the fetch reads
    topic: str
    partition: int
    offset: int
    serialized_value_size: int = 100


@dataclass(eq=False)
class FaustMessage:
    tp: TP
    topic: str
    partition: int
    offset: int
    acked: bool = False


class Monitor:
    def __init__(self) -> None:
        self.end_offsets: list = []

    def track_tp_end_offset(self, tp, offset) -> None:
        self.end_offsets.append((tp.partition, offset))


class Topics:
    def acks_enabled_for(self, topic) -> bool:
        return True


class FetchConsumer(FakeConsumer):
    """What ``BatchIngress._fetch`` reads of Faust's consumer, with one queued fetch at a time."""

    def __init__(self, app) -> None:
        super().__init__()
        self.app = app
        self.fetches: list = []
        self.should_stop = False
        self.flow_active = True
        self.seeks = 0
        self._buffered_partitions: set = set()
        self._read_offset: dict = defaultdict(lambda: None)
        self._commit_every = None
        self._n_acked = 0
        self.delivered: list = []  # records of other topics, through Faust's per-record path
        self.converted = 0

    async def _wait_next_records(self, timeout):
        return self.fetches.pop(0)

    async def perform_seek(self) -> None:
        self.seeks += 1

    def highwater(self, tp) -> int:
        return 1000 + tp.partition

    def _to_message(self, tp, record):
        self.converted += 1
        return FaustMessage(tp, record.topic, record.partition, record.offset)

    async def _add_gap(self, tp, start, end) -> None:
        pass

    async def callback(self, message) -> None:
        self.delivered.append((message.topic, message.offset))

    async def wait_first(self, *coros):
        first, *rest = coros
        for c in rest:
            c.close()
        await first


def fetcher(max_records=100):
    app = FakeApp()
    app.monitor = Monitor()
    app.topics = Topics()
    c = app.consumer = FetchConsumer(app)
    ing = BatchIngress("events", max_records=max_records, max_bytes=10**9, max_pending=8)
    ing.attach(app, c)
    return ing, app, c


def records(topic, partition, offsets):
    return [Record(topic, partition, o) for o in offsets]


def queued(ing):
    out = []
    while not ing._queue.empty():
        b = ing._queue.get_nowait()
        out.append((b.generation, (b.held.partition, b.held.offset), [(r.partition, r.offset) for r in b]))
    return out


def test_a_fetch_becomes_batches_of_the_raw_records_with_one_faust_message_each():
    async def go():
        ing, app, c = fetcher(max_records=3)
        e0, e1, other = TP("events", 0), TP("events", 1), TP("partials", 0)
        c.fetches.append(({e0: records("events", 0, range(5)), other: records("partials", 0, [7]),
                           e1: records("events", 1, [0, 1])}, {e0, e1, other}))
        await ing._fetch(c)
        assert queued(ing) == [
            (1, (0, 2), [(0, 0), (0, 1), (0, 2)]),  # held: the Faust message of the batch's last record
            (1, (1, 0), [(0, 3), (0, 4), (1, 0)]),  # a batch may span partitions; order within each is kept
            (1, (1, 1), [(1, 1)]),
        ]
        assert c.converted == 4  # one Faust message per batch (3) and one for the other topic's record
        assert c.delivered == [("partials", 7)]
        assert c._read_offset[e0] == 4 and c._read_offset[e1] == 1 and c._read_offset[other] == 7
        assert sorted(app.monitor.end_offsets) == [(0, 1000), (0, 1000), (1, 1001)]  # once per partition and fetch
        assert len(c._unacked_messages) == 3

    asyncio.run(go())


def test_records_below_the_read_offset_are_skipped_unless_a_seek_floor_holds_them():
    async def go():
        ing, app, c = fetcher()
        e0, e1 = TP("events", 0), TP("events", 1)
        c._read_offset[e0] = 5  # already read up to 5
        c._read_offset[e1] = 5
        ing.floors.note(e1, 3, 1)  # our own re-read seek on partition 1 went back to 3
        c.fetches.append(({e0: records("events", 0, range(3, 8)), e1: records("events", 1, range(3, 8))}, {e0, e1}))
        await ing._fetch(c)
        [(_, _, got)] = queued(ing)
        assert got == [(0, 5), (0, 6), (0, 7), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7)]
        assert not ing.floors  # the floor's own record cleared it

    asyncio.run(go())


def test_inactive_partitions_are_skipped_and_a_fetch_without_flow_seeks_back():
    async def go():
        ing, app, c = fetcher()
        e0, e1 = TP("events", 0), TP("events", 1)
        c._buffered_partitions = {e1}
        c.fetches.append(({e0: records("events", 0, [0]), e1: records("events", 1, [0]),
                           TP("events", 2): records("events", 2, [0])}, {e0}))
        await ing._fetch(c)
        [(_, _, got)] = queued(ing)
        assert got == [(0, 0), (1, 0)]  # active or buffered partitions only
        c.flow_active = False
        c.fetches.append(({e0: records("events", 0, [1])}, {e0}))
        await ing._fetch(c)
        assert c.seeks == 1 and ing._queue.empty()  # Faust's getmany: no flow, seek to the committed offsets

    asyncio.run(go())


def test_a_rebalance_while_the_fetch_loop_yields_stops_the_fetch(monkeypatch):
    real_sleep = asyncio.sleep

    async def go():
        ing, app, c = fetcher(max_records=2)
        e0 = TP("events", 0)

        async def rebalance_at_first_yield(delay, *a):
            app.consumer_generation_id = 2  # the group rebalanced while the fetch loop yielded
            await real_sleep(delay, *a)

        c.fetches.append(({e0: records("events", 0, range(6))}, {e0}))
        monkeypatch.setattr(asyncio, "sleep", rebalance_at_first_yield)
        await ing._fetch(c)
        monkeypatch.undo()
        assert [g for g, _, _ in queued(ing)] == [1]  # the rest of the fetch was not taken (the seek re-reads it)
        assert c._read_offset[e0] == 1

    asyncio.run(go())
