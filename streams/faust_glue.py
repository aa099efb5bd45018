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

And one place where it is bypassed for speed:

4. **Records of the events topic in batches** (issue 13). Faust hands every
   record to its agents on its own: per record its fetch loop starts four
   futures (``Service.wait_first``), the conductor builds an ``Event`` and queues
   it, the stream yields to the event loop and acks it — ~200 µs a record here,
   which capped single-event records at ~4k events/s. :class:`BatchIngress`
   replaces the fetch loop (``Consumer._drain_messages``, through
   :class:`App`) with the same loop that passes each fetched batch of the
   events topic's records to the pipeline agent as one list; every other topic
   (partials, changelogs) still goes record by record through Faust. The
   events topic's records are aiokafka's own, taken from the fetch
   (``Consumer._wait_next_records``, what Faust's ``getmany`` waits on) one
   partition's run at a time: no Faust message is built for each (~9 µs a
   record less at one event per record). What Faust did per record is kept per
   batch: its read offsets, flow control (a batch taken while the flow is
   suspended, or from an older generation, is dropped like Faust's streams drop
   such records, and the queue is cleared whenever Faust clears its own), and
   one Faust message per run (of its last record) stays "unacked" until the
   group is written, so a rebalance waits for a group in flight
   (``Consumer.wait_empty``) before the partitions move. Commits never
   depended on Faust's acks (the commit guard) and the gap check stays behind
   all of it.

The gap check in the agents (``streams/offsets.py``) is the defence in depth
behind all three: whatever Faust delivers, an offset never applied is noticed
at the next record and re-read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import faust
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


def runs(records: list[Any], max_records: int, max_bytes: int) -> Iterator[tuple[list[Any], int]]:
    """``records`` cut into runs of at most ``max_records``, each closed once it holds ``max_bytes`` of values."""
    start = size = 0
    for i, r in enumerate(records):
        size += r.serialized_value_size
        if i + 1 - start >= max_records or size >= max_bytes:
            yield records[start:i + 1], size
            start, size = i + 1, 0
    if start < len(records):
        yield (records[start:] if start else records), size


@dataclass(slots=True, eq=False)
class Fetched:
    """One partition's run of fetched events-topic records, as aiokafka returned them.

    ``records`` are aiokafka's ``ConsumerRecord`` (``partition``, ``offset``,
    ``key``, ``value``, ``serialized_value_size``): no Faust message is built per
    record. ``marker`` is the one Faust message of the run (of its last record):
    it stays in the consumer's unacked set while the run is queued or being
    processed, which is what a rebalance waits for (``Consumer.wait_empty``).
    """

    records: list[Any]
    marker: Any
    generation_id: int
    nbytes: int


class _BatchQueue(asyncio.Queue):
    """Runs waiting for the pipeline agent; Faust's flow control clears it like its own queues."""

    def __init__(self, maxsize: int, on_drop: Callable[[Fetched], None]) -> None:
        super().__init__(maxsize)
        self._on_drop = on_drop

    def clear(self) -> None:
        while not self.empty():
            self._on_drop(self.get_nowait())


