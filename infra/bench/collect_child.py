"""The file-follow measurements of ``trtlens bench collect``, in this process or in a child of another installation.

``file_follow`` and ``file_logic_only`` import only the collector's and publisher's modules, whose interfaces
older checkouts share; ``trtlens bench collect --before-pythonpath DIR --rounds N`` runs this file's source as
``python -c`` with ``PYTHONPATH=DIR`` (the before) and with the current one (the after), alternating, so both
are timed by the same code on the same file against the same broker. A child prints one JSON object: both
file follows (``full``, ``envelope``) and the collector's logic alone (both validations), each with its own
process's CPU-seconds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def file_follow(settings, path: Path, checkpoint_dir: Path, want: int, validate: str = "full") -> dict:
    from trtlens.producers.collect.commit import Committer
    from trtlens.producers.collect.config import FilesConfig
    from trtlens.producers.collect.filesource import FileSource
    from trtlens.producers.collect.intake import Intake
    from trtlens.producers.collect.mapping import Mapper
    from trtlens.producers.collect.config import MappingConfig
    from trtlens.producers.publisher import Publisher

    with Publisher(settings, settings.producer.model_copy(update={"spool_name": "bench-follow"})) as pub:
        committer = Committer(pub, interval_ms=1000)
        intake = Intake(pub, committer, Mapper(MappingConfig(), worker_id="bench", validate=validate))
        source = FileSource(FilesConfig(paths=[str(path)]), intake, checkpoint_dir)
        t0 = time.perf_counter()
        c0 = time.process_time()
        source.follower.scan()
        last_commit = t0
        while intake.counts[("file", "events")] + intake.counts[("file", "invalid")] < want:
            if source.poll_once() == 0:
                break
            if time.perf_counter() - last_commit >= 1.0:
                committer.commit_now()
                last_commit = time.perf_counter()
        committed = committer.commit_now()
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0
        source.follower.close()
    n = intake.counts[("file", "events")]
    return {"events": n, "invalid": intake.counts[("file", "invalid")], "seconds": dt, "events_per_s": n / dt,
            "cpu_seconds": cpu, "events_per_cpu_s": n / cpu if cpu else 0.0, "cpu_over_wall": cpu / dt,
            "delivered": committed, "checkpoint_writes": source.store.writes}


class _CountingPublisher:
    """Stands in for the publisher to time the collector's own per-event work (no broker, no batching)."""

    def __init__(self) -> None:
        self.events = 0

    def publish_dicts(self, events) -> None:
        self.events += len(events)

    def publish_dead_letter(self, doc, key=None) -> None:
        pass

    def flush(self, timeout_s: float) -> bool:
        return True


def file_logic_only(path: Path, checkpoint_dir: Path, validate: str) -> dict:
    """Follower + mapping + validation + checkpoints on one core, publishing to a counter."""
    from trtlens.producers.collect.commit import Committer
    from trtlens.producers.collect.config import FilesConfig, MappingConfig
    from trtlens.producers.collect.filesource import FileSource
    from trtlens.producers.collect.intake import Intake
    from trtlens.producers.collect.mapping import Mapper

    pub = _CountingPublisher()
    committer = Committer(pub)
    source = FileSource(FilesConfig(paths=[str(path)]), Intake(pub, committer, Mapper(MappingConfig(), worker_id="b",
                                                                                       validate=validate)),
                        checkpoint_dir)
    source.follower.scan()
    t0 = time.process_time()
    while source.poll_once():
        committer.commit_now()
    cpu = time.process_time() - t0
    source.follower.close()
    return {"events": pub.events, "cpu_seconds": cpu, "events_per_cpu_s": pub.events / cpu if cpu else 0.0}


def child_main(spec: dict) -> dict:
    """One child's run: the events file followed with each validation, then the logic alone."""
    import numpy  # noqa: F401  (the publisher imports it lazily, once per process: not a per-event cost)

    from trtlens.settings import load_settings

    settings = load_settings(kafka={"bootstrap_servers": spec["bootstrap"]}, topics=spec["topics"],
                             producer={"spool_dir": spec["spool_dir"]})
    path, work, want = Path(spec["path"]), Path(spec["workdir"]), spec["events"]
    out = {"follow": {}, "logic_per_cpu_s": {}}
    for validate in ("full", "envelope"):
        out["follow"][validate] = file_follow(settings, path, work / f"cp-{validate}", want, validate=validate)
        logic = file_logic_only(path, work / f"cp-logic-{validate}", validate)
        out["logic_per_cpu_s"][validate] = logic["events_per_cpu_s"]
    return out


if __name__ == "__main__":
    print(json.dumps(child_main(json.loads(sys.argv[1]))))
