"""The AsyncAPI document against the models, the topic settings, real records, and its committed copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from trtlens.schemas.asyncapi import ASYNCAPI_VERSION, asyncapi_document, model_schema
from trtlens.schemas.codec import decode_record
from trtlens.schemas.deadletters import DEAD_LETTER_TYPES
from trtlens.schemas.documents import DOCUMENT_TYPES, Alert, Trace
from trtlens.schemas.events import EVENT_TYPES
from trtlens.settings import KafkaSettings, TopicSettings

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"
DOC = asyncapi_document()


def without_defs(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "$defs"}


def payload_validator(channel: str) -> Draft202012Validator:
    """A validator for one channel's message payload, resolving refs against the whole document."""
    (ref,) = DOC["channels"][channel]["messages"].values()
    message = DOC["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
    root = Resource(contents=DOC, specification=DRAFT202012)
    registry = Registry().with_resource("urn:trtlens:asyncapi", root)
    schema = {"$id": "urn:trtlens:payload", "$ref": "urn:trtlens:asyncapi#/components/messages/"
              f"{message['name']}/payload"}
    return Draft202012Validator(schema, registry=registry)


def test_document_header_and_every_configured_topic_is_a_channel():
    assert DOC["asyncapi"] == ASYNCAPI_VERSION == "3.0.0"
    topics = TopicSettings()
    assert {c["address"] for c in DOC["channels"].values()} == set(topics.all_topics())
    assert {n for n, f in TopicSettings.model_fields.items() if f.annotation is str} == set(DOC["channels"])
    custom = TopicSettings(events="acme.inference", notify_dlq="acme.notify.dead", partitions=12)
    doc = asyncapi_document(custom, KafkaSettings(bootstrap_servers="kafka-1:9092"))
    assert {c["address"] for c in doc["channels"].values()} == set(custom.all_topics())
    assert doc["channels"]["events"]["bindings"]["kafka"]["partitions"] == 12
    assert doc["servers"]["kafka"]["host"] == "kafka-1:9092"
    assert DOC["channels"]["notify_delivered"]["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"] == ["compact"]
    for name, channel in DOC["channels"].items():
        assert any(op["channel"] == {"$ref": f"#/channels/{name}"} and op["action"] == "receive"
                   for op in DOC["operations"].values()), name


def test_every_event_type_is_in_the_union_with_its_models_schema_and_spec():
    schemas = DOC["components"]["schemas"]
    union = {r["$ref"].rsplit("/", 1)[1] for r in schemas["Event"]["oneOf"]}
    assert union == {m.__name__ for m in EVENT_TYPES.values()}
    assert set(schemas["Event"]["discriminator"]["mapping"]) == set(EVENT_TYPES)
    for model in EVENT_TYPES.values():
        got = dict(schemas[model.__name__])
        assert got.pop("x-trtlens") == model.spec.to_json()
        assert got == without_defs(model_schema(model)), model.__name__
        for name, sub in model_schema(model).get("$defs", {}).items():
            assert {k: v for k, v in schemas[name].items() if k != "x-trtlens"} == sub


@pytest.mark.parametrize("model", [*DOCUMENT_TYPES.values(), *DEAD_LETTER_TYPES.values()], ids=lambda m: m.__name__)
def test_documents_and_dead_letters_are_their_models_schemas(model):
    assert DOC["components"]["schemas"][model.__name__] == without_defs(model_schema(model))
    assert any(m["payload"] == {"$ref": f"#/components/schemas/{model.__name__}"}
               for m in DOC["components"]["messages"].values())


def test_every_reference_resolves():
    def walk(node: Any):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for v in node.values():
                yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)

    refs = set(walk(DOC))
    assert len(refs) > 30
    for ref in refs:
        assert ref.startswith("#/"), ref
        node: Any = DOC
        for part in ref[2:].split("/"):
            node = node[part]  # KeyError: a dangling reference


