"""Bulk writes with retry: the only part of the sink that talks to the store.

:class:`BulkWriter` takes a client object (``trtlens.es.async_es_client``) and a
list of :class:`~trtlens.sinks.core.BulkAction`; it sends them in chunks
bounded by count and bytes and returns only when every action is either
acknowledged or rejected for good:

* whole-request failures that retrying can fix — connection errors, timeouts,
  429, 5xx — and per-document 429/5xx are retried (only the failed documents)
  with exponential backoff and jitter, for ever by default; while it retries it
  raises the ``backpressure`` flag so the consumer stops fetching;
* per-document 4xx (mapping errors, 400) become dead letters: the rest of the
  chunk proceeds;
* whole-request 4xx other than 408/429 (bad credentials, 413) cannot be fixed
  by waiting: :class:`StoreRejectedError`, the sink stops without committing.

One structured log line per bulk request.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trtlens.errors import TrtlensError
from trtlens.sinks.config import SinkSettings
from trtlens.sinks.core import (
    BulkAction,
    Chunk,
    DeadLetter,
    ItemOutcomes,
    backoff_s,
    chunk_actions,
    classify_items,
    is_retryable_status,
    rejected_letter,
)

log = logging.getLogger(__name__)


class SinkError(TrtlensError):
    """Root of the sink's errors."""


class StoreRejectedError(SinkError):
    """The store refused a whole bulk request for a reason waiting cannot fix.

    Attributes: status (HTTP status), reason (the store's message, secrets never included), hint.
    """

    def __init__(self, status: int | None, reason: str, hint: str) -> None:
        self.status = status
        self.reason = reason
        self.hint = hint
        super().__init__(f"the store rejected a bulk request ({status}: {reason}); {hint}")


class StoreUnreachableError(SinkError):
    """The store did not answer at start-up.

    Attributes: url (credentials removed), waited_s, last_error.
    """

    def __init__(self, url: str, waited_s: float, last_error: str) -> None:
        self.url = url
        self.waited_s = waited_s
        self.last_error = last_error
        super().__init__(
            f"Elasticsearch at {url} did not answer within {waited_s:.0f}s ({last_error}); is it running? "
            "`trtlens stack status` shows the embedded store; TRTLENS_ELASTICSEARCH__URL points elsewhere, "
            "TRTLENS_SINK__STARTUP_TIMEOUT_S waits longer"
        )


class RetriesExhaustedError(SinkError):
    """A bulk still failed after ``max_retries`` attempts; nothing was committed for it.

    Attributes: attempts, last_error.
    """

    def __init__(self, attempts: int, last_error: str) -> None:
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(
            f"bulk failed {attempts} times (last: {last_error}); offsets were not committed, "
            "a restart replays the records (TRTLENS_SINK__MAX_RETRIES=0 retries for ever)"
        )


@dataclass(slots=True)
class WriteResult:
    acked: list[BulkAction] = field(default_factory=list)
    rejected: list[DeadLetter] = field(default_factory=list)


def _status_of(exc: BaseException) -> int | None:
    meta = getattr(exc, "meta", None)
    status = getattr(meta, "status", None)
    return status if isinstance(status, int) else None


class BulkDurations:
    """How long bulk requests took, answer or not, as cumulative histogram buckets (seconds).

    The store's own latency, apart from the pipeline's: a store that stalls shows here first.
    """

    BOUNDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

    def __init__(self) -> None:
        self.counts = [0] * (len(self.BOUNDS) + 1)  # per bucket, not cumulative; the last is +Inf
        self.sum_s = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.BOUNDS, seconds)] += 1
        self.sum_s += seconds

    def buckets(self) -> list[tuple[str, int]]:
        """Prometheus's cumulative ``(le, count)`` pairs, ``+Inf`` last."""
        out, total = [], 0
        for bound, n in zip((*map(str, self.BOUNDS), "+Inf"), self.counts):
            total += n
            out.append((bound, total))
        return out


