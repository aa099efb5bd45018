"""Offset continuity per partition: every offset applied once, a jump re-read (pure; clock injected).

A stage applies each partition's records in offset order and remembers the
last offset it applied. The next record must be ``applied + 1``:

* lower: a redelivery of something already applied, skipped;
* higher: a **gap** — records the consumer never handed over. The stage stops
  that partition for the rest of the group and asks for a re-read from
  ``applied + 1``. Before seeking, the broker is asked directly (a consumer of
  its own, not the group's) for the first record at or after that offset:
  only when the broker itself holds nothing there (compaction, transaction
  markers, retention on a real cluster) is the gap *confirmed* and accepted;
  that is counted apart.

:class:`GapBook` is the bookkeeping: which re-reads are on their way (records
past the gap that arrive meanwhile, fetched before the seek, are held back
without asking again), when one is overdue (the seek raced with records
already fetched: seek again), and the counters.

Counters (``GapBook.counters``): ``gaps`` (jumps seen and resolved),
``rereads`` (seeks back), ``reread_retries`` (seeks repeated after
``retry_after_s``), ``held_records`` (records past a pending gap, left for the
re-read), ``confirmed_gaps`` / ``confirmed_gap_offsets`` (gaps the broker
confirmed, and how many offsets they spanned).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(slots=True)
class Reread:
    partition: int
    target: int  # first offset still to apply: where the re-read starts
    seen: int  # the offset that revealed the gap
    asked_at_s: float
    attempts: int = 1


class GapBook:
    """Pending re-reads of one topic's partitions."""

    def __init__(self, retry_after_s: float = 2.0) -> None:
        self.retry_after_s = retry_after_s
        self.pending: dict[int, Reread] = {}
        self.counters: Counter[str] = Counter()

    def needs_resolving(self, partition: int, target: int, held: int = 0) -> bool:
        """A gap at ``target`` was seen, ``held`` records past it left unapplied.

        True: resolve it now; False: a re-read of it is already on its way.
        """
        self.counters["held_records"] += held
        p = self.pending.get(partition)
        return p is None or p.target != target

    def asked(self, partition: int, target: int, seen: int, now_s: float) -> Reread:
        """A re-read from ``target`` was requested (after the broker was asked)."""
        self.counters["gaps"] += 1
        self.counters["rereads"] += 1
        r = self.pending[partition] = Reread(partition, target, seen, now_s)
        return r

    def confirmed(self, start: int, first_present: int) -> None:
        """The broker holds no records in ``[start, first_present)``."""
        self.counters["confirmed_gaps"] += 1
        self.counters["confirmed_gap_offsets"] += first_present - start

    def progressed(self, partition: int, applied_offset: int) -> Reread | None:
        """The partition applied up to ``applied_offset``; returns the re-read that this completed."""
        p = self.pending.get(partition)
        if p is not None and applied_offset >= p.target:
            return self.pending.pop(partition)
        return None

    def overdue(self, now_s: float) -> list[Reread]:
        """Re-reads that produced nothing for ``retry_after_s``: seek again (counted)."""
        out = []
        for r in self.pending.values():
            if now_s - r.asked_at_s >= self.retry_after_s:
                r.attempts += 1
                r.asked_at_s = now_s
                self.counters["reread_retries"] += 1
                out.append(r)
        return out

    def forget(self, partitions: set[int]) -> None:
        for p in partitions:
            self.pending.pop(p, None)
