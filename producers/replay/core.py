"""Pure parts of replay: turning a parsed object into an event, deterministic ids, pacing, checkpoints.

* **Event time is kept.** ``ts_ms`` stays what the record says; a CloudWatch
  log event's ``timestamp`` fills it in only when the event has none.
* **Deterministic ids.** A record without ``event_id`` gets
  ``rp-<blake2b(source name, canonical JSON of the event)>``: replaying the
  same file twice yields the same ids, so dedup removes the second copy.
* **Pacing.** ``rate_eps`` caps events per second; ``speed`` replays at N× the
  original pace (by event time). The clock is injected.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from trtlens.producers.compression import strip_suffix
from trtlens.schemas.codec import MAX_RECORD_BYTES, DecodeError, decode, validate_event


def deterministic_event_id(source: str, event: dict[str, Any]) -> str:
    """``rp-`` + 128-bit hash of the source name and the event's canonical JSON (``event_id`` excluded)."""
    body = {k: v for k, v in event.items() if k != "event_id"}
    digest = hashlib.blake2b(source.encode("utf-8") + b"\n" + orjson.dumps(body, option=orjson.OPT_SORT_KEYS),
                             digest_size=16)
    return "rp-" + digest.hexdigest()


def source_name(path: Path | str) -> str:
    """What names a source in ids: the file name without compression suffix (stable across directories)."""
    return strip_suffix(Path(path).name)


def to_event(obj: Any, source: str, *, fallback_ts_ms: int | None = None) -> dict[str, Any]:
    """Validate ``obj`` as an event (raising :class:`DecodeError`), assigning ``event_id``/``ts_ms`` if missing.

    Returns the original dict (unknown fields kept for forward compatibility).
    """
    if isinstance(obj, dict):
        if obj.get("ts_ms") is None and fallback_ts_ms is not None:
            obj = {**obj, "ts_ms": fallback_ts_ms}
        if not obj.get("event_id"):
            obj = {**obj, "event_id": deterministic_event_id(source, obj)}
    data = orjson.dumps(obj)  # what the codec would receive: its size limit and, on error, the DLQ's raw
    if type(obj) is dict and len(data) <= MAX_RECORD_BYTES:
        validate_event(obj, data)  # the codec's validation of the object (no second parse of ``data``)
    else:
        decode(data)  # raises DecodeError with code, reason, field
    return obj


def to_known_event(obj: dict[str, Any], source: str) -> dict[str, Any] | None:
    """:func:`to_event` for a plain event object whose JSON is known to be small; None = let ``to_event`` decide.

    The caller vouches for the size (its input line is at most ``MAX_RECORD_BYTES // 8``: re-encoded, at
    most ~4.5× larger), so the event is not encoded again. An event the codec accepts is returned as
    ``to_event`` would return it; anything else gets None, and ``to_event`` then reports it (same
    code, reason, field, raw).
    """
    if not obj.get("event_id"):
        obj = {**obj, "event_id": deterministic_event_id(source, obj)}
    try:
        validate_event(obj)
    except DecodeError:
        return None
    return obj


def dlq_doc(err: DecodeError, *, source: str, line: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return err.to_dlq(source=source, line=line, stage="replay", **(extra or {}))


class Pacer:
    """Holds publishing back to ``rate_eps`` events/s and/or ``speed``× event time."""

    def __init__(self, *, rate_eps: float | None = None, speed: float | None = None,
                 clock_s: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if rate_eps is not None and rate_eps <= 0:
            raise ValueError(f"rate must be > 0 events/s, got {rate_eps}")
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.rate_eps = rate_eps
        self.speed = speed
        self._clock = clock_s
        self._sleep = sleep
        self._start_s: float | None = None
        self._first_ts_ms: int | None = None
        self._count = 0

    @property
    def active(self) -> bool:
        return self.rate_eps is not None or self.speed is not None

    def wait_for(self, ts_ms: int | None) -> float:
        """Block until the next event may go; return the seconds slept."""
        now = self._clock()
        if self._start_s is None:
            self._start_s = now
        due = self._start_s
        if self.rate_eps is not None:
            due = max(due, self._start_s + self._count / self.rate_eps)
        if self.speed is not None and ts_ms is not None:
            if self._first_ts_ms is None:
                self._first_ts_ms = ts_ms
            due = max(due, self._start_s + max(0, ts_ms - self._first_ts_ms) / 1000.0 / self.speed)
        self._count += 1
        delay = due - now
        if delay > 0.001:
            self._sleep(delay)
            return delay
        return 0.0


@dataclass
class Checkpoint:
    """How far one input file was replayed (lines fully published, 1-based count)."""

    path: str
    size: int
    mtime_ns: int
    lines_done: int = 0
    complete: bool = False

    def to_json(self) -> bytes:
        return orjson.dumps(self.__dict__)

    @classmethod
    def from_json(cls, data: bytes) -> Checkpoint:
        return cls(**orjson.loads(data))

    def matches(self, size: int, mtime_ns: int) -> bool:
        """The file is the one checkpointed (same size and mtime); a changed file starts over."""
        return self.size == size and self.mtime_ns == mtime_ns


def checkpoint_file(directory: Path, path: Path) -> Path:
    key = hashlib.blake2b(str(Path(path).resolve()).encode(), digest_size=10).hexdigest()
    return Path(directory) / f"{source_name(path)}.{key}.json"
