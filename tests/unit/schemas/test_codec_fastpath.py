"""The codec's per-type fast path accepts exactly what the ``Event`` union accepts and builds equal models.

Events are generated from each model's JSON Schema (the published contract):
valid values from each property's schema, mixed with boundary and wrong-typed
values (numbers as strings, floats for ints, bools, NaN, oversized ints and
strings, nulls, missing required fields, unknown fields, unknown types). The
reference is the union alone (``codec._BY_TYPE`` emptied), i.e. the decoder
as it was before the fast path.
"""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trtlens.schemas import codec
from trtlens.schemas.codec import decode_record, validate_all_known, validate_event, validate_known
from trtlens.schemas.events import EVENT_ADAPTER, EVENT_TYPES
from trtlens.streams.decode import core as stage

WILD = st.sampled_from([
    None, True, False, 0, 1, -1, 2, 1.0, 5.0, 1.5, -0.0, -1e-9, 100.0, 100.5, float("nan"), float("inf"),
    2**53 + 1, 2**63, 2**64 + 1, 32_503_680_000_000, 32_503_680_000_001, "", "x", "1", "1.5", "true", "null",
    "x" * 512, "x" * 513, "é" * 300, [], [1, 2], ["a"], {}, {"a": "b"}, {"a": 1},
    "info", "error", "ok", "tensorrt", "fp16",
])


def _schema_strategy(schema: dict, defs: dict, depth: int = 0) -> st.SearchStrategy:
    if "$ref" in schema:
        return _schema_strategy(defs[schema["$ref"].rsplit("/", 1)[1]], defs, depth)
    if "anyOf" in schema:
        return st.one_of([_schema_strategy(s, defs, depth) for s in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        lo, hi = schema.get("minLength", 0), schema.get("maxLength", 20)
        edges = [n for n in (lo, hi) if n <= 600]
        return st.one_of(st.text(min_size=lo, max_size=min(hi, 20)),
                         st.sampled_from(edges).map(lambda n: "a" * n))
    if kind in ("integer", "number"):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        ints = st.integers(min_value=lo, max_value=hi if hi is not None else 2**62)
        edges = st.sampled_from([v for v in (lo, hi) if v is not None] or [0])
        if kind == "integer":
            return st.one_of(ints, edges)
        floats = st.floats(min_value=lo, max_value=hi if hi is not None else 1e12, allow_nan=False)
        return st.one_of(floats, ints, edges, edges.map(float))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = schema.get("items", {})
        return st.lists(_schema_strategy(items, defs, depth + 1), max_size=3 if depth < 2 else 0)
    if kind == "object":
        if "properties" in schema:
            return _object_strategy(schema, defs, depth + 1)
        values = schema.get("additionalProperties", {})
        return st.dictionaries(st.text(max_size=5), _schema_strategy(values, defs, depth + 1), max_size=3)
    return WILD


def _object_strategy(schema: dict, defs: dict, depth: int) -> st.SearchStrategy:
    props = schema["properties"]
    required = set(schema.get("required", ()))

    @st.composite
    def build(draw: st.DrawFn) -> dict:
        out = {}
        for name, sub in props.items():
            mode = draw(st.integers(0, 39))  # 0 (what hypothesis tries first and shrinks to): a valid value
            if mode == 39 or (mode >= 37 and name not in required):
                continue  # missing (a required one: invalid)
            if mode >= 36:
                out[name] = draw(WILD)
            else:
                out[name] = draw(_schema_strategy(sub, defs, depth) if depth < 3 else WILD)
        if draw(st.integers(0, 9)) == 9:
            out[draw(st.text(max_size=8))] = draw(WILD)  # unknown field (ignored), or a clash with a known one
        return out

    return build()


def _event_strategy(name: str) -> st.SearchStrategy:
    schema = EVENT_TYPES[name].model_json_schema()
    return _object_strategy(schema, schema.get("$defs", {}), 0).map(lambda d: {**d, "event": name})


EVENTS = st.one_of([_event_strategy(name) for name in EVENT_TYPES])
ODD_TYPES = st.fixed_dictionaries({"event": st.one_of(WILD, st.text(max_size=12))}, optional={
    "event_id": st.just("e"), "ts_ms": st.just(1), "worker_id": st.just("w")})


def _reference(obj: object):
    try:
        return EVENT_ADAPTER.validate_python(obj)
    except Exception as exc:  # noqa: BLE001 - the outcome is compared, whatever it is
        return exc


def _same_model(fast, ref) -> None:
    assert type(fast) is type(ref)
    assert fast == ref
    assert fast.model_fields_set == ref.model_fields_set
    dumped, want = fast.model_dump(mode="json"), ref.model_dump(mode="json")
    assert dumped == want
    assert list(dumped) == list(want)  # same key order: the same bytes when encoded
    if _json_safe(dumped):
        assert orjson.dumps(dumped) == orjson.dumps(want)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(EVENTS, ODD_TYPES))
def test_fast_path_accepts_exactly_what_the_union_accepts(obj):
    ref = _reference(obj)
    fast = validate_known(obj)
    batch = validate_all_known([obj, obj])
    if fast is None:
        assert isinstance(ref, Exception), f"union accepted what the fast path refused: {obj!r}"
        assert batch is None
    else:
        assert not isinstance(ref, Exception), f"fast path accepted what the union rejects: {obj!r} ({ref})"
        _same_model(fast, ref)
        assert batch is not None and len(batch) == 2
        for got in batch:
            _same_model(got, ref)


def _union_only(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(codec, "_BY_TYPE", {})


def _errors(decoded) -> list[tuple]:
    return [(e.code, e.reason, e.field, e.index, e.raw) for e in decoded.errors]


def _json_safe(obj: object) -> bool:
    try:
        orjson.dumps(obj)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return not any(isinstance(v, float) and not math.isfinite(v) for v in _leaves(obj))


def _leaves(obj: object):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _leaves(v)
    else:
        yield obj


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(EVENTS, ODD_TYPES), min_size=1, max_size=6), st.booleans())
def test_records_decode_as_with_the_union_alone(objs, single):
    """Codec and streams decode stage: the same events and the same errors (code, reason, field, index, raw)."""
    objs = [o for o in objs if _json_safe(o)]
    if not objs:
        return
    raw = orjson.dumps(objs[0] if single else objs)
    fast_codec, fast_stage = decode_record(raw), stage.decode(raw)
    with pytest.MonkeyPatch.context() as mp:
        _union_only(mp)
        ref = decode_record(raw)
    assert fast_codec.events == ref.events and fast_stage.events == ref.events
    assert _errors(fast_codec) == _errors(ref) and _errors(fast_stage) == _errors(ref)
    for got, want in zip(fast_stage.events, ref.events):
        _same_model(got, want)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_validate_event_reports_the_unions_error(obj):
    """Python objects (a collector's mapped records: NaN, huge ints possible): same model or same DecodeError."""
    def outcome():
        try:
            return validate_event(obj, b"raw")
        except codec.DecodeError as err:
            return (err.code, err.reason, err.field, err.index, err.raw)

    fast = outcome()
    with pytest.MonkeyPatch.context() as mp:
        _union_only(mp)
        ref = outcome()
    assert fast == ref


@pytest.mark.parametrize("name", list(EVENT_TYPES))
def test_generated_events_include_both_outcomes(name):
    """The strategies are not vacuous: a fixed (derandomized) sample of each type holds valid and invalid events."""
    seen: set[bool] = set()

    @settings(max_examples=40, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(_event_strategy(name))
    def collect(obj):
        seen.add(validate_known(obj) is not None)

    collect()
    assert seen == {True, False}
