"""Pure logic of ``trtlens notify``: what an alert record is, whether to send it, when to retry.

Nothing here does I/O or reads a clock (times are passed in), so all of it is
table-tested (``tests/unit/sinks/notify``). Payload rendering is in
:mod:`trtlens.sinks.notify.render`, pure as well.

* :func:`parse_alert` turns one ``trtlens.alerts`` record into an :class:`AlertRecord`
  (validated by the ``Alert`` model, every published field kept) or an :class:`Invalid`.
* :func:`idempotency_key` derives the key every request carries from the alert's ``doc_id``.
* :class:`DeliveryLog` is the in-memory view of ``trtlens.notify.delivered``: which
  (endpoint, key) pairs are finished, and the last state change per endpoint,
  rule and scope; :meth:`DeliveryLog.decide` applies dedup, hysteresis and filters.
* :func:`next_step` is the retry schedule: done, retry after a delay, or dead-letter.
* :func:`redact` and :func:`dlq_record` keep secrets out of logs and the DLQ.
"""

from __future__ import annotations

import email.utils
import hashlib
import random
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import orjson
from pydantic import ValidationError

from trtlens.schemas.documents import Alert
from trtlens.sinks.core import RecordRef, backoff_s
from trtlens.sinks.notify.config import EndpointConfig, NotifySettings

KEY_PREFIX = "tln1-"  # bump if the derivation changes: receivers dedup on the key


def idempotency_key(doc_id: str) -> str:
    """``tln1-`` + 32 hex digits of SHA-256(doc_id): the same alert always gets the same key.

    The alert's ``doc_id`` (``rule:scope_key:window_start_ms:state``) is unique per
    state change and is what the streams app re-emits after its own restart, so
    a re-emission and a retry carry the same key. Hashing keeps the header
    ASCII and short whatever the scope key holds.
    """
    return KEY_PREFIX + hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:32]


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """A valid alert record: the model for the fields this checkout knows, the
    document as published for everything (fields added later included)."""

    alert: Alert
    doc: dict[str, Any]
    key: str
    ref: RecordRef

    @property
    def doc_id(self) -> str:
        return self.alert.doc_id

    def order(self) -> tuple[int, int]:
        """Event-time order of state changes: a rule's firing and resolved records live on
        different partitions (the key holds the window), so a batch is decided in this order."""
        return self.alert.window_start_ms, 0 if self.alert.state == "firing" else 1


@dataclass(frozen=True, slots=True)
class Invalid:
    """A record that is not an alert; ``code`` is ``invalid_json`` or ``invalid_alert``."""

    code: str
    reason: str
    ref: RecordRef
    raw: bytes | None
    field: str | None = None


RENDERED_AS_IS = frozenset({"explanation", "attribution", "exemplars", "exemplar_query", "url", "engines"})
"""Alert fields notify renders from the raw document (``render.py``), never validated here."""


def parse_alert(ref: RecordRef, value: bytes | None) -> AlertRecord | Invalid:
    """Validate one ``trtlens.alerts`` record.

    Fields the ``Alert`` model of this checkout does not declare (issue 11 adds
    ``explanation``, ``attribution``, ``exemplars``, ``url``) are not an error:
    they are kept in ``doc`` and rendered when present. Those explanatory fields
    are rendered from ``doc`` whatever their shape, so they are not validated
    either (a producer with another shape of them still gets its alert out).
    """
    if value is None:
        return Invalid("invalid_json", "record has no value (tombstone)", ref, None)
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Invalid("invalid_json", f"not JSON: {exc}", ref, value)
    if not isinstance(obj, dict):
        return Invalid("invalid_json", f"expected one JSON object, got {type(obj).__name__}", ref, value)
    known = {k: v for k, v in obj.items() if k in Alert.model_fields and k not in RENDERED_AS_IS}
    try:
        alert = Alert.model_validate(known)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or None
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return Invalid("invalid_alert", f"not a valid Alert: {first['msg']}{more}", ref, value, field=loc)
    return AlertRecord(alert, obj, idempotency_key(alert.doc_id), ref)


