"""Rotated files that were compressed while the collector was down (logrotate ``compress``).

logrotate turns ``app.log.1`` into ``app.log.1.gz`` (with ``delaycompress``, ``app.log.2.gz`` one
rotation later; ``.bz2`` or ``.xz`` with another ``compresscmd``): a new inode, so the restart-time lookup
by device + inode cannot find it. A checkpointed file is matched to a compressed file (a ".gz" below, for
any of the three) by **content** instead: the first ``fp_len`` bytes of the
decompressed stream must hash to the checkpointed fingerprint, and the stream must be at least as long
as the checkpointed offset. Its unread tail is then read from the decompressed stream at that offset,
under the original file's identity (same dev + inode + generation + fingerprint), so the lines get the
ids they would have had in the plain file and dedup absorbs any repeat.

gzip (``.gz``, logrotate's default ``compresscmd``), bzip2 (``.bz2``) and xz (``.xz``) are read, told by the
suffix (``trtlens.producers.compression``); zstd is not. A compressed file is never followed as a live
file: it does not grow. The matching rules (:func:`head_matches`, :func:`choose`) are pure;
:func:`find_compressed` and :class:`CompressedTail` do the I/O.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from trtlens.producers.collect.checkpoint import FilePosition, fingerprint
from trtlens.producers.compression import ERRORS, codec_of_name

log = logging.getLogger(__name__)

_SKIP_BYTES = 1 << 20


def is_compressed(path: str) -> bool:
    """Whether a path names a compressed file (never followed as a live file)."""
    return codec_of_name(path) is not None


def _open(path: str) -> IO[bytes]:
    """A compressed file's decompressed stream, by its suffix (``is_compressed`` holds)."""
    return codec_of_name(path).open(path, "rb")


def compression_of(path: str) -> str:
    """What a checkpoint and a dead letter name a compressed file's codec (``gzip``, ``bzip2``, ``xz``)."""
    return codec_of_name(path).name


def head_matches(cp: FilePosition, head: bytes) -> bool:
    """Whether the first decompressed bytes of a candidate are the checkpointed file's first bytes.

    A file checkpointed while empty (``fp_len`` 0) has no first bytes to match: never.
    """
    return cp.fp_len > 0 and len(head) == cp.fp_len and fingerprint(head) == cp.fp


@dataclass(frozen=True)
class Choice:
    """The outcome of matching one checkpointed file against the candidates: a path, or why none."""

    path: str | None
    reason: str  # "match", "none", "ambiguous"
    candidates: tuple[str, ...] = ()


def choose(cp: FilePosition, heads: dict[str, bytes], lengths: dict[str, bool]) -> Choice:
    """Pick the ``.gz`` that holds the checkpointed file.

    ``heads``: candidate path → its first ``cp.fp_len`` decompressed bytes; ``lengths``: candidate path →
    whether its decompressed stream reaches ``cp.offset`` (asked only for head matches). Exactly one
    candidate must match both; two would be ambiguous (the same ids for different lines), so neither is
    taken.
    """
    matches = tuple(sorted(p for p, head in heads.items() if head_matches(cp, head) and lengths.get(p, False)))
    if len(matches) == 1:
        return Choice(matches[0], "match", matches)
    return Choice(None, "ambiguous" if matches else "none", matches)


def candidate_paths(cp: FilePosition, rotated_globs: Iterable[str]) -> list[str]:
    """``.gz`` files in the checkpointed file's directory and in ``rotated_globs``, each once (by inode)."""
    paths: list[str] = []
    directory = os.path.dirname(cp.path) or "."
    try:
        with os.scandir(directory) as entries:
            paths.extend(sorted(e.path for e in entries if is_compressed(e.name)))
    except OSError:
        pass
    for pattern in rotated_globs:
        paths.extend(sorted(p for p in glob.glob(os.path.expanduser(pattern)) if is_compressed(p)))
    by_inode: dict[tuple[int, int], str] = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if os.path.isfile(path):
            by_inode.setdefault((st.st_dev, st.st_ino), path)  # the same file named twice is one candidate
    return sorted(by_inode.values())


