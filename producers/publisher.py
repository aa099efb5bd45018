"""The one way trtlens publishes events: batched, keyed, idempotent, spooled when the broker is away.

    Publisher(settings).publish(event)          # pydantic event
    Publisher(settings).publish_dicts(dicts)    # fast path: already-serialisable event dicts
                                                # (or Encoded: a validated line published as its own bytes)

How it works:

* Every event goes to ``partition_for_key(routing_key, partitions)`` — the
  partition Kafka's key partitioner would pick — so all events of a request
  share a partition. The routing key is what the event type's spec declares
  (``trtlens.schemas.events.routing_key_of``; the publisher holds no copy).
  Events are batched **per partition** into one record (a JSON array, the wire
  format of ``trtlens.schemas.codec``) of at most ``batch_max_events`` events,
  sent when full or ``linger_ms`` after its first event. ``batch_max_events=1``
  gives one event (a JSON object) per record.
* An :class:`Encoded` event (a collector's line that it parsed, validated and
  left unchanged) goes into the record as its own bytes, not re-encoded; its
  routing key comes with it. Partitions of the keys a batch brings are hashed
  together (``trtlens.kafka.partitions_for_keys``) and cached.
* kafka-python producer with ``acks=all`` and idempotence on.
* **Direct mode** hands records to kafka-python. When records stay
  unacknowledged for ``unreachable_after_ms``, or a send cannot get metadata or
  buffer space within ``publish_budget_ms``, the publisher switches to **spool
  mode**: pending batches and every new event are appended to the on-disk
  spool (``trtlens.producers.spool``) instead. A background drainer sends the
  spool back in order once every in-flight record has settled, and switches
  back to direct mode when the spool is empty. Records kafka-python gives up on
  go to the front of the spool. So per-request order holds and nothing is lost.
* A publish call never blocks longer than ``publish_budget_ms`` (plus the time
  to append to a local file).

Counters (``.counters``): ``submitted`` events handed in, ``published`` events
acknowledged by the broker, ``spooled`` events written to the spool,
``dropped`` low-value events dropped because the spool was full, ``failed``
events that could be neither published nor spooled (non-retriable errors),
``dead_lettered`` DLQ documents acknowledged, ``spool_pending`` events on disk now.
"""

from __future__ import annotations

import collections
import logging
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from trtlens.errors import DependencyMissingError, TrtlensError
from trtlens.kafka import partition_for_key, partitions_for_keys
from trtlens.producers.config import PublisherConfig
from trtlens.producers.spool import Spool, SpoolLockedError
from trtlens.schemas.events import EventBase, routing_key_of, types_where
from trtlens.settings import Settings

log = logging.getLogger(__name__)

HIGH_VALUE_EVENTS = frozenset(types_where(lambda s: s.high_value))
"""Event types never among the first dropped from a full spool (their spec says ``high_value``)."""
_KEY_CACHE_MAX = 200_000


class PublisherError(TrtlensError):
    """The publisher cannot work at all (bad configuration, unusable spool).

    Attributes: reason.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


routing_key = routing_key_of
"""The Kafka key of an event dict: the routing its type's spec declares (``schemas/events.py``)."""


class Encoded:
    """An event in its JSON form: ``raw`` is published as it is, ``key`` is its routing key.

    ``raw`` must be exactly the bytes that were parsed (``orjson.loads``) and validated as an event, and
    ``key`` ``routing_key_of`` that object: then a consumer reading the record gets the object that was
    validated. Only where the publisher must look inside (spool, a record split, a retry) is it parsed again.
    """

    __slots__ = ("key", "raw")

    def __init__(self, key: str, raw: bytes) -> None:
        self.key = key
        self.raw = raw

    def as_dict(self) -> dict[str, Any]:
        return orjson.loads(self.raw)


def _key_of(event: dict[str, Any] | Encoded) -> str:
    return event.key if type(event) is Encoded else routing_key(event)


def _record_value(batch: list, single: bool) -> bytes:
    """The record value: one event (``single``) or a JSON array; :class:`Encoded` events as their own bytes."""
    if single:
        event = batch[0]
        return event.raw if type(event) is Encoded else orjson.dumps(event)
    fragment = orjson.Fragment
    return orjson.dumps([fragment(e.raw) if type(e) is Encoded else e for e in batch])