def _events() -> list[dict]:
    from trtlens.producers.load.config import LoadConfig
    from trtlens.producers.load.core import generate

    return list(generate(LoadConfig(seed=3, rate_rps=50, duration_s=2, workers=2)).events)


def test_real_event_records_validate_as_objects_and_as_arrays_and_a_bad_one_does_not():
    v = payload_validator("events")
    events = _events()
    assert {e["event"] for e in events} >= {"request_received", "inference_complete", "request_complete"}
    for e in events:
        v.validate(e)
    v.validate(events[:50])
    bad = {**events[0], "ts_ms": "yesterday"}
    assert not v.is_valid(bad) and not v.is_valid([events[1], bad]) and not v.is_valid([])
    assert not v.is_valid({"event": "no_such_event"})


def test_dead_letters_as_the_writers_produce_them_validate():
    from trtlens.producers.replay.core import dlq_doc
    from trtlens.sinks.core import RecordRef, prepare_record
    from trtlens.sinks.notify.config import EndpointConfig
    from trtlens.sinks.notify.core import LogEntry, dlq_record, parse_alert

    bad = decode_record(b'[{"event": "request_complete", "event_id": "x"}, 7]')
    junk = decode_record(b"\xff\xfe not json")
    assert len(bad.errors) == 2 and junk.errors
    events_dlq = payload_validator("events_dlq")
    for err in [*bad.errors, *junk.errors]:
        events_dlq.validate(err.to_dlq(topic="trtlens.events", partition=1, offset=9, source="streams"))
        events_dlq.validate(dlq_doc(err, source="/var/log/old.jsonl", line=3))
    assert not events_dlq.is_valid({"code": "invalid_json"})

    sink_dlq = payload_validator("sink_dlq")
    for value in (b"not json", b'{"request_id": 5}'):
        letter = prepare_record(RecordRef("trtlens.traces", 0, 4, b"k"), value, family="traces", prefix=None)
        sink_dlq.validate(letter.to_dlq(now_ms=1))

    a = Alert(rule_id="r", rule_kind="p99_above", scope="model_version", scope_key="m/v1", state="firing",
              window_start_ms=1_795_222_800_000, window_ms=10_000, value=2.0, threshold=1.0, message="m",
              breaching_windows=1)
    ref = RecordRef("trtlens.alerts", 2, 5, a.doc_id.encode())
    rec = parse_alert(ref, orjson.dumps(a.model_dump(mode="json")))
    invalid = parse_alert(ref, b"{}")
    ep = EndpointConfig(name="hook", kind="webhook", url="https://hooks.example/T/SECRET")
    notify_dlq = payload_validator("notify_dlq")
    notify_dlq.validate(dlq_record(code="delivery_failed", reason="r", ref=ref, now_ms=1, endpoint=ep, rec=rec,
                                   attempts=3, last_status=503, last_error="503"))
    notify_dlq.validate(dlq_record(code=invalid.code, reason=invalid.reason, ref=ref, now_ms=1, raw=invalid.raw,
                                   field=invalid.field))
    entry = LogEntry.for_record("hook", rec, outcome="delivered", attempts=1, at_ms=2)
    payload_validator("notify_delivered").validate(orjson.loads(entry.to_json()))

    trace = Trace(request_id="r1", model="m", model_version="v1", worker_id="w", start_ts_ms=1, end_ts_ms=2,
                  status="ok", complete=True, batch_size=1, stages={"total_ms": 1.0}, sample_weight=1.0)
    payload_validator("traces").validate(trace.model_dump(mode="json"))
    payload_validator("alerts").validate(a.model_dump(mode="json"))


def test_the_committed_document_is_up_to_date():
    assert COMMITTED.is_file(), "run: trtlens asyncapi --output docs/asyncapi.json"
    assert orjson.loads(COMMITTED.read_bytes()) == orjson.loads(orjson.dumps(DOC)), (
        "docs/asyncapi.json is stale: regenerate it with `trtlens asyncapi --output docs/asyncapi.json` "
        "(default settings, no TRTLENS_* variables set)")
