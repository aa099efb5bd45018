"""Pure notifier logic: parsing, keys, the delivery log's decisions (dedup, hysteresis,
filters), the retry schedule, redaction and dead letters."""

from __future__ import annotations

import random

import orjson
import pytest
from notify_cases import W0, alert, record

from trtlens.sinks.core import RecordRef
from trtlens.sinks.notify.config import EndpointConfig, NotifySettings
from trtlens.sinks.notify.core import (
    DeliveryLog,
    Invalid,
    LogEntry,
    Outcome,
    RetryPolicy,
    classify_status,
    dlq_record,
    idempotency_key,
    next_step,
    parse_alert,
    parse_retry_after,
    redact,
    safe_url,
    too_old,
)

REF = RecordRef("trtlens.alerts", 0, 3, b"k")
HOOK = EndpointConfig(name="hook", kind="webhook", url="https://hooks.example/T0/B0/SECRETtoken123",
                      headers={"Authorization": "Bearer SECRETbearer"})
CHAT = EndpointConfig(name="chat", kind="slack", url="https://hooks.slack.com/services/T0/B0/SECRETslack",
                      rules=["error_rate_above_5pct"])


# ---------------------------------------------------------------- parsing and keys


@pytest.mark.parametrize(
    ("value", "code", "field"),
    [
        (None, "invalid_json", None),
        (b"{not json", "invalid_json", None),
        (b"[1, 2]", "invalid_json", None),
        (orjson.dumps({"rule_id": "r"}), "invalid_alert", "rule_kind"),
        (orjson.dumps({**alert().model_dump(mode="json"), "state": "pending"}), "invalid_alert", "state"),
    ],
)
def test_records_that_are_no_alert(value, code, field):
    bad = parse_alert(REF, value)
    assert isinstance(bad, Invalid) and bad.code == code and bad.field == field


def test_fields_this_checkout_does_not_know_are_kept_not_rejected():
    rec = record(extra={"explanation": "cold start on w1", "exemplars": ["req-1"], "url": "http://k/q"})
    assert rec.doc["explanation"] == "cold start on w1" and rec.doc["url"] == "http://k/q"
    assert rec.alert.doc_id == "p99_above_1s:resnet50/v2:%d:firing" % W0


def test_idempotency_key_is_deterministic_short_ascii_and_distinct_per_state_change():
    k = idempotency_key("p99_above_1s:resnet50/v2:1:firing")
    assert k == idempotency_key("p99_above_1s:resnet50/v2:1:firing")
    assert k.startswith("tln1-") and len(k) == 37 and k.isascii()
    assert k != idempotency_key("p99_above_1s:resnet50/v2:1:resolved")
    assert record().key == idempotency_key(record().doc_id)


# ---------------------------------------------------------------- decisions


def _entry(endpoint: str, rec, outcome="delivered") -> LogEntry:
    return LogEntry.for_record(endpoint, rec, outcome=outcome, attempts=1, at_ms=1)


@pytest.mark.parametrize(
    ("history", "incoming", "expected"),
    [
        ([], ("firing", 0), "send"),
        ([], ("resolved", 5), "send"),  # nothing known: a resolved is harmless to send
        ([("firing", 0)], ("firing", 0), "duplicate"),  # same doc_id: restart re-read / streams re-emission
        ([("firing", 0)], ("firing", 9), "repeat"),  # same state, later window: hysteresis
        ([("firing", 0)], ("resolved", 5), "send"),
        ([("firing", 0), ("resolved", 5)], ("resolved", 7), "repeat"),
        ([("firing", 0), ("resolved", 5)], ("firing", 8), "send"),
        ([("resolved", 5)], ("firing", 0), "stale"),  # an older state change read after a newer one
        ([("firing", 0), ("resolved", 5)], ("firing", 0), "duplicate"),
    ],
)
def test_decide_dedups_and_keeps_hysteresis(history, incoming, expected):
    log = DeliveryLog()
    for state, window in history:
        log.apply(_entry("hook", record(alert(state, window))))
    assert log.decide(HOOK, record(alert(*incoming))) == expected


def test_decisions_are_per_endpoint_and_per_rule_and_scope():
    log = DeliveryLog()
    log.apply(_entry("other", record(alert("firing", 0))))
    log.apply(_entry("hook", record(alert("firing", 0, scope_key="bert/v1"))))
    log.apply(_entry("hook", record(alert("firing", 0, rule_id="cold_start_rate_above_20pct"))))
    assert log.decide(HOOK, record(alert("firing", 1))) == "send"


