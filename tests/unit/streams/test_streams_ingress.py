"""The batched ingress under Faust (issue 13): queue, flow control, generations, what a rebalance waits for.

Faust's fetch loop itself (``BatchIngress._drain_messages``) runs in the real
worker only; the integration tests (takeovers with SIGKILL, one event per
record and batched) run it on the real broker. Here the hand-over around it
runs against a small fake consumer and Faust's own flow-control event.
"""

import asyncio
from dataclasses import dataclass

from mode.utils.queues import FlowControlEvent

from trtlens.streams.faust_glue import BatchIngress


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
    return [Msg(partition, o, generation) for o in offsets]


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
        assert [(m.offset, m.generation_id) for m in group] == [(0, 2), (1, 2)]
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
