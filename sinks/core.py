"""Pure logic of the sink: records → bulk actions, chunks, outcomes, offsets, backoff.

Nothing here does I/O, so all of it is table-tested (``tests/unit/sinks``).

* :func:`prepare_record` turns one Kafka record of an output topic into either a
  :class:`BulkAction` (validated by the document model; ``_id`` = ``doc_id``,
  daily index named by the document's event time) or a :class:`DeadLetter`.
* :func:`chunk_actions` cuts actions into bulk bodies bounded by count and bytes.
* :func:`classify_items` reads a bulk response: acknowledged, retry, reject.
* :class:`OffsetTracker` knows, per partition, the highest offset below which
  every record is safely written (indexed or dead-lettered): what may commit.
* :func:`backoff_s` is exponential backoff with jitter.
"""

from __future__ import annotations

import datetime as _dt
import random
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from trtlens.schemas.documents import Alert, BuildReport, EngineFinding, LayerWindow, Trace, WindowMetric, _Doc
from trtlens.settings import IndexSettings, TopicSettings
from trtlens.sinks.config import Family

FAMILY_MODELS: dict[str, type[_Doc]] = {
    "traces": Trace,
    "metrics": WindowMetric,
    "alerts": Alert,
    "builds": BuildReport,
    "layers": LayerWindow,
    "findings": EngineFinding,
}

DAY_MS = 86_400_000


# ---------------------------------------------------------------- naming


def topic_families(topics: TopicSettings, families: Iterable[Family]) -> dict[str, Family]:
    """Output topic name → family, for the families the sink consumes."""
    return {getattr(topics, fam): fam for fam in families}


def family_alias(indices: IndexSettings, family: Family) -> str:
    """The read alias (and daily-index prefix) of a family: ``trtlens-traces``."""
    return getattr(indices, family)


_DAY_CACHE: dict[int, str] = {}


def day_suffix(ts_ms: int) -> str:
    """``YYYY.MM.DD`` (UTC) of an epoch-millisecond event time."""
    day = ts_ms // DAY_MS
    suffix = _DAY_CACHE.get(day)
    if suffix is None:
        suffix = _dt.datetime.fromtimestamp(day * 86_400, tz=_dt.timezone.utc).strftime("%Y.%m.%d")
        if len(_DAY_CACHE) < 4096:
            _DAY_CACHE[day] = suffix
    return suffix


def daily_index(prefix: str, ts_ms: int) -> str:
    """The daily index a document of event time ``ts_ms`` lands in: ``trtlens-traces-2026.11.22``."""
    return f"{prefix}-{day_suffix(ts_ms)}"


# ---------------------------------------------------------------- records → actions


@dataclass(frozen=True, slots=True)
class RecordRef:
    """Where a record came from: what the DLQ and the offset tracker need."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = None


@dataclass(frozen=True, slots=True)
class BulkAction:
    """One ``index`` operation: replays overwrite the same ``_id`` instead of adding a copy."""

    index: str
    doc_id: str
    source: bytes  # one line of JSON, no newline
    ref: RecordRef

    def lines(self) -> bytes:
        """The two NDJSON lines of this operation (action + source)."""
        return orjson.dumps({"index": {"_index": self.index, "_id": self.doc_id}}) + b"\n" + self.source + b"\n"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record (or document) that cannot be indexed, with why.

    ``code``: ``invalid_json`` | ``invalid_document`` | ``unknown_topic`` |
    ``rejected`` (the store refused the document and retrying cannot help).
    """

    code: str
    reason: str
    ref: RecordRef
    raw: bytes | None
    field: str | None = None
    doc_id: str | None = None
    index: str | None = None
    status: int | None = None
    error_type: str | None = None

    def to_dlq(self, *, now_ms: int) -> dict[str, Any]:
        """The JSON document written to ``trtlens.sink.dlq``."""
        out: dict[str, Any] = {
            "stage": "sink",
            "code": self.code,
            "reason": self.reason,
            "field": self.field,
            "topic": self.ref.topic,
            "partition": self.ref.partition,
            "offset": self.ref.offset,
            "key": self.ref.key.decode("utf-8", "replace") if self.ref.key is not None else None,
            "doc_id": self.doc_id,
            "index": self.index,
            "status": self.status,
            "error_type": self.error_type,
            "dead_lettered_at_ms": now_ms,
        }
        raw = self.raw
        if raw is None:
            out["raw"] = None
        else:
            try:
                out["raw"] = raw.decode("utf-8")
            except UnicodeDecodeError:
                out["raw"] = None
                out["raw_hex"] = raw.hex()
        return out