def decompressed_head(path: str, n: int) -> bytes | None:
    """The first ``n`` bytes of a compressed file's decompressed stream; None if it does not decode."""
    try:
        with _open(path) as fh:
            return fh.read(n)
    except ERRORS:
        return None


def find_compressed(cp: FilePosition, rotated_globs: Iterable[str], *, readahead_bytes: int = 1 << 20
                    ) -> tuple[Choice, CompressedTail | None]:
    """The ``.gz`` holding the checkpointed file, opened at its checkpointed offset (or why none)."""
    heads = {}
    for path in candidate_paths(cp, rotated_globs):
        head = decompressed_head(path, cp.fp_len)
        if head is not None:
            heads[path] = head
    tails: dict[str, CompressedTail] = {}
    for path, head in heads.items():
        if head_matches(cp, head):
            tail = CompressedTail.open_at(path, cp.offset, readahead_bytes=readahead_bytes)
            if tail is not None:
                tails[path] = tail
    choice = choose(cp, heads, {p: True for p in tails})
    for path, tail in tails.items():
        if path != choice.path:
            tail.close()
    return choice, tails.get(choice.path) if choice.path else None


class CompressedTail:
    """A ``.gz``'s decompressed stream from an offset, read forward with ``os.pread``-like calls.

    ``size(offset)`` is how far the stream is known, decompressed at least ``readahead_bytes`` past
    ``offset`` (final once the end is reached); ``pread(n, offset)`` returns bytes at an offset at or
    after the last one asked. Memory: one buffer of at most ``readahead_bytes``. A corrupt or cut
    stream ends where it stops decoding (``error`` says why).
    """

    def __init__(self, path: str, fh: IO[bytes], offset: int, readahead_bytes: int = 1 << 20) -> None:
        self.path = path
        self._fh = fh
        self._buf = b""
        self._start = offset  # decompressed offset of _buf[0]
        self.readahead_bytes = readahead_bytes
        self.eof = False
        self.error: str | None = None

    @classmethod
    def open_at(cls, path: str, offset: int, *, readahead_bytes: int = 1 << 20) -> CompressedTail | None:
        """Open and skip to ``offset``; None if the stream is shorter (not the checkpointed file) or unreadable."""
        try:
            fh = _open(path)
        except ERRORS:
            return None
        left = offset
        try:
            while left > 0:
                got = fh.read(min(left, _SKIP_BYTES))
                if not got:
                    fh.close()
                    return None
                left -= len(got)
        except ERRORS:
            fh.close()
            return None
        return cls(path, fh, offset, readahead_bytes)

    def _fill(self, upto: int) -> None:
        while not self.eof and self._start + len(self._buf) < upto:
            try:
                got = self._fh.read(max(upto - self._start - len(self._buf), 64 << 10))
            except ERRORS as exc:
                self.eof, self.error = True, repr(exc)
                log.warning("file=%s offset=%d msg='compressed stream ends early (corrupt or cut); read up to "
                            "here' error=%r", self.path, self._start + len(self._buf), exc)
                return
            if not got:
                self.eof = True
                return
            self._buf += got

    def size(self, offset: int) -> int:
        self._fill(offset + self.readahead_bytes)
        return self._start + len(self._buf)

    def pread(self, n: int, offset: int) -> bytes:
        if offset < self._start:
            raise ValueError(f"CompressedTail reads forward only: offset {offset} < {self._start}")
        if offset > self._start:
            self._fill(offset)
            drop = min(offset - self._start, len(self._buf))
            self._buf = self._buf[drop:]
            self._start += drop
            if self._start < offset:
                return b""  # past the end of the stream
        self._fill(offset + n)
        return self._buf[:n]

    def close(self) -> None:
        try:
            self._fh.close()
        except ERRORS:
            pass
