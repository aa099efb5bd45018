"""Codec: every event type round-trips; any bytes decode or raise DecodeError only."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trtlens.schemas.codec import DecodeError, decode, decode_record, encode, encode_batch
from trtlens.schemas.events import (
    EVENT_TYPES,
    EngineBuild,
    EngineLoadComplete,
    EngineLoadStart,
    EngineRuntime,
    ErrorEvent,
    Fusion,
    GpuSample,
    InferenceComplete,
    LayerInfo,
    LayerProfile,
    RequestComplete,
    RequestReceived,
)

BASE = {"ts_ms": 1_700_000_000_000, "worker_id": "w1", "host": "h", "backend": "onnxruntime"}
REQ = {**BASE, "request_id": "r1", "model": "resnet", "model_version": "v2"}

SAMPLES = [
    RequestReceived(event_id="e1", batch_size=4, input_shape=[4, 3, 224, 224], **REQ),
    EngineLoadStart(event_id="e2", model="resnet", model_version="v2", engine_path="/m.plan", **BASE),
    EngineLoadComplete(event_id="e3", model="resnet", model_version="v2", engine_path="/m.plan", duration_ms=812.5, cache_hit=True, **BASE),
    InferenceComplete(event_id="e4", latency_ms=7.5, queue_ms=0.2, h2d_ms=0.5, compute_ms=6.1, d2h_ms=0.7, precision="fp16", cold_start=True, engine_load_ms=812.5, **REQ),
    RequestComplete(event_id="e5", total_ms=8.0, status="error", cold_start=True, **REQ),
    ErrorEvent(event_id="e6", error_type="CudaError", message="oom", stage="compute", **REQ),
    GpuSample(event_id="e7", utilization_pct=55.0, memory_used_bytes=1 << 30, memory_total_bytes=16 << 30, **BASE),
    EngineBuild(
        event_id="e8", engine_id="eng-1", trt_version="10.16.0", fusions=[Fusion(kind="ConvReluFusion", layers=["conv1", "relu1"])],
        layers=[LayerInfo(name="conv1", precision="int8", tactic="0x1")], **BASE,
    ),
    LayerProfile(event_id="e9", engine_id="eng-1", layer="conv1", time_ms=12.0, avg_ms=0.01, time_pct=40.0, **BASE),
    EngineRuntime(event_id="e3:engine", engine_id="eng-1", runtime_versions={"tensorrt": "10.3.0"}, **BASE),
]


def test_every_event_type_has_a_sample():
    assert {type(s) for s in SAMPLES} == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.event)
def test_round_trip_single(event):
    assert decode(encode(event)) == event


def test_round_trip_batch_keeps_order():
    out = decode_record(encode_batch(SAMPLES))
    assert out.errors == []
    assert out.events == SAMPLES


@pytest.mark.parametrize(
    ("event", "key"),
    [(SAMPLES[0], "r1"), (SAMPLES[1], "w1"), (SAMPLES[6], "w1"), (SAMPLES[7], "eng-1"), (SAMPLES[8], "eng-1")],
    ids=["request", "engine_load", "gpu_sample", "engine_build", "layer_profile"],
)
def test_routing_key(event, key):
    assert event.routing_key == key


def test_unknown_fields_are_ignored_for_forward_compatibility():
    obj = orjson.loads(encode(SAMPLES[4]))
    obj["added_in_a_later_minor_version"] = {"x": 1}
    assert decode(orjson.dumps(obj)) == SAMPLES[4]


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        (b"{not json", "invalid_json", None),
        (b"42", "not_an_event", None),
        (b'{"event": "teleport", "event_id": "x"}', "unknown_event_type", "event"),
        (b'{"event_id": "x"}', "invalid_event", "event"),
        (b'{"event": "request_complete", "event_id": "x", "ts_ms": 1, "worker_id": "w"}', "invalid_event", "request_id"),
        (b'{"event": "gpu_sample", "event_id": "x", "ts_ms": 1, "worker_id": "w", "utilization_pct": 140, "memory_used_bytes": 1, "memory_total_bytes": 2}', "invalid_event", "utilization_pct"),
        (b'[{"event": "gpu_sample"}]', "not_an_event", None),
    ],
    ids=["bad-json", "scalar", "unknown-type", "missing-type", "missing-request-id", "out-of-range", "batch-via-decode"],
)
def test_decode_errors_name_reason_and_field(payload, code, field):
    with pytest.raises(DecodeError) as info:
        decode(payload)
    assert info.value.code == code
    assert info.value.field == field
    assert info.value.raw == payload


def test_bad_event_in_batch_does_not_lose_neighbours():
    good = [orjson.loads(encode(e)) for e in SAMPLES[:3]]
    bad = {"event": "request_complete", "event_id": "bad"}
    out = decode_record(orjson.dumps([good[0], bad, good[1], "junk", good[2]]))
    assert out.events == SAMPLES[:3]
    assert [(e.index, e.code) for e in out.errors] == [(1, "invalid_event"), (3, "not_an_event")]
    assert orjson.loads(out.errors[0].raw) == bad


def test_dlq_document_carries_reason_raw_and_context():
    out = decode_record(b"\xff\xfe not utf8")
    doc = out.errors[0].to_dlq(topic="t", partition=2, offset=17)
    assert doc["code"] == "invalid_json"
    assert doc["raw"] is None and doc["raw_hex"] == b"\xff\xfe not utf8".hex()
    assert (doc["topic"], doc["partition"], doc["offset"]) == ("t", 2, 17)


def test_tombstone_is_an_error_not_a_crash():
    out = decode_record(None)
    assert out.events == [] and out.errors[0].code == "invalid_json"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_decode_error(data):
    try:
        decode(data)
    except DecodeError as err:
        assert err.code in {"invalid_json", "not_an_event", "unknown_event_type", "invalid_event", "too_large"}
    out = decode_record(data)
    assert len(out.events) + len(out.errors) >= 1


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["event", "event_id", "ts_ms", "worker_id", "request_id", "model", "model_version", "total_ms", "status"]), json_values, max_size=9))
def test_any_json_object_decodes_or_raises_decode_error(obj):
    for event_type in (None, "request_complete", "gpu_sample"):
        if event_type:
            obj = {**obj, "event": event_type}
        data = orjson.dumps(obj)
        try:
            assert decode(data).event == obj.get("event")
        except DecodeError as err:
            assert err.raw == data


@settings(max_examples=100, deadline=None)
@given(st.lists(json_values, max_size=8))
def test_any_batch_accounts_for_every_element(items):
    out = decode_record(orjson.dumps(items))
    assert len(out.events) + len(out.errors) == len(items)
    assert all(e.index is not None for e in out.errors)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.event)
def test_sample_weight_is_kept_and_left_out_of_the_json_at_one(event):
    """Every event type carries the source's sample_weight (default 1); at 1 the bytes are those without it."""
    plain = encode(event)
    assert b"sample_weight" not in plain and event.sample_weight == 1
    assert encode(decode(orjson.dumps({**orjson.loads(plain), "sample_weight": 1}))) == plain
    weighted = event.model_copy(update={"sample_weight": 12.5})
    raw = encode(weighted)
    assert orjson.loads(raw)["sample_weight"] == 12.5 and decode(raw) == weighted


@pytest.mark.parametrize("bad", [0.99, 0, -1, "Infinity", "NaN"])
def test_a_sample_weight_below_one_or_not_finite_is_invalid(bad):
    d = {**orjson.loads(encode(SAMPLES[4])), "sample_weight": bad}
    with pytest.raises(DecodeError) as err:
        decode(orjson.dumps(d))
    assert (err.value.code, err.value.field) == ("invalid_event", "sample_weight")
