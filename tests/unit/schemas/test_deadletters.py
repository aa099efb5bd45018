"""Every dead-letter writer's real output against the contract (``schemas/deadletters.py``, ``docs/asyncapi.json``).

Each row runs the code that builds the records — the streams pipeline, ``replay_files``, the collector's
file, HTTP (NDJSON, Firehose, Lambda Telemetry) and Kafka sources, the sink's record check and bulk
outcome, the notifier's dead letters — on bad input, and takes what it hands over. Nothing here is a
hand-written record. The producers publish through a recording stand-in (the publisher forwards a dead
letter unchanged: ``Publisher.publish_dead_letter``); each record goes through JSON as on the wire.
Then every record must validate against its topic's model, land in the variant named for its writer,
and pass the AsyncAPI document's JSON Schema; and every field a variant declares must be written by
some real record (the contract describes nothing nobody writes).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
import typing
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from trtlens.schemas.asyncapi import asyncapi_document
from trtlens.schemas.deadletters import (EVENT_DEAD_LETTER_VARIANTS, DecodeCode, EventDeadLetter, NotifyDeadLetter,
                                         SinkDeadLetter)
from trtlens.schemas.documents import Alert, Trace

T0 = 1_700_000_000_000
DOC = asyncapi_document()
NOT_UTF8 = b'{"event": "request_received", "model": "\xff\xfe"}'


def payload_validator(channel: str) -> Draft202012Validator:
    """A validator for one channel's message payload, resolving refs against the whole document."""
    (ref,) = DOC["channels"][channel]["messages"].values()
    name = ref["$ref"].rsplit("/", 1)[1]
    registry = Registry().with_resource("urn:trtlens:asyncapi", Resource(contents=DOC, specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"urn:trtlens:asyncapi#/components/messages/{name}/payload"},
                                registry=registry)


def ev(i: int, **extra) -> dict:
    return {"event": "request_received", "event_id": f"e{i}", "ts_ms": T0 + i, "request_id": f"r{i}",
            "worker_id": "w", "model": "m", "model_version": "v1", **extra}


class RecordingPublisher:
    """What a producer hands over, kept; every flush succeeds (no broker: the records are built before)."""

    spooling = False

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.dead: list[tuple[str | None, dict]] = []
        self.counters: dict[str, int] = {}

    def publish_dicts(self, events) -> None:
        self.events.extend(events)

    def publish_dead_letter(self, doc: dict, key: str | None = None) -> None:
        self.dead.append((key, orjson.loads(orjson.dumps(doc))))

    def flush(self, timeout_s: float) -> bool:
        return True


def _intake(pub: RecordingPublisher, **mapping):
    from trtlens.producers.collect.commit import Committer
    from trtlens.producers.collect.config import MappingConfig
    from trtlens.producers.collect.intake import Intake
    from trtlens.producers.collect.mapping import Mapper

    return Intake(pub, Committer(pub), Mapper(MappingConfig(**mapping), worker_id="c"))


# ------------------------------------------------------------------ trtlens.events.dlq writers
def streams_records(tmp_path: Path) -> list[dict]:
    from trtlens.streams.config import StreamsSettings
    from trtlens.streams.pipeline.core import PartitionPipeline

    pipe = PartitionPipeline(StreamsSettings(), topic="trtlens.events", partition=2)
    pipe.accept_gap(0)
    bad_batch = [ev(1), {"event": "request_complete", "event_id": "x"}, 7, {"event": "teleport"}, {"ts_ms": 1}]
    for offset, raw in enumerate([orjson.dumps(bad_batch), b"not json", NOT_UTF8, None,
                                  b"[" + b" " * (8 * 1024 * 1024) + b"]"]):
        pipe.process_record(offset, b"key", raw)
    out, _, _ = pipe.end_group()
    return [doc for _, doc in out.dlq]


