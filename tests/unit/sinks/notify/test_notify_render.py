"""Request bodies of the three endpoint kinds, field by field, with and without the
fields issue 11 adds to alerts (explanation, attribution, exemplars, url)."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from notify_cases import W0, alert, record

from trtlens.sinks.notify.config import EndpointConfig
from trtlens.sinks.notify.render import (
    brief,
    exemplar_ids,
    facts,
    iso_ms,
    measure,
    render,
    request_headers,
    summary_line,
)

HOOK = EndpointConfig(name="audit", kind="webhook", url="https://x.example/hook",
                      headers={"Authorization": "Bearer SECRETh"})
SLACK = EndpointConfig(name="chat", kind="slack", url="https://hooks.slack.com/services/T0/B0/SECRET")
AM = EndpointConfig(name="oncall", kind="alertmanager", url="http://am:9093", labels={"severity": "page"})
RICH = {
    "explanation": "P99 rose because 62% of slow requests paid for a cold start on w1",
    "attribution": {"cold_start": 0.62, "queue": 0.2},
    "exemplars": [{"request_id": "req-17", "latency_ms": 2210.0}, {"request_id": "req-44"}],
    "url": "http://kibana:5601/app/discover#/?q=rule_id:p99_above_1s",
}


def test_summary_line_says_what_value_threshold_scope_window():
    line = summary_line(facts(record()))
    assert line == ("[FIRING] p99_above_1s on model_version resnet50/v2: p99 1450 ms > threshold 1000 ms, "
                    "window 2026-11-21T01:00:00Z +10s")


def test_summary_line_with_explanation_attribution_exemplars_and_url():
    line = summary_line(facts(record(extra=RICH)))
    assert line.startswith("[FIRING] p99_above_1s on model_version resnet50/v2: p99 1450 ms > threshold 1000 ms")
    assert " · why: P99 rose because 62% of slow requests paid for a cold start on w1" in line
    assert " · attribution: cold_start: 0.62, queue: 0.2" in line
    assert " · exemplars: req-17, req-44" in line and line.endswith(" · " + RICH["url"])
    assert "\n" not in line


def test_resolved_line_and_other_units():
    assert summary_line(facts(record(alert("resolved", 3)))).startswith(
        "[RESOLVED] p99_above_1s on model_version resnet50/v2: p99 812 ms (threshold 1000 ms), window 2026-11-21T01:00:30Z")
    qps = alert(rule_id="qps_low", rule_kind="qps_below", value=0.5, threshold=2.0)
    assert "QPS 0.5 req/s < threshold 2.0 req/s" in summary_line(facts(record(qps)))


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [("p99_above", 1450.25, "1450 ms"), ("p99_above", 12.34, "12.3 ms"), ("error_rate_above", 0.075, "7.5%"),
     ("cold_start_rate_above", 0.2, "20.0%"), ("gpu_memory_above", 12 * 2**30, "12.00 GiB"),
     ("qps_below", 3.21, "3.2 req/s"), ("new_kind", 2.5, "2.5"), ("p99_above", None, "n/a"),
     ("gpu_memory_trend", 0.934, "93.4%")],
)
def test_measure(kind, value, text):
    assert measure(kind, value) == text


@pytest.mark.parametrize(
    ("obj", "text"),
    [(None, ""), ("  two\n lines ", "two lines"), ({"summary": "cold start"}, "cold start"),
     ({"cold_start": 0.625, "n": 3}, "cold_start: 0.625, n: 3"), (["a", {"text": "b"}], "a, b"), (True, "true")],
)
def test_brief_renders_any_shape_on_one_line(obj, text):
    assert brief(obj) == text


def test_brief_is_bounded():
    assert len(brief("x" * 1000)) == 300


@pytest.mark.parametrize(
    ("obj", "ids"),
    [(None, []), (["r1", "r2"], ["r1", "r2"]), ([{"request_id": "r1"}, {"id": 2}, {"other": 1}], ["r1", "2"]),
     ({"request_ids": ["r9"]}, ["r9"]), ({"request_id": "r3"}, ["r3"]), ("r4", ["r4"])],
)
def test_exemplar_ids(obj, ids):
    assert exemplar_ids(obj) == ids


def test_webhook_is_the_document_plus_an_envelope():
    rec = record(extra=RICH)
    body = orjson.loads(render(HOOK, rec))
    assert set(body) == {"version", "source", "kind", "state", "idempotency_key", "endpoint", "summary", "url", "alert"}
    assert body["alert"] == rec.doc and body["alert"]["exemplars"] == RICH["exemplars"]
    assert (body["version"], body["source"], body["kind"], body["state"]) == (1, "trtlens", "alert", "firing")
    assert body["idempotency_key"] == rec.key and body["endpoint"] == "audit" and body["url"] == RICH["url"]
    assert body["summary"] == summary_line(facts(rec))


def test_bodies_are_byte_identical_on_every_attempt():
    for ep in (HOOK, SLACK, AM):
        assert render(ep, record(extra=RICH)) == render(ep, record(extra=RICH))


def test_slack_incoming_webhook_shape():
    rec = record(extra=RICH)
    body = orjson.loads(render(SLACK, rec))
    assert set(body) == {"text", "blocks"}
    text = body["text"]
    assert text.startswith(":rotating_light: [FIRING] p99_above_1s on model_version resnet50/v2: p99 1450 ms &gt; "
                           "threshold 1000 ms")
    assert "exemplars: req-17, req-44" in text and text.endswith(f"<{RICH['url']}|open>") and "\n" not in text
    head, details, context = body["blocks"]
    assert head["type"] == "section" and head["text"]["type"] == "mrkdwn"
    assert "*FIRING* `p99_above_1s` on model_version `resnet50/v2`" in head["text"]["text"]
    assert "window 2026-11-21T01:00:00Z +10s" in head["text"]["text"]
    assert "_p99 above 1000 ms for 3 windows_" in head["text"]["text"]
    assert "*Why:* P99 rose" in details["text"]["text"] and "`req-17`, `req-44`" in details["text"]["text"]
    assert f"<{RICH['url']}|open in trtlens>" in details["text"]["text"]
    assert context["type"] == "context" and rec.key in context["elements"][0]["text"]


def test_slack_without_the_optional_fields_and_with_markup_in_values():
    rec = record(alert("resolved", 2, scope_key="a<b>&c"))
    body = orjson.loads(render(SLACK, rec))
    assert [b["type"] for b in body["blocks"]] == ["section", "context"]  # no details block
    assert body["text"].startswith(":white_check_mark: [RESOLVED]") and "a&lt;b&gt;&amp;c" in body["text"]
    assert "<" not in body["text"].replace("&lt;", "")


def test_link_template_is_used_when_the_alert_has_no_url():
    tpl = "http://kibana/app/discover#/?q=rule_id:{rule_id}%20scope_key:{scope_key}&from={window_start_ms}"
    f = facts(record(), link_template=tpl)
    assert f.link == f"http://kibana/app/discover#/?q=rule_id:p99_above_1s%20scope_key:resnet50%2Fv2&from={W0}"
    assert facts(record(extra={"url": "http://own"}), link_template=tpl).link == "http://own"
    assert facts(record(extra={"url": "javascript:x"})).link is None


def test_alertmanager_v2_post_alerts_shape_firing():
    rec = record(extra=RICH)
    body = orjson.loads(render(AM, rec))
    assert isinstance(body, list) and len(body) == 1
    (item,) = body
    assert set(item) == {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}
    assert item["labels"] == {"alertname": "p99_above_1s", "rule_kind": "p99_above", "scope": "model_version",
                              "scope_key": "resnet50/v2", "source": "trtlens", "severity": "page"}
    ann = item["annotations"]
    assert all(isinstance(v, str) for v in ann.values())
    assert ann["idempotency_key"] == rec.key and ann["doc_id"] == rec.doc_id
    assert ann["value"] == "1450 ms" and ann["threshold"] == "1000 ms" and ann["exemplars"] == "req-17, req-44"
    assert ann["explanation"].startswith("P99 rose") and ann["attribution"] == "cold_start: 0.62, queue: 0.2"
    assert item["startsAt"] == "2026-11-21T01:00:00.000Z"
    assert item["endsAt"] == "2026-11-22T01:00:00.000Z"  # firing_ends_after_s (24 h): stays active until resolved
    assert item["generatorURL"] == RICH["url"]
    for ts in (item["startsAt"], item["endsAt"]):
        assert dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).tzinfo is not None  # RFC 3339


def test_alertmanager_resolved_carries_ends_at_and_the_same_labels():
    firing = orjson.loads(render(AM, record(alert("firing", 0))))[0]
    resolved = orjson.loads(render(AM, record(alert("resolved", 6))))[0]
    assert resolved["labels"] == firing["labels"]  # Alertmanager matches them by labels
    assert resolved["startsAt"] == iso_ms(W0 + 60_000) and resolved["endsAt"] == iso_ms(W0 + 70_000)
    assert "generatorURL" not in resolved and "explanation" not in resolved["annotations"]


def test_alertmanager_firing_without_ends_at_when_asked():
    ep = AM.model_copy(update={"firing_ends_after_s": 0})
    assert "endsAt" not in orjson.loads(render(ep, record()))[0]


def test_static_labels_never_override_the_identity_labels():
    ep = AM.model_copy(update={"labels": {"alertname": "x", "team": "ml"}})
    labels = orjson.loads(render(ep, record()))[0]["labels"]
    assert labels["alertname"] == "p99_above_1s" and labels["team"] == "ml"


def test_request_headers_carry_the_key_and_the_configured_secrets():
    h = request_headers(HOOK, "tln1-abc")
    assert h["Idempotency-Key"] == "tln1-abc" and h["Content-Type"] == "application/json"
    assert h["Authorization"] == "Bearer SECRETh" and h["User-Agent"].startswith("trtlens-notify/")
