"""Firehose/CloudWatch decoding and the Lambda telemetry join (pure)."""

from __future__ import annotations

import base64
import gzip

import orjson
import pytest

from trtlens.producers.collect.config import MappingConfig
from trtlens.producers.collect.firehose import (FirehoseRequestError, gunzip_bounded, parse_request, record_payloads,
                                                response_body)
from trtlens.producers.collect.mapping import Mapper
from trtlens.producers.collect.telemetry import TelemetryJoiner
from trtlens.schemas.codec import validate_event

T0 = 1_700_000_000_000


def cw_record(events, message_type="DATA_MESSAGE"):
    doc = {"messageType": message_type, "owner": "123", "logGroup": "/aws/lambda/fn", "logStream": "s1",
           "subscriptionFilters": ["f"], "logEvents": events}
    return base64.b64encode(gzip.compress(orjson.dumps(doc))).decode()


def test_firehose_request_records_decode_cloudwatch_and_plain_data():
    body = orjson.dumps({"requestId": "req-1", "timestamp": T0, "records": [
        {"data": cw_record([{"id": "cw1", "timestamp": T0, "message": '{"event": "x"}'}, {"id": "cw2"}])},
        {"data": base64.b64encode(b'{"a": 1}\n{"b": 2}\n').decode()},
        {"data": "!!!not base64"},
        {"data": cw_record([], "CONTROL_MESSAGE")},
    ]})
    rid, records = parse_request(body, "hdr-id")
    assert rid == "req-1" and records[2] is None
    cw, errs = record_payloads(rid, 0, records[0], max_bytes=1 << 20)
    assert [p.position for p in cw] == ["cw1"] and cw[0].ts_ms == T0 and cw[0].source_id == "cwl:/aws/lambda/fn:s1"
    assert len(errs) == 1 and errs[0][0]["log_event"] == 1
    plain, _ = record_payloads(rid, 1, records[1], max_bytes=1 << 20)
    assert [p.data for p in plain] == [b'{"a": 1}', b'{"b": 2}']
    _, bad = record_payloads(rid, 2, None, max_bytes=1 << 20)
    assert bad[0][1].code == "invalid_json" and bad[0][0] == {"request_id": "req-1", "record": 2}
    assert record_payloads(rid, 3, records[3], max_bytes=1 << 20) == ([], [])


@pytest.mark.parametrize("body", [b"nope", b'{"requestId": "x"}', b'{"records": []}'])
def test_a_body_that_is_not_a_delivery_is_refused_whole(body):
    with pytest.raises(FirehoseRequestError):
        parse_request(body, None)


def test_response_echoes_the_request_id_and_a_bomb_is_refused():
    assert orjson.loads(response_body("r", 5, "bad")) == {"requestId": "r", "timestamp": 5, "errorMessage": "bad"}
    with pytest.raises(ValueError):
        gunzip_bounded(gzip.compress(b"0" * 100_000), 1000)


def tel(kind, record, ms):
    from datetime import datetime, timezone

    return {"time": datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z"),
            "type": kind, "record": record}


def fn_events(rid, t):
    common = {"request_id": rid, "worker_id": "w", "model": "m", "model_version": "v1"}
    return [
        orjson.dumps({**common, "event": "request_received", "event_id": f"{rid}-1", "ts_ms": t}).decode(),
        orjson.dumps({**common, "event": "inference_complete", "event_id": f"{rid}-2", "ts_ms": t + 5,
                      "latency_ms": 5.0}).decode(),
        orjson.dumps({**common, "event": "request_complete", "event_id": f"{rid}-3", "ts_ms": t + 6,
                      "total_ms": 6.0}).decode(),
    ]


class Clock:
    t = 0.0

    def __call__(self):
        return self.t


