"""Where the app reaches into Faust 0.15 (the only module that does), and why.

Faust gives the app its consumer group, rebalance callbacks, changelog-backed
tables and their recovery. Three of its behaviours break "nothing lost"
unless corrected here; each correction is as small as the behaviour allows.

1. **Seek after the flow resumed** (the cause of issue 9). After a rebalance
   ``Recovery.on_recovery_completed`` resumes the stream partitions and only
   then seeks them back to their committed offsets, while the flow is already
   running (it was resumed for changelog reading, or straight away when no
   changelog had to be read). Records fetched at the old position are
   delivered *during* the seek; when the seek ends it resets Faust's read
   offsets to the committed ones behind them. The consumer's drain loop then
   sees the next record jump past its read offset, registers the jump as a
   "gap" (which Faust's commit counts as acknowledged) and drops the re-read
   records below its read offset as already seen. Records that had been
   fetched but not yet processed before the rebalance were never processed.
   :class:`SeekFirstRecovery` stops the flow before the seek; Faust resumes it
   after the seek as before.
2. **Commits from acknowledgements.** Faust commits the highest contiguous
   acknowledged offset, where "acknowledged" includes those gaps and records a
   stream skipped while its flow was suspended. :class:`CommitGuard` makes it
   commit exactly what the app has applied *and persisted* (state written after
   the outputs were flushed): ``persisted offset + 1`` per partition.
3. **Seeks from the main thread.** ``Consumer.seek`` calls aiokafka from the
   main thread while the consumer lives in its own thread; :func:`seek` uses
   ``seek_wait``, which runs in the consumer's thread.

The gap check in the agents (``streams/offsets.py``) is the defence in depth
behind all three: whatever Faust delivers, an offset never applied is noticed
at the next record and re-read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from faust.tables import TableManager
from faust.tables.recovery import Recovery

log = logging.getLogger("trtlens.streams")


class SeekFirstRecovery(Recovery):
    """Recovery that stops the flow before the stream partitions are resumed and seeked."""

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        app = self.app
        # the same three steps Faust takes when partitions are revoked: no record fetched at the old
        # position may reach an agent once the seek to the committed offsets has started
        app.consumer.stop_flow()
        app.flow_control.suspend()
        app.flow_control.clear()
        await super().on_recovery_completed(generation_id)  # seeks, then resumes the flow
        runtime = getattr(app, "trtlens_runtime", None)
        if runtime is not None and getattr(app, "consumer_generation_id", generation_id) == generation_id:
            runtime.recovery_completed()  # readiness: records flow again (a newer rebalance waits for its own)


class SeekFirstTableManager(TableManager):
    """Faust's table manager with :class:`SeekFirstRecovery` (``App(TableManager=...)``)."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekFirstRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


class CommitGuard:
    """Faust commits ``limit(tp)`` for each partition it would commit, never more.

    ``limit(topic, partition)`` returns the offset to commit (the next one to
    read, Kafka's convention) or ``None`` when nothing may be committed yet.
    Faust's own list of acknowledged offsets is emptied on each call, so it
    does not grow.
    """

    def __init__(self, limit: Callable[[str, int], int | None]) -> None:
        self.limit = limit

    def install(self, consumer: Any) -> None:
        if getattr(consumer, "_trtlens_commit_guard", None) is self:
            return

        def new_offset(tp: Any) -> int | None:
            consumer._acked[tp].clear()
            consumer._acked_index[tp].clear()
            return self.limit(tp.topic, tp.partition)

        consumer._new_offset = new_offset
        consumer._trtlens_commit_guard = self


async def seek(app: Any, topic: str, partition: int, offset: int) -> bool:
    """Seek one partition in the consumer's own thread (Faust's read offset follows).

    False when the partition is no longer assigned (a rebalance took it meanwhile:
    its next owner starts from the committed offset, which the commit guard kept
    at the first unapplied record).
    """
    from faust.types import TP

    tp = TP(topic, partition)
    if tp not in app.consumer.assignment():
        log.info("topic=%s partition=%d seek=skipped offset=%d reason='no longer assigned'", topic, partition, offset)
        return False
    try:
        await app.consumer.seek_wait({tp: offset})
    except Exception as exc:  # IllegalStateError: revoked between the check and the seek
        log.info("topic=%s partition=%d seek=skipped offset=%d error=%r", topic, partition, offset, exc)
        return False
    return True


def highwater(app: Any, topic: str, partition: int) -> int | None:
    """The fetch high-watermark of a partition (correct on the embedded broker, unlike end_offsets)."""
    from faust.types import TP

    try:
        hw = app.consumer.highwater(TP(topic, partition))
    except Exception:  # not fetched yet / not assigned
        return None
    return hw if isinstance(hw, int) and hw >= 0 else None