def prepare_record(
    ref: RecordRef, value: bytes | None, *, family: Family | None, prefix: str | None
) -> BulkAction | DeadLetter:
    """Validate one output-topic record with its document model and build its action.

    The source sent to the store is the record value itself (already compact
    JSON per the topic contract), re-serialised only if it spans lines.
    """
    if family is None or prefix is None:
        return DeadLetter("unknown_topic", f"topic {ref.topic!r} is not one the sink consumes", ref, value)
    if value is None:
        return DeadLetter("invalid_json", "record has no value (tombstone)", ref, None)
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return DeadLetter("invalid_json", f"not JSON: {exc}", ref, value)
    if not isinstance(obj, dict):
        return DeadLetter("invalid_json", f"expected one JSON object, got {type(obj).__name__}", ref, value)
    model = FAMILY_MODELS[family]
    try:
        doc = model.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or None
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return DeadLetter(
            "invalid_document", f"not a valid {model.__name__}: {first['msg']}{more}", ref, value, field=loc
        )
    doc_id = doc.doc_id
    try:
        index = daily_index(prefix, doc.ts_ms)
    except (ValueError, OverflowError, OSError) as exc:
        return DeadLetter(
            "invalid_document", f"event time {doc.ts_ms} names no date: {exc}", ref, value, doc_id=doc_id
        )
    source = value if b"\n" not in value and b"\r" not in value else orjson.dumps(obj)
    return BulkAction(index, doc_id, source, ref)


# ---------------------------------------------------------------- chunking


@dataclass(slots=True)
class Chunk:
    """The actions of one bulk request and its NDJSON body."""

    actions: list[BulkAction] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)

    @property
    def nbytes(self) -> int:
        return len(self.body)


def chunk_actions(actions: Iterable[BulkAction], *, max_docs: int, max_bytes: int) -> Iterator[Chunk]:
    """Cut actions into bulk bodies of at most ``max_docs`` operations and ``max_bytes``
    bytes (a single operation larger than ``max_bytes`` travels alone)."""
    chunk = Chunk()
    for action in actions:
        lines = action.lines()
        if chunk.actions and (len(chunk.actions) >= max_docs or chunk.nbytes + len(lines) > max_bytes):
            yield chunk
            chunk = Chunk()
        chunk.actions.append(action)
        chunk.body += lines
    if chunk.actions:
        yield chunk


# ---------------------------------------------------------------- outcomes


RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def is_retryable_status(status: int | None) -> bool:
    """429 and 5xx (and 408) are worth retrying; other 4xx are the document's fault."""
    if status is None:
        return True  # no answer at all: connection error or timeout
    return status in RETRYABLE_STATUSES or status >= 500


@dataclass(slots=True)
class ItemOutcomes:
    """What one bulk response said about each action (indices into the chunk)."""

    acked: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    rejected: list[tuple[int, int, str, str]] = field(default_factory=list)  # (i, status, error_type, reason)


def _error_text(error: Any) -> tuple[str, str]:
    if isinstance(error, Mapping):
        etype = str(error.get("type", "unknown"))
        reason = str(error.get("reason", ""))
        cause = error.get("caused_by")
        if isinstance(cause, Mapping) and cause.get("reason"):
            reason = f"{reason} (caused by {cause.get('type')}: {cause.get('reason')})"
        return etype, reason
    return "unknown", str(error)


def classify_items(items: Sequence[Mapping[str, Any]], count: int) -> ItemOutcomes:
    """Sort a bulk response's items (same order as the request) into acknowledged,
    to-retry and rejected. A response with fewer items than actions marks the
    missing ones for retry (never assumes success)."""
    out = ItemOutcomes()
    for i in range(count):
        if i >= len(items):
            out.retry.append(i)
            continue
        item = items[i]
        body = next(iter(item.values())) if item else {}
        status = body.get("status") if isinstance(body, Mapping) else None
        if isinstance(status, int) and 200 <= status < 300 and "error" not in body:
            out.acked.append(i)
        elif not isinstance(status, int) or is_retryable_status(status):
            out.retry.append(i)
        else:
            etype, reason = _error_text(body.get("error"))
            out.rejected.append((i, status, etype, reason))
    return out


def rejected_letter(action: BulkAction, status: int, error_type: str, reason: str) -> DeadLetter:
    return DeadLetter(
        "rejected",
        f"store rejected the document: {reason}",
        action.ref,
        action.source,
        doc_id=action.doc_id,
        index=action.index,
        status=status,
        error_type=error_type,
    )


# ---------------------------------------------------------------- offsets