def test_an_on_demand_init_marks_the_first_request_after_it_as_a_cold_start():
    clock = Clock()
    j = TelemetryJoiner(Mapper(MappingConfig(), worker_id="collect"), function_name="fn", clock_s=clock)
    init = [tel("platform.initStart", {"initializationType": "on-demand", "phase": "init"}, T0),
            tel("platform.initReport", {"initializationType": "on-demand", "phase": "init", "status": "success",
                                        "metrics": {"durationMs": 812.5}}, T0 + 812)]
    assert j.feed(init).events == []
    out = j.feed([tel("platform.start", {"requestId": "aws-1"}, T0 + 900)]
                 + [tel("function", line, T0 + 901) for line in fn_events("r1", T0 + 901)]
                 + [tel("function", "START RequestId: aws-1 plain text", T0 + 901)]
                 + [tel("platform.report", {"requestId": "aws-1", "status": "success", "metrics": {
                     "durationMs": 7.2, "billedDurationMs": 8, "initDurationMs": 812.5}}, T0 + 908)])
    by = {e["event"]: e for e in out.events}
    assert out.cold_starts == 1 and out.reports == 1 and not out.errors
    assert by["request_complete"]["cold_start"] is True and by["request_complete"]["init_duration_ms"] == 812.5
    assert by["request_complete"]["billed_duration_ms"] == 8 and by["request_complete"]["lambda_request_id"] == "aws-1"
    assert by["inference_complete"]["cold_start"] is True and by["inference_complete"]["engine_load_ms"] == 812.5
    load = by["engine_load_complete"]
    assert load["request_id"] == "r1" and load["duration_ms"] == 812.5 and load["ts_ms"] == T0
    for e in out.events:
        validate_event(e)
    warm = j.feed([tel("platform.start", {"requestId": "aws-2"}, T0 + 2000)]
                  + [tel("function", line, T0 + 2001) for line in fn_events("r2", T0 + 2001)]
                  + [tel("platform.report", {"requestId": "aws-2", "status": "success",
                                             "metrics": {"durationMs": 5, "billedDurationMs": 5}}, T0 + 2006)])
    assert warm.cold_starts == 0 and not any(e.get("cold_start") for e in warm.events)
    assert len(warm.events) == 3


def test_provisioned_concurrency_init_is_not_a_cold_start_and_an_uninstrumented_function_is_still_counted():
    j = TelemetryJoiner(Mapper(MappingConfig(), worker_id="collect"), function_name="fn", model="m")
    out = j.feed([
        tel("platform.initReport", {"initializationType": "provisioned-concurrency", "metrics": {"durationMs": 900}},
            T0),
        tel("platform.start", {"requestId": "aws-9"}, T0 + 10),
        tel("function", "hello from a print", T0 + 11),
        tel("platform.report", {"requestId": "aws-9", "status": "error", "metrics": {"durationMs": 3.0}}, T0 + 14),
    ])
    assert out.cold_starts == 0
    kinds = [(e["event"], e["request_id"]) for e in out.events]
    assert kinds == [("request_received", "aws-9"), ("request_complete", "aws-9")]
    assert out.events[1]["status"] == "error" and out.events[1]["total_ms"] == 3.0 and out.events[1]["ts_ms"] == T0 + 14


def test_function_records_without_a_report_go_out_after_hold_ms_and_broken_ones_are_errors():
    clock = Clock()
    j = TelemetryJoiner(Mapper(MappingConfig(), worker_id="c"), function_name="fn", hold_ms=1000, clock_s=clock)
    out = j.feed([tel("platform.start", {"requestId": "a"}, T0)]
                 + [tel("function", line, T0) for line in fn_events("r", T0)]
                 + [tel("function", '{"event": "request_complete", broken', T0), {"no": "type"}])
    assert out.events == [] and j.open_invocations == 1 and len(out.errors) == 2
    clock.t = 2.0
    later = j.feed([])
    assert len(later.events) == 3 and j.open_invocations == 0


def test_json_log_format_records_carry_their_request_id():
    j = TelemetryJoiner(Mapper(MappingConfig(), worker_id="c"), function_name="fn")
    line = fn_events("r5", T0)[2]
    out = j.feed([tel("platform.start", {"requestId": "aws-5"}, T0),
                  tel("platform.start", {"requestId": "aws-6"}, T0),
                  tel("function", {"timestamp": "2023-11-14T22:13:20Z", "level": "INFO", "requestId": "aws-5",
                                   "message": line}, T0),
                  tel("platform.report", {"requestId": "aws-5", "metrics": {"durationMs": 6}}, T0 + 6)])
    assert [e["event"] for e in out.events] == ["request_received", "request_complete"]
    assert out.events[1]["event_id"] == "r5-3" and out.events[1]["lambda_request_id"] == "aws-5"