def is_low_value(event: dict[str, Any]) -> bool:
    """Debug/info events that are not terminal and not errors: dropped first when the spool is full."""
    return event.get("level", "info") in ("debug", "info") and event.get("event") not in HIGH_VALUE_EVENTS


def _spool_line(topic: str, key: str | None, event: dict | Encoded | None = None, doc: dict | None = None) -> bytes:
    if doc is not None:
        return orjson.dumps({"low": False, "t": topic, "k": key, "d": doc})
    if type(event) is Encoded:
        event = event.as_dict()  # a spool line is one line: never the raw bytes (a Kafka value may hold newlines)
    return orjson.dumps({"low": is_low_value(event), "t": topic, "k": key, "e": event})


def _check_compression(name: str) -> str | None:
    if name == "none":
        return None
    modules = {"gzip": ("gzip", "(standard library)"), "snappy": ("snappy", "pip install python-snappy"),
               "lz4": ("lz4", "pip install lz4"), "zstd": ("zstandard", "pip install zstandard")}
    module, hint = modules[name]
    try:
        __import__(module)
    except ImportError as exc:
        raise DependencyMissingError(module, f"compression={name} needs it: {hint}", cause=exc) from None
    return name


class Publisher:
    """Batching, spooling event publisher. Thread-safe; use as a context manager."""

    def __init__(self, settings: Settings, config: PublisherConfig | None = None) -> None:
        self.settings = settings
        self.config = config or settings.producer
        self.topic = settings.topics.events
        self.dlq_topic = settings.topics.events_dlq
        self._compression = _check_compression(self.config.compression)
        self._partitions = settings.topics.partitions
        self._key_cache: dict[str, int] = {}
        self._lock = threading.RLock()
        self._pending: dict[int, list[dict]] = {}
        self._pending_key: dict[int, str] = {}
        self._pending_since: dict[int, float] = {}
        self._failures: collections.deque = collections.deque()
        self._stop = threading.Event()
        self._wake_drainer = threading.Event()
        self._closed = False
        # counters; each is written by one thread only (sender callbacks or the lock holder)
        self._submitted = 0
        self._published = 0
        self._spooled = 0
        self._dropped = 0
        self._failed = 0
        self._dead_lettered = 0
        self._records_sent = 0
        self._records_done = 0
        self._last_progress = time.monotonic()
        self._idle_mark = time.monotonic()
        self._draining_seq: int | None = None
        self._last_connect_warning = 0.0

        self.spool = self._open_spool()
        self._spooling = not self.spool.is_empty()
        if self._spooling:
            log.info("spool=%s pending_events=%d msg='draining the spool of an earlier run first'",
                     self.spool.directory, self.spool.pending_lines)
        self._producer = None
        self._connect(self.config.connect_timeout_ms)
        if self._producer is None:
            self._enter_spool_mode("broker unreachable at start-up")
        self._ticker = threading.Thread(target=self._tick_loop, name="trtlens-publisher-tick", daemon=True)
        self._drainer = threading.Thread(target=self._drain_loop, name="trtlens-publisher-drain", daemon=True)
        self._ticker.start()
        self._drainer.start()

    # ------------------------------------------------------------------ set-up
    def _open_spool(self) -> Spool:
        cfg = self.config
        scope = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.settings.kafka.bootstrap_servers)
        base = Path(cfg.spool_dir) / scope / cfg.spool_name
        try:
            return Spool(base, max_bytes=cfg.spool_max_bytes, segment_bytes=cfg.spool_segment_bytes)
        except SpoolLockedError:
            import os

            alt = base.with_name(f"{base.name}-{os.getpid()}")
            log.warning("spool=%s msg='in use by another process; using %s'", base, alt)
            try:
                return Spool(alt, max_bytes=cfg.spool_max_bytes, segment_bytes=cfg.spool_segment_bytes)
            except (SpoolLockedError, OSError) as exc:
                raise PublisherError(f"cannot open a spool under {base.parent}: {exc}") from exc
        except OSError as exc:
            raise PublisherError(f"cannot open spool {base}: {exc}; set TRTLENS_PRODUCER__SPOOL_DIR") from exc

    def _connect(self, timeout_ms: int) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaConfigurationError

        cfg = self.config
        try:
            producer = KafkaProducer(
                **self.settings.kafka.kafka_python_kwargs(),
                acks="all",
                enable_idempotence=True,
                compression_type=self._compression,
                linger_ms=min(5, cfg.linger_ms),
                batch_size=max(16384, min(cfg.batch_max_bytes, 1024 * 1024)),
                max_request_size=max(cfg.batch_max_bytes * 2, 1024 * 1024),
                max_block_ms=cfg.publish_budget_ms,
                request_timeout_ms=cfg.request_timeout_ms,
                delivery_timeout_ms=cfg.delivery_timeout_ms,
                bootstrap_timeout_ms=timeout_ms,
                allow_auto_create_topics=False,  # a topic made by accident gets the wrong partition count
            )
        except (ValueError, TypeError, AssertionError, KafkaConfigurationError) as exc:  # configuration checks
            raise PublisherError(f"kafka-python rejected the producer configuration: {exc}") from exc
        except Exception as exc:  # kafka-python raises several kinds while no broker answers
            now = time.monotonic()
            if now - self._last_connect_warning > 30:
                self._last_connect_warning = now
                log.warning("bootstrap=%s msg='broker unreachable (%s); spooling until it answers'",
                            self.settings.kafka.bootstrap_servers, exc)
            return
        try:
            found = producer.partitions_for(self.topic)
            if found and len(found) != self._partitions:
                log.warning("topic=%s partitions=%d configured=%d msg='using the broker's count'",
                            self.topic, len(found), self._partitions)
                self._partitions = len(found)
                self._key_cache.clear()
        except Exception as exc:
            log.warning("topic=%s msg='no metadata yet (%s); using configured partitions=%d'",
                        self.topic, exc, self._partitions)
        self._producer = producer

    # ------------------------------------------------------------------ public API
    @property
    def partitions(self) -> int:
        return self._partitions

    def partition_of(self, key: str) -> int:
        p = self._key_cache.get(key)
        if p is None:
            if len(self._key_cache) >= _KEY_CACHE_MAX:
                self._key_cache.clear()
            p = self._key_cache[key] = partition_for_key(key, self._partitions)
        return p

    def publish(self, event: EventBase) -> None:
        self.publish_dicts((event.model_dump(mode="json", exclude_none=True),))

    def publish_many(self, events: Iterable[EventBase]) -> None:
        self.publish_dicts([e.model_dump(mode="json", exclude_none=True) for e in events])

    def partitions_of(self, keys: list[str]) -> list[int]:
        """``partition_of`` for many keys: the ones not cached are hashed together."""
        cache = self._key_cache
        found = [cache.get(k) for k in keys]
        if None not in found:
            return found
        missing = list(dict.fromkeys(k for k, p in zip(keys, found) if p is None))
        new = dict(zip(missing, partitions_for_keys(missing, self._partitions)))
        if len(cache) + len(new) > _KEY_CACHE_MAX:
            cache.clear()
        cache.update(new)  # read back from ``new``: the drainer may clear the cache meanwhile (partition count)
        return [new[k] if p is None else p for k, p in zip(keys, found)]

    def publish_dicts(self, events: Iterable[dict[str, Any] | Encoded]) -> None:
        """Fast path: event dicts that are already valid events in JSON form (not validated here), or
        :class:`Encoded` events (their bytes go out as they are)."""
        if self._closed:
            raise PublisherError("publisher is closed")
        max_events = self.config.batch_max_events
        events = events if isinstance(events, list) else list(events)
        keys = [e.key if type(e) is Encoded else routing_key(e) for e in events]
        with self._lock:
            if self._spooling:
                lines = [_spool_line(self.topic, k, e) for k, e in zip(keys, events)]
                self._submitted += len(lines)
                self._to_spool(lines)
                self.spool.sync()
                return
            pending = self._pending
            now = time.monotonic()
            n = 0
            for event, key, p in zip(events, keys, self.partitions_of(keys)):
                n += 1
                batch = pending.get(p)
                if batch is None:
                    batch = pending[p] = []
                    self._pending_key[p] = key
                    self._pending_since[p] = now
                batch.append(event)
                if len(batch) >= max_events:
                    self._emit(p)
            self._submitted += n

    def publish_dead_letter(self, doc: dict[str, Any], key: str | None = None) -> None:
        """One dead-letter document to ``topics.events_dlq`` (never dropped, spooled if need be)."""
        with self._lock:
            if self._spooling or self._producer is None:
                self._to_spool([_spool_line(self.dlq_topic, key, doc=doc)])
                self.spool.sync()
                return
            self._send_doc(self.dlq_topic, key, doc)

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Send every pending batch; wait until all is acknowledged (spool drained) or the timeout.

        Returns True when nothing is left unacknowledged.
        """
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._emit_all()
            self.spool.sync()
        self._wake_drainer.set()
        while True:
            if self._settled():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if not self._spooling and self._producer is not None:
                try:
                    self._producer.flush(timeout=min(remaining, 1.0))
                except Exception:  # KafkaTimeoutError: still in flight
                    pass
            else:
                time.sleep(min(remaining, 0.02))

    def close(self, timeout_s: float | None = None) -> None:
        """Flush (up to ``close_timeout_s``), stop the threads, close the producer; the spool keeps the rest."""
        if self._closed:
            return
        timeout = self.config.close_timeout_s if timeout_s is None else timeout_s
        delivered = self.flush(timeout)
        self._closed = True
        self._stop.set()
        self._wake_drainer.set()
        self._drainer.join(timeout=max(1.0, timeout))
        self._ticker.join(timeout=2.0)
        with self._lock:
            self._absorb_failures()
            if self._producer is not None:
                try:
                    self._producer.close(timeout=0 if not delivered else 5)
                except Exception as exc:
                    log.warning("msg='producer close failed' error=%r", exc)
            pending = self.spool.pending_lines
            self.spool.close()
        c = self.counters
        log.info(
            "publisher=closed topic=%s submitted=%d published=%d spooled=%d dropped=%d failed=%d dead_lettered=%d spool_pending=%d spool=%s",
            self.topic, c["submitted"], c["published"], c["spooled"], c["dropped"], c["failed"],
            c["dead_lettered"], pending, self.spool.directory,
        )
        if pending:
            log.warning("spool=%s pending_events=%d msg='not delivered; the next publisher with this spool drains them'",
                        self.spool.directory, pending)

    @property
    def counters(self) -> dict[str, int]:
        return {
            "submitted": self._submitted,
            "published": self._published,
            "spooled": self._spooled,
            "dropped": self._dropped,
            "failed": self._failed,
            "dead_lettered": self._dead_lettered,
            "spool_pending": self.spool.pending_lines,
            "records_sent": self._records_sent,
        }

    @property
    def spooling(self) -> bool:
        return self._spooling

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals (lock held)
    def _outstanding(self) -> int:
        return self._records_sent - self._records_done

    def _settled(self) -> bool:
        return (not self._spooling and self._outstanding() == 0 and not self._pending
                and not self._failures and self.spool.is_empty())

    def _emit_all(self) -> None:
        for p in list(self._pending):
            self._emit(p)

    def _emit(self, p: int) -> None:
        batch = self._pending.pop(p)
        key = self._pending_key.pop(p)
        self._pending_since.pop(p, None)
        if self._spooling or self._producer is None:
            self._to_spool([_spool_line(self.topic, _key_of(e), e) for e in batch])
            return
        self._send_events(self.topic, p, key, batch)

    def _send_events(self, topic: str, p: int, key: str, batch: list[dict]) -> bool:
        """Hand one record to kafka-python; on a timeout switch to spooling and spool it."""
        from kafka.errors import KafkaTimeoutError

        value = _record_value(batch, self.config.batch_max_events == 1 and len(batch) == 1)
        if len(value) > self.config.batch_max_bytes and len(batch) > 1:
            half = len(batch) // 2
            return self._send_events(topic, p, key, batch[:half]) and self._send_events(
                topic, p, _key_of(batch[half]), batch[half:]
            )
        try:
            future = self._producer.send(topic, value=value, key=key.encode("utf-8"), partition=p)
        except KafkaTimeoutError as exc:
            self._enter_spool_mode(f"send blocked past publish_budget_ms ({exc})")
            self._to_spool([_spool_line(topic, _key_of(e), e) for e in batch])
            return False
        except Exception as exc:  # non-retriable: too large, serialisation, closed producer
            self._failed += len(batch)
            log.error("topic=%s partition=%d events=%d msg='record rejected' error=%r", topic, p, len(batch), exc)
            return False
        self._records_sent += 1
        n = len(batch)
        future.add_callback(self._on_ack, n, False)
        future.add_errback(self._on_fail, ("e", topic, key, batch))
        return True

    def _send_doc(self, topic: str, key: str | None, doc: dict) -> bool:
        from kafka.errors import KafkaTimeoutError

        try:
            future = self._producer.send(topic, value=orjson.dumps(doc), key=key.encode("utf-8") if key else None)
        except KafkaTimeoutError as exc:
            self._enter_spool_mode(f"send blocked past publish_budget_ms ({exc})")
            self._to_spool([_spool_line(topic, key, doc=doc)])
            return False
        except Exception as exc:
            self._failed += 1
            log.error("topic=%s msg='dead letter rejected' error=%r", topic, exc)
            return False
        self._records_sent += 1
        future.add_callback(self._on_ack, 1, True)
        future.add_errback(self._on_fail, ("d", topic, key, doc))
        return True

    def _to_spool(self, lines: list[bytes]) -> None:
        try:
            self.spool.append(lines)
        except OSError as exc:
            self._failed += len(lines)
            log.error("spool=%s events=%d msg='spool write failed; events lost' error=%r",
                      self.spool.directory, len(lines), exc)
            return
        self._spooled += len(lines)

    def _enter_spool_mode(self, why: str) -> None:
        if self._spooling:
            return
        self._spooling = True
        log.warning("publisher=spooling reason=%r outstanding_records=%d spool=%s",
                    why, self._outstanding(), self.spool.directory)
        for p in list(self._pending):
            self._emit(p)

    def _absorb_failures(self) -> None:
        """Records kafka-python gave up on go to the front of the spool, in failure order."""
        if not self._failures:
            return
        lines: list[bytes] = []
        while self._failures:
            kind, topic, key, payload = self._failures.popleft()
            if kind == "e":
                lines.extend(_spool_line(topic, _key_of(e), e) for e in payload)
            else:
                lines.append(_spool_line(topic, key, doc=payload))
        self._enter_spool_mode("records failed after retries")
        try:
            self.spool.prepend(lines)
            self._spooled += len(lines)
        except OSError as exc:
            self._failed += len(lines)
            log.error("spool=%s events=%d msg='spool write failed; events lost' error=%r",
                      self.spool.directory, len(lines), exc)

    # ------------------------------------------------------------------ sender-thread callbacks
    def _on_ack(self, n: int, dead_letter: bool, _metadata: Any) -> None:
        if dead_letter:
            self._dead_lettered += n
        else:
            self._published += n
        self._last_progress = time.monotonic()
        self._records_done += 1

    def _on_fail(self, item: tuple, exc: BaseException) -> None:
        if getattr(exc, "retriable", False) or exc.__class__.__name__ in ("KafkaTimeoutError", "KafkaConnectionError"):
            self._failures.append(item)  # before counting done: outstanding==0 implies it is queued
        else:
            n = len(item[3]) if item[0] == "e" else 1
            self._failed += n
            log.error("topic=%s events=%d msg='record failed, not retriable' error=%r", item[1], n, exc)
        self._records_done += 1

    # ------------------------------------------------------------------ background threads
    def _tick_loop(self) -> None:
        tick_s = max(0.005, min(self.config.linger_ms, 50) / 1000)
        unreachable_s = self.config.unreachable_after_ms / 1000
        linger_s = self.config.linger_ms / 1000
        while not self._stop.wait(tick_s):
            try:
                with self._lock:
                    now = time.monotonic()
                    for p, since in list(self._pending_since.items()):
                        if now - since >= linger_s:
                            self._emit(p)
                    if self._outstanding() == 0:
                        self._idle_mark = now
                    elif not self._spooling and now - max(self._last_progress, self._idle_mark) > unreachable_s:
                        self._enter_spool_mode(f"no acknowledgement for {self.config.unreachable_after_ms} ms")
                    self._absorb_failures()
                    if self._spooling:
                        self.spool.sync()
                        if self.spool.total_bytes > self.spool.max_bytes:
                            self._dropped += self.spool.enforce_limit(skip=self._draining_seq)
                if self._spooling:
                    self._wake_drainer.set()
            except Exception:  # never let the ticker die silently
                log.exception("msg='publisher tick failed'")

    def _drain_loop(self) -> None:
        backoff_s = 0.05
        while not self._stop.is_set():
            self._wake_drainer.wait(0.2)
            self._wake_drainer.clear()
            if not self._spooling:
                continue
            try:
                if self._producer is None:
                    self._connect(min(self.config.connect_timeout_ms, 2000))
                    if self._producer is None:
                        self._stop.wait(backoff_s)
                        backoff_s = min(backoff_s * 2, 2.0)
                        continue
                while self._spooling and not self._stop.is_set():
                    if self._outstanding() > 0:  # earlier records settle first (order)
                        self._stop.wait(0.01)
                        continue
                    with self._lock:
                        self._absorb_failures()
                        seq = self.spool.next_segment()
                        if seq is None:
                            if not self._pending:
                                self._spooling = False
                                log.info("publisher=direct msg='spool drained' published=%d", self._published)
                            break
                        self._draining_seq = seq
                        lines = self.spool.read(seq)
                    ok = self._drain_segment(seq, lines)
                    if not ok:
                        self._stop.wait(backoff_s)
                        backoff_s = min(backoff_s * 2, 2.0)
                    else:
                        backoff_s = 0.05
            except Exception:
                log.exception("msg='spool drain failed; retrying'")
                self._stop.wait(1.0)
            finally:
                self._draining_seq = None

    def _drain_segment(self, seq: int, lines: list[bytes]) -> bool:
        """Send one segment's lines as records; keep on disk what did not get through."""
        from kafka.errors import KafkaTimeoutError

        max_events = self.config.batch_max_events
        # group in order: (topic, partition) -> open batch; a dead letter is its own record
        records: list[tuple[str, int | None, str | None, list[dict] | dict, list[bytes]]] = []
        open_batch: dict[tuple[str, int], int] = {}
        for line in lines:
            entry = orjson.loads(line)
            topic, key = entry["t"], entry["k"]
            if "d" in entry:
                records.append((topic, None, key, entry["d"], [line]))
                continue
            p = self.partition_of(key)
            idx = open_batch.get((topic, p))
            if idx is None or len(records[idx][3]) >= max_events:
                open_batch[(topic, p)] = len(records)
                records.append((topic, p, key, [entry["e"]], [line]))
            else:
                records[idx][3].append(entry["e"])
                records[idx][4].append(line)
        sent: list[tuple[Any, list[bytes]]] = []
        unsent: list[bytes] = []
        for topic, p, key, payload, src in records:
            if unsent:
                unsent.extend(src)
                continue
            value = orjson.dumps(payload[0] if isinstance(payload, list) and max_events == 1 else payload)
            try:
                future = self._producer.send(
                    topic, value=value, key=key.encode("utf-8") if key else None, partition=p
                )
            except KafkaTimeoutError:
                unsent.extend(src)
                continue
            n, dead = (1, True) if p is None else (len(payload), False)
            with self._lock:
                self._records_sent += 1
            future.add_callback(self._on_ack, n, dead)
            future.add_errback(self._on_drain_fail)
            sent.append((future, src))
        # wait for every sent record to settle (kafka-python retries until delivery_timeout_ms)
        keep: list[bytes] = []
        for future, src in sent:
            while not future.is_done and not self._stop.is_set():
                time.sleep(0.005)
            if not future.is_done or future.failed():
                keep.extend(src)
        keep.extend(unsent)
        with self._lock:
            if keep:
                self.spool.rewrite(seq, keep)
            else:
                self.spool.remove(seq)
        return not keep

    def _on_drain_fail(self, exc: BaseException) -> None:
        log.warning("msg='spooled record not delivered; it stays in the spool' error=%r", exc)
        self._records_done += 1
