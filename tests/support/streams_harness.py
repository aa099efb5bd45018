"""Helpers for the streams integration tests: real broker, real Faust worker processes."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from trtlens.obs import Scrape
from trtlens.settings import Settings, TopicSettings, settings_env
from trtlens.stack.processes import ManagedProcess

_counter = itertools.count()


def streams_settings(base: Settings, *, partitions: int = 3, **streams: object) -> Settings:
    """Unique topics (internal partials included) and app id; topics created."""
    from trtlens.kafka import ensure_topics

    tag = f"s{os.getpid()}x{next(_counter)}"
    topics = TopicSettings(**{name: f"{tag}.{value}" for name, value in TopicSettings().model_dump().items()
                              if isinstance(value, str)}, partitions=partitions)
    opts = {"app_id": f"{tag}-app", "idle_timeout_ms": 3000, "commit_interval_s": 0.5, "batch_within_ms": 50,
            "log_every_s": 1.0, **streams}
    settings = base.model_copy(update={
        "topics": topics,
        "streams": base.streams.model_validate({**base.streams.model_dump(), **opts}),
    })
    ensure_topics(settings.kafka, settings.topics)
    return settings


def _env(settings: Settings) -> dict[str, str]:
    return settings_env(settings, sections_=["kafka", "topics", "streams"])


class Worker:
    """One ``trtlens streams`` process (a real Faust worker), supervised by :class:`ManagedProcess`."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        assert log_path.suffix == ".log", log_path
        self.log_path = log_path
        self.process = ManagedProcess(log_path.stem, ["--log-level", "INFO", "streams"], log_dir=log_path.parent,
                                      env=_env(settings)).start()

    def alive(self) -> bool:
        return self.process.running

    def kill(self) -> None:
        self.process.kill()

    def stop(self) -> None:
        self.process.stop(20)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metrics(self) -> Scrape:
        """The worker's ``/metrics``, parsed (waits for its listener)."""
        self.process.wait_obs(60)
        return self.process.metrics()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[Settings], Worker]]:
    started: list[Worker] = []

    def start(settings: Settings) -> Worker:
        w = Worker(settings, tmp_path / f"worker{len(started)}.log")
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def read_topic(settings: Settings, topic: str) -> list[tuple[bytes | None, bytes, int, int]]:
    """Every record of ``topic`` now: (key, value, partition, offset)."""
    from kafka import KafkaConsumer, TopicPartition

    # read until caught up with the high watermark the broker's fetch responses report, not "until nothing
    # came for a while": on a loaded machine a fetch can pause longer than any such silence, and a read that
    # stopped early looks like lost records (ListOffsets is no help: the embedded broker answers it wrongly)
    consumer = KafkaConsumer(**settings.kafka.kafka_python_kwargs(), enable_auto_commit=False,
                             auto_offset_reset="earliest")
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        out: list[tuple[bytes | None, bytes, int, int]] = []
        deadline = time.monotonic() + 120
        while True:
            batch = consumer.poll(timeout_ms=300)
            for msgs in batch.values():
                out += [(m.key, m.value, m.partition, m.offset) for m in msgs]
            if not batch and all((hw := consumer.highwater(tp)) is not None and consumer.position(tp) >= hw
                                 for tp in tps):
                return out
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: not caught up with its high watermarks within 120 s")
    finally:
        consumer.close()


def latest_docs(settings: Settings, topic: str) -> dict[str, dict]:
    """Last value per key (= doc_id): what an idempotent sink ends up storing."""
    return {k.decode(): orjson.loads(v) for k, v, _, _ in read_topic(settings, topic)}


def wait_for(condition: Callable[[], object], timeout_s: float, what: str, workers_: list[Worker] = ()) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        for w in workers_:
            if not w.alive():
                raise AssertionError(f"worker died while waiting for {what}:\n{w.log()[-3000:]}")
        if time.monotonic() > deadline:
            logs = "\n".join(w.log()[-2000:] for w in workers_)
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}\n{logs}")
        time.sleep(0.5)


def publish(settings: Settings, events: list[dict], **publisher: object) -> None:
    from trtlens.producers.publisher import Publisher

    cfg = settings.producer.model_copy(update={"spool_name": f"streams-test-{os.getpid()}", **publisher})
    with Publisher(settings, cfg) as pub:
        pub.publish_dicts(events)
        assert pub.flush(60)


def wait_stable(produce: Callable[[], object], timeout_s: float, what: str, workers_: list[Worker] = (),
                settle_s: float = 3.5) -> object:
    """Wait until ``produce()`` is truthy and unchanged for ``settle_s`` (a window closed early by the
    idle rule while a rebalance paused a partition is re-emitted with full values shortly after)."""
    deadline = time.monotonic() + timeout_s
    last, since = None, 0.0
    while True:
        value = wait_for(produce, max(1.0, deadline - time.monotonic()), what, workers_)
        now = time.monotonic()
        if value == last and now - since >= settle_s:
            return value
        if value != last:
            last, since = value, now
        time.sleep(0.5)