class OffsetTracker:
    """Per partition: the offsets handed to the writer, in fetch order, and which
    are safely written. :meth:`committable` gives, for each partition, the offset
    to commit (Kafka convention: the next offset to read) = the first offset not
    yet done, or one past the last done offset when all are done. Works whatever
    order completions arrive in, and with gaps in the offsets."""

    def __init__(self) -> None:
        self._pending: dict[Any, deque[int]] = {}
        self._done: dict[Any, set[int]] = {}
        self._next: dict[Any, int] = {}

    def track(self, tp: Any, offset: int) -> None:
        queue = self._pending.setdefault(tp, deque())
        if queue and offset <= queue[-1]:
            raise ValueError(f"offset {offset} of {tp} tracked out of order (last {queue[-1]})")
        queue.append(offset)

    def done(self, tp: Any, offset: int) -> None:
        """Mark a tracked offset safely written. Unknown partitions are ignored
        (they were revoked and forgotten meanwhile)."""
        queue = self._pending.get(tp)
        if queue is None:
            return
        done = self._done.setdefault(tp, set())
        done.add(offset)
        while queue and queue[0] in done:
            first = queue.popleft()
            done.discard(first)
            self._next[tp] = first + 1

    def committable(self) -> dict[Any, int]:
        """Partition → offset to commit, for partitions with progress."""
        return dict(self._next)

    def pending(self, tp: Any) -> int:
        queue = self._pending.get(tp)
        return len(queue) if queue else 0

    def forget(self, tps: Iterable[Any]) -> None:
        for tp in tps:
            self._pending.pop(tp, None)
            self._done.pop(tp, None)
            self._next.pop(tp, None)

    def partitions(self) -> list[Any]:
        return list(self._pending)


class Continuity:
    """Per partition, the next offset the sink must see (issue 9's gap check, for the sink).

    aiokafka hands records over in offset order, so a jump past the expected
    offset means records were skipped (or never existed: compaction,
    transaction markers). The first time the sink seeks back and reads again;
    if the broker's re-read repeats the same jump, the gap is real and accepted,
    counted apart. Records before the expected offset (a redelivery after a
    seek) were handed over already and are skipped.

    Counters: ``gaps_reread``, ``gaps_confirmed``, ``gap_offsets_confirmed``, ``redelivered_skipped``.
    """

    def __init__(self) -> None:
        self.expected: dict[Any, int] = {}
        self.pending: dict[Any, tuple[int, int]] = {}  # tp → (expected, offset seen) of a re-read on its way
        self.counters: dict[str, int] = {"gaps_reread": 0, "gaps_confirmed": 0, "gap_offsets_confirmed": 0,
                                         "redelivered_skipped": 0}

    def knows(self, tp: Any) -> bool:
        return tp in self.expected

    def start(self, tp: Any, offset: int) -> None:
        """Where the partition's records begin for this owner (committed offset, or the log start)."""
        self.expected[tp] = offset

    def check(self, tp: Any, offsets: Sequence[int]) -> tuple[int, int, int | None]:
        """``(start, stop, seek_to)``: hand over ``records[start:stop]``; seek back to ``seek_to`` if not None."""
        exp = self.expected.get(tp)
        start = 0
        while exp is not None and start < len(offsets) and offsets[start] < exp:
            start += 1
        self.counters["redelivered_skipped"] += start
        stop = start
        while stop < len(offsets):
            off = offsets[stop]
            if exp is not None and off != exp:
                if self.pending.get(tp) != (exp, off):
                    self.pending[tp] = (exp, off)
                    self.counters["gaps_reread"] += 1
                    self.expected[tp] = exp
                    return start, stop, exp
                self.counters["gaps_confirmed"] += 1
                self.counters["gap_offsets_confirmed"] += off - exp
            self.pending.pop(tp, None)
            exp = off + 1
            stop += 1
        if exp is not None:
            self.expected[tp] = exp
        return start, stop, None

    def forget(self, tps: Iterable[Any]) -> None:
        for tp in tps:
            self.expected.pop(tp, None)
            self.pending.pop(tp, None)


def commits_due(committable: Mapping[Any, int], committed: Mapping[Any, int], assigned: Iterable[Any]) -> dict[Any, int]:
    """The offsets worth committing now: advanced since the last commit and still ours."""
    owned = set(assigned)
    return {tp: off for tp, off in committable.items() if tp in owned and committed.get(tp, -1) < off}


# ---------------------------------------------------------------- backoff


def backoff_s(
    attempt: int,
    *,
    initial_ms: int,
    max_ms: int,
    multiplier: float = 2.0,
    jitter: float = 0.5,
    rng: random.Random | None = None,
) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, with
    ``jitter`` of it drawn at random (0 = none, 1 = "full jitter")."""
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    base_ms = min(float(max_ms), initial_ms * multiplier ** min(attempt - 1, 64))
    r = (rng or random).random()
    return (base_ms * (1.0 - jitter) + base_ms * jitter * r) / 1000.0
