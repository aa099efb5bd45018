"""The embedded stack through its CLI, and the session stack through real clients."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trtlens.es import es_client
from trtlens.stack import ProcessInfo, process_alive


def _env(state_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TRTLENS_STACK__STATE_DIR": str(state_dir),
        "TRTLENS_STACK__KAFKA_PORT": "0",
        "TRTLENS_STACK__ES_PORT": "0",
    }


def _trtlens(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trtlens", *args], env=env, capture_output=True, text=True, timeout=timeout)


def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (value := predicate()):
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def test_up_detach_status_down(tmp_path):
    env = _env(tmp_path)
    up = _trtlens("stack", "up", "--detach", env=env)
    assert up.returncode == 0, up.stderr
    status_run = _trtlens("stack", "status", "--json", env=env)
    assert status_run.returncode == 0, status_run.stdout
    status = json.loads(status_run.stdout)
    assert status["ready"] and status["kafka"]["alive"] and status["elasticsearch"]["alive"]
    assert "trtlens.events" in status["topics"] and status["partitions"] == 3
    pids = [status["kafka"]["pid"], status["elasticsearch"]["pid"]]

    again = _trtlens("stack", "up", "--detach", env=env)
    assert again.returncode == 2 and "already running" in again.stderr

    down = _trtlens("stack", "down", env=env)
    assert down.returncode == 0, down.stderr
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
    after = _trtlens("stack", "status", "--json", env=env)
    assert json.loads(after.stdout)["running"] is False and after.returncode == 1


def test_foreground_stack_dies_with_its_parent(tmp_path):
    env = _env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "trtlens", "stack", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        state_file = tmp_path / "stack.json"
        _wait_for(state_file.exists, 60, "the stack state file")
        state = json.loads(state_file.read_text())
        children = [ProcessInfo(**state[name]) for name in ("kafka", "elasticsearch")]
        assert all(process_alive(c) for c in children)
        proc.send_signal(signal.SIGKILL)  # no cleanup code runs in the parent
        proc.wait(10)
        _wait_for(lambda: not any(process_alive(c) for c in children), 15, "children to exit after the parent died")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_port_in_use_gives_a_clear_error(tmp_path, stack):
    env = {**_env(tmp_path), "TRTLENS_STACK__KAFKA_PORT": stack.bootstrap_servers.rsplit(":", 1)[1]}
    res = _trtlens("stack", "up", "--detach", env=env)
    assert res.returncode == 2
    assert "already in use" in res.stderr and "TRTLENS_STACK__KAFKA_PORT" in res.stderr


def test_produce_and_consume_through_the_broker(isolated):
    from kafka import KafkaConsumer, KafkaProducer

    from trtlens.kafka import partition_for_key

    producer = KafkaProducer(acks="all", enable_idempotence=True, **isolated.kafka.kafka_python_kwargs())
    sent = {}
    for i in range(20):
        key = f"req-{i}"
        meta = producer.send(isolated.topics.events, value=f"v{i}".encode(), key=key.encode(), partition=partition_for_key(key, 3)).get(10)
        sent[key] = (meta.partition, f"v{i}".encode())
    producer.close()
    consumer = KafkaConsumer(
        isolated.topics.events,
        group_id=f"{isolated.topics.events}-g",
        auto_offset_reset="earliest",
        session_timeout_ms=isolated.kafka.session_timeout_ms,
        heartbeat_interval_ms=isolated.kafka.heartbeat_interval_ms,
        consumer_timeout_ms=15000,
        **isolated.kafka.kafka_python_kwargs(),
    )
    got = {}
    for msg in consumer:
        got[msg.key.decode()] = (msg.partition, msg.value)
        if len(got) == len(sent):
            break
    consumer.close()
    assert got == sent


def test_index_and_search_with_the_official_client(isolated):
    es = es_client(isolated.elasticsearch)
    index = f"{isolated.indices.traces}-2026.11.22"
    es.indices.create(index=index, mappings={"properties": {"request_id": {"type": "keyword"}, "total_ms": {"type": "float"}}})
    es.index(index=index, id="r1", document={"request_id": "r1", "total_ms": 3.5})
    es.index(index=index, id="r1", document={"request_id": "r1", "total_ms": 4.5})  # same _id overwrites
    es.indices.refresh(index=index)
    hits = es.search(index=index, query={"term": {"request_id": "r1"}})["hits"]
    assert hits["total"]["value"] == 1
    assert hits["hits"][0]["_source"]["total_ms"] == 4.5
    assert es.info()["version"]["number"]


def test_ensure_topics_leaves_existing_topics_alone(stack_settings, caplog):
    from trtlens.kafka import ensure_topics
    from trtlens.settings import TopicSettings

    tag = f"pre{os.getpid()}"
    names = [n for n, f in TopicSettings.model_fields.items() if f.annotation is str]
    two = TopicSettings(**{name: f"{tag}.{name}" for name in names}, partitions=2)
    assert sorted(ensure_topics(stack_settings.kafka, two)) == sorted(two.all_topics())
    three = two.model_copy(update={"partitions": 3})
    with caplog.at_level("WARNING", logger="trtlens.kafka"):
        assert ensure_topics(stack_settings.kafka, three) == []
    assert f"topic={tag}.events partitions=2 configured=3" in caplog.text


def test_ensure_topics_in_child_creates_warns_and_raises_like_in_process(stack_settings, caplog):
    from trtlens.kafka import KafkaUnavailableError, ensure_topics_in_child
    from trtlens.settings import KafkaSettings, TopicSettings

    tag = f"child{os.getpid()}"
    names = [n for n, f in TopicSettings.model_fields.items() if f.annotation is str]
    two = TopicSettings(**{name: f"{tag}.{name}" for name in names}, partitions=2)
    assert sorted(ensure_topics_in_child(stack_settings.kafka, two)) == sorted(two.all_topics())
    with caplog.at_level("WARNING", logger="trtlens.kafka"):
        assert ensure_topics_in_child(stack_settings.kafka, two.model_copy(update={"partitions": 3})) == []
    assert f"topic={tag}.events partitions=2 configured=3" in caplog.text  # the child's warning, relayed
    nobody = KafkaSettings(bootstrap_servers="127.0.0.1:1", sasl_mechanism="PLAIN", sasl_username="u", sasl_password="s3cret-pw")
    with pytest.raises(KafkaUnavailableError) as raised:
        ensure_topics_in_child(nobody, two, timeout_s=1.0)
    assert "127.0.0.1:1" in str(raised.value) and "s3cret-pw" not in str(raised.value)
