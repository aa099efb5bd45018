"""Helpers for the notifier's integration tests: alerts, publishing, settings, the process."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import yaml

from trtlens.schemas.documents import Alert
from trtlens.settings import Settings

W0 = 1_795_222_800_000  # 2026-11-21T01:00:00Z
TOKENS = ("SECRETtok3n", "SECRETbearer")  # never in a log line or a dead letter


def alert(rule_id: str, scope_key: str, state: str, window: int, **kw: Any) -> Alert:
    return Alert(rule_id=rule_id, rule_kind="p99_above", scope="model_version", scope_key=scope_key, state=state,
                 window_start_ms=W0 + window * 10_000, window_ms=10_000,
                 value=1500.0 if state == "firing" else 700.0, threshold=1000.0,
                 message=f"{rule_id} {state}", breaching_windows=3, **kw)


def publish(settings: Settings, alerts: list[Alert], *, raw: list[tuple[bytes, bytes]] = ()) -> collections.Counter:
    """Publish as the streams app does (key = doc_id); returns records per partition."""
    from kafka import KafkaProducer

    from trtlens.kafka import partition_for_key

    parts = settings.topics.partitions
    per_partition: collections.Counter = collections.Counter()
    producer = KafkaProducer(acks="all", linger_ms=5, **settings.kafka.kafka_python_kwargs())
    try:
        items = [(a.doc_id.encode(), orjson.dumps(a.model_dump(mode="json"))) for a in alerts] + list(raw)
        for key, value in items:
            p = partition_for_key(key, parts)
            producer.send(settings.topics.alerts, value, key=key, partition=p)
            per_partition[p] += 1
        producer.flush(timeout=30)
    finally:
        producer.close()
    return per_partition


def committed(settings: Settings) -> dict[int, int]:
    """The notify group's committed offset per partition of the alerts topic."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(group_id=settings.notify.group_id, enable_auto_commit=False,
                             **settings.kafka.kafka_python_kwargs())
    try:
        out = {}
        for p in range(settings.topics.partitions):
            off = consumer.committed(TopicPartition(settings.topics.alerts, p))
            if off is not None:
                out[p] = off
        return out
    finally:
        consumer.close()


def with_notify(settings: Settings, endpoints: list[dict], **opts: Any) -> Settings:
    cfg = {"group_id": f"{settings.topics.alerts}-notify", "backoff_initial_ms": 20, "backoff_max_ms": 200,
           "max_attempts": 6, **opts, "endpoints": endpoints}
    return settings.model_copy(update={"notify": settings.notify.model_validate(cfg)})


def write_config(settings: Settings, endpoints: list[dict], path: Path) -> Path:
    """Settings file for a child process; endpoints written as given (``model_dump`` would mask the secrets)."""
    data = settings.model_dump(mode="json", include={"kafka", "topics"}, exclude_none=True)
    data["notify"] = {**settings.notify.model_dump(mode="json", exclude={"endpoints"}), "endpoints": endpoints}
    path.write_text(yaml.safe_dump(data))
    return path


class NotifyProcess:
    """One ``trtlens notify`` process."""

    def __init__(self, config: Path, log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "trtlens", "--config", str(config), "notify"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def ensure_dead(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)
