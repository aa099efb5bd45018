"""trtlens collect on the real broker: files (DLQ with file + offset, checkpoints after ack, repeats absorbed),
HTTP (NDJSON, Firehose + CloudWatch Logs, auth, bounds, back-pressure), Kafka topics of other shippers."""

from __future__ import annotations

import base64
import gzip
import json
import urllib.error
import urllib.request

import orjson

from trtlens.producers.collect.config import CollectSettings
from trtlens.producers.collect.checkpoint import CheckpointStore

from collect_helpers import Running, dead_letters, events_of, wait_for

T0 = 1_700_000_000_000


def ev(i, **extra):
    return {"event": "request_received", "ts_ms": T0 + i, "request_id": f"r{i}", "worker_id": "w", "model": "m",
            "model_version": "v1", **extra}


def test_files_publish_dead_letter_with_offsets_and_checkpoint_only_what_was_acknowledged(isolated, spool_config,
                                                                                          tmp_path):
    log = tmp_path / "svc.jsonl"
    good = [orjson.dumps(ev(i)) for i in range(40)]
    lines = good[:10] + [b'{"event": "request_received", "ts_ms": "soon"}', b"plain text print"] + good[10:]
    log.write_bytes(b"\n".join(lines) + b"\n")
    bad_offsets = [sum(len(x) + 1 for x in lines[:10]), sum(len(x) + 1 for x in lines[:11])]
    cfg = CollectSettings(files={"paths": [str(tmp_path / "*.jsonl")], "checkpoint_dir": tmp_path / "cp",
                                 "poll_interval_ms": 20}, commit_interval_ms=100)
    run = Running(isolated, spool_config, cfg)
    try:
        landed = events_of(isolated, 40)
        with open(log, "ab") as fh:  # appended while running
            fh.write(b"\n".join(orjson.dumps(ev(i)) for i in range(40, 50)) + b"\n")
        landed = events_of(isolated, 50)
        wait_for(lambda: CheckpointStore(tmp_path / "cp").load() and next(iter(
            CheckpointStore(tmp_path / "cp").load().values())).offset == log.stat().st_size, what="checkpoint")
    finally:
        assert run.stop()
    ids = [e["event_id"] for _, _, e in landed.events]
    assert len(ids) == len(set(ids)) == 50 and all(i.startswith("cl-") for i in ids)
    dlq = dead_letters(isolated, 2)
    assert sorted((d["offset"], d["code"]) for d in dlq) == [(bad_offsets[0], "invalid_event"),
                                                            (bad_offsets[1], "not_an_event")]
    assert all(d["source"] == str(log) and d["source_kind"] == "file" and d["stage"] == "collect" for d in dlq)


def test_a_restart_before_the_checkpoint_repeats_lines_with_the_same_ids(isolated, spool_config, tmp_path):
    from trtlens.producers.collect.commit import Committer
    from trtlens.producers.collect.config import FilesConfig, MappingConfig
    from trtlens.producers.collect.filesource import FileSource
    from trtlens.producers.collect.intake import Intake
    from trtlens.producers.collect.mapping import Mapper
    from trtlens.producers.publisher import Publisher

    log = tmp_path / "svc.jsonl"
    log.write_bytes(b"".join(orjson.dumps(ev(i)) + b"\n" for i in range(30)))
    files = FilesConfig(paths=[str(log)])
    with Publisher(isolated, spool_config) as pub:
        committer = Committer(pub)
        intake = Intake(pub, committer, Mapper(MappingConfig(), worker_id="c"))
        first = FileSource(files, intake, tmp_path / "cp")
        first.follower.scan()
        first.poll_once()
        assert committer.commit_now()          # 30 lines acknowledged and checkpointed
        with open(log, "ab") as fh:
            fh.write(b"".join(orjson.dumps(ev(i)) + b"\n" for i in range(30, 45)))
        first.poll_once()                      # published, but "crashed" before its checkpoint
        assert pub.flush(30)
        first.follower.close()
        second = FileSource(files, Intake(pub, Committer(pub), Mapper(MappingConfig(), worker_id="c")),
                            tmp_path / "cp")
        second.follower.scan()
        second.poll_once()
        second.follower.close()
    landed = events_of(isolated, 60)
    ids = [e["event_id"] for _, _, e in landed.events]
    assert len(ids) == 60 and len(set(ids)) == 45  # the 15 uncommitted lines came twice, with the same ids