def replay_records(tmp_path: Path) -> list[dict]:
    from trtlens.producers.replay.runner import ReplayOptions, replay_files

    lines = tmp_path / "old.jsonl"
    lines.write_bytes(b"\n".join([
        orjson.dumps(ev(1)), b'{"event": "request_received", broken', orjson.dumps({"event": "teleport"}),
        orjson.dumps({"logEvents": [{"id": "1"}, {"message": "not json"}]}), NOT_UTF8, b"[1, 2]",
    ]) + b"\n")
    archive = tmp_path / "older.jsonl.gz"
    archive.write_bytes(gzip.compress(orjson.dumps({"event": "request_complete", "event_id": "x"}) + b"\n"))
    document = tmp_path / "export.json"
    document.write_bytes(b'{\n  "message": "plain text"\n}\n')
    pub = RecordingPublisher()
    replay_files([lines, archive, document], pub, ReplayOptions())
    return [doc for _, doc in pub.dead]


def collect_file_records(tmp_path: Path) -> list[dict]:
    from trtlens.producers.collect.config import FilesConfig
    from trtlens.producers.collect.filesource import FileSource

    log = tmp_path / "svc.log"
    bad = [b"plain text print", b'{"event": "request_received", broken', orjson.dumps({"event": "teleport"}),
           NOT_UTF8, b"{" + b" " * 2000 + b"}"]
    log.write_bytes(b"".join(x + b"\n" for x in [orjson.dumps(ev(0)), *bad]))
    config = FilesConfig(paths=[str(tmp_path / "svc.log*")], max_line_bytes=1024, rotated_grace_ms=0)
    pub = RecordingPublisher()
    first = FileSource(config, _intake(pub), tmp_path / "cp")
    first.follower.scan()
    first.poll_once()
    assert first.intake.committer.commit_now()  # checkpointed; then the collector is down ...
    first.follower.close()
    with open(log, "ab") as fh:  # ... while the service logs a bad line, and logrotate renames and compresses
        fh.write(orjson.dumps({"event": "request_complete", "event_id": "y", "ts_ms": T0}) + b"\n")
    os.rename(log, tmp_path / "svc.log.1")
    with open(tmp_path / "svc.log.1", "rb") as src, gzip.open(tmp_path / "svc.log.1.gz", "wb") as dst:
        dst.write(src.read())
    os.unlink(tmp_path / "svc.log.1")
    log.write_bytes(b"")
    second = FileSource(config, _intake(pub), tmp_path / "cp")
    second.follower.scan()
    second.poll_once()
    second.follower.close()
    assert second.follower.recovered_compressed_at_restart == 1
    return [doc for _, doc in pub.dead]


async def _post_all(source, requests: list[tuple[str, bytes, dict]]) -> list[int]:
    import aiohttp

    port = await source.start(host="127.0.0.1", port=0)
    try:
        async with aiohttp.ClientSession() as session:
            statuses = []
            for path, body, headers in requests:
                async with session.post(f"http://127.0.0.1:{port}{path}", data=body, headers=headers) as resp:
                    statuses.append(resp.status)
            return statuses
    finally:
        await source.stop()


def run_http(requests: list[tuple[str, bytes, dict]], **http) -> tuple[list[int], list[tuple[str | None, dict]]]:
    """POST ``requests`` to a real collector HTTP source (loopback); the statuses and the dead letters."""
    from trtlens.producers.collect.config import HttpConfig
    from trtlens.producers.collect.httpsource import HttpSource
    from trtlens.producers.collect.telemetry import TelemetryJoiner

    pub = RecordingPublisher()
    intake = _intake(pub)
    source = HttpSource(HttpConfig(port=0, **http), intake,
                        joiner=TelemetryJoiner(intake.mapper, function_name="fn", hold_ms=0))
    intake.committer.start()
    try:
        statuses = asyncio.run(_post_all(source, requests))
    finally:
        intake.committer.stop()
    return statuses, pub.dead


def http_requests() -> list[tuple[str, bytes, dict]]:
    ndjson = b"\n".join([orjson.dumps(ev(1)), b"", b"plain text", orjson.dumps({"event": "teleport"}), NOT_UTF8])
    return [("/v1/events", ndjson, {"X-Request-Id": "req-ndjson"}),
            ("/v1/events", b'[{"event": "request_received"}, {"event": "teleport"}]', {}),
            ("/v1/events", b'[{"event": broken', {"X-Request-Id": "req-broken"})]


