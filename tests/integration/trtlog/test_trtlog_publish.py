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
    assert report.passed and report.doc_id == f"model-trained:{report.built_at_ms}"  # one document per build
    assert report.model_dump(mode="json")["report"]["facts"]["aux_streams"] == 2


def test_redacted_publish_and_replay_send_no_layer_or_tensor_name(isolated: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """With TRTLENS_BUILDS__REDACT=hash, what lands on the broker (from check --publish and from replay),
    what check prints and what is logged hold no original name; the rules still work on the wire events."""
    from trtlens.greybox.redact import collect_names
    from trtlens.producers.trtlog import parse_log

    for key, value in {"KAFKA__BOOTSTRAP_SERVERS": isolated.kafka.bootstrap_servers, "TOPICS__EVENTS": isolated.topics.events,
                       "TOPICS__EVENTS_DLQ": isolated.topics.events_dlq, "TOPICS__PARTITIONS": str(isolated.topics.partitions),
                       "PRODUCER__SPOOL_DIR": str(tmp_path / "spool"), "BUILDS__REDACT": "hash",
                       "BUILDS__REDACT_KEY": "integration-test-key-42"}.items():  # fmt: skip
        monkeypatch.setenv(f"TRTLENS_{key}", value)
    caplog.set_level("INFO")
    build, profile = DATA / "02-trtexec-trt1016-verbose-fusion-tactics.log", DATA / "04-trtexec-trt1016-dumpprofile-layer-table.log"
    listing = DATA / "public" / "p63-polygraphy-038-trt841-inspect-engine-layers.log"
    assert main(["check", str(build), "--profile", str(profile), "--publish", "--json"]) == 0
    assert main(["replay", str(listing), "--checkpoint-dir", str(tmp_path / "cp"), "--json"]) == 0

    records = read_events(isolated, want=18)
    events = [ev for _, _, value in records for ev in decode_record(value).events]
    assert sorted(e.event for e in events) == ["engine_build"] * 2 + ["layer_profile"] * 16
    originals = [parse_log(build).build, parse_log(profile).build, parse_log(listing).build]
    names = {n for n in collect_names(originals, parse_log(profile).profile) if len(n) > 2 and not n.startswith("__my")}
    captured = capsys.readouterr()
    wire = b"\n".join(value for _, _, value in records).decode()
    assert [n for n in names if n in wire or n in captured.out or n in captured.err or n in caplog.text] == []
    assert "h:" in wire and "redact=hash" in caplog.text

    (listed,) = [e for e in events if isinstance(e, EngineBuild) and e.layers]
    rules = BuildRules(min_fusion_coverage_by_type={"Conv": 0.95}, required_fusion_patterns=["Conv -> Relu"])
    assert evaluate_build(listed, rules).passed  # Conv-1 + ReLU-2 and Conv-4 + ReLU-5, by their kept types
    assert {v.rule for v in evaluate_build(listed, rules.model_copy(update={"min_fusion_coverage_by_type": {"MatMul": 0.95}})).violations} \
        == {"min_fusion_coverage_by_type[MatMul]"}