def test_a_queued_delivery_counts_as_a_duplicate_and_its_intent_as_a_state():
    log, rec = DeliveryLog(), record(alert("firing", 0))
    log.intend("hook", rec)
    assert log.decide(HOOK, rec, queued=True) == "duplicate"
    # its delivery was abandoned (a rebalance): the same doc_id is sent again, never stuck
    assert log.decide(HOOK, rec) == "send"
    assert log.decide(HOOK, record(alert("firing", 4))) == "repeat"  # while it is the rule's state


def test_dead_lettered_counts_as_finished():
    log, rec = DeliveryLog(), record(alert("firing", 0))
    log.apply(_entry("hook", rec, outcome="dead_lettered"))
    assert log.finished("hook", rec.key) == "dead_lettered" and log.decide(HOOK, rec) == "duplicate"


def test_filters_by_rule_and_scope():
    assert DeliveryLog().decide(CHAT, record(alert())) == "filtered"
    assert DeliveryLog().decide(CHAT, record(alert(rule_id="error_rate_above_5pct"))) == "send"
    by_scope = EndpointConfig(name="w", kind="webhook", url="http://x", scopes=["worker"])
    assert DeliveryLog().decide(by_scope, record(alert())) == "filtered"


def test_log_entries_round_trip_and_foreign_records_are_ignored():
    entry = _entry("hook", record())
    assert LogEntry.from_json(entry.to_json()) == entry
    assert entry.record_key() == f"hook|{entry.idempotency_key}".encode()
    assert b"SECRET" not in entry.to_json() and b"hooks.example" not in entry.to_json()
    log = DeliveryLog()
    for junk in (None, b"", b"nope", b"{}", orjson.dumps({**orjson.loads(entry.to_json()), "outcome": "maybe"})):
        assert LogEntry.from_json(junk) is None
        log.apply(LogEntry.from_json(junk))
    assert len(log) == 0 and log.counters["log_ignored"] == 5


def test_replaying_the_log_in_any_order_gives_the_same_state():
    recs = [record(alert(s, w)) for s, w in [("firing", 0), ("resolved", 5), ("firing", 9)]]
    a, b = DeliveryLog(), DeliveryLog()
    for r in recs:
        a.apply(_entry("hook", r))
    for r in reversed(recs):
        b.apply(_entry("hook", r))
    assert a.last("hook", "p99_above_1s", "resnet50/v2") == b.last("hook", "p99_above_1s", "resnet50/v2")
    assert a.decide(HOOK, record(alert("firing", 12))) == b.decide(HOOK, record(alert("firing", 12))) == "repeat"


# ---------------------------------------------------------------- retries

POLICY = RetryPolicy(max_attempts=4, initial_ms=500, max_ms=4000, multiplier=2.0, jitter=0.0)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(200, "ok"), (204, "ok"), (None, "retry"), (408, "retry"), (429, "retry"), (500, "retry"), (503, "retry"),
     (301, "reject"), (400, "reject"), (401, "reject"), (404, "reject"), (413, "reject")],
)
def test_classify_status(status, kind):
    assert classify_status(status) == kind


def test_retry_schedule_grows_caps_then_dead_letters():
    fail = Outcome(503, "HTTP 503")
    steps = [next_step(n, fail, POLICY) for n in range(1, 5)]
    assert [s.action for s in steps] == ["retry", "retry", "retry", "dead_letter"]
    assert [s.delay_s for s in steps[:3]] == [0.5, 1.0, 2.0]
    assert steps[3].code == "delivery_failed"
    long = RetryPolicy(max_attempts=10, initial_ms=500, max_ms=4000, jitter=0.0)
    assert [next_step(n, fail, long).delay_s for n in range(4, 8)] == [4.0, 4.0, 4.0, 4.0]


def test_jitter_stays_within_its_fraction_and_is_reproducible():
    policy = RetryPolicy(max_attempts=10, initial_ms=1000, max_ms=60_000, jitter=0.5)
    delays = [next_step(3, Outcome(None), policy, rng=random.Random(seed)).delay_s for seed in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays) and len(set(delays)) > 100
    assert next_step(3, Outcome(None), policy, rng=random.Random(7)) == next_step(3, Outcome(None), policy,
                                                                                 rng=random.Random(7))


def test_success_and_rejection_end_at_once():
    assert next_step(1, Outcome(200), POLICY).action == "done"
    step = next_step(1, Outcome(401, "HTTP 401"), POLICY)
    assert (step.action, step.code) == ("dead_letter", "rejected")


