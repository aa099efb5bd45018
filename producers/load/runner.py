"""The I/O half of the load generator: publish a :class:`LoadRun`, write its ground truth."""

from __future__ import annotations

import gzip
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from trtlens.producers.config import PublisherConfig
from trtlens.producers.load.core import LoadRun
from trtlens.settings import Settings

log = logging.getLogger(__name__)

CHUNK_EVENTS = 5000


@dataclass
class LoadStats:
    events: int
    seconds: float
    events_per_s: float
    delivered: bool
    counters: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"events": self.events, "seconds": round(self.seconds, 3), "events_per_s": round(self.events_per_s, 1),
                "delivered": self.delivered, "counters": self.counters}


def write_ground_truth(run: LoadRun, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(run.ground_truth, option=orjson.OPT_INDENT_2))
    tmp.replace(path)


def write_jsonl(run: LoadRun, path: Path) -> int:
    """Write the events as JSON lines (gzip when the name ends in .gz) instead of publishing."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    n = 0
    with opener(path, "wb") as out:
        chunk: list[bytes] = []
        for event in run.events:
            chunk.append(orjson.dumps(event))
            if len(chunk) >= CHUNK_EVENTS:
                out.write(b"\n".join(chunk) + b"\n")
                n += len(chunk)
                chunk = []
        if chunk:
            out.write(b"\n".join(chunk) + b"\n")
            n += len(chunk)
    return n


def publish_run(
    run: LoadRun,
    settings: Settings,
    *,
    publisher_config: PublisherConfig | None = None,
    realtime: bool = False,
    speed: float = 1.0,
    progress=None,
    flush_timeout_s: float = 120.0,
) -> LoadStats:
    """Publish every event of ``run``; with ``realtime`` pace them to event time (×``speed``)."""
    from trtlens.producers.publisher import Publisher

    cfg = publisher_config or settings.producer.model_copy(update={"spool_name": "load"})
    n = 0
    t_start = time.perf_counter()
    with Publisher(settings, cfg) as pub:
        chunk: list[dict] = []
        for event in run.events:
            chunk.append(event)
            if realtime:
                due_s = (event["ts_ms"] - run.start_ms) / 1000.0 / speed
                ahead_s = due_s - (time.perf_counter() - t_start)
                if ahead_s > 0.02:
                    pub.publish_dicts(chunk)
                    n += len(chunk)
                    chunk = []
                    if progress:
                        progress(n)
                    time.sleep(ahead_s)
                    continue
            if len(chunk) >= CHUNK_EVENTS:
                pub.publish_dicts(chunk)
                n += len(chunk)
                chunk = []
                if progress:
                    progress(n)
        if chunk:
            pub.publish_dicts(chunk)
            n += len(chunk)
        delivered = pub.flush(flush_timeout_s)
        seconds = time.perf_counter() - t_start
        counters = pub.counters
    if progress:
        progress(n)
    stats = LoadStats(n, seconds, n / seconds if seconds > 0 else 0.0, delivered, counters)
    log.info("load=done events=%d seconds=%.2f events_per_s=%.0f delivered=%s published=%d spooled=%d failed=%d",
             n, seconds, stats.events_per_s, delivered, counters["published"], counters["spooled"], counters["failed"])
    return stats
