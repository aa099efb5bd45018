"""The collector's part of the chaos run (issue 16): load through files that ``trtlens collect`` follows.

The events of some partitions are not published by the test: :class:`FileLoad` writes them, paced, as
JSON lines into one file per partition (a service's log, as a function runtime or container captures
it), with malformed lines of four kinds at seeded places. One file per partition, because the ground
truth replays each partition in send order: a collector reading two files interleaves them in its own
poll order, one file keeps the file's order. :class:`CollectorRun` runs ``trtlens collect`` on those
files and SIGKILLs it at the chaos schedule's points (a replacement with the same checkpoint and spool
directories starts at once): the lines after the last checkpoint are read again with the same ids and
the streams app's dedup removes them.

:func:`file_dlq_problems` checks that every malformed line is in the DLQ with its file, byte offset,
code and reason, and that no other line of the files was dead-lettered (a valid event in the DLQ would
be lost from the store); it also counts the dead letters repeated by re-reads after the kills.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from trtlens.stack.processes import ManagedProcess, connection_env

# (code, start of the reason, line): what the collector's DLQ document must say for each kind
FILE_MALFORMED_KINDS = (
    ("not_an_event", "plain text", lambda i: b"worker ready, serving request %d" % i),  # a stray print
    ("invalid_json", "", lambda i: b'{"event": "request_complete", "cut off %d' % i),
    ("invalid_event", "", lambda i: b'{"event":"request_complete","event_id":"fbad-%d","ts_ms":1767226200000}' % i),
    ("unknown_event_type", "unknown event type", lambda i: b'{"event":"teleport","event_id":"funk-%d","ts_ms":1}' % i),
)


@dataclass
class MalformedLine:
    path: str
    offset: int
    code: str
    reason_prefix: str


@dataclass
class FileLoad:
    """Per file the lines to write (events in send order, malformed lines among them) and where each bad one is."""

    directory: Path
    lines: dict[str, list[bytes]] = field(default_factory=dict)
    malformed: list[MalformedLine] = field(default_factory=list)
    events: int = 0

    @classmethod
    def plan(cls, directory: Path, by_partition: dict[int, list[dict]], malformed: int, rnd: random.Random) -> FileLoad:
        directory.mkdir(parents=True, exist_ok=True)
        load = cls(directory)
        parts = sorted(by_partition)
        counter = 0
        for n, p in enumerate(parts):
            path = str(directory / f"load-p{p}.jsonl")
            events = by_partition[p]
            bad = malformed * (n + 1) // len(parts) - malformed * n // len(parts)
            at = set(rnd.sample(range(len(events) + bad), bad))
            lines: list[bytes] = []
            offset = 0
            it = iter(events)
            for i in range(len(events) + bad):
                if i in at:
                    code, prefix, make = FILE_MALFORMED_KINDS[counter % len(FILE_MALFORMED_KINDS)]
                    line = make(counter) + b"\n"
                    load.malformed.append(MalformedLine(path, offset, code, prefix))
                    counter += 1
                else:
                    line = orjson.dumps(next(it)) + b"\n"
                lines.append(line)
                offset += len(line)
            load.lines[path] = lines
            load.events += len(events)
        return load

    @property
    def glob(self) -> str:
        return str(self.directory / "load-p*.jsonl")

    def write(self, fraction_from: float, fraction_to: float, duration_s: float, errors: list) -> None:
        """Append each file's lines from ``fraction_from`` to ``fraction_to`` of it, evenly over ``duration_s``."""
        try:
            files = {path: open(path, "ab") for path in self.lines}  # noqa: SIM115 - closed below
            try:
                done = {path: int(len(lines) * fraction_from) for path, lines in self.lines.items()}
                t0 = time.monotonic()
                while True:
                    elapsed = time.monotonic() - t0
                    share = 1.0 if duration_s <= 0 else min(1.0, elapsed / duration_s)
                    frac = fraction_from + (fraction_to - fraction_from) * share
                    for path, lines in self.lines.items():
                        upto = int(len(lines) * frac) if share < 1.0 else int(len(lines) * fraction_to)
                        if upto > done[path]:
                            files[path].write(b"".join(lines[done[path]:upto]))  # whole lines only
                            files[path].flush()
                            done[path] = upto
                    if share >= 1.0:
                        return
                    time.sleep(0.1)  # pacing the writer (not waiting for a condition)
            finally:
                for f in files.values():
                    f.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)


