"""The emitter: where instrumented events go, and which requests are kept (sampling at the source).

Sinks: :class:`StdoutSink` (one JSON object per line, flushed per line: what a serverless runtime
captures and ``trtlens collect`` follows), :class:`PublisherSink` (Kafka through
:class:`~trtlens.producers.publisher.Publisher`, dicts as built) and :class:`ModelSink` (each event
validated into its contract model, then handed to a callable such as ``Publisher.publish``: what
``trtlens worker`` uses, so a malformed event fails where it is built, not downstream).

Sampling is per **request**: its events are held until the request ends, then all of them go or none.
Always kept: requests with an error, cold starts, requests at or above ``slow_ms``, and everything while
the :class:`~trtlens.producers.instrument.verbose.VerboseSwitch` is on for the model. The rest is kept
at ``rate``, decided from the ``request_id`` (blake2b, so the same id is always kept or always dropped,
in every process). Kept events of a sampled-at-rate request carry ``sample_weight = 1/rate``; events that
are always kept carry none (weight 1). ``sample_weight`` is a field of the event contract
(``schemas/events.py``), so it survives validation (``ModelSink``, the collector, the streams app's decode)
and the streams app's windows count each event that many times: requests, errors, cold starts, QPS and
the rates are estimates of the whole traffic, and the latency sketches weigh each request by it, so
P99 estimates the population's, not the kept requests' (which lean towards the always-kept slow ones).
Each window document says how many requests were actually seen (``sampled_requests``). Worker-scoped
events (engine loads outside a request, GPU samples) are never sampled. ``debug``-level events are
emitted only while verbose. ``rate = 1`` (the default) keeps the counts exact.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

import orjson

from trtlens.producers.instrument.verbose import VerboseSwitch
from trtlens.schemas.codec import validate_event
from trtlens.schemas.events import EventBase


class StdoutSink:
    """JSON lines on a text stream (default ``sys.stdout``), one write + flush per event, thread-safe."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def __call__(self, events: list[dict[str, Any]]) -> None:
        stream = self.stream or sys.stdout
        text = "".join(orjson.dumps(e).decode() + "\n" for e in events)
        with self._lock:
            stream.write(text)
            stream.flush()


class PublisherSink:
    """Events to Kafka through a :class:`~trtlens.producers.publisher.Publisher` (its batching and spool)."""

    def __init__(self, publisher) -> None:
        self.publisher = publisher

    def __call__(self, events: list[dict[str, Any]]) -> None:
        self.publisher.publish_dicts(events)


class ModelSink:
    """Each event validated into its ``schemas.events`` model (``validate_event``), then ``emit(model)``."""

    def __init__(self, emit: Callable[[EventBase], None]) -> None:
        self.emit = emit

    def __call__(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.emit(validate_event(event))


class Sampler:
    def __init__(self, rate: float = 1.0, *, slow_ms: float | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"sampling rate must be within 0..1, got {rate}")
        self.rate = rate
        self.slow_ms = slow_ms
        self._threshold = int(rate * (1 << 64))

    def keep_by_rate(self, request_id: str) -> bool:
        if self.rate >= 1.0:
            return True
        h = int.from_bytes(hashlib.blake2b(request_id.encode(), digest_size=8).digest(), "big")
        return h < self._threshold

    def decide(self, request_id: str, *, error: bool, cold_start: bool, total_ms: float | None,
               verbose: bool) -> tuple[bool, float | None]:
        """(keep, weight): weight is None for requests kept unconditionally."""
        if error or cold_start or verbose or (self.slow_ms is not None and total_ms is not None
                                               and total_ms >= self.slow_ms):
            return True, None
        if self.keep_by_rate(request_id):
            return True, (None if self.rate >= 1.0 else round(1.0 / self.rate, 6))
        return False, None


class Emitter:
    def __init__(self, sink, *, sampler: Sampler | None = None, verbose: VerboseSwitch | None = None) -> None:
        self.sink = sink
        self.sampler = sampler or Sampler()
        self.verbose = verbose or VerboseSwitch()
        self.kept_requests = 0
        self.dropped_requests = 0
        self._lock = threading.Lock()

    def emit(self, event: dict[str, Any]) -> None:
        """An event outside any request (worker-scoped): never sampled."""
        if event.get("level") == "debug" and not self.verbose.active(event.get("model")):
            return
        self.sink([event])

    def finish_request(self, events: list[dict[str, Any]], *, request_id: str, model: str | None, error: bool,
                       cold_start: bool, total_ms: float | None) -> bool:
        """The held events of one request: emitted together if the request is kept. Returns keep."""
        verbose = self.verbose.active(model)
        keep, weight = self.sampler.decide(request_id, error=error, cold_start=cold_start, total_ms=total_ms,
                                           verbose=verbose)
        with self._lock:
            if keep:
                self.kept_requests += 1
            else:
                self.dropped_requests += 1
        if not keep:
            return False
        out = [e for e in events if verbose or e.get("level") != "debug"]
        if weight is not None:
            out = [{**e, "sample_weight": weight} for e in out]
        if out:
            self.sink(out)
        return True
