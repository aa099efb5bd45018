"""Alerts that explain themselves: the sentence, the ranked causes, the exemplar query and link."""

from __future__ import annotations

import pytest

from trtlens.schemas.documents import Quantiles, WindowMetric
from trtlens.streams.alerts.config import AlertsConfig, P99AboveRule
from trtlens.streams.alerts.core import AlertState, evaluate
from trtlens.streams.alerts.explain import exemplar_query, fmt_ms, ranked_causes

STAGES = ("queue", "engine_load", "h2d", "compute", "d2h", "other")


def tail(cold, dominant, tail_means, body_means, threshold=1755.0, delta=None):
    return {"threshold_ms": threshold, "count": 12, "cold_start_share": cold,
            "dominant_stage_share": {s: dominant.get(s, 0.0) for s in STAGES},
            "stage_mean_ms_tail": {s: tail_means.get(s, 0.0) for s in STAGES},
            "stage_mean_ms_body": {s: body_means.get(s, 0.0) for s in STAGES}, "delta_prev": delta}


def metric(t, exemplars=("r9", "r8"), engines=("e3f1a2b4c5d6e7f8",)):
    return WindowMetric(scope="model_version", scope_key="m/v2", model="m", model_version="v2", window_start_ms=10_000,
                        window_ms=10_000, requests=1000, latency_ms=Quantiles(count=1000, p99=t["threshold_ms"]),
                        attribution={"p99": t, "p95": t}, exemplars=list(exemplars), engines=list(engines))


@pytest.mark.parametrize(
    "t, first_cause, words",
    [
        (tail(0.83, {"engine_load": 0.83, "compute": 0.17}, {"engine_load": 1400.0, "compute": 9.0}, {"compute": 8.0}),
         "cold_start", "83% of the tail were cold starts, engine load mean 1.4 s"),
        (tail(0.0, {"queue": 0.9, "compute": 0.1}, {"queue": 400.0}, {"queue": 2.0}),
         "stage:queue", "90% of the tail dominated by queueing (mean 400 ms vs 2.0 ms below the tail)"),
        (tail(0.0, {"compute": 1.0}, {"compute": 95.0}, {"compute": 12.0}),
         "stage:compute", "100% of the tail dominated by compute (mean 95.0 ms vs 12.0 ms below the tail)"),
    ],
)
def test_the_alert_names_the_cause_that_covers_most_of_the_tail(t, first_cause, words):
    assert ranked_causes(t)[0]["cause"] == first_cause
    cfg = AlertsConfig(rules=[P99AboveRule(id="p99", threshold_ms=500, fire_after=1)],
                       traces_url_template="http://kibana:5601/app/discover#/?_a=(query:(query:'{query}'))")
    a = evaluate(cfg.rules[0], metric(t), AlertState(), traces_url_template=cfg.traces_url_template)
    assert a is not None and a.state == "firing"
    assert a.explanation.startswith("P99 1,755 ms: ") and words in a.explanation
    assert a.explanation in a.message and "engine e3f1a2b4c5d6e7f8" in a.explanation
    assert a.exemplars == ["r9", "r8"] and a.exemplar_query == 'request_id:("r9" OR "r8")'
    assert a.url.startswith("http://kibana:5601/") and "request_id%3A" in a.url
    assert a.attribution.cold_start_share == t["cold_start_share"] and (a.model, a.model_version) == ("m", "v2")


def test_previous_window_is_named_when_known():
    t = tail(0.5, {"engine_load": 0.5, "compute": 0.5}, {"engine_load": 900.0}, {}, threshold=1200.0,
             delta={"threshold_ms": 900.0})
    a = evaluate(P99AboveRule(id="p", threshold_ms=500, fire_after=1), metric(t), AlertState())
    assert "previous window P99 300 ms" in a.explanation


def test_without_attribution_the_alert_is_what_it_was():
    m = WindowMetric(scope="model_version", scope_key="m/v1", window_start_ms=0, window_ms=10_000, requests=10,
                     latency_ms=Quantiles(count=10, p99=2000.0))
    a = evaluate(P99AboveRule(id="p", threshold_ms=500, fire_after=1), m, AlertState())
    assert a.explanation is None and a.exemplars == [] and a.exemplar_query is None and a.url is None


def test_exemplar_query_escapes_quotes_and_formats():
    assert exemplar_query([]) is None
    assert exemplar_query(['a"b']) == 'request_id:("a\\"b")'
    assert [fmt_ms(x) for x in (8.24, 308.0, 1755.0)] == ["8.2 ms", "308 ms", "1.8 s"]


def test_url_template_is_checked():
    with pytest.raises(ValueError, match="only use"):
        AlertsConfig(traces_url_template="http://k/{nope}")
    with pytest.raises(ValueError, match="http"):
        AlertsConfig(traces_url_template="ftp://k/{query}")