class CollectorRun:
    """``trtlens collect`` following ``load``'s files; :meth:`kill_and_restart` = SIGKILL + a replacement."""

    def __init__(self, settings, load: FileLoad, work_dir: Path, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.args = ["collect", "--files", load.glob, "--format", "jsonl", "--checkpoint-dir", str(work_dir / "cp")]
        self.env = {**connection_env(settings), "TRTLENS_PRODUCER__SPOOL_DIR": str(work_dir / "spool"),
                    "TRTLENS_COLLECT__FILES__POLL_INTERVAL_MS": "50"}
        self.procs: list[ManagedProcess] = []
        self.start()

    def start(self) -> ManagedProcess:
        proc = ManagedProcess(f"collect{len(self.procs)}", self.args, log_dir=self.log_dir, env=self.env).start()
        self.procs.append(proc)
        return proc

    @property
    def current(self) -> ManagedProcess:
        return self.procs[-1]

    def kill_and_restart(self) -> None:
        self.current.kill()  # SIGKILL: no final flush, no final checkpoint; pending batches lost
        self.start()

    def resumed_offsets(self) -> list[int]:
        """Offsets the replacements resumed their files at (from their 'following' log lines)."""
        out = []
        for proc in self.procs[1:]:
            for line in proc.log_tail(1_000_000).splitlines():
                if "msg='following'" in line and "offset=" in line:
                    out.append(int(line.split("offset=")[1].split()[0]))
        return out

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop(timeout_s=15)


def file_dlq_problems(load: FileLoad, dlq_docs: list[dict]) -> tuple[list[str], int]:
    """Problems with the collector's dead letters of ``load``'s files, and how many were repeats (re-reads)."""
    docs = [d for d in dlq_docs if d.get("stage") == "collect"]
    seen = Counter((d.get("source"), d.get("offset")) for d in docs)
    by_at = {(d.get("source"), d.get("offset")): d for d in docs}
    problems = []
    for m in load.malformed:
        d = by_at.get((m.path, m.offset))
        if d is None:
            problems.append(f"malformed line {m.path}@{m.offset} ({m.code}) not dead-lettered")
        elif d.get("code") != m.code or not str(d.get("reason", "")).startswith(m.reason_prefix) \
                or d.get("source_kind") != "file" or not d.get("file_identity"):
            problems.append(f"malformed line {m.path}@{m.offset} dead-lettered as {d.get('source_kind')}/"
                            f"{d.get('code')}: {d.get('reason')!r}, not file/{m.code}")
    planned = {(m.path, m.offset) for m in load.malformed}
    extra = sorted(k for k in seen if k not in planned)
    if extra:
        problems.append(f"{len(extra)} lines dead-lettered that are not malformed (lost events), e.g. {extra[:3]}")
    repeats = sum(n - 1 for n in seen.values())
    return problems, repeats


def split_by_partition(events: list[dict], partitions: int, file_partitions: set[int]) -> tuple[list[dict], dict]:
    """Events for the publisher (partitions not in ``file_partitions``) and, per file partition, its events;
    each in send order."""
    from trtlens.kafka import partition_for_key
    from trtlens.producers.publisher import routing_key

    direct: list[dict] = []
    files: dict[int, list[dict]] = {p: [] for p in sorted(file_partitions)}
    for ev in events:
        p = partition_for_key(routing_key(ev), partitions)
        (files[p] if p in files else direct).append(ev)
    return direct, files


def start_thread(target, *args) -> threading.Thread:
    t = threading.Thread(target=target, args=args, daemon=True)
    t.start()
    return t
