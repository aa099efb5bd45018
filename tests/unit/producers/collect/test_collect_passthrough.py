"""A line the mapping leaves unchanged is published as its own bytes (issue 14): what goes out, and what never does.

No broker: the intake decides (``Encoded`` or a dict) and the publisher's pure helpers build the record value and
the spool line; what a consumer reads is checked with the codec the streams app decodes with.
"""

from __future__ import annotations

import orjson
import pytest

from trtlens.producers.collect.commit import Committer
from trtlens.producers.collect.config import MappingConfig
from trtlens.producers.collect.intake import Intake
from trtlens.producers.collect.mapping import Mapper, deterministic_id
from trtlens.producers.publisher import Encoded, _record_value, _spool_line
from trtlens.schemas.codec import DecodeError, decode, decode_record
from trtlens.schemas.events import routing_key_of

COMPLETE = (b'{"event": "request_complete", "event_id": "e1", "ts_ms": 1700000000000, "request_id": "r1",'
            b' "worker_id": "w", "model": "m", "model_version": "v1", "total_ms": 2.50, "extra": {"kept": true}}')


def intake(validate: str = "full", **mapping) -> Intake:
    return Intake(None, Committer(None), Mapper(MappingConfig(**mapping), worker_id="collect", validate=validate))


@pytest.mark.parametrize("validate", ["full", "envelope"])
def test_a_complete_event_goes_out_as_its_own_bytes_with_its_routing_key(validate):
    got = intake(validate).decode(COMPLETE, source_id="f", position=0)
    assert type(got) is Encoded
    assert got.raw is COMPLETE  # not re-encoded: spaces, "2.50" and the unknown field as written
    assert got.key == routing_key_of(orjson.loads(COMPLETE)) == "r1"


def test_an_event_the_mapping_changes_is_still_a_dict():
    no_id = orjson.dumps({k: v for k, v in orjson.loads(COMPLETE).items() if k != "event_id"})
    got = intake().decode(no_id, source_id="f", position=7)
    assert type(got) is dict and got["event_id"] == deterministic_id("f", 7)
    renamed = intake(rename={"lat": "total_ms"}).decode(COMPLETE, source_id="f", position=0)
    assert type(renamed) is dict and renamed["total_ms"] == 2.5


def test_bytes_that_are_not_bytes_are_not_passed_through():
    got = intake().decode(bytearray(COMPLETE), source_id="f", position=0)
    assert type(got) is dict and got["event_id"] == "e1"


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_numbers_the_codec_rejects_stay_dead_letters(value):
    # pydantic's own JSON parser takes these; orjson (every consumer's codec) does not, so a line holding
    # one must never reach a batch as raw bytes: it is dead-lettered at the source as before
    line = COMPLETE.replace(b'"total_ms": 2.50', b'"total_ms": ' + value)
    with pytest.raises(DecodeError) as err:
        intake().decode(line, source_id="f", position=0)
    assert err.value.code == "invalid_json"


def test_a_batch_of_encoded_and_dict_events_decodes_to_what_was_validated():
    a = intake().decode(COMPLETE, source_id="f", position=0)
    b = intake().decode(COMPLETE.replace(b'"event_id": "e1", ', b""), source_id="f", position=9)
    record = decode_record(_record_value([a, b], single=False))
    assert not record.errors
    assert [e.event_id for e in record.events] == ["e1", deterministic_id("f", 9)]
    assert record.events[0] == decode(COMPLETE)
    assert _record_value([a], single=True) == COMPLETE


def test_a_spool_line_holds_the_parsed_event_on_one_line():
    pretty = orjson.dumps(orjson.loads(COMPLETE), option=orjson.OPT_INDENT_2)  # a Kafka value may hold newlines
    got = intake().decode(pretty, source_id="k", position=3)
    line = _spool_line("t", got.key, got)
    assert b"\n" not in line
    entry = orjson.loads(line)
    assert entry["e"] == orjson.loads(COMPLETE) and entry["k"] == "r1" and entry["low"] is False


def test_the_key_from_the_validated_model_is_the_dict_rule_for_every_generated_type():
    from trtlens.producers.load.config import LoadConfig
    from trtlens.producers.load.core import generate

    run = generate(LoadConfig(seed=5, rate_rps=200.0, duration_s=2.0, start_ms=1_700_000_000_000))
    kinds = set()
    for event in run.events:
        raw = orjson.dumps(event)
        got = intake().decode(raw, source_id="f", position=0)
        assert type(got) is Encoded and got.key == routing_key_of(event)
        kinds.add(event["event"])
    assert {"request_received", "inference_complete", "request_complete", "gpu_sample"} <= kinds


def test_a_weighted_event_goes_out_with_its_weight_and_a_foreign_name_maps_to_it():
    weighted = COMPLETE.replace(b'"total_ms": 2.50', b'"total_ms": 2.50, "sample_weight": 10.0')
    got = intake().decode(weighted, source_id="f", position=0)
    assert type(got) is Encoded and got.raw is weighted  # passed through as written
    assert decode(_record_value([got], single=True)).sample_weight == 10.0
    # another shipper's name for it is configuration (mapping.rename)
    foreign = COMPLETE.replace(b'"total_ms": 2.50', b'"total_ms": 2.50, "meta": {"weight": 4}')
    mapped = intake(rename={"meta.weight": "sample_weight"}).decode(foreign, source_id="f", position=1)
    assert type(mapped) is dict and mapped["sample_weight"] == 4
    assert decode_record(_record_value([mapped], single=False)).events[0].sample_weight == 4.0


@pytest.mark.parametrize("value", [b"0.5", b"0", b"-2", b'"ten"'])
def test_a_weight_below_one_is_dead_lettered_naming_the_field(value):
    line = COMPLETE.replace(b'"total_ms": 2.50', b'"total_ms": 2.50, "sample_weight": ' + value)
    with pytest.raises(DecodeError) as err:
        intake().decode(line, source_id="f", position=0)
    assert (err.value.code, err.value.field) == ("invalid_event", "sample_weight")