def test_a_file_rotated_out_of_the_globs_while_down_is_finished_at_restart(isolated, spool_config, tmp_path):
    from trtlens.producers.collect.commit import Committer
    from trtlens.producers.collect.config import FilesConfig, MappingConfig
    from trtlens.producers.collect.filesource import FileSource
    from trtlens.producers.collect.intake import Intake
    from trtlens.producers.collect.mapping import Mapper
    from trtlens.producers.publisher import Publisher

    log = tmp_path / "svc.log"
    log.write_bytes(b"".join(orjson.dumps(ev(i)) + b"\n" for i in range(20)))
    files = FilesConfig(paths=[str(log)], rotated_grace_ms=0)

    def source(pub):
        return FileSource(files, Intake(pub, Committer(pub), Mapper(MappingConfig(), worker_id="c")), tmp_path / "cp")

    with Publisher(isolated, spool_config) as pub:
        first = source(pub)
        first.follower.scan()
        first.poll_once()
        assert first.intake.committer.commit_now()  # 20 lines acknowledged and checkpointed; then it is down
        first.follower.close()
        with open(log, "ab") as fh:  # the service keeps logging ...
            fh.write(b"".join(orjson.dumps(ev(i)) + b"\n" for i in range(20, 35)))
        log.rename(tmp_path / "svc.log.1")  # ... logrotate renames it out of the glob and creates a new one
        log.write_bytes(b"".join(orjson.dumps(ev(i)) + b"\n" for i in range(35, 45)))
        second = source(pub)
        second.follower.scan()
        assert second.poll_once() == 15  # the rotated file's unread tail first, found by inode + fingerprint
        assert second.poll_once() == 10  # then the new file
        assert second.intake.committer.commit_now()
        second.poll_once()  # the rotated file is at its end: closed
        assert second.follower.files == [str(log)]
        assert second.follower.recovered_at_restart == 1
        second.follower.close()
    landed = events_of(isolated, 45)
    got = sorted(e["request_id"] for _, _, e in landed.events)
    assert got == sorted(f"r{i}" for i in range(45))  # every line once: none lost, none repeated
    saved = CheckpointStore(tmp_path / "cp").load()
    assert [p.path for p in saved.values()] == [str(log)]


