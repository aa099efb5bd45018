"""Follow log files by glob: new files, appends, rotation (rename + new file), truncation (copytruncate).

:class:`Follower` does the file I/O and nothing else: ``scan()`` re-expands the globs, ``read()`` returns
what each file gained since the last call as :class:`Chunk` s (logical records, envelope errors, and
the offset up to which the file is consumed), and ``positions()`` is what a checkpoint would store.

* A file is tracked by device + inode, so a rename keeps it (``app.log`` → ``app.log.1``); the new
  ``app.log`` is a new file read from its start. A rotated-away file is read to its end and closed
  after ``rotated_grace_ms`` without growth; a last line without newline is taken then.
* A file smaller than its read offset was truncated: it is read again from 0 under a new generation
  (its ids differ from the old content's).
* A closed file that comes back into the globs resumes at its offset (this process remembers it).
* **Rotated while the collector was down**: at the first scan, a checkpointed file that is no longer in
  the globs is looked for by device + inode — in its own directory (``app.log.1``, ``app.log-20240101``:
  any name) and in ``rotated_globs`` (logrotate's ``olddir``) — and accepted only if its first bytes
  still hash to the checkpointed fingerprint. It resumes at its checkpoint and is read to its end
  **before any other file is read**, so its older lines go out before the new file's; then it is
  closed like any rotated file.
* **Compressed while the collector was down** (logrotate ``compress``: ``app.log.1.gz``, ``.bz2`` or ``.xz``, a new inode;
  or the inode reused by a new file): a compressed file in the same places whose decompressed first bytes hash
  to the checkpointed fingerprint, and whose decompressed stream reaches the checkpointed offset, is the
  file (``compressed.py``). Its tail is read from the decompressed stream at that offset, under the
  original identity (the same ids), first, like a renamed file; ``recovered_compressed_at_restart``.
  Found nowhere → a warning and ``missing_at_restart``: its unread tail is lost.
* A compressed file matched by the globs is never followed (it never grows).
* ``start_at: end`` applies only to a collector's very first start (no checkpoint yet): after a
  restart, a file the checkpoint does not know appeared while it was down and is read from 0.
* A line longer than ``max_line_bytes`` is cut: its first KiB goes to the DLQ (``too_large``) and the
  rest of it is skipped.
* A partial line at the end of a live file waits for its newline.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from trtlens.producers.collect.checkpoint import FilePosition, fingerprint
from trtlens.producers.collect.compressed import CompressedTail, compression_of, find_compressed, is_compressed
from trtlens.producers.collect.config import FilesConfig
from trtlens.producers.collect.formats import LineAssembler, Logical
from trtlens.schemas.codec import DecodeError

log = logging.getLogger(__name__)


@dataclass
class Chunk:
    """What one file yielded in one read: records and errors, each with its byte offset."""

    position: FilePosition
    records: list[Logical] = field(default_factory=list)
    errors: list[tuple[int, DecodeError]] = field(default_factory=list)

    @property
    def source_id(self) -> str:
        p = self.position
        return f"{p.dev}:{p.ino}:{p.generation}:{p.fp}"

    @property
    def dlq_context(self) -> dict[str, str]:
        """What a dead letter adds about its offset: for a compressed file, that it is into the decompressed stream."""
        if self.position.compression is None:
            return {}
        return {"compression": self.position.compression, "offset_in": "decompressed"}


class _Tracked:
    """An open file: a plain fd, or (recovered compressed at restart) the decompressed stream of a compressed file."""

    def __init__(self, pos: FilePosition, fd: int, assembler: LineAssembler, now: float,
                 stream: CompressedTail | None = None) -> None:
        self.pos = pos
        self.fd = fd
        self.stream = stream
        self.assembler = assembler
        self.read_offset = pos.offset
        self.skipping = False
        self.rotated = False
        self.last_growth_s = now
        self.last_size = -1

    def size(self) -> int:
        return os.fstat(self.fd).st_size if self.stream is None else self.stream.size(self.read_offset)

    def pread(self, n: int, offset: int) -> bytes:
        return os.pread(self.fd, n, offset) if self.stream is None else self.stream.pread(n, offset)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
        else:
            os.close(self.fd)


class Follower:
    def __init__(self, config: FilesConfig, committed: dict[str, FilePosition] | None = None, *,
                 clock_s: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._committed = dict(committed or {})
        self._clock = clock_s
        self._files: dict[str, _Tracked] = {}
        self._first_scan = True
        self._fresh_start = not self._committed  # no checkpoint at all: the only time start_at=end applies
        self._recovering: set[str] = set()  # found under a rotated name at restart: read to the end first
        # a read always covers a whole maximal line, so "no newline in a full read" means "too long"
        self._read_size = max(config.read_chunk_bytes, config.max_line_bytes + 1)
        self.rotations = 0
        self.truncations = 0
        self.recovered_at_restart = 0
        self.recovered_compressed_at_restart = 0
        self.missing_at_restart = 0

    # ------------------------------------------------------------------ discovery
    def scan(self) -> None:
        seen: dict[str, str] = {}
        for pattern in self.config.paths:
            for path in sorted(glob.glob(os.path.expanduser(pattern))):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if not os.path.isfile(path) or is_compressed(path):
                    continue  # a compressed file never grows: only read when it holds a checkpointed file's tail
                seen.setdefault(f"{st.st_dev}:{st.st_ino}", path)
        if self._first_scan:
            self._recover_rotated(seen)
        for key, path in seen.items():
            tracked = self._files.get(key)
            if tracked is not None:
                if tracked.pos.path != path:
                    log.info("file=%s renamed_to=%s msg='rotated; reading it to its end'", tracked.pos.path, path)
                    tracked.pos.path = path
                continue
            self._open(key, path)
        for key, tracked in self._files.items():
            if key not in seen and not tracked.rotated:
                tracked.rotated = True
                tracked.last_growth_s = self._clock()
                self.rotations += 1
                log.info("file=%s msg='rotated or deleted; reading the open file to its end'", tracked.pos.path)
        self._first_scan = False

    def _recover_rotated(self, seen: dict[str, str]) -> None:
        """Checkpointed files not in the globs (or whose inode now holds another file): find each under a
        rotated name, or compressed, resume it, read it first."""
        lost = {key: cp for key, cp in self._committed.items()
                if key not in self._files and (key not in seen or not _same_head(seen[key], cp))}
        if not lost:
            return
        gone = {key: cp for key, cp in lost.items() if key not in seen and cp.compression is None}
        found = self._find_by_inode(gone) if gone else {}
        for key, cp in lost.items():
            path = found.get(key)
            if path is not None and self._recover_renamed(key, cp, path):
                continue
            if self._recover_compressed(key, cp):
                continue
            if key in seen:
                continue  # its inode holds another file now (logged when it is opened, from its start)
            self.missing_at_restart += 1
            log.warning("file=%s offset=%d msg='checkpointed file not found at restart (deleted, or compressed "
                        "where no compressed file matches): its unread tail is lost'", cp.path, cp.offset)

    def _recover_renamed(self, key: str, cp: FilePosition, path: str) -> bool:
        if not self._open(key, path):
            return False
        tracked = self._files[key]
        if tracked.pos.fp != cp.fp or tracked.pos.generation != cp.generation:
            tracked.close()  # its first bytes differ: the inode was reused, not our file
            del self._files[key]
            log.info("file=%s candidate=%s msg='inode reused by another file; looking for it compressed'",
                     cp.path, path)
            return False
        tracked.rotated = True
        self._recovering.add(key)
        self.rotations += 1
        self.recovered_at_restart += 1
        log.info("file=%s found_as=%s offset=%d msg='rotated while down; reading it to its end first'",
                 cp.path, path, cp.offset)
        return True

    def _recover_compressed(self, key: str, cp: FilePosition) -> bool:
        choice, tail = find_compressed(cp, self.config.rotated_globs, readahead_bytes=self._read_size)
        if tail is None:
            if choice.reason == "ambiguous":
                log.warning("file=%s offset=%d candidates=%s msg='several compressed files hold its first bytes: none "
                            "is read'", cp.path, cp.offset, ",".join(choice.candidates))
            return False
        gz_key = key if cp.compression is not None else f"gz:{key}"  # apart from a live file on a reused inode
        pos = FilePosition(tail.path, cp.dev, cp.ino, cp.fp, cp.fp_len, cp.generation, cp.offset,
                           compression_of(tail.path))
        tracked = _Tracked(pos, -1, LineAssembler(self.config.format, max_bytes=self.config.max_line_bytes),
                           self._clock(), stream=tail)
        tracked.rotated = True
        self._files[gz_key] = tracked
        self._recovering.add(gz_key)
        self.rotations += 1
        self.recovered_compressed_at_restart += 1
        log.info("file=%s found_as=%s offset=%d msg='rotated and compressed while down; reading its "
                 "decompressed tail first'", cp.path, tail.path, cp.offset)
        return True

    def _find_by_inode(self, wanted: dict[str, FilePosition]) -> dict[str, str]:
        """key → path for the checkpointed files found by device + inode (own directories, rotated_globs)."""
        by_ino = {cp.ino: key for key, cp in wanted.items()}
        found: dict[str, str] = {}

        def consider(path: str, ino: int) -> None:
            key = by_ino.get(ino)
            if key is None or key in found:
                return
            try:
                st = os.stat(path)
            except OSError:
                return
            if f"{st.st_dev}:{st.st_ino}" == key and os.path.isfile(path):
                found[key] = path

        for directory in sorted({os.path.dirname(cp.path) or "." for cp in wanted.values()}):
            try:
                with os.scandir(directory) as entries:  # d_ino from readdir: one stat per inode match only
                    for entry in entries:
                        consider(entry.path, entry.inode())
            except OSError:
                continue
        for pattern in self.config.rotated_globs:
            for path in sorted(glob.glob(os.path.expanduser(pattern))):
                try:
                    consider(path, os.stat(path).st_ino)
                except OSError:
                    continue
        return found

    def _open(self, key: str, path: str) -> bool:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            log.warning("file=%s msg='cannot open' error=%r", path, exc)
            return False
        st = os.fstat(fd)
        pos = self._resume(key, path, fd, st.st_size)
        self._files[key] = _Tracked(pos, fd, LineAssembler(self.config.format, max_bytes=self.config.max_line_bytes),
                                    self._clock())
        log.info("file=%s offset=%d generation=%d msg='following'", path, pos.offset, pos.generation)
        return True

    def _resume(self, key: str, path: str, fd: int, size: int) -> FilePosition:
        dev, ino = (int(x) for x in key.split(":"))
        cp = self._committed.get(key)
        if cp is not None:
            head = os.pread(fd, cp.fp_len, 0) if cp.fp_len else b""
            if len(head) == cp.fp_len and fingerprint(head) == cp.fp:
                if size >= cp.offset:
                    return FilePosition(path, dev, ino, cp.fp, cp.fp_len, cp.generation, cp.offset)
                log.warning("file=%s checkpoint=%d size=%d msg='shorter than its checkpoint: truncated, from 0'",
                            path, cp.offset, size)
                self.truncations += 1
                return self._fresh(path, dev, ino, fd, cp.generation + 1, 0)
            log.info("file=%s msg='inode reused by another file (first bytes differ): from its start'", path)
        start = size if (self._first_scan and self._fresh_start and self.config.start_at == "end") else 0
        return self._fresh(path, dev, ino, fd, 0, start)

    def _fresh(self, path: str, dev: int, ino: int, fd: int, generation: int, offset: int) -> FilePosition:
        head = os.pread(fd, self.config.fingerprint_bytes, 0)
        return FilePosition(path, dev, ino, fingerprint(head), len(head), generation, offset)

    # ------------------------------------------------------------------ reading
    def read(self) -> list[Chunk]:
        """What every file gained (at most ``read_chunk_bytes`` per file per call).

        While a file recovered at restart still has unread lines, only such files are read.
        """
        if self._recovering:
            out = self._read_keys([k for k in self._files if k in self._recovering])
            if out or self._recovering:
                return out
        return self._read_keys(list(self._files))

    def _read_keys(self, keys: list[str]) -> list[Chunk]:
        out = []
        for key in keys:
            tracked = self._files[key]
            chunk = self._read_one(tracked, self._read_size)
            if chunk is not None:
                out.append(chunk)
                continue
            self._recovering.discard(key)  # nothing more to read: at its end (then closed as any rotated file)
            # closed only once read to its end: a backlog longer than the grace is not cut into a "last line";
            # a compressed file never grows: closed at its end
            if tracked.rotated and (tracked.stream is not None or
                                    self._clock() - tracked.last_growth_s >= self.config.rotated_grace_ms / 1000):
                tail = self._final_line(tracked)
                if tail is not None:
                    out.append(tail)
                tracked.close()
                del self._files[key]
                self._committed[key] = tracked.pos  # should it come back into the globs: resume, not repeat
                log.info("file=%s msg='rotated file done; closed'", tracked.pos.path)
        return out

    def _read_one(self, t: _Tracked, size: int) -> Chunk | None:
        try:
            st_size = t.size()
        except OSError:
            return None
        if st_size < t.read_offset:
            self.truncations += 1
            log.warning("file=%s size=%d offset=%d msg='truncated; reading it again from 0'", t.pos.path, st_size,
                        t.read_offset)
            t.pos = self._fresh(t.pos.path, t.pos.dev, t.pos.ino, t.fd, t.pos.generation + 1, 0)
            t.read_offset = 0
            t.skipping = False
            t.assembler = LineAssembler(self.config.format, max_bytes=self.config.max_line_bytes)
        if st_size != t.last_size:
            t.last_size = st_size
            t.last_growth_s = self._clock()
        if st_size == t.read_offset:
            return None
        if t.pos.fp_len < self.config.fingerprint_bytes and t.read_offset == 0 and t.stream is None:
            t.pos = self._fresh(t.pos.path, t.pos.dev, t.pos.ino, t.fd, t.pos.generation, 0)  # fuller fingerprint
        data = t.pread(min(size, st_size - t.read_offset), t.read_offset)
        if not data:
            return None
        chunk = Chunk(t.pos)
        base = t.read_offset
        last_nl = data.rfind(b"\n")
        if last_nl < 0:
            if len(data) >= self.config.max_line_bytes or (t.skipping and len(data) >= size):
                if not t.skipping:
                    chunk.errors.append((base, DecodeError(
                        "too_large", f"line longer than max_line_bytes={self.config.max_line_bytes}; cut",
                        data[:1024])))
                t.skipping = True
                t.read_offset += len(data)
                t.pos = self._with_offset(t, t.read_offset)
                return chunk
            return None  # a partial line: wait for its newline
        usable = data[: last_nl + 1]
        n = len(usable)
        feed = t.assembler.feed
        jsonl = t.assembler.format == "jsonl"  # one line, one record: no assembler call per line
        max_line = self.config.max_line_bytes
        records, errors = chunk.records, chunk.errors
        pos = base
        for line in usable[:-1].split(b"\n"):
            start, pos = pos, pos + len(line) + 1
            if t.skipping:
                t.skipping = False
            elif len(line) > max_line:
                errors.append((start, DecodeError(
                    "too_large", f"line of {len(line)} bytes exceeds max_line_bytes={max_line}", line[:1024])))
            elif jsonl:
                if line and not line.isspace():
                    records.append(Logical(line[:-1] if line[-1:] == b"\r" else line, None, start, pos))
            elif line and not line.isspace():
                got = feed(line[:-1] if line[-1:] == b"\r" else line, start, pos)
                if got is not None:
                    if type(got) is DecodeError:
                        errors.append((start, got))
                    else:
                        records.append(got)
        t.read_offset += n
        pending = t.assembler.pending_start
        t.pos = self._with_offset(t, t.read_offset if pending is None else pending)
        chunk.position = t.pos
        return chunk

    def _final_line(self, t: _Tracked) -> Chunk | None:
        """A rotated file's last line without newline (the writer is gone: it will not be finished)."""
        try:
            size = t.size()
        except OSError:
            return None
        if size <= t.read_offset:
            return None
        data = t.pread(size - t.read_offset, t.read_offset)
        chunk = Chunk(t.pos)
        if data.strip() and not t.skipping:
            got = t.assembler.feed(data.rstrip(b"\r\n"), t.read_offset, size)
            if isinstance(got, DecodeError):
                chunk.errors.append((t.read_offset, got))
            elif got is not None:
                chunk.records.append(got)
        t.read_offset = size
        t.pos = self._with_offset(t, size)
        chunk.position = t.pos
        return chunk

    @staticmethod
    def _with_offset(t: _Tracked, offset: int) -> FilePosition:
        p = t.pos
        return FilePosition(p.path, p.dev, p.ino, p.fp, p.fp_len, p.generation, offset, p.compression)

    # ------------------------------------------------------------------ state
    def positions(self) -> dict[str, FilePosition]:
        """Offsets to checkpoint once everything read so far is acknowledged (open files + still-open rotated)."""
        return {key: t.pos for key, t in self._files.items()}

    @property
    def files(self) -> list[str]:
        return [t.pos.path for t in self._files.values()]

    def close(self) -> None:
        for t in self._files.values():
            try:
                t.close()
            except OSError:
                pass
        self._files.clear()


def _same_head(path: str, cp: FilePosition) -> bool:
    """Whether the file's first ``cp.fp_len`` bytes still hash to the checkpointed fingerprint."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        head = os.pread(fd, cp.fp_len, 0) if cp.fp_len else b""
    finally:
        os.close(fd)
    return len(head) == cp.fp_len and fingerprint(head) == cp.fp
