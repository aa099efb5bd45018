"""Bounded on-disk spool: what the publisher keeps while the broker is unreachable.

Layout: ``<dir>/seg-<seq>.jsonl`` segment files, drained in ``seq`` order; one
JSON object per line. Lines start with ``{"low":true`` or ``{"low":false`` so
the size limit can drop low-value lines without parsing them. The newest
segment is the *active* one (appended to); the others are *closed*.

When the spool grows past ``max_bytes``, :meth:`Spool.enforce_limit` rewrites
the oldest segments without their low-value lines (oldest first) until it is
back under the bound. High-value lines (errors, terminal events, dead letters)
are never dropped: if only they remain, the spool exceeds its bound and says so.

One process owns a spool directory at a time (``flock`` on ``<dir>/.lock``).
Not thread-safe by itself: the publisher serialises access with its lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path

from trtlens.errors import TrtlensError

log = logging.getLogger(__name__)

LOW_PREFIX = b'{"low":true'
_SEG_PREFIX = "seg-"
_SEG_SUFFIX = ".jsonl"


class SpoolLockedError(TrtlensError):
    """Another process owns the spool directory.

    Attributes: directory.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        super().__init__(f"spool {directory} is in use by another process")


class Spool:
    """Append-only JSON-lines segments with a soft size bound that drops low-value lines first."""

    def __init__(self, directory: Path, *, max_bytes: int, segment_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.directory / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise SpoolLockedError(self.directory) from None
        # seq -> [bytes, lines]
        self._segments: dict[int, list[int]] = {}
        for path in self.directory.glob(f"{_SEG_PREFIX}*{_SEG_SUFFIX}"):
            try:
                seq = int(path.name[len(_SEG_PREFIX) : -len(_SEG_SUFFIX)])
            except ValueError:
                continue
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):  # torn last line of a crash: keep what is whole
                data = data[: data.rfind(b"\n") + 1]
                path.write_bytes(data)
            self._segments[seq] = [len(data), data.count(b"\n")]
        self._active_seq: int | None = None
        self._active = None
        self.over_limit = False

    # ---- sizes -------------------------------------------------------------------
    @property
    def total_bytes(self) -> int:
        return sum(b for b, _ in self._segments.values())

    @property
    def pending_lines(self) -> int:
        return sum(n for _, n in self._segments.values())

    def is_empty(self) -> bool:
        return self.pending_lines == 0

    def _path(self, seq: int) -> Path:
        return self.directory / f"{_SEG_PREFIX}{seq:020d}{_SEG_SUFFIX}"

    # ---- writing -----------------------------------------------------------------
    def append(self, lines: list[bytes]) -> None:
        """Append lines (JSON objects without newline) to the active segment."""
        if not lines:
            return
        if self._active is None or self._segments[self._active_seq][0] >= self.segment_bytes:
            self._open_new()
        data = b"\n".join(lines) + b"\n"
        self._active.write(data)
        seg = self._segments[self._active_seq]
        seg[0] += len(data)
        seg[1] += len(lines)

    def prepend(self, lines: list[bytes]) -> None:
        """Write lines as a new closed segment drained before everything else."""
        if not lines:
            return
        seq = min(self._segments, default=1_000_000_000) - 1
        data = b"\n".join(lines) + b"\n"
        self._write_atomic(seq, data)
        self._segments[seq] = [len(data), len(lines)]

    def sync(self) -> None:
        """Hand buffered lines to the OS (survives a process crash, not a power cut)."""
        if self._active is not None:
            self._active.flush()

    def _open_new(self) -> None:
        self._close_active()
        seq = max(self._segments, default=1_000_000_000) + 1
        self._active = open(self._path(seq), "ab")  # noqa: SIM115 - kept open while active
        self._active_seq = seq
        self._segments[seq] = [0, 0]

    def _close_active(self) -> None:
        if self._active is not None:
            self._active.close()
            self._active = None
            self._active_seq = None

    def _write_atomic(self, seq: int, data: bytes) -> None:
        tmp = self.directory / f".tmp-{seq}"
        tmp.write_bytes(data)
        tmp.replace(self._path(seq))

    # ---- draining ----------------------------------------------------------------
    def next_segment(self) -> int | None:
        """Oldest non-empty segment, closing the active one if it is the only one left."""
        for seq in sorted(self._segments):
            if self._segments[seq][1] == 0:
                if seq != self._active_seq:
                    self.remove(seq)
                continue
            if seq == self._active_seq:
                self._close_active()
            return seq
        return None

    def read(self, seq: int) -> list[bytes]:
        data = self._path(seq).read_bytes()
        return [line for line in data.split(b"\n") if line]

    def remove(self, seq: int) -> None:
        if seq == self._active_seq:
            self._close_active()
        with contextlib.suppress(FileNotFoundError):
            self._path(seq).unlink()
        self._segments.pop(seq, None)

    def rewrite(self, seq: int, lines: list[bytes]) -> None:
        """Replace a closed segment's content (what remains after a partial drain or a drop)."""
        if not lines:
            self.remove(seq)
            return
        data = b"\n".join(lines) + b"\n"
        self._write_atomic(seq, data)
        self._segments[seq] = [len(data), len(lines)]

    # ---- the bound ---------------------------------------------------------------
    def enforce_limit(self, *, skip: int | None = None) -> int:
        """Drop low-value lines, oldest segment first, until under ``max_bytes``.

        ``skip`` names a segment being drained right now (left alone). Returns the
        number of lines dropped; sets :attr:`over_limit` when only high-value
        lines are left and the bound is still exceeded.
        """
        dropped = 0
        if self.total_bytes <= self.max_bytes:
            self.over_limit = False
            return 0
        for seq in sorted(self._segments):
            if seq == skip:
                continue
            if seq == self._active_seq:
                self._close_active()
            lines = self.read(seq)
            excess = self.total_bytes - self.max_bytes
            keep: list[bytes] = []
            freed = 0
            for line in lines:
                if freed < excess and line.startswith(LOW_PREFIX):
                    freed += len(line) + 1
                    dropped += 1
                else:
                    keep.append(line)
            if len(keep) != len(lines):
                self.rewrite(seq, keep)
            if self.total_bytes <= self.max_bytes:
                break
        self.over_limit = self.total_bytes > self.max_bytes
        if dropped:
            log.warning(
                "spool=%s dropped_low_value=%d bytes=%d max_bytes=%d over_limit=%s",
                self.directory, dropped, self.total_bytes, self.max_bytes, self.over_limit,
            )
        return dropped

    def close(self) -> None:
        self._close_active()
        for seq in [s for s, (_, n) in self._segments.items() if n == 0]:
            self.remove(seq)
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