def firehose_requests() -> list[tuple[str, bytes, dict]]:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    cloudwatch = gzip.compress(orjson.dumps({
        "messageType": "DATA_MESSAGE", "logGroup": "/aws/lambda/fn", "logStream": "2026/12/02/x",
        "logEvents": [{"id": "cw-1", "timestamp": T0, "message": "not an event"}, {"id": "cw-2"},
                      {"id": "cw-3", "timestamp": T0, "message": orjson.dumps(ev(3)).decode()}]}))
    body = orjson.dumps({"requestId": "fh-1", "timestamp": T0, "records": [
        {"data": b64(orjson.dumps(ev(1)) + b"\nplain text\n" + orjson.dumps({"event": "teleport"}))},
        {"data": "%%% not base64"}, {"data": b64(cloudwatch)}, {"data": b64(b"\x1f\x8b not gzip")},
        {"data": b64(gzip.compress(b"not json"))}, {"data": b64(gzip.compress(b'{"messageType": "DATA_MESSAGE"}'))},
        {"data": b64(NOT_UTF8)},
    ]})
    return [("/firehose", body, {"X-Amz-Firehose-Request-Id": "fh-1"})]


def telemetry_requests() -> list[tuple[str, bytes, dict]]:
    def tel(kind: str, record) -> dict:
        return {"time": "2026-12-02T10:00:00.000Z", "type": kind, "record": record}

    push = [tel("platform.start", {"requestId": "lrid-1"}), {"record": "no type"},
            tel("function", '{"event": broken'), tel("function", {"requestId": "lrid-1", "event": "teleport"}),
            tel("function", orjson.dumps({"event": "request_complete", "request_id": "r1"}).decode()),
            tel("platform.report", {"requestId": "lrid-1", "status": "success", "metrics": {"durationMs": 3.0}})]
    return [("/lambda/telemetry", orjson.dumps(push), {}),
            ("/lambda/telemetry", orjson.dumps({"not": "an array"}), {})]


def collect_http_records(tmp_path: Path) -> list[dict]:
    statuses, dead = run_http(http_requests())
    assert statuses == [200, 200, 200]
    return [doc for _, doc in dead]


def collect_firehose_records(tmp_path: Path) -> list[dict]:
    statuses, dead = run_http(firehose_requests())
    assert statuses == [200]
    return [doc for _, doc in dead]


def collect_telemetry_records(tmp_path: Path) -> list[dict]:
    statuses, dead = run_http(telemetry_requests())
    assert statuses == [200, 200]
    return [doc for _, doc in dead]


def kafka_records(values: list[bytes | None], *, headers=()) -> dict:
    from aiokafka.structs import ConsumerRecord, TopicPartition

    tp = TopicPartition("vector.logs", 4)
    return {tp: [ConsumerRecord(tp.topic, tp.partition, 100 + i, T0, 0, b"k", v, None, 1, len(v or b""),
                                list(headers)) for i, v in enumerate(values)]}


def collect_kafka_records(tmp_path: Path) -> list[dict]:
    from trtlens.producers.collect.config import KafkaSourceConfig
    from trtlens.producers.collect.kafkasource import KafkaSource

    pub = RecordingPublisher()
    source = KafkaSource(KafkaSourceConfig(topics=["vector.logs"]), None, _intake(pub))
    source.handle(kafka_records([
        orjson.dumps({"message": orjson.dumps(ev(1)).decode()}), orjson.dumps({"event": "teleport"}), None,
        b"plain text", b'[{"event": broken', orjson.dumps([ev(2), {"event": "teleport"}, 5]), NOT_UTF8,
        b'{"message": "{broken"}',
    ]))
    return [doc for _, doc in pub.dead]


EVENT_WRITERS: dict[str, tuple[Callable[[Path], list[dict]], set[str]]] = {
    # writer → (its real code path on bad input, the variants its records must be)
    "streams": (streams_records, {"streams"}),
    "replay": (replay_records, {"replay"}),
    "collect-file": (collect_file_records, {"collect:file"}),
    "collect-http": (collect_http_records, {"collect:http"}),
    "collect-firehose": (collect_firehose_records, {"collect:firehose"}),
    "collect-telemetry": (collect_telemetry_records, {"collect:telemetry"}),
    "collect-kafka": (collect_kafka_records, {"collect:kafka"}),
}


# declared by the shared shape, impossible for this source (and so described in the model)
NEVER_WRITTEN = {"collect:telemetry": {"raw_hex"}}  # a push is parsed JSON: its records re-encode as UTF-8


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, list[dict]]:
    return {name: fn(tmp_path_factory.mktemp(name)) for name, (fn, _) in EVENT_WRITERS.items()}