def _post(url, body, headers=None, method="POST"):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_http_ndjson_and_firehose_cloudwatch_with_auth_bounds_and_dead_letters(isolated, spool_config, tmp_path):
    cfg = CollectSettings(http={"enabled": True, "port": 0, "api_key": "k3y", "max_body_bytes": 65536},
                          commit_interval_ms=50)
    run = Running(isolated, spool_config, cfg)
    try:
        base = f"http://127.0.0.1:{run.collector.http.port}"
        ndjson = b"\n".join([orjson.dumps(ev(i)) for i in range(5)] + [b'{"event": "nope", "ts_ms": 1}'])
        assert _post(base + "/v1/events", ndjson)[0] == 401
        assert _post(base + "/v1/events", ndjson, {"X-Api-Key": "wrong"})[0] == 401
        status, _, body = _post(base + "/v1/events", ndjson, {"X-Api-Key": "k3y", "X-Request-Id": "push-1"})
        assert status == 200 and json.loads(body) == {"request_id": "push-1", "accepted": 5, "invalid": 1}
        assert _post(base + "/v1/events", b"x" * 70000, {"X-Api-Key": "k3y"})[0] == 413
        bomb = gzip.compress(b"\n" * 200_000)
        assert _post(base + "/v1/events", bomb, {"X-Api-Key": "k3y", "Content-Encoding": "gzip"})[0] == 413

        messages = [{"id": f"cw{i}", "timestamp": T0 + 100 + i,
                     "message": orjson.dumps({k: v for k, v in ev(100 + i).items() if k != "ts_ms"}).decode()}
                    for i in range(4)]
        messages.append({"id": "cw-bad", "timestamp": T0, "message": "START RequestId: x"})
        cw = {"messageType": "DATA_MESSAGE", "logGroup": "/aws/lambda/fn", "logStream": "s", "logEvents": messages}
        delivery = {"requestId": "fh-1", "timestamp": T0, "records": [
            {"data": base64.b64encode(gzip.compress(orjson.dumps(cw))).decode()}, {"data": "%%%"}]}
        fh_headers = {"X-Amz-Firehose-Request-Id": "fh-1", "X-Amz-Firehose-Access-Key": "k3y",
                      "X-Amz-Firehose-Protocol-Version": "1.0", "Content-Type": "application/json"}
        status, headers, body = _post(base + "/firehose", orjson.dumps(delivery), fh_headers)
        reply = json.loads(body)
        assert status == 200 and reply["requestId"] == "fh-1" and isinstance(reply["timestamp"], int)
        assert "errorMessage" not in reply and headers["Content-Type"].startswith("application/json")
        status, _, body = _post(base + "/firehose", orjson.dumps(delivery), {**fh_headers,
                                                                              "X-Amz-Firehose-Access-Key": "no"})
        assert status == 401 and json.loads(body)["requestId"] == "fh-1" and json.loads(body)["errorMessage"]
        landed = events_of(isolated, 9)
    finally:
        assert run.stop()
    by_rid = {e["request_id"]: e for _, _, e in landed.events}
    assert len(landed.events) == 9 and {f"r{i}" for i in (0, 1, 2, 3, 4, 100, 101, 102, 103)} == set(by_rid)
    assert by_rid["r101"]["ts_ms"] == T0 + 101  # CloudWatch's timestamp filled the missing ts_ms
    dlq = dead_letters(isolated, 3)
    kinds = sorted((d["source_kind"], d["code"]) for d in dlq)
    assert kinds == [("firehose", "invalid_json"), ("firehose", "not_an_event"), ("http", "unknown_event_type")]
    assert {d.get("request_id") for d in dlq} == {"push-1", "fh-1"}
    assert not any("k3y" in json.dumps(d) for d in dlq)
    counts = run.collector.http.responses
    assert counts[("events", 401)] == 2 and counts[("firehose", 200)] == 1 and counts[("events", 413)] == 2


def test_http_answers_503_with_retry_after_while_the_broker_is_away_and_the_spool_is_full(tmp_path, spool_config):
    from trtlens.settings import load_settings
    from trtlens.stack import free_port

    dead = load_settings(kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"},
                         stack={"state_dir": tmp_path / "state"})
    pub_cfg = spool_config.model_copy(update={"connect_timeout_ms": 300})
    cfg = CollectSettings(http={"enabled": True, "port": 0, "spool_full_events": 3, "ack_timeout_s": 1.0,
                                "retry_after_s": 7}, commit_interval_ms=100)
    run = Running(dead, pub_cfg, cfg)
    try:
        base = f"http://127.0.0.1:{run.collector.http.port}"
        body = b"\n".join(orjson.dumps(ev(i)) for i in range(5))
        status, headers, _ = _post(base + "/v1/events", body)
        assert status == 503 and headers["Retry-After"] == "7"   # spooled, but not acknowledged in time
        status, headers, reply = _post(base + "/v1/events", body)
        assert status == 503 and headers["Retry-After"] == "7" and b"spool is full" in reply
        assert run.pub.counters["spooled"] == 5  # kept on disk, not dropped
    finally:
        run.stop()


