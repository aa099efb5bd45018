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
   ``seek_wait``, which runs in the consumer's thread. Records fetched before
   such a seek, still in the drain loop, moved Faust's read offset past the
   seek's target again, so the re-fetched records were dropped as already
   read: :class:`SeekFloors` keeps them deliverable until the target arrives.

And one place where it is bypassed for speed:

4. **Records of the events topic in batches** (issue 13). Faust hands every
   record to its agents on its own: per record its fetch loop starts four
   futures (``Service.wait_first``), the conductor builds an ``Event`` and queues
   it, the stream yields to the event loop and acks it — ~200 µs a record here,
   which capped single-event records at ~4k events/s. :class:`BatchIngress`
   replaces the fetch loop (``Consumer._drain_messages``, through
   :class:`App`) with the same loop that passes each fetched batch of the
   events topic's records to the pipeline agent as one list; every other topic
   (partials, changelogs) still goes record by record through Faust. The events
   topic's records stay aiokafka's own: the fetch (``BatchIngress._fetch``,
   Faust's ``getmany`` inlined) builds no Faust message per record, only one
   per batch, of its last record, for the acks. What Faust did per record is
   kept per batch (or per partition of a fetch): its read offsets, flow control (a batch
   taken while the flow is suspended, or from an older generation, is dropped
   like Faust's streams drop such records, and the queue is cleared whenever
   Faust clears its own), and one record of each batch stays "unacked" until
   the group is written, so a rebalance waits for a group in flight
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
from collections.abc import AsyncIterator, Callable
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
    ingress = getattr(app, "trtlens_ingress", None)
    if ingress is not None:  # before the seek: the re-fetched records must pass the drain loop's filter
        ingress.floors.note(tp, offset, app.consumer_generation_id)
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


class SeekFloors:
    """The offsets our own seeks (gap re-reads) went back to, per partition, until each arrives.

    Faust's drain loop drops a record below its read offset as already read.
    Records fetched before a re-read seek (past the gap) can still be in the
    loop when the seek is done, and each one moves the read offset past the
    seek's target again: the re-fetched records were then dropped as already
    read and the re-read never arrived (seen under load in the takeover chaos
    run: a partition held at one gap for 90 s, seek after seek, until a
    rebalance reset the offsets). While a floor is set, the filter reads from
    the floor; the target's own record clears it. A rebalance (new consumer
    generation) clears every floor: Faust then seeks to the committed offsets.
    """

    def __init__(self) -> None:
        self._floors: dict[Any, tuple[int, int]] = {}

    def __bool__(self) -> bool:
        return bool(self._floors)

    def note(self, tp: Any, offset: int, generation: int) -> None:
        self._floors[tp] = (offset, generation)

    def read_offset(self, tp: Any, r_offset: int | None, offset: int, generation: int) -> int | None:
        """The read offset Faust's filter should use for the record at ``offset`` of ``tp``."""
        hit = self._floors.get(tp)
        if hit is None:
            return r_offset
        floor, noted_in = hit
        if noted_in != generation:
            del self._floors[tp]
            return r_offset
        if offset == floor:
            del self._floors[tp]  # the re-read has begun: from here the read offset follows it
        return r_offset if r_offset is None or r_offset <= floor else floor


class _Batch(list):
    """Records of the events topic from one fetch of one consumer generation (aiokafka's records).

    ``held`` is the Faust message of its last record: it stays in the consumer's
    unacked set while the batch waits or is processed, so a rebalance waits for
    it (``Consumer.wait_empty``), and is acked when the batch is done.
    """

    __slots__ = ("generation", "held", "size")

    def __init__(self, generation: int, records: Any = ()) -> None:
        super().__init__(records)
        self.generation = generation
        self.held: Any = None
        self.size = 0

    def close(self, held: Any, size: int) -> "_Batch":
        self.held = held
        self.size = size
        return self


class _BatchQueue(asyncio.Queue):
    """Batches waiting for the pipeline agent; Faust's flow control clears it like its own queues."""

    def __init__(self, maxsize: int, on_drop: Callable[[_Batch], None]) -> None:
        super().__init__(maxsize)
        self._on_drop = on_drop

    def clear(self) -> None:
        while not self.empty():
            self._on_drop(self.get_nowait())


class BatchIngress:
    """The events topic's records from Faust's fetch loop, one list per fetched batch (point 4 above).

    ``batches()`` yields lists of aiokafka's records (``partition``, ``offset``,
    ``key``, ``value``) of one consumer generation, in fetch order per
    partition, at most ``max_records`` records or about ``max_bytes`` bytes of
    values each; ``max_pending`` lists wait at most
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
        self.floors = SeekFloors()

    # -- fetch side (Faust's consumer) ----------------------------------------
    def attach(self, app: Any, consumer: Any) -> None:
        self.app = app
        self._queue = _BatchQueue(self.max_pending, self._drop)
        app.flow_control.manage_queue(self._queue)  # cleared on suspend-and-clear and on resume

        async def drain_messages(fetcher: Any) -> None:
            await self._drain_messages(consumer, fetcher)

        consumer._drain_messages = drain_messages

    async def _drain_messages(self, consumer: Any, fetcher: Any) -> None:  # pragma: no cover - the real worker runs it
        """``faust.transport.consumer.Consumer._drain_messages`` with the events topic taken in batches."""
        from faust.transport.consumer import CONSUMER_FETCHING

        consumer_should_stop = consumer._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                consumer.diag.set_flag(CONSUMER_FETCHING)
                await consumer.sleep(0)
                if not consumer.should_stop:
                    await self._fetch(consumer)
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

    async def _fetch(self, consumer: Any) -> None:
        """One fetch: ``Consumer.getmany`` (Faust 0.15) without a Faust message per record of the events topic.

        What Faust's ``getmany`` checks per record is checked per partition of
        the fetch and again after every wait (the flow, the consumer
        generation, the active partitions); the partition's end offset goes to
        the monitor once per fetch, not per record. The events topic's records
        stay aiokafka's own (``partition``, ``offset``, ``key``, ``value``), in
        fetch order per partition; each batch holds one Faust message, of its
        last record, for acks and ``Consumer.wait_empty``. Other topics go
        record by record through Faust's path as before.
        """
        records, active_partitions = await consumer._wait_next_records(1.0)
        app = self.app
        generation = app.consumer_generation_id
        if records is None or consumer.should_stop:
            return
        if not consumer.flow_active:  # Faust: seek back to the committed offsets
            try:
                await consumer.perform_seek()
            except Exception as ex:
                log.warning("exception performing seek when flow not active %s", ex)
            return
        buffered = consumer._buffered_partitions
        read_offset = consumer._read_offset
        topic = self.topic
        max_records = self.max_records
        max_bytes = self.max_bytes
        floors = self.floors
        batch = _Batch(generation)
        size = 0
        last_tp = None
        for tp, fetched in records.items():
            if not consumer.flow_active or app.consumer_generation_id != generation:
                break
            if not (active_partitions is None or tp in active_partitions or tp in buffered):
                continue
            app.monitor.track_tp_end_offset(tp, consumer.highwater(tp))
            if tp.topic != topic:  # any other topic: exactly Faust's per-record path
                for record in fetched:
                    if not consumer.flow_active or app.consumer_generation_id != generation:
                        break
                    await self._one(consumer, consumer._to_message(tp, record))
                continue
            for record in fetched:
                offset = record.offset
                r_offset = read_offset[tp]
                if floors:
                    r_offset = floors.read_offset(tp, r_offset, offset, generation)
                if r_offset is not None and offset < r_offset:
                    continue  # Faust's rule: below the read offset = already read
                batch.append(record)
                read_offset[tp] = offset
                last_tp = tp
                size += record.serialized_value_size
                if len(batch) >= max_records or size >= max_bytes:
                    await self._put(consumer, batch.close(consumer._to_message(tp, record), size))
                    batch = _Batch(generation)
                    size = 0
                    await asyncio.sleep(0)  # a long fetch: let the agent and timers run between batches
                    if not consumer.flow_active or app.consumer_generation_id != generation:
                        return
        if batch:
            await self._put(consumer, batch.close(consumer._to_message(last_tp, batch[-1]), size))

    async def _one(self, consumer: Any, message: Any) -> None:
        """One record of another topic, as Faust's drain loop handles it."""
        tp = message.tp
        offset = message.offset
        r_offset = consumer._read_offset[tp]
        if r_offset is not None and offset < r_offset:
            return
        gap = offset - (r_offset or 0)
        if gap > 1 and r_offset and self.app.topics.acks_enabled_for(message.topic):
            await consumer._add_gap(tp, r_offset + 1, offset)
        if consumer._commit_every is not None and consumer._n_acked >= consumer._commit_every:
            consumer._n_acked = 0
            await consumer.commit()
        await consumer.wait_first(consumer.callback(message), consumer.suspend_flow.wait())
        consumer._read_offset[tp] = offset

    async def _put(self, consumer: Any, batch: _Batch) -> None:
        if consumer.suspend_flow.is_set() or not self.app.flow_control.is_active():
            self.batches_dropped += 1  # a rebalance began: the seek after it fetches these again
            return
        consumer._unacked_messages.add(batch.held)  # a rebalance waits for it (Consumer.wait_empty)
        queue = self._queue
        if not queue.full():
            queue.put_nowait(batch)
        else:  # the agent is behind: wait for room, unless a rebalance begins meanwhile
            put = asyncio.ensure_future(queue.put(batch))
            stop = asyncio.ensure_future(consumer.suspend_flow.wait())
            try:
                await asyncio.wait((put, stop), return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
            if not put.done():
                put.cancel()
                self._drop(batch)
                return
        self.batches_in += 1

    # -- agent side -------------------------------------------------------------
    async def batches(self) -> AsyncIterator[list[Any]]:
        """Lists of records for the agent: what is queued, up to ``max_records`` (one group each)."""
        app = self.app
        queue = self._queue
        while True:
            taken = [await queue.get()]
            n, size = len(taken[0]), taken[0].size
            while n < self.max_records and size < self.max_bytes and not queue.empty():
                taken.append(queue.get_nowait())
                n, size = n + len(taken[-1]), size + taken[-1].size
            generation = app.consumer_generation_id
            fresh = []
            for batch in taken:
                if app.flow_control.is_active() and batch.generation == generation:
                    fresh.append(batch)
                else:
                    self._drop(batch)  # what Faust's streams skip too; the seek after the rebalance re-reads
            if not fresh:
                continue
            try:
                yield fresh[0] if len(fresh) == 1 else [m for batch in fresh for m in batch]
            finally:
                for batch in fresh:
                    self._release(batch)

    def _drop(self, batch: _Batch) -> None:
        self.batches_dropped += 1
        self._release(batch)

    def _release(self, batch: _Batch) -> None:
        consumer = self.app.consumer
        held = batch.held
        consumer.ack(held)  # the acked offset itself means nothing to the commit guard; this wakes wait_empty
        consumer._unacked_messages.discard(held)


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
