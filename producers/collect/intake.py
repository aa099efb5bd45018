"""What every source shares: decode + map one payload, publish events and dead letters, count.

A dead letter names its source: ``source_kind`` (``file``, ``http``, ``firehose``, ``telemetry``,
``kafka``) and, per kind, ``source`` + ``offset`` (file path and byte offset), ``request_id``
(the HTTP/Firehose request id), or ``topic``/``partition``/``offset``; plus ``stage: "collect"`` and the
codec's ``code``/``reason``/``field``/``raw`` (``DecodeError.to_dlq``). Secrets never enter a DLQ
document: headers are not copied.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

import orjson

from trtlens.producers.collect.commit import Committer
from trtlens.producers.collect.mapping import Mapper
from trtlens.producers.publisher import Encoded
from trtlens.schemas.codec import DecodeError


class Intake:
    def __init__(self, publisher, committer: Committer, mapper: Mapper, *, spool_pause_events: int = 0) -> None:
        self.publisher = publisher
        self.spool_pause_events = spool_pause_events
        self.committer = committer
        self.mapper = mapper
        self._lock = threading.Lock()
        # (source kind, outcome) → count; outcome: events, invalid, skipped
        self.counts: collections.Counter = collections.Counter()

    def paused(self) -> bool:
        """True while reading should wait: the broker is away and the spool holds ``spool_pause_events``."""
        if not self.spool_pause_events or not getattr(self.publisher, "spooling", False):
            return False
        return self.publisher.counters.get("spool_pending", 0) >= self.spool_pause_events

    def decode(self, payload: bytes, *, source_id: str, position: str | int,
               fallback_ts_ms: int | None = None) -> dict[str, Any] | Encoded:
        """One payload (a line or record value) → a valid event; raises :class:`DecodeError`.

        An event the mapping leaves unchanged (already a complete contract event) comes back as
        :class:`Encoded`: the payload's own bytes, published without re-encoding; any other as its dict.
        """
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            stripped = payload.lstrip()
            if stripped[:1] in (b"{", b"["):
                raise DecodeError("invalid_json", str(exc), payload) from None
            raise DecodeError("not_an_event", "plain text, not a JSON event", payload) from None
        key = self.mapper.unchanged_key(obj, payload)
        if key is not None:  # unchanged: these bytes are the validated event
            return Encoded(key, payload) if type(payload) is bytes else obj
        return self.mapper.to_event(obj, payload, source_id=source_id, position=position,
                                    fallback_ts_ms=fallback_ts_ms)

    def submit(self, kind: str, events: list[dict | Encoded], dead: list[dict[str, Any]] = (), *,
               dlq_key: str | None = None, skipped: int = 0) -> None:
        """Hand events and dead letters to the publisher under the commit gate."""
        with self.committer.publishing():
            if events:
                self.publisher.publish_dicts(events)
            for doc in dead:
                self.publisher.publish_dead_letter({"stage": "collect", "source_kind": kind, **doc}, key=dlq_key)
        with self._lock:
            self.counts[(kind, "events")] += len(events)
            self.counts[(kind, "invalid")] += len(dead)
            if skipped:
                self.counts[(kind, "skipped")] += skipped