def matches(endpoint: EndpointConfig, alert: Alert) -> bool:
    """The endpoint's optional rule and scope filters."""
    if endpoint.rules is not None and alert.rule_id not in endpoint.rules:
        return False
    return endpoint.scopes is None or alert.scope in endpoint.scopes


def too_old(alert: Alert, *, now_ms: int, max_age_s: float | None) -> bool:
    """The alert's window ended more than ``max_age_s`` before ``now_ms`` (a backfill, a long outage)."""
    if max_age_s is None:
        return False
    return now_ms - (alert.window_start_ms + alert.window_ms) > max_age_s * 1000


# ---------------------------------------------------------------- delivery log

Finish = Literal["delivered", "dead_lettered"]
Decision = Literal["send", "duplicate", "repeat", "stale", "filtered"]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One record of ``trtlens.notify.delivered``: (endpoint, key) is finished.

    Written after the endpoint acknowledged (``delivered``) or after the dead
    letter was acknowledged by the broker (``dead_lettered``); never holds the
    URL, headers or payload.
    """

    endpoint: str
    idempotency_key: str
    doc_id: str
    rule_id: str
    scope_key: str
    state: str
    window_start_ms: int
    outcome: Finish
    attempts: int
    at_ms: int

    def record_key(self) -> bytes:
        return log_key(self.endpoint, self.idempotency_key)

    def to_json(self) -> bytes:
        return orjson.dumps({f: getattr(self, f) for f in self.__slots__})

    @classmethod
    def from_json(cls, value: bytes | None) -> LogEntry | None:
        """The entry, or None for anything that is not one (a tombstone, another writer's record)."""
        if not value:
            return None
        try:
            obj = orjson.loads(value)
            entry = cls(**{f: obj[f] for f in cls.__slots__})
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None
        if entry.outcome not in ("delivered", "dead_lettered") or not isinstance(entry.window_start_ms, int):
            return None
        return entry

    @classmethod
    def for_record(cls, endpoint: str, rec: AlertRecord, *, outcome: Finish, attempts: int, at_ms: int) -> LogEntry:
        a = rec.alert
        return cls(endpoint, rec.key, a.doc_id, a.rule_id, a.scope_key, a.state, a.window_start_ms, outcome,
                   attempts, at_ms)


def log_key(endpoint: str, key: str) -> bytes:
    """Record key in the compacted delivery log: one record per (endpoint, idempotency key)."""
    return f"{endpoint}|{key}".encode()


@dataclass(frozen=True, slots=True)
class Mark:
    """The last state change taken for one (endpoint, rule, scope)."""

    window_start_ms: int
    state: str
    doc_id: str


class DeliveryLog:
    """What was delivered or dead-lettered, per endpoint, and the hysteresis state derived from it.

    Fed by the delivery log topic (:meth:`apply`, at start-up and continuously)
    and by this process's own decisions (:meth:`intend`, when a delivery is
    queued, so a repeat arriving while the first is still retrying is caught).
    Memory: one small entry per (endpoint, alert state change) ever finished —
    a few hundred bytes each.
    """

    def __init__(self) -> None:
        self._finished: dict[tuple[str, str], str] = {}
        self._last: dict[tuple[str, str, str], Mark] = {}
        self.counters = {"log_records": 0, "log_ignored": 0}

    def __len__(self) -> int:
        return len(self._finished)

    def apply(self, entry: LogEntry | None) -> None:
        if entry is None:
            self.counters["log_ignored"] += 1
            return
        self.counters["log_records"] += 1
        self._finished[(entry.endpoint, entry.idempotency_key)] = entry.outcome
        self._advance(entry.endpoint, entry.rule_id, entry.scope_key,
                      Mark(entry.window_start_ms, entry.state, entry.doc_id))

    def forget(self, record_key: bytes | None) -> bool:
        """A tombstone for ``<endpoint>|<key>``: that delivery is no longer finished (an operator
        re-delivers a dead letter this way). The hysteresis state stays. True if it was known."""
        endpoint, sep, key = (record_key or b"").decode("utf-8", "replace").partition("|")
        if not sep:
            self.counters["log_ignored"] += 1
            return False
        self.counters["log_records"] += 1
        return self._finished.pop((endpoint, key), None) is not None

    def intend(self, endpoint: str, rec: AlertRecord) -> None:
        a = rec.alert
        self._advance(endpoint, a.rule_id, a.scope_key, Mark(a.window_start_ms, a.state, a.doc_id))

    def _advance(self, endpoint: str, rule_id: str, scope_key: str, mark: Mark) -> None:
        slot = (endpoint, rule_id, scope_key)
        prev = self._last.get(slot)
        if prev is None or mark.window_start_ms >= prev.window_start_ms:
            self._last[slot] = mark

    def finished(self, endpoint: str, key: str) -> str | None:
        """``delivered`` / ``dead_lettered`` when (endpoint, key) needs nothing more, else None."""
        return self._finished.get((endpoint, key))

    def last(self, endpoint: str, rule_id: str, scope_key: str) -> Mark | None:
        return self._last.get((endpoint, rule_id, scope_key))

    def decide(self, endpoint: EndpointConfig, rec: AlertRecord, *, queued: bool = False) -> Decision:
        """Send this alert to this endpoint, or why not.

        * ``filtered``: the endpoint's rules/scopes filter excludes it;
        * ``duplicate``: this (endpoint, key) is already finished, or ``queued``
          (the caller has a live delivery of it): a restart's re-read, the
          streams app re-emitting the same doc_id;
        * ``repeat``: the last state change taken for this rule and scope is the
          same state from another window (hysteresis: firing once, resolved once);
        * ``stale``: a later state change of this rule and scope was taken
          already (records of one rule live on several partitions);
        * ``send``.

        The same doc_id as the last mark is sent again if it is not finished: its
        earlier delivery was abandoned (a rebalance) and never completed.
        """
        a = rec.alert
        if not matches(endpoint, a):
            return "filtered"
        if queued or self.finished(endpoint.name, rec.key) is not None:
            return "duplicate"
        prev = self.last(endpoint.name, a.rule_id, a.scope_key)
        if prev is not None and prev.doc_id != a.doc_id:
            if a.window_start_ms < prev.window_start_ms:
                return "stale"
            if prev.state == a.state:
                return "repeat"
        return "send"


# ---------------------------------------------------------------- retry schedule


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    initial_ms: int
    max_ms: int
    multiplier: float = 2.0
    jitter: float = 0.5

    @classmethod
    def from_settings(cls, cfg: NotifySettings) -> RetryPolicy:
        return cls(cfg.max_attempts, cfg.backoff_initial_ms, cfg.backoff_max_ms, cfg.backoff_multiplier,
                   cfg.backoff_jitter)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one request came back with. ``status`` None: no answer (connection error, timeout).
    ``error`` is already redacted by whoever built it."""

    status: int | None
    error: str | None = None
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


RETRYABLE_STATUSES = frozenset({408, 425, 429})


def classify_status(status: int | None) -> Literal["ok", "retry", "reject"]:
    """2xx ok; no answer, 408/425/429 and 5xx retry; other statuses (4xx, unfollowed 3xx) reject."""
    if status is None or status in RETRYABLE_STATUSES or status >= 500:
        return "retry"
    if 200 <= status < 300:
        return "ok"
    return "reject"


@dataclass(frozen=True, slots=True)
class Step:
    action: Literal["done", "retry", "dead_letter"]
    delay_s: float = 0.0
    code: str | None = None  # dead_letter: delivery_failed (attempts used up) | rejected (4xx)


def next_step(attempt: int, outcome: Outcome, policy: RetryPolicy, *, rng: random.Random | None = None) -> Step:
    """After attempt number ``attempt`` (1-based) came back with ``outcome``, what next.

    Retries wait :func:`trtlens.sinks.core.backoff_s` (exponential, capped,
    jittered), or the endpoint's ``Retry-After`` when longer — never more than
    ``max_ms``. After ``max_attempts`` attempts, or at once for a status no
    retry can fix, the delivery is dead-lettered.
    """
    kind = classify_status(outcome.status)
    if kind == "ok":
        return Step("done")
    if kind == "reject":
        return Step("dead_letter", code="rejected")
    if attempt >= policy.max_attempts:
        return Step("dead_letter", code="delivery_failed")
    delay = backoff_s(attempt, initial_ms=policy.initial_ms, max_ms=policy.max_ms, multiplier=policy.multiplier,
                      jitter=policy.jitter, rng=rng)
    if outcome.retry_after_s is not None:
        delay = max(delay, min(outcome.retry_after_s, policy.max_ms / 1000.0))
    return Step("retry", delay_s=delay)


def parse_retry_after(value: str | None, *, now_s: float) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now_s)


# ---------------------------------------------------------------- secrets


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret (and its URL-quoted form) replaced by ``***``, longest first."""
    variants = set()
    for s in secrets:
        if s and len(s) >= 4:
            variants.update({s, quote(s, safe=""), quote(s, safe="/:")})
    for s in sorted(variants, key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def safe_url(url: str) -> str:
    """What a log line may show of an endpoint URL: scheme, host and port (paths and queries hold tokens)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    return f"{parts.scheme}://{host}{port}" + ("/***" if parts.path.strip("/") or parts.query else "")


# ---------------------------------------------------------------- dead letters


def dlq_record(
    *,
    code: str,
    reason: str,
    ref: RecordRef,
    now_ms: int,
    endpoint: EndpointConfig | None = None,
    rec: AlertRecord | None = None,
    attempts: int = 0,
    last_status: int | None = None,
    last_error: str | None = None,
    raw: bytes | None = None,
    field: str | None = None,
) -> dict[str, Any]:
    """The JSON document written to ``trtlens.notify.dlq``.

    ``code``: ``delivery_failed`` (attempts used up), ``rejected`` (the endpoint
    answered a status no retry fixes), ``queue_full`` (the endpoint's queue was
    full), ``invalid_json`` / ``invalid_alert`` (the record is no alert; no
    endpoint). Holds the endpoint's *name* and kind, never its URL or headers;
    ``last_error`` and ``reason`` are redacted against the endpoint's secrets
    once more here. The alert document is included so it can be re-published
    to ``trtlens.alerts`` after a fix (its idempotency key stays the same).
    """
    secrets = endpoint.secrets() if endpoint is not None else []
    out: dict[str, Any] = {
        "stage": "notify",
        "code": code,
        "reason": redact(reason, secrets),
        "endpoint": endpoint.name if endpoint else None,
        "endpoint_kind": endpoint.kind if endpoint else None,
        "idempotency_key": rec.key if rec else None,
        "doc_id": rec.doc_id if rec else None,
        "attempts": attempts,
        "last_status": last_status,
        "last_error": redact(last_error, secrets) if last_error else None,
        "field": field,
        "topic": ref.topic,
        "partition": ref.partition,
        "offset": ref.offset,
        "key": ref.key.decode("utf-8", "replace") if ref.key is not None else None,
        "dead_lettered_at_ms": now_ms,
        "alert": rec.doc if rec else None,
    }
    if rec is None:
        if raw is None:
            out["raw"] = None
        else:
            try:
                out["raw"] = raw.decode("utf-8")
            except UnicodeDecodeError:
                out["raw"], out["raw_hex"] = None, raw.hex()
    return out