def test_kafka_topics_of_other_shippers_are_rebatched_and_their_offsets_committed(isolated, spool_config):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

    foreign = f"{isolated.topics.events}.vector"
    admin = KafkaAdminClient(**isolated.kafka.kafka_python_kwargs())
    admin.create_topics([NewTopic(foreign, num_partitions=1, replication_factor=1)])
    admin.close()
    prod = KafkaProducer(**isolated.kafka.kafka_python_kwargs())
    for i in range(30):
        e = {k: v for k, v in ev(i).items() if k != "ts_ms"}
        if i % 2:   # Vector: {"message": "<json>", "timestamp": "<rfc3339>", "source_type": ...}
            value = {"message": orjson.dumps(e).decode(), "timestamp": "2023-11-14T22:13:20.%03dZ" % i,
                     "source_type": "file", "host": "h"}
        else:       # Fluent Bit: {"@timestamp": <float s>, "log": "<json>"}
            value = {"@timestamp": (T0 + i) / 1000, "log": orjson.dumps(e).decode()}
        prod.send(foreign, orjson.dumps(value))
    prod.send(foreign, b"not json")
    prod.flush()
    prod.close()
    cfg = CollectSettings(kafka={"topics": [foreign], "group_id": f"{foreign}-g"}, commit_interval_ms=100)
    run = Running(isolated, spool_config, cfg)
    try:
        landed = events_of(isolated, 30)
        consumer = KafkaConsumer(**isolated.kafka.kafka_python_kwargs(), group_id=f"{foreign}-g",
                                 enable_auto_commit=False)
        tp = TopicPartition(foreign, 0)
        wait_for(lambda: (consumer.committed(tp) or 0) == 31, what="offsets committed")
        consumer.close()
    finally:
        assert run.stop()
    assert len(landed.events) == 30 and landed.records < 30  # re-batched: fewer records than events
    ts = sorted(e["ts_ms"] for _, _, e in landed.events)
    assert ts[0] == T0 and ts[-1] == T0 + 29
    dlq = dead_letters(isolated, 1)
    assert dlq[0]["topic"] == foreign and dlq[0]["partition"] == 0 and dlq[0]["offset"] == 30
    assert dlq[0]["source_kind"] == "kafka" and dlq[0]["code"] == "not_an_event"


def test_https_with_a_bearer_token(isolated, spool_config, tmp_path):
    import ssl
    import subprocess

    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    cfg = CollectSettings(http={"enabled": True, "port": 0, "bearer_token": "t0ken", "tls_certfile": cert,
                                "tls_keyfile": key}, commit_interval_ms=50)
    run = Running(isolated, spool_config, cfg)
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        url = f"https://127.0.0.1:{run.collector.http.port}/v1/events"

        def post(headers):
            req = urllib.request.Request(url, data=orjson.dumps(ev(1)), method="POST", headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=30, context=ctx) as resp:
                    return resp.status
            except urllib.error.HTTPError as exc:
                return exc.code

        assert post({"Authorization": "Bearer nope"}) == 401
        assert post({"Authorization": "Bearer t0ken"}) == 200
        assert events_of(isolated, 1).events[0][2]["request_id"] == "r1"
    finally:
        assert run.stop()


