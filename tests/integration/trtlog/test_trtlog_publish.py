"""`trtlens check --publish` against the real embedded broker: the engine_build and
layer_profile events land on the events topic, keyed and partitioned by engine_id,
decode with the shared codec, and the rule core accepts what came off the wire."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from trtlens.cli import main
from trtlens.kafka import partition_for_key
from trtlens.schemas.codec import decode_record
from trtlens.schemas.events import EngineBuild
from trtlens.settings import Settings
from trtlens.greybox.config import BuildRules
from trtlens.greybox.core import evaluate_build

DATA = Path(__file__).resolve().parents[3] / "tests" / "data" / "trt-logs"


def read_events(settings: Settings, *, want: int, timeout_s: float = 30.0) -> list[tuple[int, bytes, object]]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings.kafka.kafka_python_kwargs(), enable_auto_commit=False, group_id=None)
    try:
        topic = settings.topics.events
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list[tuple[int, bytes, object]] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and sum(len(decode_record(v).events) for _, _, v in out) < want:
            for tp, records in consumer.poll(timeout_ms=300).items():
                out.extend((tp.partition, rec.key, rec.value) for rec in records)
        return out
    finally:
        consumer.close()


def test_check_publish_lands_events(isolated: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRTLENS_KAFKA__BOOTSTRAP_SERVERS", isolated.kafka.bootstrap_servers)
    monkeypatch.setenv("TRTLENS_TOPICS__EVENTS", isolated.topics.events)
    monkeypatch.setenv("TRTLENS_TOPICS__EVENTS_DLQ", isolated.topics.events_dlq)
    monkeypatch.setenv("TRTLENS_TOPICS__PARTITIONS", str(isolated.topics.partitions))
    monkeypatch.setenv("TRTLENS_PRODUCER__SPOOL_DIR", str(tmp_path / "spool"))

    log = DATA / "04-trtexec-trt1016-dumpprofile-layer-table.log"
    assert main(["check", str(log), "--publish", "--json"]) == 0

    records = read_events(isolated, want=17)
    events = [ev for _, _, value in records for ev in decode_record(value).events]
    assert sum(len(decode_record(v).errors) for _, _, v in records) == 0
    builds = [e for e in events if e.event == "engine_build"]
    profiles = [e for e in events if e.event == "layer_profile"]
    assert len(builds) == 1 and len(profiles) == 16
    expected_partition = partition_for_key("model-trained", isolated.topics.partitions)
    assert {p for p, _, _ in records} == {expected_partition}
    assert {k for _, k, _ in records} == {b"model-trained"}
    build = builds[0]
    assert isinstance(build, EngineBuild) and build.profile.total_ms == 1468.17
    report = evaluate_build(build, BuildRules(), profile=profiles)
    assert report.passed and report.doc_id == "model-trained"
    assert report.model_dump(mode="json")["report"]["facts"]["aux_streams"] == 2
