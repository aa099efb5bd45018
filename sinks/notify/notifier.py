"""``Notifier``: the consumer group that delivers ``trtlens.alerts`` to the configured endpoints.

::

    start   read trtlens.notify.delivered to its end (→ DeliveryLog), then join the group
    loop    fetch alerts ─ Continuity gap check ─ parse (invalid → DLQ)
            ─ per endpoint: DeliveryLog.decide (filter, dedup, hysteresis)
            ─ put on the endpoint's bounded queue (full → DLQ ``queue_full``)
            ─ commit the offsets whose every delivery is finished
            ─ apply new delivery-log records (other members' deliveries)
    per endpoint, one task, one request at a time (keeps each endpoint's order):
            POST ─ retry with backoff (core.next_step) ─ then, acked by the broker,
            the delivery-log entry (``delivered``), or the DLQ record and the entry
            (``dead_lettered``) ─ the record's open count drops; at zero it may commit

A record's offset commits only after every endpoint it was sent to finished it
(delivered or dead-lettered, written down in the delivery log). A crash
re-reads uncommitted records; the delivery log says which (endpoint, key)
pairs are done, so only the unfinished ones are sent again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import ConsumerRebalanceListener

from trtlens.errors import TrtlensError
from trtlens.settings import Settings
from trtlens.sinks.core import Continuity, OffsetTracker, RecordRef, backoff_s
from trtlens.sinks.reading import commit_applied, contiguous
from trtlens.sinks.notify.config import EndpointConfig
from trtlens.sinks.notify.core import (
    AlertRecord,
    DeliveryLog,
    Invalid,
    LogEntry,
    Outcome,
    RetryPolicy,
    dlq_record,
    next_step,
    parse_alert,
    safe_url,
    too_old,
)
from trtlens.sinks.notify.render import render, request_headers
from trtlens.sinks.notify.sender import HttpSender

log = logging.getLogger("trtlens.sinks.notify")

REASONS = {
    "delivery_failed": "the endpoint did not accept the alert within max_attempts attempts",
    "rejected": "the endpoint answered a status that no retry can fix",
    "queue_full": "the endpoint's queue was full (queue_max); it was not attempted",
}
ENDPOINT_COUNTERS = ("queued", "delivered", "retries", "dead_lettered", "queue_full", "filtered", "duplicate",
                     "repeat", "stale", "abandoned")


class NotifyError(TrtlensError):
    """Base of the notifier's errors.

    ::

        NotifyError
        ├── NoEndpointsError              no endpoint is configured
        └── DeliveryLogUnavailableError   the delivery log could not be read (topic, waited_s, reason)
    """


class NoEndpointsError(NotifyError):
    def __init__(self) -> None:
        super().__init__("notify.endpoints is empty: nothing would be delivered "
                         "(set TRTLENS_NOTIFY__ENDPOINTS or notify.endpoints in the --config file)")


class DeliveryLogUnavailableError(NotifyError):
    def __init__(self, topic: str, waited_s: float, reason: str) -> None:
        self.topic, self.waited_s, self.reason = topic, waited_s, reason
        super().__init__(f"delivery log {topic} could not be read within {waited_s:g}s: {reason}; "
                         "without it a restart could send alerts twice (`trtlens topics create` creates it)")


@dataclass(slots=True, eq=False)
class _Pending:
    """One alert record: its deliveries still open."""

    tp: Any
    offset: int
    epoch: int
    remaining: int = 0


@dataclass(slots=True, eq=False)
class _Delivery:
    endpoint: EndpointConfig
    rec: AlertRecord
    pending: _Pending


@dataclass(slots=True, eq=False)
class _Endpoint:
    cfg: EndpointConfig
    queue: asyncio.Queue
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENDPOINT_COUNTERS, 0))
    busy: _Delivery | None = None
    attempting: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None


class Notifier:
    """Consume ``trtlens.alerts`` and deliver each state change to every matching endpoint.

    ``sender`` defaults to :class:`HttpSender`. ``counters`` is a live dict over
    all endpoints; :attr:`endpoint_counters` has one dict per endpoint name.
    """

    def __init__(self, settings: Settings, *, sender: Any = None, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._cfg = settings.notify
        self._topics = settings.topics
        self._policy = RetryPolicy.from_settings(self._cfg)
        self._rng = rng or random.Random()
        self._sender = sender or HttpSender()
        self._log = DeliveryLog()
        self._tracker = OffsetTracker()
        self._continuity = Continuity()
        self._epoch: dict[Any, int] = {}
        self._revoking: set[Any] = set()
        self._committed: dict[Any, int] = {}
        self._endpoints: dict[str, _Endpoint] = {}
        self._live: dict[tuple[str, str], _Delivery] = {}  # (endpoint, key) → its queued or running delivery
        self._consumer: Any = None
        self._log_consumer: Any = None
        self._log_tps: list[Any] = []
        self._producer: Any = None
        self._sync_log = False
        self._stop = asyncio.Event()
        self.counters: dict[str, int] = dict.fromkeys((
            "records", "alerts", "invalid", "too_old", "deliveries", "delivered", "dead_lettered", "dlq_invalid",
            "retries", "log_writes", "commits", "commit_failures",
        ), 0)

    @property
    def endpoint_counters(self) -> dict[str, dict[str, int]]:
        return {name: {**ep.counters, "queue_depth": ep.queue.qsize()} for name, ep in self._endpoints.items()}

    @property
    def delivery_log(self) -> DeliveryLog:
        return self._log

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        s, cfg = self.settings, self._cfg
        if not cfg.endpoints:
            raise NoEndpointsError()
        kafka = s.kafka.aiokafka_kwargs()
        # aiokafka's idempotent producer needs InitProducerId v0+ which Tansu rejects (DESIGN.md): acks=all, retried here
        self._producer = AIOKafkaProducer(acks="all", enable_idempotence=False, linger_ms=2, **kafka)
        await self._producer.start()
        await self._open_delivery_log(kafka)
        await self._sender.start()
        for ep in cfg.endpoints:
            state = _Endpoint(ep, asyncio.Queue(maxsize=ep.queue_max or cfg.queue_max))
            state.task = asyncio.create_task(self._worker(state), name=f"notify-{ep.name}")
            self._endpoints[ep.name] = state
        self._consumer = AIOKafkaConsumer(
            group_id=cfg.group_id, enable_auto_commit=False, auto_offset_reset=cfg.auto_offset_reset,
            session_timeout_ms=s.kafka.session_timeout_ms, heartbeat_interval_ms=s.kafka.heartbeat_interval_ms,
            max_poll_interval_ms=cfg.max_poll_interval_ms, max_poll_records=cfg.fetch_max_records,
            fetch_max_wait_ms=cfg.fetch_max_wait_ms, **kafka,
        )
        await self._consumer.start()
        self._consumer.subscribe([self._topics.alerts], listener=_Rebalance(self))
        log.info(
            "notify=started group=%s topic=%s delivered_log=%s entries=%d dlq=%s endpoints=%s",
            cfg.group_id, self._topics.alerts, self._topics.notify_delivered, len(self._log), self._topics.notify_dlq,
            ",".join(f"{e.name}:{e.kind}:{safe_url(e.url.get_secret_value())}" for e in cfg.endpoints),
        )

    async def _open_delivery_log(self, kafka: dict[str, Any]) -> None:
        """Assign every partition of the delivery log (no group: every member reads all of it) and read it to its end."""
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.errors import KafkaError

        topic = self._topics.notify_delivered
        try:
            parts = await asyncio.wait_for(self._producer.partitions_for(topic), self._cfg.log_read_timeout_s)
        except (KafkaError, asyncio.TimeoutError) as exc:
            raise DeliveryLogUnavailableError(topic, self._cfg.log_read_timeout_s, repr(exc)) from None
        self._log_consumer = AIOKafkaConsumer(
            group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
            fetch_max_wait_ms=self._cfg.fetch_max_wait_ms, **kafka,
        )
        await self._log_consumer.start()
        self._log_tps = [TopicPartition(topic, p) for p in sorted(parts)]
        self._log_consumer.assign(self._log_tps)
        await self._log_consumer.seek_to_beginning(*self._log_tps)
        await self._read_log_to_end()

    async def _read_log_to_end(self) -> None:
        """Apply delivery-log records until every partition's position reaches the fetch high-watermark
        (not ``end_offsets()``: the embedded broker answers it wrong, DESIGN.md)."""
        deadline = time.monotonic() + self._cfg.log_read_timeout_s
        c = self._log_consumer
        while True:
            self._apply_log(await c.getmany(timeout_ms=100))
            behind = 0
            for tp in self._log_tps:
                hw = c.highwater(tp)
                if hw is None or await c.position(tp) < hw:
                    behind += 1
            if not behind:
                return
            if time.monotonic() > deadline:
                raise DeliveryLogUnavailableError(self._topics.notify_delivered, self._cfg.log_read_timeout_s,
                                                  f"{behind} partition(s) not read to their end")

    def _apply_log(self, batch: dict[Any, list[Any]]) -> None:
        for records in batch.values():
            for r in records:
                if r.value is None:
                    self._log.forget(r.key)
                else:
                    self._log.apply(LogEntry.from_json(r.value))

    def request_stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        for ep in self._endpoints.values():
            if ep.task is not None and not ep.task.done():
                ep.task.cancel()
        tasks = [ep.task for ep in self._endpoints.values() if ep.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for closer in (
            self._consumer.stop if self._consumer else None,
            self._log_consumer.stop if self._log_consumer else None,
            self._producer.stop if self._producer else None,
            self._sender.close,
        ):
            if closer is not None:
                try:
                    await closer()
                except Exception as exc:  # closing must not hide the real outcome
                    log.warning("notify=close_error error=%r", exc)
        for name, c in self.endpoint_counters.items():
            log.info("notify=stopped endpoint=%s %s", name, " ".join(f"{k}={v}" for k, v in c.items()))
        log.info("notify=stopped %s log_entries=%d %s", " ".join(f"{k}={v}" for k, v in self.counters.items()),
                 len(self._log), " ".join(f"{k}={v}" for k, v in {**self._continuity.counters, **self._log.counters}.items()))

    async def run(self) -> None:
        """Start, deliver until :meth:`request_stop`, drain the queues, commit, close."""
        if not self._cfg.endpoints:
            raise NoEndpointsError()
        try:
            await self.start()
            await self._loop()
        finally:
            await self.close()

    # ------------------------------------------------------------ main loop

    async def _loop(self) -> None:
        cfg = self._cfg
        while not self._stop.is_set():
            batch = await self._consumer.getmany(timeout_ms=cfg.poll_timeout_ms, max_records=cfg.fetch_max_records)
            self._check_workers()
            if self._sync_log:  # a new assignment: learn what the previous owner finished before deciding
                self._sync_log = False
                await self._read_log_to_end()
            else:
                self._apply_log(await self._log_consumer.getmany(timeout_ms=0))
            if batch:
                batch = await self._contiguous(batch)
                await self._handle(batch)
            await self._commit()
        await self._drain(cfg.stop_drain_timeout_s)
        await self._commit()

    def _check_workers(self) -> None:
        for ep in self._endpoints.values():
            if ep.task is not None and ep.task.done() and not ep.task.cancelled() and ep.task.exception():
                raise ep.task.exception()

    async def _drain(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while any(ep.queue.qsize() or ep.busy for ep in self._endpoints.values()):
            if time.monotonic() >= deadline:
                left = {n: ep.queue.qsize() + (1 if ep.busy else 0) for n, ep in self._endpoints.items()}
                log.warning("notify=drain_timeout left=%s msg='unfinished deliveries are re-read at the next start'",
                            ",".join(f"{n}:{k}" for n, k in left.items() if k))
                return
            self._check_workers()
            await asyncio.sleep(0.05)

    async def _contiguous(self, batch: dict[Any, list[Any]]) -> dict[Any, list[Any]]:
        """Only records that continue each partition's offsets go on; a jump is read again first (``Continuity``)."""
        return await contiguous(self._consumer, self._continuity, self._cfg.auto_offset_reset, batch)

    async def _handle(self, batch: dict[Any, list[Any]]) -> None:
        invalid: list[tuple[Invalid, _Pending]] = []
        alerts: list[tuple[AlertRecord, _Pending]] = []
        for tp, records in batch.items():
            epoch = self._epoch.get(tp, 0)
            for r in records:
                self._tracker.track(tp, r.offset)
                item = parse_alert(RecordRef(tp.topic, tp.partition, r.offset, r.key), r.value)
                pending = _Pending(tp, r.offset, epoch)
                (invalid if isinstance(item, Invalid) else alerts).append((item, pending))
        self.counters["records"] += len(invalid) + len(alerts)
        self.counters["alerts"] += len(alerts)
        if invalid:
            await self._dead_letter_invalid(invalid)
        overflow: list[_Delivery] = []
        decisions: dict[str, int] = {}
        now_ms = _now_ms()
        for rec, pending in sorted(alerts, key=lambda x: x[0].order()):
            if too_old(rec.alert, now_ms=now_ms, max_age_s=self._cfg.max_age_s):
                self.counters["too_old"] += 1
                self._finished(pending)
                continue
            for ep in self._endpoints.values():
                decision = self._log.decide(ep.cfg, rec, queued=self._queued(ep.cfg.name, rec.key))
                decisions[decision] = decisions.get(decision, 0) + 1
                if decision != "send":
                    ep.counters[decision] += 1
                    continue
                self._log.intend(ep.cfg.name, rec)
                pending.remaining += 1
                delivery = _Delivery(ep.cfg, rec, pending)
                self._live[(ep.cfg.name, rec.key)] = delivery
                try:
                    ep.queue.put_nowait(delivery)
                    ep.counters["queued"] += 1
                except asyncio.QueueFull:
                    overflow.append(delivery)
            if pending.remaining == 0:
                self._finished(pending)
        self.counters["deliveries"] += decisions.get("send", 0)
        log.info("batch records=%d alerts=%d invalid=%d %s", len(invalid) + len(alerts), len(alerts), len(invalid),
                 " ".join(f"{k}={v}" for k, v in sorted(decisions.items())))
        for delivery in overflow:
            try:
                await self._dead_letter(self._endpoints[delivery.endpoint.name], delivery, code="queue_full", attempts=0)
            finally:
                self._forget(delivery)

    # ------------------------------------------------------------ deliveries

    async def _worker(self, ep: _Endpoint) -> None:
        while True:
            delivery = await ep.queue.get()
            ep.busy = delivery
            try:
                await self._deliver(ep, delivery)
            finally:
                ep.busy = None
                ep.attempting = False
                self._forget(delivery)

    def _forget(self, d: _Delivery) -> None:
        slot = (d.endpoint.name, d.rec.key)
        if self._live.get(slot) is d:
            del self._live[slot]

    def _queued(self, endpoint: str, key: str) -> bool:
        """A live delivery of this (endpoint, key) exists: queued or being attempted, not abandoned."""
        d = self._live.get((endpoint, key))
        return d is not None and not self._abandoned(d)

    def _abandoned(self, d: _Delivery) -> bool:
        """The record's partition was (or is being) given up: its next owner re-reads and delivers it."""
        tp = d.pending.tp
        return tp in self._revoking or self._epoch.get(tp, 0) != d.pending.epoch

    async def _deliver(self, ep: _Endpoint, d: _Delivery) -> None:
        name, key = ep.cfg.name, d.rec.key
        if self._abandoned(d):
            ep.counters["abandoned"] += 1
            return
        if self._log.finished(name, key) is not None:  # another member finished it meanwhile
            ep.counters["duplicate"] += 1
            self._complete(d)
            return
        body = render(ep.cfg, d.rec, link_template=self._cfg.link_template)
        headers = request_headers(ep.cfg, key)
        attempt = 0
        while True:
            if self._abandoned(d):
                ep.counters["abandoned"] += 1
                return
            attempt += 1
            ep.attempting = True
            outcome: Outcome = await self._sender.post(ep.cfg, body, headers)
            step = next_step(attempt, outcome, self._policy, rng=self._rng)
            if step.action == "done":
                await self._write_log(LogEntry.for_record(name, d.rec, outcome="delivered", attempts=attempt,
                                                          at_ms=_now_ms()))
                ep.counters["delivered"] += 1
                self.counters["delivered"] += 1
                log.info("notify=delivered endpoint=%s kind=%s key=%s doc_id=%s state=%s attempts=%d status=%s",
                         name, ep.cfg.kind, key, d.rec.doc_id, d.rec.alert.state, attempt, outcome.status)
                self._complete(d)
                return
            if step.action == "dead_letter":
                await self._dead_letter(ep, d, code=step.code or "delivery_failed", attempts=attempt,
                                        last_status=outcome.status, last_error=outcome.error)
                return
            ep.attempting = False
            ep.counters["retries"] += 1
            self.counters["retries"] += 1
            log.warning("notify=retry endpoint=%s kind=%s url=%s key=%s attempt=%d/%d status=%s error=%r "
                        "retry_in_s=%.2f", name, ep.cfg.kind, safe_url(ep.cfg.url.get_secret_value()), key, attempt,
                        self._policy.max_attempts, outcome.status, outcome.error, step.delay_s)
            ep.wake.clear()
            try:  # a revoke wakes the wait early: the delivery is abandoned at the top of the loop
                await asyncio.wait_for(ep.wake.wait(), timeout=step.delay_s)
            except asyncio.TimeoutError:
                pass

    def _complete(self, d: _Delivery) -> None:
        d.pending.remaining -= 1
        if d.pending.remaining == 0:
            self._finished(d.pending)

    def _finished(self, pending: _Pending) -> None:
        if self._epoch.get(pending.tp, 0) == pending.epoch:
            self._tracker.done(pending.tp, pending.offset)

    async def _dead_letter(self, ep: _Endpoint, d: _Delivery, *, code: str, attempts: int,
                           last_status: int | None = None, last_error: str | None = None) -> None:
        doc = dlq_record(code=code, reason=REASONS.get(code, code), ref=d.rec.ref, now_ms=_now_ms(), endpoint=ep.cfg,
                         rec=d.rec, attempts=attempts, last_status=last_status, last_error=last_error)
        await self._send(self._topics.notify_dlq, [(d.rec.key.encode(), orjson.dumps(doc))])
        await self._write_log(LogEntry.for_record(ep.cfg.name, d.rec, outcome="dead_lettered", attempts=attempts,
                                                  at_ms=_now_ms()))
        ep.counters["dead_lettered"] += 1
        if code == "queue_full":
            ep.counters["queue_full"] += 1
        self.counters["dead_lettered"] += 1
        log.warning("notify=dead_lettered endpoint=%s kind=%s key=%s doc_id=%s code=%s attempts=%d last_status=%s "
                    "last_error=%r", ep.cfg.name, ep.cfg.kind, d.rec.key, d.rec.doc_id, code, attempts, last_status,
                    doc["last_error"])
        self._complete(d)

    async def _dead_letter_invalid(self, items: list[tuple[Invalid, _Pending]]) -> None:
        now = _now_ms()
        out = [(bad.ref.key, orjson.dumps(dlq_record(code=bad.code, reason=bad.reason, ref=bad.ref, now_ms=now,
                                                     raw=bad.raw, field=bad.field))) for bad, _ in items]
        await self._send(self._topics.notify_dlq, out)
        self.counters["invalid"] += len(items)
        self.counters["dlq_invalid"] += len(items)
        first = items[0][0]
        log.warning("dlq=sent topic=%s count=%d first_code=%s first_partition=%d first_offset=%d first_reason=%r",
                    self._topics.notify_dlq, len(items), first.code, first.ref.partition, first.ref.offset,
                    first.reason[:200])
        for _, pending in items:
            self._finished(pending)

    async def _write_log(self, entry: LogEntry) -> None:
        await self._send(self._topics.notify_delivered, [(entry.record_key(), entry.to_json())])
        self._log.apply(entry)
        self.counters["log_writes"] += 1

    async def _send(self, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
        """Produce and wait for the broker's ack; retry with backoff for ever (never drop)."""
        from aiokafka.errors import KafkaError

        cfg = self._cfg
        attempt = 0
        while True:
            attempt += 1
            try:
                futures = [await self._producer.send(topic, value=value, key=key) for key, value in records]
                await asyncio.gather(*futures)
                return
            except KafkaError as exc:
                delay = backoff_s(attempt, initial_ms=cfg.backoff_initial_ms, max_ms=cfg.backoff_max_ms,
                                  multiplier=cfg.backoff_multiplier, jitter=cfg.backoff_jitter, rng=self._rng)
                log.warning("produce=retry topic=%s records=%d attempt=%d retry_in_s=%.2f error=%r", topic,
                            len(records), attempt, delay, exc)
                await asyncio.sleep(delay)

    # ------------------------------------------------------------ offsets and rebalances

    async def _commit(self, only: set[Any] | None = None) -> None:
        # a re-read after a failed commit is deduplicated by the delivery log
        await commit_applied(self._consumer, self._tracker, self._committed, self.counters, only,
                             replay="deduplicated_by_delivery_log")

    async def on_revoked(self, revoked: set[Any]) -> None:
        """Stop starting requests for these partitions, let the ones in flight finish (and be
        logged) for up to ``revoke_drain_timeout_s``, commit, then forget the partitions."""
        self._revoking |= revoked
        for ep in self._endpoints.values():
            if ep.busy is not None and ep.busy.pending.tp in revoked:
                ep.wake.set()  # a retry wait for a revoked partition ends now (and the delivery is given up)
        deadline = time.monotonic() + self._cfg.revoke_drain_timeout_s
        while any(ep.attempting and ep.busy is not None and ep.busy.pending.tp in revoked
                  for ep in self._endpoints.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await self._commit(only=set(revoked))
        for tp in revoked:
            self._epoch[tp] = self._epoch.get(tp, 0) + 1
            self._committed.pop(tp, None)
        self._tracker.forget(revoked)
        self._continuity.forget(revoked)
        self._revoking -= revoked
        if revoked:
            log.info("rebalance=revoked partitions=%d", len(revoked))

    def on_assigned(self, assigned: set[Any]) -> None:
        log.info("rebalance=assigned partitions=%s", ",".join(f"{tp.topic}/{tp.partition}" for tp in sorted(assigned)))
        self._continuity.forget(assigned)
        self._sync_log = True


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def on_partitions_revoked(self, revoked):
        await self._notifier.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned):
        self._notifier.on_assigned(set(assigned))


def _now_ms() -> int:
    return int(time.time() * 1000)