def test_a_firing_alert_on_the_alerts_topic_turns_verbose_on_for_its_model(isolated):
    import threading

    from kafka import KafkaProducer

    from trtlens.producers.instrument.verbose import VerboseSwitch, follow_alerts

    switch = VerboseSwitch()
    stop = threading.Event()
    thread = follow_alerts(switch, isolated, stop=stop)
    try:
        prod = KafkaProducer(**isolated.kafka.kafka_python_kwargs())
        alert = {"rule_id": "p99", "rule_kind": "p99_above", "scope": "model_version", "scope_key": "resnet50/v2",
                 "state": "firing", "window_start_ms": T0, "window_ms": 1000, "value": 300.0, "threshold": 100.0,
                 "message": "p99 above"}

        def flipped():
            prod.send(isolated.topics.alerts, orjson.dumps(alert))  # again until the consumer has its assignment
            prod.flush()
            return switch.active("resnet50")

        wait_for(flipped, timeout_s=30, what="verbose on after a firing alert")
        prod.close()
        assert not switch.active("bert-base")
    finally:
        stop.set()
        thread.join(10)


def test_lambda_telemetry_pushes_to_the_standalone_receiver_are_joined_and_authenticated(isolated, spool_config):
    cfg = CollectSettings(http={"enabled": True, "port": 0, "bearer_token": "tk"}, commit_interval_ms=50,
                          aws_lambda={"model": "fn-model"})
    run = Running(isolated, spool_config, cfg)
    try:
        url = f"http://127.0.0.1:{run.collector.http.port}/lambda/telemetry"
        batch = [
            {"time": "2023-11-14T22:13:20.000Z", "type": "platform.initStart", "record": {"initializationType": "on-demand"}},
            {"time": "2023-11-14T22:13:20.400Z", "type": "platform.initReport",
             "record": {"initializationType": "on-demand", "metrics": {"durationMs": 400.0}}},
            {"time": "2023-11-14T22:13:20.500Z", "type": "platform.start", "record": {"requestId": "aws-1"}},
            {"time": "2023-11-14T22:13:20.501Z", "type": "function", "record": "not json"},
            {"time": "2023-11-14T22:13:20.530Z", "type": "platform.report", "record": {
                "requestId": "aws-1", "status": "success",
                "metrics": {"durationMs": 30.2, "billedDurationMs": 31, "initDurationMs": 400.0}}},
        ]
        assert _post(url, orjson.dumps(batch))[0] == 401
        status, _, _ = _post(url, orjson.dumps(batch), {"Authorization": "Bearer tk"})
        assert status == 200
        landed = events_of(isolated, 3)
    finally:
        assert run.stop()
    kinds = sorted(e["event"] for _, _, e in landed.events)
    assert kinds == ["engine_load_complete", "request_complete", "request_received"]
    done = next(e for _, _, e in landed.events if e["event"] == "request_complete")
    assert done["cold_start"] is True and done["model"] == "fn-model" and done["ts_ms"] == T0 + 530
    assert run.collector.intake.counts[("telemetry", "cold_starts")] == 1


def test_files_stop_being_read_while_the_broker_is_away_and_the_spool_is_at_its_bound(tmp_path, spool_config):
    import time as _time

    from trtlens.settings import load_settings
    from trtlens.stack import free_port

    dead = load_settings(kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"}, stack={"state_dir": tmp_path / "s"})
    log = tmp_path / "svc.jsonl"
    log.write_bytes(b"".join(orjson.dumps(ev(i)) + b"\n" for i in range(200)))
    cfg = CollectSettings(files={"paths": [str(log)], "checkpoint_dir": tmp_path / "cp", "read_chunk_bytes": 4096,
                                 "max_line_bytes": 1024, "poll_interval_ms": 20},
                          spool_pause_events=10, commit_interval_ms=50)
    run = Running(dead, spool_config.model_copy(update={"connect_timeout_ms": 300, "close_timeout_s": 1}), cfg)
    try:
        wait_for(lambda: run.pub.counters["spooled"] >= 10, what="the first events in the spool")
        _time.sleep(1.0)  # give it time to (wrongly) read on; it must not
        spooled = run.pub.counters["spooled"]
        assert 10 <= spooled < 40 and run.pub.counters["dropped"] == 0
    finally:
        run.stop()
    assert CheckpointStore(tmp_path / "cp").load() == {}  # nothing acknowledged, nothing checkpointed
