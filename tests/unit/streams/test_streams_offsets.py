"""Offset continuity (issue 9): the gap book and the re-read resolver, with a fake broker and consumer."""

import asyncio

import pytest

from trtlens.streams.offsets import GapBook
from trtlens.streams.offsets import Rereads


class FakeProbe:
    """Answers ``first_offset`` from a fixed list of offsets the 'broker' holds."""

    def __init__(self, offsets: list[int] | None) -> None:
        self.offsets = offsets
        self.asked: list[tuple[str, int, int]] = []

    async def first_offset(self, topic, partition, offset):
        self.asked.append((topic, partition, offset))
        if self.offsets is None:
            return None  # the broker did not answer
        return next((o for o in self.offsets if o >= offset), max(self.offsets, default=-1) + 1)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def rereads(offsets, *, retry_after_s=2.0):
    seeks: list[tuple[str, int, int]] = []

    async def seek(topic, partition, offset):
        seeks.append((topic, partition, offset))

    clock = Clock()
    r = Rereads("events", FakeProbe(offsets), seek, retry_after_s=retry_after_s, clock=clock)
    return r, seeks, clock


def test_book_holds_records_of_a_pending_gap_and_releases_it_when_the_reread_arrives():
    book = GapBook(retry_after_s=2.0)
    assert book.needs_resolving(0, target=5)
    book.asked(0, 5, seen=9, now_s=0.0)
    assert not book.needs_resolving(0, target=5, held=3)  # records fetched before the seek
    assert book.needs_resolving(0, target=7)  # a different gap is resolved on its own
    assert book.progressed(0, applied_offset=4) is None
    assert book.progressed(0, applied_offset=5).target == 5 and not book.pending
    assert book.counters == {"gaps": 1, "rereads": 1, "held_records": 3}


@pytest.mark.parametrize(("elapsed", "due"), [(1.9, False), (2.0, True)])
def test_book_retries_a_reread_that_brought_nothing(elapsed, due):
    book = GapBook(retry_after_s=2.0)
    book.asked(1, 5, seen=9, now_s=10.0)
    overdue = book.overdue(10.0 + elapsed)
    assert bool(overdue) is due
    if due:
        assert overdue[0].attempts == 2 and book.counters["reread_retries"] == 1
        assert book.overdue(10.0 + elapsed + 1.0) == []  # counted from the new seek


def test_records_on_the_broker_mean_reread_from_the_next_offset():
    r, seeks, _ = rereads(list(range(20)))
    accepted = []
    asyncio.run(r.resolve(2, target=7, seen=9, accept_gap=accepted.append, held=4))
    assert seeks == [("events", 2, 7)] and accepted == []
    assert r.book.counters["rereads"] == 1 and r.book.counters["held_records"] == 4


def test_a_gap_the_broker_confirms_is_accepted_and_counted_apart():
    r, seeks, _ = rereads([0, 1, 2, 6, 7, 8])  # 3..5: compacted away / transaction markers
    accepted = []
    asyncio.run(r.resolve(0, target=3, seen=7, accept_gap=accepted.append))
    assert accepted == [6] and seeks == [("events", 0, 6)]  # 7 was held back: re-read from 6
    assert r.book.counters["confirmed_gaps"] == 1 and r.book.counters["confirmed_gap_offsets"] == 3


def test_a_silent_broker_means_reread_not_accept():
    r, seeks, _ = rereads(None)
    accepted = []
    asyncio.run(r.resolve(0, target=3, seen=7, accept_gap=accepted.append))
    assert accepted == [] and seeks == [("events", 0, 3)]


def test_one_probe_per_gap_then_retries_on_the_clock():
    r, seeks, clock = rereads(list(range(20)))
    asyncio.run(r.resolve(0, target=3, seen=7, accept_gap=lambda _: None))
    asyncio.run(r.resolve(0, target=3, seen=8, accept_gap=lambda _: None))  # stale records still arriving
    assert len(r.probe.asked) == 1 and len(seeks) == 1
    clock.t += 2.5
    asyncio.run(r.retry_overdue())
    assert seeks == [("events", 0, 3), ("events", 0, 3)] and r.book.counters["reread_retries"] == 1
    r.progressed(0, 3)
    clock.t += 5
    asyncio.run(r.retry_overdue())
    assert len(seeks) == 2
