"""The Kafka source: topics other shippers write, one event per record, re-batched into the trtlens wire format.

Vector (``message``), Fluent Bit (``log``, ``@timestamp`` in float seconds), Functionbeat/Filebeat
(``message``, ``@timestamp``) envelopes are unwrapped by the mapping (``collect.mapping.unwrap`` and
``ts_fields``); a record that is already a trtlens event (or a JSON array of them) passes as is.
Events go out through the publisher, batched per partition (``producer.batch_max_events``): this is
what turns one-event records into the records the streams app reads fastest.

Offsets are committed (consumer group ``collect.kafka.group_id``) only after the publisher's flush
acknowledged every event of the polled records.

The consumer is aiokafka's, on an event loop of the source's own thread: its C record decoder reads a
one-event record in a fraction of what kafka-python's pure-Python one took (a third of this source's
CPU), and its fetcher keeps fetching while ``handle`` runs. When reading stops (shutdown) the loop
stays up, still in the group and heartbeating, until ``close()``: the final commit round acknowledges
what was read, then its offsets are committed and the group is left. A record without ``event_id`` gets
``cl-<topic:partition, offset>``: after a crash the re-read records repeat their ids and dedup removes
them. A bad record → DLQ with ``topic``, ``partition``, ``offset`` and the reason.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import orjson

from trtlens.producers.collect.config import KafkaSourceConfig
from trtlens.producers.collect.intake import Intake
from trtlens.schemas.codec import DecodeError

log = logging.getLogger(__name__)


class KafkaSource:
    kind = "kafka"

    def __init__(self, config: KafkaSourceConfig, settings, intake: Intake) -> None:
        self.config = config
        self.settings = settings
        self.intake = intake
        self._stop = threading.Event()       # stop reading (the group is kept until close)
        self._reading_done = threading.Event()
        self._closing = threading.Event()    # commit what was acknowledged, leave the group
        self._thread: threading.Thread | None = None
        self._acked: dict = {}
        self._acked_lock = threading.Lock()
        self.committed_batches = 0

    def _make_consumer(self):
        from aiokafka import AIOKafkaConsumer

        kafka = self.settings.kafka
        return AIOKafkaConsumer(
            *self.config.topics, **kafka.aiokafka_kwargs(), group_id=self.config.group_id, enable_auto_commit=False,
            auto_offset_reset=self.config.auto_offset_reset, max_poll_records=self.config.max_poll_records,
            session_timeout_ms=kafka.session_timeout_ms, heartbeat_interval_ms=kafka.heartbeat_interval_ms,
        )

    def handle(self, records: dict) -> dict:
        """Decode, publish and dead-letter one poll's records; returns the offsets to commit once acknowledged."""
        intake = self.intake
        decode = intake.decode
        events, dead, offsets = [], [], {}
        append = events.append
        for tp, recs in records.items():
            sid = f"kafka:{tp.topic}:{tp.partition}"
            for rec in recs:
                value = rec.value
                if value is not None and value[:1] == b"{":  # the common case: one JSON object per record
                    try:
                        append(decode(value, source_id=sid, position=rec.offset,
                                      fallback_ts_ms=rec.timestamp if rec.timestamp and rec.timestamp > 0 else None))
                    except DecodeError as err:
                        dead.append(err.to_dlq(topic=tp.topic, partition=tp.partition, offset=rec.offset))
                else:
                    self._handle_other(tp, rec, sid, events, dead)
            if recs:
                offsets[tp] = recs[-1].offset + 1
        intake.submit(self.kind, events, dead, dlq_key="kafka")
        return offsets

    def _handle_other(self, tp, rec, sid: str, events: list, dead: list) -> None:
        """A tombstone, a JSON array of events, or anything else (leading space, plain text)."""
        where = {"topic": tp.topic, "partition": tp.partition, "offset": rec.offset}
        value = rec.value
        if value is None:
            dead.append(DecodeError("invalid_json", "record has no value (tombstone)", b"").to_dlq(**where))
            return
        if value.lstrip()[:1] != b"[":
            try:
                events.append(self.intake.decode(value, source_id=sid, position=rec.offset,
                                                 fallback_ts_ms=rec.timestamp if rec.timestamp and
                                                 rec.timestamp > 0 else None))
            except DecodeError as err:
                dead.append(err.to_dlq(**where))
            return
        try:
            items = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            dead.append(DecodeError("invalid_json", str(exc), value[:4096]).to_dlq(**where))
            return
        for i, item in enumerate(items):
            raw = orjson.dumps(item)
            try:
                events.append(self.intake.mapper.to_event(item, raw, source_id=sid, position=f"{rec.offset}:{i}"))
            except DecodeError as err:
                dead.append(err.to_dlq(**where, index=i))

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        from aiokafka.errors import KafkaError

        consumer = self._make_consumer()
        try:
            while True:  # the broker may not be up yet: keep trying, like the publisher does
                try:
                    await consumer.start()
                    break
                except KafkaError as exc:
                    log.warning("source=kafka msg='cannot join the group yet; retrying in 1 s' error=%r", exc)
                    await consumer.stop()
                    if await asyncio.to_thread(self._stop.wait, 1.0):
                        return
                    consumer = self._make_consumer()
            await self._read(consumer)
            self._reading_done.set()
            while not self._closing.is_set():  # still a member (heartbeats) until the final commit round ends
                await self._commit_acked(consumer)
                await asyncio.sleep(0.05)
            await self._commit_acked(consumer)
        finally:
            self._reading_done.set()
            await consumer.stop()

    async def _read(self, consumer) -> None:
        from aiokafka.errors import KafkaError

        paused = False
        while not self._stop.is_set():
            await self._commit_acked(consumer)
            if self.intake.paused() != paused:  # keep polling (group membership) but fetch nothing while paused
                paused = not paused
                (consumer.pause if paused else consumer.resume)(*consumer.assignment())
                log.warning("source=kafka paused=%s msg='broker away and spool at spool_pause_events'", paused)
            try:
                records = await consumer.getmany(timeout_ms=200, max_records=self.config.max_poll_records)
            except KafkaError:
                log.exception("source=kafka msg='fetch failed; retrying'")
                await asyncio.sleep(1.0)
                continue
            if not records:
                continue
            offsets = self.handle(records)

            def acked(offsets=offsets) -> None:
                with self._acked_lock:
                    self._acked.update(offsets)

            self.intake.committer.after_ack(acked)

    async def _commit_acked(self, consumer) -> None:
        with self._acked_lock:
            acked, self._acked = self._acked, {}
        if not acked:
            return
        assigned = consumer.assignment()
        offsets = {tp: off for tp, off in acked.items() if tp in assigned}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
            self.committed_batches += 1
        except Exception as exc:  # a rebalance took the partition: its new owner re-reads (ids repeat)
            log.warning("source=kafka msg='offset commit failed; records will be re-read' error=%r", exc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="trtlens-collect-kafka", daemon=True)
        self._thread.start()

    def stop_reading(self) -> None:
        """No more fetches; returns once the records in hand were handed to the intake."""
        self._stop.set()
        if self._thread is not None:
            self._reading_done.wait(timeout=15)

    def close(self) -> None:
        """After the final commit round: commit what it acknowledged, then leave the group."""
        self._stop.set()
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
