"""The Kafka source: topics other shippers write, one event per record, re-batched into the trtlens wire format.

Vector (``message``), Fluent Bit (``log``, ``@timestamp`` in float seconds), Functionbeat/Filebeat
(``message``, ``@timestamp``) envelopes are unwrapped by the mapping (``collect.mapping.unwrap`` and
``ts_fields``); a record that is already a trtlens event (or a JSON array of them) passes as is.
Events go out through the publisher, batched per partition (``producer.batch_max_events``): this is
what turns one-event records into the records the streams app reads fastest.

Offsets are committed (consumer group ``collect.kafka.group_id``) only after the publisher's flush
acknowledged every event of the polled records. A record without ``event_id`` gets
``cl-<topic:partition, offset>``: after a crash the re-read records repeat their ids and dedup removes
them. A bad record → DLQ with ``topic``, ``partition``, ``offset`` and the reason.
"""

from __future__ import annotations

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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._acked: dict = {}
        self._acked_lock = threading.Lock()
        self._consumer = None
        self.committed_batches = 0

    def _make_consumer(self):
        from kafka import KafkaConsumer

        kafka = self.settings.kafka
        consumer = KafkaConsumer(
            **kafka.kafka_python_kwargs(), group_id=self.config.group_id, enable_auto_commit=False,
            auto_offset_reset=self.config.auto_offset_reset, max_poll_records=self.config.max_poll_records,
            session_timeout_ms=kafka.session_timeout_ms, heartbeat_interval_ms=kafka.heartbeat_interval_ms,
        )
        consumer.subscribe(self.config.topics)
        return consumer

    def handle(self, records: dict) -> dict:
        """Decode, publish and dead-letter one poll's records; returns the offsets to commit once acknowledged."""
        intake = self.intake
        events, dead, offsets = [], [], {}
        for tp, recs in records.items():
            for rec in recs:
                where = {"topic": tp.topic, "partition": tp.partition, "offset": rec.offset}
                sid = f"kafka:{tp.topic}:{tp.partition}"
                value = rec.value
                if value is None:
                    dead.append(DecodeError("invalid_json", "record has no value (tombstone)", b"").to_dlq(**where))
                elif value.lstrip()[:1] == b"[":
                    try:
                        items = orjson.loads(value)
                    except orjson.JSONDecodeError as exc:
                        dead.append(DecodeError("invalid_json", str(exc), value[:4096]).to_dlq(**where))
                        items = []
                    for i, item in enumerate(items):
                        raw = orjson.dumps(item)
                        try:
                            events.append(intake.mapper.to_event(item, raw, source_id=sid,
                                                                 position=f"{rec.offset}:{i}"))
                        except DecodeError as err:
                            dead.append(err.to_dlq(**where, index=i))
                else:
                    try:
                        events.append(intake.decode(value, source_id=sid, position=rec.offset,
                                                    fallback_ts_ms=rec.timestamp if rec.timestamp and
                                                    rec.timestamp > 0 else None))
                    except DecodeError as err:
                        dead.append(err.to_dlq(**where))
                offsets[tp] = rec.offset + 1
        intake.submit(self.kind, events, dead, dlq_key="kafka")
        return offsets

    def run(self) -> None:
        from kafka.structs import OffsetAndMetadata

        consumer = self._consumer = self._make_consumer()
        paused = False
        while not self._stop.is_set():
            self._commit_acked(consumer, OffsetAndMetadata)
            if self.intake.paused() != paused:  # keep polling (group membership) but fetch nothing while paused
                paused = not paused
                (consumer.pause if paused else consumer.resume)(*consumer.assignment())
                log.warning("source=kafka paused=%s msg='broker away and spool at spool_pause_events'", paused)
            try:
                records = consumer.poll(timeout_ms=200)
            except Exception:
                log.exception("source=kafka msg='poll failed; retrying'")
                self._stop.wait(1.0)
                continue
            if not records:
                continue
            offsets = self.handle(records)

            def acked(offsets=offsets) -> None:
                with self._acked_lock:
                    self._acked.update(offsets)

            self.intake.committer.after_ack(acked)
        self._commit_acked(consumer, OffsetAndMetadata)

    def _commit_acked(self, consumer, OffsetAndMetadata) -> None:  # noqa: N803 - the class, passed in
        with self._acked_lock:
            acked, self._acked = self._acked, {}
        if not acked:
            return
        assigned = consumer.assignment()
        offsets = {tp: OffsetAndMetadata(off, "", -1) for tp, off in acked.items() if tp in assigned}
        if not offsets:
            return
        try:
            consumer.commit(offsets)
            self.committed_batches += 1
        except Exception as exc:  # a rebalance took the partition: its new owner re-reads (ids repeat)
            log.warning("source=kafka msg='offset commit failed; records will be re-read' error=%r", exc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="trtlens-collect-kafka", daemon=True)
        self._thread.start()

    def stop_reading(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def close(self) -> None:
        """After the final commit round: commit what it acknowledged, then leave the group."""
        if self._consumer is None:
            return
        from kafka.structs import OffsetAndMetadata

        self._commit_acked(self._consumer, OffsetAndMetadata)
        self._consumer.close()