def test_retry_after_is_honoured_up_to_the_cap():
    assert next_step(1, Outcome(429, retry_after_s=3.0), POLICY).delay_s == 3.0
    assert next_step(1, Outcome(429, retry_after_s=3600.0), POLICY).delay_s == 4.0
    assert next_step(3, Outcome(429, retry_after_s=0.1), POLICY).delay_s == 2.0  # never shorter than the backoff


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("7", 7.0), ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0), ("soon", None)],
)
def test_parse_retry_after(value, expected):
    now = 1445412480.0  # 2015-10-21T07:28:00Z
    assert parse_retry_after(value, now_s=now) == expected


# ---------------------------------------------------------------- secrets


def test_redact_removes_every_secret_form():
    secrets = HOOK.secrets()
    text = ("POST https://hooks.example/T0/B0/SECRETtoken123 failed; path /T0/B0/SECRETtoken123; "
            "quoted https%3A%2F%2Fhooks.example%2FT0%2FB0%2FSECRETtoken123; header Bearer SECRETbearer")
    out = redact(text, secrets)
    assert "SECRET" not in out and out.count("***") >= 4


@pytest.mark.parametrize(
    ("url", "shown"),
    [("https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com/***"),
     ("http://am:9093", "http://am:9093"), ("http://u:p@am:9093/?t=1", "http://am:9093/***")],
)
def test_safe_url_shows_scheme_host_port_only(url, shown):
    assert safe_url(url) == shown


def test_dead_letter_names_endpoint_key_attempts_error_never_a_secret():
    rec = record()
    doc = dlq_record(code="delivery_failed", reason="gave up", ref=rec.ref, now_ms=5, endpoint=HOOK, rec=rec,
                     attempts=8, last_status=503,
                     last_error="ClientConnectorError: https://hooks.example/T0/B0/SECRETtoken123 Bearer SECRETbearer")
    assert doc["endpoint"] == "hook" and doc["endpoint_kind"] == "webhook"
    assert doc["idempotency_key"] == rec.key and doc["doc_id"] == rec.doc_id
    assert doc["attempts"] == 8 and doc["last_status"] == 503 and doc["alert"] == rec.doc
    assert (doc["topic"], doc["partition"], doc["offset"]) == ("trtlens.alerts", 1, 7)
    blob = orjson.dumps(doc)
    assert b"SECRET" not in blob and b"hooks.example" not in blob and b"Authorization" not in blob


def test_invalid_record_dead_letter_keeps_the_raw_bytes():
    doc = dlq_record(code="invalid_json", reason="not JSON", ref=REF, now_ms=1, raw=b"\xff\x00")
    assert doc["endpoint"] is None and doc["raw"] is None and doc["raw_hex"] == "ff00"


def test_retry_policy_from_settings():
    p = RetryPolicy.from_settings(NotifySettings(max_attempts=3, backoff_initial_ms=10, backoff_max_ms=20))
    assert (p.max_attempts, p.initial_ms, p.max_ms, p.multiplier, p.jitter) == (3, 10, 20, 2.0, 0.5)


@pytest.mark.parametrize(
    ("age_after_window_end_s", "max_age_s", "old"),
    [(10, None, False), (10**9, None, False), (59, 60, False), (61, 60, True)],
)
def test_too_old_counts_from_the_window_end(age_after_window_end_s, max_age_s, old):
    a = alert()
    now_ms = a.window_start_ms + a.window_ms + age_after_window_end_s * 1000
    assert too_old(a, now_ms=now_ms, max_age_s=max_age_s) is old


def test_a_batch_is_decided_in_event_time_order_firing_before_resolved():
    recs = [record(alert("resolved", 5)), record(alert("firing", 9)), record(alert("firing", 0))]
    log = DeliveryLog()
    decided = []
    for rec in sorted(recs, key=lambda r: r.order()):
        decided.append((rec.alert.state, rec.alert.window_start_ms - W0, log.decide(HOOK, rec)))
        log.intend("hook", rec)
    assert decided == [("firing", 0, "send"), ("resolved", 50_000, "send"), ("firing", 90_000, "send")]


def test_a_tombstone_makes_a_dead_letter_deliverable_again():
    log, rec = DeliveryLog(), record(alert("firing", 0))
    entry = _entry("hook", rec, outcome="dead_lettered")
    log.apply(entry)
    assert log.forget(entry.record_key()) is True
    assert log.finished("hook", rec.key) is None and log.decide(HOOK, rec) == "send"
    assert log.forget(b"no-separator") is False and log.forget(None) is False
