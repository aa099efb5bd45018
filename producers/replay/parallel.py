"""Replay several files at once (``trtlens replay --jobs N``): one process per job, each with its own publisher.

Replay is CPU-bound in one Python process (read, parse, validate, publish), so
files go to ``jobs`` worker processes. Each worker takes the next file from a
queue and replays it with :func:`~trtlens.producers.replay.runner.replay_files`,
exactly as one process would: the same per-file checkpoints (and ``--resume``),
the same deterministic ids (a function of the file name and the event), the
same dead letters with file and line. Its publisher's spool is its own
(``<spool_name>`` for job 0 — the one a single-process replay uses — and
``<spool_name>-<k>`` for the others), so an unfinished spool is drained by the
next run with the same jobs.

Limits that apply to the whole run (``--rate``, ``--speed``, ``--max-lines``)
need one process: :func:`check_parallel_options` refuses them with ``jobs > 1``.
A file is never split between processes (its checkpoint is one line count).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trtlens.errors import TrtlensError
from trtlens.producers.config import PublisherConfig
from trtlens.producers.replay.runner import FileSummary, ReplayOptions, ReplaySummary
from trtlens.settings import Settings

log = logging.getLogger(__name__)


class ReplayWorkerError(TrtlensError):
    """A replay worker process failed. Attributes: path (the file it was on, if any), reason."""

    def __init__(self, path: str | None, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"replay worker failed{f' on {path}' if path else ''}: {reason}")


def check_parallel_options(options: ReplayOptions, jobs: int) -> None:
    """Raise :class:`TrtlensError` for options that only mean something in one process."""
    if jobs < 1:
        raise TrtlensError(f"--jobs must be >= 1, got {jobs}")
    if jobs > 1:
        given = [name for name, value in (("--rate", options.rate_eps), ("--speed", options.speed),
                                          ("--max-lines", options.max_lines)) if value is not None]
        if given:
            raise TrtlensError(f"{', '.join(given)} limit(s) the whole replay: use them with --jobs 1")


def spool_name_of(base: str, job: int) -> str:
    return base if job == 0 else f"{base}-{job}"


def _worker(job: int, settings: Settings, config: PublisherConfig, options: ReplayOptions,
            tasks: Any, results: Any, plugins: Callable[[], None] | None) -> None:
    from trtlens.producers.publisher import Publisher
    from trtlens.producers.replay.runner import replay_files

    path: str | None = None
    try:
        if plugins is not None:
            plugins()
        with Publisher(settings, config.model_copy(update={"spool_name": spool_name_of(config.spool_name, job)})) as pub:
            while (task := tasks.get()) is not None:
                index, path = task
                summary = replay_files([Path(path)], pub, options)
                results.put(("file", index, summary.files[0], summary.delivered))
                path = None
            delivered = pub.flush(options.flush_timeout_s)
        results.put(("done", job, pub.counters, delivered))
    except BaseException as exc:  # reported to the parent, which fails the run
        results.put(("error", job, path, f"{type(exc).__name__}: {exc}"))


def replay_parallel(
    paths: list[Path],
    settings: Settings,
    config: PublisherConfig,
    options: ReplayOptions,
    jobs: int,
    *,
    progress: Callable[[int, int], None] | None = None,
    plugins: Callable[[], None] | None = None,
) -> ReplaySummary:
    """Replay ``paths`` in ``jobs`` processes; the summary lists the files in input order.

    ``progress(done_bytes, total_bytes)`` is called as files complete. ``plugins`` runs first in each
    worker (readers registered by import). Publisher counters are summed over the workers.
    """
    check_parallel_options(options, jobs)
    jobs = min(jobs, len(paths)) or 1
    if options.checkpoint_dir is not None:
        options.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    for i, p in enumerate(paths):
        tasks.put((i, str(p)))
    for _ in range(jobs):
        tasks.put(None)
    t_start = time.perf_counter()
    procs = [ctx.Process(target=_worker, args=(k, settings, config, options, tasks, results, plugins),
                         name=f"trtlens-replay-{k}", daemon=True) for k in range(jobs)]
    for proc in procs:
        proc.start()
    sizes = [p.stat().st_size for p in paths]
    total, done = sum(sizes), 0
    files: list[FileSummary | None] = [None] * len(paths)
    summary = ReplaySummary()
    counters: dict[str, int] = {}
    failure: ReplayWorkerError | None = None
    finished = 0
    try:
        while finished < jobs:
            msg = _next(results, procs)
            if msg is None:  # a worker died without a word (killed)
                failure = failure or ReplayWorkerError(None, "a worker process exited unexpectedly")
                break
            kind = msg[0]
            if kind == "file":
                _, index, fs, delivered = msg
                files[index] = fs
                summary.delivered &= delivered
                done += sizes[index]
                if progress is not None:
                    progress(done, total)
            elif kind == "done":
                finished += 1
                summary.delivered &= msg[3]
                for name, value in msg[2].items():
                    counters[name] = counters.get(name, 0) + value
            else:
                finished += 1
                failure = failure or ReplayWorkerError(msg[2], msg[3])
    finally:
        for proc in procs:
            proc.join(timeout=5.0 if failure is None else 1.0)
            if proc.is_alive():
                proc.terminate()
                proc.join()
    if failure is not None:
        raise failure
    summary.files = [f for f in files if f is not None]
    summary.publisher = counters
    summary.seconds = time.perf_counter() - t_start
    return summary


def _next(results: Any, procs: list) -> tuple | None:
    """The next message; None once every worker has exited and nothing is left to read."""
    import queue

    while True:
        try:
            return results.get(timeout=0.5)
        except queue.Empty:
            if not any(p.is_alive() for p in procs):
                try:
                    return results.get(timeout=0.5)
                except queue.Empty:
                    return None