class BulkWriter:
    """Sends actions to the store in bounded chunks until each is acked or rejected."""

    def __init__(
        self,
        client: Any,
        settings: SinkSettings,
        *,
        on_backpressure: Callable[[bool], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._settings = settings
        self._on_backpressure = on_backpressure
        self._rng = rng or random.Random()
        self.backpressure = False
        self.counters = {"bulks": 0, "bulk_docs": 0, "bulk_bytes": 0, "acked": 0, "rejected": 0, "retries": 0}
        self.bulk_seconds = BulkDurations()
        self.first_send_at: float | None = None
        self.last_ack_at: float | None = None

    def _set_backpressure(self, on: bool) -> None:
        if self.backpressure != on:
            self.backpressure = on
            if self._on_backpressure is not None:
                self._on_backpressure(on)

    async def write(self, actions: list[BulkAction]) -> WriteResult:
        result = WriteResult()
        s = self._settings
        for chunk in chunk_actions(actions, max_docs=s.chunk_docs, max_bytes=s.chunk_bytes):
            await self._send_chunk(chunk, result)
        return result

    async def _send_chunk(self, chunk: Chunk, result: WriteResult) -> None:
        from elasticsearch import ApiError, TransportError

        s = self._settings
        attempt = 0
        while True:
            attempt += 1
            n = len(chunk.actions)
            t0 = time.monotonic()
            if self.first_send_at is None:
                self.first_send_at = t0
            error = ""
            try:
                resp = await self._client.bulk(operations=bytes(chunk.body))
                body = resp.body
                items = body.get("items") or []
                if not body.get("errors") and len(items) == n:
                    outcomes = ItemOutcomes(acked=list(range(n)))
                else:
                    outcomes = classify_items(items, n)
            except ApiError as exc:
                status = _status_of(exc)
                if not is_retryable_status(status):
                    hint = (
                        "lower TRTLENS_SINK__CHUNK_BYTES" if status == 413
                        else "check TRTLENS_ELASTICSEARCH__* credentials and privileges" if status in (401, 403)
                        else "see the store's log"
                    )
                    raise StoreRejectedError(status, str(exc.message)[:300], hint) from None
                outcomes = ItemOutcomes(retry=list(range(n)))
                error = f"http_{status}"
            except TransportError as exc:  # connection refused/reset, timeout: no answer
                outcomes = ItemOutcomes(retry=list(range(n)))
                error = type(exc).__name__
            took_ms = (time.monotonic() - t0) * 1000
            self.bulk_seconds.observe(took_ms / 1000)
            self.counters["bulks"] += 1
            self.counters["bulk_docs"] += n
            self.counters["bulk_bytes"] += chunk.nbytes
            self.counters["acked"] += len(outcomes.acked)
            self.counters["rejected"] += len(outcomes.rejected)
            result.acked.extend(chunk.actions[i] for i in outcomes.acked)
            for i, status, etype, reason in outcomes.rejected:
                result.rejected.append(rejected_letter(chunk.actions[i], status, etype, reason))
            if outcomes.acked:
                self.last_ack_at = time.monotonic()
            outcome = "ok" if not outcomes.retry and not outcomes.rejected else ("partial" if not outcomes.retry else "retry")
            log.info(
                "bulk outcome=%s docs=%d bytes=%d acked=%d rejected=%d retry=%d attempt=%d took_ms=%.0f index=%s%s",
                outcome, n, chunk.nbytes, len(outcomes.acked), len(outcomes.rejected), len(outcomes.retry),
                attempt, took_ms, chunk.actions[0].index, f" error={error}" if error else "",
            )
            for i, status, etype, reason in outcomes.rejected[:3]:
                a = chunk.actions[i]
                log.warning("rejected doc_id=%s index=%s status=%d error_type=%s reason=%r",
                            a.doc_id, a.index, status, etype, reason[:200])
            if not outcomes.retry:
                self._set_backpressure(False)
                return
            if s.max_retries and attempt >= s.max_retries:
                raise RetriesExhaustedError(attempt, error or f"{len(outcomes.retry)} documents answered 429/5xx")
            self._set_backpressure(True)
            self.counters["retries"] += 1
            delay = backoff_s(
                attempt, initial_ms=s.backoff_initial_ms, max_ms=s.backoff_max_ms,
                multiplier=s.backoff_multiplier, jitter=s.backoff_jitter, rng=self._rng,
            )
            log.warning("bulk retry_in_s=%.2f attempt=%d docs=%d error=%s backpressure=on",
                        delay, attempt, len(outcomes.retry), error or "item_429_5xx")
            await asyncio.sleep(delay)
            retry = Chunk()
            for i in outcomes.retry:
                action = chunk.actions[i]
                retry.actions.append(action)
                retry.body += action.lines()
            chunk = retry
