"""Handing a consumer's fetched records on only where they continue each partition's offsets, and committing
what was applied (sink, notify).

:class:`~trtlens.sinks.core.Continuity` is the pure rule; :func:`contiguous`
applies it to an aiokafka consumer's ``getmany`` batches: it asks the broker once
per partition where this owner's records begin (:func:`start_offset`), seeks
back when a jump shows up, and logs each re-read. :func:`commit_applied` commits
what the offset tracker says was applied, for the partitions still assigned.
"""

from __future__ import annotations

import logging
from typing import Any

from trtlens.sinks.core import Continuity, commits_due

log = logging.getLogger(__name__)


async def contiguous(consumer: Any, continuity: Continuity, auto_offset_reset: str,
                     batch: dict[Any, list[Any]]) -> dict[Any, list[Any]]:
    """Only records that continue each partition's offsets go on; a jump is read again first."""
    out = {}
    for tp, records in batch.items():
        if not records:
            continue
        if not continuity.knows(tp):
            continuity.start(tp, await start_offset(consumer, tp, records[0].offset, auto_offset_reset))
        start, stop, seek_to = continuity.check(tp, [r.offset for r in records])
        if stop > start:
            out[tp] = records[start:stop]
        if seek_to is not None:
            log.warning("topic=%s partition=%d gap=reread next_offset=%d received_offset=%d msg='re-reading "
                        "from offset %d; a gap that repeats is accepted'", tp.topic, tp.partition, seek_to,
                        records[stop].offset, seek_to)
            consumer.seek(tp, seek_to)
    return out


async def start_offset(consumer: Any, tp: Any, first_fetched: int, auto_offset_reset: str) -> int:
    """Where this owner's records of ``tp`` begin: its committed offset, else the log start (reset earliest)."""
    try:
        committed = await consumer.committed(tp)
        if committed is not None:
            return committed
        if auto_offset_reset == "earliest":
            return (await consumer.beginning_offsets([tp]))[tp]
    except Exception as exc:  # the check sharpens, never blocks: start from what was fetched
        log.warning("topic=%s partition=%d start_offset=unknown error=%r", tp.topic, tp.partition, exc)
    return first_fetched


async def commit_applied(consumer: Any, tracker: Any, committed: dict[Any, int], counters: dict[str, int],
                         only: set[Any] | None, *, replay: str) -> dict[Any, int] | None:
    """Commit each assigned partition's applied offset (``tracker.committable()``) that moved since the last
    commit; ``committed`` and ``counters`` are updated. ``replay`` says in the failure's log line why a
    re-read after a failed commit is harmless. Returns what was committed (None: nothing, or it failed)."""
    from aiokafka.errors import KafkaError

    assigned = consumer.assignment()
    if only is not None:
        assigned = {tp for tp in assigned if tp in only}
    due = commits_due(tracker.committable(), committed, assigned)
    if not due:
        return None
    try:
        await consumer.commit(due)
    except KafkaError as exc:  # a rebalance took the partitions: their new owner re-reads them
        counters["commit_failures"] += 1
        log.warning("commit=failed partitions=%d error=%r replay=%s", len(due), exc, replay)
        return None
    committed.update(due)
    counters["commits"] += 1
    return due