@pytest.mark.parametrize("writer", EVENT_WRITERS)
def test_each_event_dead_letter_writer_validates_as_its_own_variant(writer, written):
    docs = written[writer]
    assert docs, f"{writer} wrote no dead letter for its bad input"
    want = {EVENT_DEAD_LETTER_VARIANTS[kind] for kind in EVENT_WRITERS[writer][1]}
    schema = payload_validator("events_dlq")
    for doc in docs:
        record = EventDeadLetter.model_validate(doc).root
        assert type(record) in want, (writer, doc)
        schema.validate(doc)


def test_every_variant_and_every_declared_field_is_written_by_a_real_record(written):
    by_kind: dict[str, set[str]] = {}
    codes = set()
    for docs in written.values():
        for doc in docs:
            kind = next(k for k, m in EVENT_DEAD_LETTER_VARIANTS.items()
                        if type(EventDeadLetter.model_validate(doc).root) is m)
            by_kind.setdefault(kind, set()).update(doc)
            codes.add(doc["code"])
    assert set(by_kind) == set(EVENT_DEAD_LETTER_VARIANTS)
    for kind, model in EVENT_DEAD_LETTER_VARIANTS.items():
        declared = set(model.model_fields) - NEVER_WRITTEN.get(kind, set())
        assert declared == by_kind[kind], kind  # nothing declared that no writer writes
    assert codes == set(typing.get_args(DecodeCode))


def test_the_location_fields_say_what_the_contract_says(written):
    streams = written["streams"]
    assert {d["offset"] for d in streams} == {0, 1, 2, 3, 4} and {d["partition"] for d in streams} == {2}
    assert sorted(d["index"] for d in streams if d["offset"] == 0) == [1, 2, 3, 4]
    assert {d["code"] for d in streams if d["offset"] == 4} == {"too_large"}
    assert next(d for d in streams if d["offset"] == 2)["raw"] is None  # not UTF-8: raw_hex instead
    replay = {(Path(d["source"]).name, d["line"]) for d in written["replay"]}
    assert replay == {("old.jsonl", 2), ("old.jsonl", 3), ("old.jsonl", 4), ("old.jsonl", 5), ("old.jsonl", 6),
                      ("older.jsonl.gz", 1), ("export.json", 1)}
    files = written["collect-file"]
    live = [d for d in files if "compression" not in d]
    gz = [d for d in files if "compression" in d]
    assert len(live) == 5 and len(gz) == 1
    assert all(d["source"].endswith("svc.log") for d in live)
    assert gz[0]["source"].endswith("svc.log.1.gz") and gz[0]["offset_in"] == "decompressed"
    assert gz[0]["offset"] == max(d["offset"] for d in live) + 2003  # the decompressed stream's offset
    assert gz[0]["file_identity"] == live[0]["file_identity"]  # the same file, renamed and compressed
    http = written["collect-http"]
    named = [(d["request_id"], d.get("line")) for d in http if d["request_id"].startswith("req-")]
    assert named == [("req-ndjson", 2), ("req-ndjson", 3), ("req-ndjson", 4), ("req-broken", None)]
    made = [d for d in http if not d["request_id"].startswith("req-")]  # no X-Request-Id: the collector's own id
    assert [d["line"] for d in made] == [0, 1] and len({d["request_id"] for d in made}) == 1
    firehose = written["collect-firehose"]
    assert {d["request_id"] for d in firehose} == {"fh-1"}
    assert sorted(d["record"] for d in firehose) == [0, 0, 1, 2, 2, 3, 4, 5, 6]
    assert {d.get("cloudwatch_id") for d in firehose if d["record"] == 2} == {"cw-1", None}
    assert [d.get("log_event") for d in firehose if d["record"] == 2 and "cloudwatch_id" not in d] == [1]
    telemetry = written["collect-telemetry"]
    assert sorted((d["index"], d.get("lambda_request_id")) for d in telemetry if d["index"] is not None) == [
        (1, None), (2, None), (3, "lrid-1"), (4, "lrid-1")]  # text format: the current invocation
    kafka = written["collect-kafka"]
    assert {(d["topic"], d["partition"]) for d in kafka} == {("vector.logs", 4)}
    assert sorted((d["offset"], d["index"]) for d in kafka) == [(101, None), (102, None), (103, None), (104, None),
                                                               (105, 1), (105, 2), (106, None), (107, None)]


