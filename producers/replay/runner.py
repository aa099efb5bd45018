"""The I/O half of replay: read files, publish events, dead-letter bad records, checkpoint progress."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from trtlens.producers.publisher import Publisher
from trtlens.producers.replay.core import Checkpoint, Pacer, checkpoint_file, dlq_doc, source_name
from trtlens.producers.replay.formats import reader_for

log = logging.getLogger(__name__)

HAND_OVER_EVENTS = 500
"""Events handed to the publisher per call (it batches per partition itself; one call per event cost ~1 µs)."""
CLOCK_EVERY_LINES = 256
"""Lines between readings of the clock for the time-based checkpoint (``checkpoint_every_s``)."""


@dataclass
class FileSummary:
    path: str
    format: str = ""
    read: int = 0          # lines read in this run
    published: int = 0     # events handed to the publisher
    skipped: int = 0       # lines skipped: already replayed (--resume) or blank
    invalid: int = 0       # bad records sent to the DLQ
    resumed_from: int = 0
    complete: bool = False


@dataclass
class ReplaySummary:
    files: list[FileSummary] = field(default_factory=list)
    publisher: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    delivered: bool = True

    def totals(self) -> dict[str, int]:
        keys = ("read", "published", "skipped", "invalid")
        return {k: sum(getattr(f, k) for f in self.files) for k in keys}

    def to_json(self) -> dict:
        return {**self.totals(), "seconds": round(self.seconds, 3), "delivered": self.delivered,
                "files": [f.__dict__ for f in self.files], "publisher": self.publisher}


@dataclass
class ReplayOptions:
    rate_eps: float | None = None
    speed: float | None = None
    resume: bool = False
    checkpoint_dir: Path | None = None
    format: str = "auto"
    max_lines: int | None = None     # stop after this many lines in total (a partial run, resumable)
    checkpoint_every_lines: int = 20_000
    checkpoint_every_s: float = 2.0
    flush_timeout_s: float = 60.0


def _load_checkpoint(path: Path) -> Checkpoint | None:
    try:
        return Checkpoint.from_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        log.warning("checkpoint=%s msg='unreadable, starting the file over' error=%r", path, exc)
        return None


def _save_checkpoint(path: Path, cp: Checkpoint) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # own name per process (--jobs: the same file twice)
    tmp.write_bytes(cp.to_json())
    tmp.replace(path)


def replay_files(
    paths: list[Path],
    publisher: Publisher,
    options: ReplayOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplaySummary:
    """Replay ``paths`` in order through ``publisher``. ``progress(done_bytes, total_bytes)`` is called as it goes."""
    pacer = Pacer(rate_eps=options.rate_eps, speed=options.speed, sleep=sleep)
    summary = ReplaySummary()
    t_start = time.perf_counter()
    total_bytes = sum(p.stat().st_size for p in paths)
    done_bytes = 0
    lines_left = options.max_lines
    cp_dir = options.checkpoint_dir
    if cp_dir is not None:
        cp_dir.mkdir(parents=True, exist_ok=True)
    for path in paths:
        st = path.stat()
        fs = FileSummary(str(path))
        summary.files.append(fs)
        cp_path = checkpoint_file(cp_dir, path) if cp_dir is not None else None
        start_line = 0
        if options.resume and cp_path is not None:
            cp = _load_checkpoint(cp_path)
            if cp is not None and cp.matches(st.st_size, st.st_mtime_ns):
                if cp.complete:
                    fs.complete = True
                    fs.skipped = cp.lines_done
                    fs.resumed_from = cp.lines_done
                    done_bytes += st.st_size
                    log.info("replay=skip file=%s msg='already complete (checkpoint)'", path)
                    continue
                start_line = fs.resumed_from = fs.skipped = cp.lines_done
            elif cp is not None:
                log.warning("replay=restart file=%s msg='file changed since its checkpoint; replaying it all'", path)
        reader = reader_for(path, options.format)
        fs.format = reader.name
        source = source_name(path)
        cp = Checkpoint(str(path.resolve()), st.st_size, st.st_mtime_ns, start_line)
        last_line, last_cp_line, last_cp_s = start_line, start_line, time.monotonic()
        stopped = False
        file_base = done_bytes
        batch: list[dict] = []  # events not yet handed to the publisher (one call per HAND_OVER_EVENTS)
        every_lines, every_s = options.checkpoint_every_lines, options.checkpoint_every_s
        clock_due = start_line + CLOCK_EVERY_LINES  # the clock is read every CLOCK_EVERY_LINES lines, not every line
        paced = pacer.active
        for item in reader.read(path, source, start_line):
            line = item.line
            if line != last_line:
                if lines_left is not None:
                    if lines_left == 0:
                        stopped = True
                        break
                    lines_left -= 1
                fs.read += line - last_line
                # a new line starts: everything up to the previous one is handed over
                if cp_path is not None and (last_line - last_cp_line >= every_lines or (
                        last_line >= clock_due and time.monotonic() - last_cp_s >= every_s)):
                    if batch:
                        publisher.publish_dicts(batch)
                        batch = []
                    if publisher.flush(options.flush_timeout_s):
                        cp.lines_done = last_line
                        _save_checkpoint(cp_path, cp)
                        last_cp_line, last_cp_s = last_line, time.monotonic()
                if last_line >= clock_due:
                    clock_due = last_line + CLOCK_EVERY_LINES
                last_line = line
            event = item.event
            if event is not None:
                if paced:
                    pacer.wait_for(event.get("ts_ms"))
                    publisher.publish_dicts((event,))
                else:
                    batch.append(event)
                    if len(batch) >= HAND_OVER_EVENTS:
                        publisher.publish_dicts(batch)
                        batch = []
                fs.published += 1
            elif item.error is not None:
                fs.invalid += 1
                publisher.publish_dead_letter(dlq_doc(item.error, source=str(path), line=line), key=source)
            else:
                fs.skipped += 1  # blank line
            if progress is not None and item.offset is not None:
                progress(file_base + item.offset, total_bytes)
        if batch:
            publisher.publish_dicts(batch)
        done_bytes = file_base + st.st_size
        delivered = publisher.flush(options.flush_timeout_s)
        if not stopped:
            fs.complete = True
        if cp_path is not None and delivered:
            cp.lines_done = last_line
            cp.complete = fs.complete
            _save_checkpoint(cp_path, cp)
        log.info("replay=file file=%s format=%s read=%d published=%d skipped=%d invalid=%d complete=%s",
                 path, fs.format, fs.read, fs.published, fs.skipped, fs.invalid, fs.complete)
        if progress is not None:
            progress(done_bytes, total_bytes)
        if stopped:
            break
    summary.delivered = publisher.flush(options.flush_timeout_s)
    summary.publisher = publisher.counters
    summary.seconds = time.perf_counter() - t_start
    return summary