class BatchIngress:
    """The events topic's records from Faust's fetch loop, in runs per partition (point 4 above).

    ``batches()`` yields lists of aiokafka records (``partition``, ``offset``,
    ``key``, ``value``) of one consumer generation, in fetch order per
    partition, at most ``max_records`` records or about ``max_bytes`` bytes of
    values each; ``max_pending`` runs wait at most
    (the fetch loop waits when they are full: back-pressure without pausing
    partitions).
    """

    def __init__(self, topic: str, *, max_records: int, max_bytes: int, max_pending: int = 4) -> None:
        self.topic = topic
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.max_pending = max_pending
        self.app: Any = None
        self._queue: _BatchQueue | None = None
        self.batches_in = 0
        self.batches_dropped = 0

    # -- fetch side (Faust's consumer) ----------------------------------------
    def attach(self, app: Any, consumer: Any) -> None:
        self.app = app
        self._queue = _BatchQueue(self.max_pending, self._drop)
        app.flow_control.manage_queue(self._queue)  # cleared on suspend-and-clear and on resume

        async def drain_messages(fetcher: Any) -> None:
            await self._drain_messages(consumer, fetcher)

        consumer._drain_messages = drain_messages

    async def _drain_messages(self, consumer: Any, fetcher: Any) -> None:  # pragma: no cover - the real worker runs it
        """``faust.transport.consumer.Consumer._drain_messages`` + ``getmany``, the events topic taken in runs.

        What Faust's ``getmany`` does around each fetch is kept: it waits for the
        flow (``_wait_next_records``), stops at a generation change or when the
        flow stops, skips partitions that are neither active nor buffered,
        reports each partition's high watermark to the monitor, and seeks back
        to the committed offsets when it finds the flow stopped. Only the
        per-record message objects and the round-robin over partitions are left
        out for the events topic (the pipeline needs each partition's order,
        not an interleaving).
        """
        from faust.transport.consumer import CONSUMER_FETCHING

        consumer_should_stop = consumer._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                consumer.diag.set_flag(CONSUMER_FETCHING)
                records, active = await consumer._wait_next_records(1.0)
                await consumer.sleep(0)
                if records is not None and not consumer.should_stop:
                    if consumer.flow_active:
                        await self._take(consumer, records, active)
                    else:  # Faust's getmany: "called while flow not active. Seek back to committed offsets."
                        try:
                            await consumer.perform_seek()
                        except Exception as ex:  # Faust's own handling
                            log.warning("exception performing seek when flow not active %s", ex)
                consumer.diag.unset_flag(CONSUMER_FETCHING)
        except consumer.consumer_stopped_errors:
            if consumer.transport.app.should_stop:
                log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if consumer.transport.app.should_stop:
                return
            raise
        finally:
            consumer.diag.unset_flag(CONSUMER_FETCHING)

    async def _take(self, consumer: Any, records: dict[Any, list[Any]], active: set[Any] | None) -> None:  # pragma: no cover
        app = consumer.app
        generation = app.consumer_generation_id
        buffered = consumer._buffered_partitions
        read_offset = consumer._read_offset
        topic, max_records, max_bytes = self.topic, self.max_records, self.max_bytes
        for tp, recs in records.items():
            if not consumer.flow_active or app.consumer_generation_id != generation:
                break  # what Faust's getmany does: the rest is fetched again after the rebalance
            if active is not None and tp not in active and tp not in buffered:
                continue
            app.monitor.track_tp_end_offset(tp, consumer.highwater(tp))
            r_offset = read_offset[tp]
            if r_offset is not None:  # Faust's rule: below the read offset = already read
                recs = [r for r in recs if r.offset >= r_offset]
                if not recs:
                    continue
            if tp.topic == topic:
                read_offset[tp] = recs[-1].offset
                for i, (run, nbytes) in enumerate(runs(recs, max_records, max_bytes)):
                    if i:
                        await asyncio.sleep(0)  # a long fetch: let the agent and timers run between runs
                    await self._put(consumer, tp, run, nbytes, generation)
                continue
            await self._each(consumer, tp, recs)

    async def _each(self, consumer: Any, tp: Any, recs: list[Any]) -> None:  # pragma: no cover
        """Any other topic: exactly Faust's per-record path (gaps, commit cadence, the conductor's callback)."""
        callback = consumer.callback
        commit_every = consumer._commit_every
        acks_enabled = consumer.app.topics.acks_enabled_for(tp.topic)
        read_offset = consumer._read_offset
        for record in recs:
            if not consumer.flow_active:
                return
            message = consumer._to_message(tp, record)
            offset = message.offset
            r_offset = read_offset[tp]
            gap = offset - (r_offset or 0)
            if gap > 1 and r_offset and acks_enabled:
                await consumer._add_gap(tp, r_offset + 1, offset)
            if commit_every is not None and consumer._n_acked >= commit_every:
                consumer._n_acked = 0
                await consumer.commit()
            await consumer.wait_first(callback(message), consumer.suspend_flow.wait())
            read_offset[tp] = offset

    async def _put(self, consumer: Any, tp: Any, records: list[Any], nbytes: int, generation: int) -> None:
        if consumer.suspend_flow.is_set() or not self.app.flow_control.is_active():
            self.batches_dropped += 1  # a rebalance began: the seek after it fetches these again
            return
        run = Fetched(records, consumer._to_message(tp, records[-1]), generation, nbytes)
        consumer._unacked_messages.add(run.marker)  # a rebalance waits for it (Consumer.wait_empty)
        queue = self._queue
        if not queue.full():
            queue.put_nowait(run)
        else:  # the agent is behind: wait for room, unless a rebalance begins meanwhile
            put = asyncio.ensure_future(queue.put(run))
            stop = asyncio.ensure_future(consumer.suspend_flow.wait())
            try:
                await asyncio.wait((put, stop), return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
            if not put.done():
                put.cancel()
                self._drop(run)
                return
        self.batches_in += 1

    # -- agent side -------------------------------------------------------------
    async def batches(self) -> AsyncIterator[list[Any]]:
        """Lists of records for the agent: what is queued, up to ``max_records`` (one group each)."""
        app = self.app
        queue = self._queue
        while True:
            taken = [await queue.get()]
            n, size = len(taken[0].records), taken[0].nbytes
            while n < self.max_records and size < self.max_bytes and not queue.empty():
                taken.append(queue.get_nowait())
                n, size = n + len(taken[-1].records), size + taken[-1].nbytes
            generation = app.consumer_generation_id
            fresh = []
            for run in taken:
                if app.flow_control.is_active() and run.generation_id == generation:
                    fresh.append(run)
                else:
                    self._drop(run)  # what Faust's streams skip too; the seek after the rebalance re-reads
            if not fresh:
                continue
            try:
                yield fresh[0].records if len(fresh) == 1 else [r for run in fresh for r in run.records]
            finally:
                for run in fresh:
                    self._release(run)

    def _drop(self, run: Fetched) -> None:
        self.batches_dropped += 1
        self._release(run)

    def _release(self, run: Fetched) -> None:
        consumer = self.app.consumer
        consumer.ack(run.marker)  # the acked offset itself means nothing to the commit guard; this wakes wait_empty
        consumer._unacked_messages.discard(run.marker)


class App(faust.App):
    """``faust.App`` with the events topic in batches (``trtlens_ingress``) and a fetch wait of our choosing.

    Faust builds its aiokafka consumer with ``fetch_max_wait_ms=1500`` and no
    setting to change it; the broker may hold a fetch that long before it
    answers, which was most of the event → trace latency at moderate rates.
    ``trtlens_fetch_max_wait_ms`` (``streams.fetch_max_wait_ms``) replaces it.
    """

    trtlens_ingress: BatchIngress | None = None
    trtlens_fetch_max_wait_ms: int | None = None

    def _new_consumer(self) -> Any:
        consumer = super()._new_consumer()
        if self.trtlens_ingress is not None:
            self.trtlens_ingress.attach(self, consumer)
        thread = getattr(consumer, "_thread", None)
        wait_ms = self.trtlens_fetch_max_wait_ms
        if thread is not None and wait_ms is not None:
            create = thread._create_worker_consumer

            def create_worker_consumer(transport: Any) -> Any:
                aiokafka_consumer = create(transport)
                aiokafka_consumer._fetch_max_wait_ms = wait_ms  # read when its fetcher starts
                return aiokafka_consumer

            thread._create_worker_consumer = create_worker_consumer
        return consumer