# ------------------------------------------------------------------ trtlens.sink.dlq, trtlens.notify.dlq
def sink_records() -> list[dict]:
    from trtlens.sinks.core import BulkAction, RecordRef, classify_items, prepare_record, rejected_letter

    def ref(offset: int) -> RecordRef:
        return RecordRef("trtlens.traces", 0, offset, b"r1")

    letters = [prepare_record(ref(i), value, family="traces", prefix="trtlens-traces")
               for i, value in enumerate([b"not json", b"[1]", b'{"request_id": 5}', None, b"\xff\xfe"])]
    letters.append(prepare_record(RecordRef("elsewhere", 1, 9, None), b"{}", family=None, prefix=None))
    trace = Trace(request_id="r1", model="m", model_version="v1", worker_id="w", start_ts_ms=T0, end_ts_ms=T0 + 2,
                  status="ok", complete=True, batch_size=1, stages={"total_ms": 1.0}, sample_weight=1.0)
    action = prepare_record(ref(7), orjson.dumps(trace.model_dump(mode="json")), family="traces",
                            prefix="trtlens-traces")
    assert isinstance(action, BulkAction)
    error = {"type": "mapper_parsing_exception", "reason": "failed to parse", "caused_by": {"type": "x", "reason": "y"}}
    outcome = classify_items([{"index": {"_id": action.doc_id, "status": 400, "error": error}}], 1)  # store answer
    letters.extend(rejected_letter(action, status, etype, reason) for _, status, etype, reason in outcome.rejected)
    return [orjson.loads(orjson.dumps(letter.to_dlq(now_ms=T0))) for letter in letters]


def notify_records() -> list[dict]:
    from trtlens.sinks.core import RecordRef
    from trtlens.sinks.notify.config import EndpointConfig
    from trtlens.sinks.notify.core import Outcome, RetryPolicy, dlq_record, next_step, parse_alert
    from trtlens.sinks.notify.notifier import REASONS

    alert = Alert(rule_id="r", rule_kind="p99_above", scope="model_version", scope_key="m/v1", state="firing",
                  window_start_ms=T0, window_ms=10_000, value=2.0, threshold=1.0, message="m", breaching_windows=1)
    ref = RecordRef("trtlens.alerts", 2, 5, alert.doc_id.encode())
    rec = parse_alert(ref, orjson.dumps(alert.model_dump(mode="json")))
    ep = EndpointConfig(name="hook", kind="webhook", url="https://hooks.example/T/SECRET")
    policy = RetryPolicy(max_attempts=3, initial_ms=10, max_ms=100)
    out = []
    for attempt, status in [(3, 503), (1, 404)]:
        step = next_step(attempt, Outcome(status=status), policy)
        out.append(dlq_record(code=step.code, reason=REASONS[step.code], ref=ref, now_ms=T0, endpoint=ep, rec=rec,
                              attempts=attempt, last_status=status, last_error=f"{status} from {ep.url}"))
    out.append(dlq_record(code="queue_full", reason=REASONS["queue_full"], ref=ref, now_ms=T0, endpoint=ep, rec=rec))
    for value in (b"not json", b"{}", b"\xff"):
        bad = parse_alert(ref, value)
        out.append(dlq_record(code=bad.code, reason=bad.reason, ref=bad.ref, now_ms=T0, raw=bad.raw, field=bad.field))
    return [orjson.loads(orjson.dumps(doc)) for doc in out]


@pytest.mark.parametrize("channel, model, build", [
    ("sink_dlq", SinkDeadLetter, sink_records),
    ("notify_dlq", NotifyDeadLetter, notify_records),
], ids=["sink", "notify"])
def test_sink_and_notify_dead_letters_validate_and_use_every_declared_field(channel, model, build):
    docs = build()
    schema = payload_validator(channel)
    seen: set[str] = set()
    for doc in docs:
        model.model_validate(doc)
        schema.validate(doc)
        seen.update(doc)
    assert seen == set(model.model_fields)
    assert {d["code"] for d in docs} == set(typing.get_args(model.model_fields["code"].annotation))
