import pytest

from trtlens.schemas.documents import Quantiles, WindowMetric
from trtlens.streams.alerts.config import AlertsConfig, ErrorRateAboveRule, GpuMemoryAboveRule, P99AboveRule, QpsBelowRule
from trtlens.streams.alerts.core import AlertState, evaluate


def metric(i, p99=10.0, error_rate=0.0, requests=100, scope="model_version", key="m/v1", mem=None):
    return WindowMetric(
        scope=scope, scope_key=key, model="m", model_version="v1", window_start_ms=i * 10_000, window_ms=10_000,
        requests=requests, qps=requests / 10, errors=int(error_rate * requests), error_rate=error_rate,
        latency_ms=Quantiles(count=requests, p99=p99), gpu_memory_max_bytes=mem,
    )


RULE = P99AboveRule(id="p99", threshold_ms=100.0, fire_after=3, resolve_after=2)


@pytest.mark.parametrize(
    ("p99s", "events"),
    [
        ([200, 200, 200], [(2, "firing")]),
        ([200, 200, 50, 200, 200], []),  # never 3 in a row
        ([200, 200, 200, 50, 200, 50, 50], [(2, "firing"), (6, "resolved")]),  # one clean window does not resolve
        ([200, 200, 200, 200, 50, 50, 200, 200, 200], [(2, "firing"), (5, "resolved"), (8, "firing")]),
        ([100, 100, 100], []),  # at the threshold is not above it
    ],
)
def test_hysteresis(p99s, events):
    state = AlertState()
    got = []
    for i, v in enumerate(p99s):
        a = evaluate(RULE, metric(i, p99=v), state)
        if a:
            got.append((i, a.state))
            assert a.window_start_ms == i * 10_000 and a.value == v and a.threshold == 100.0
    assert got == events


def test_replayed_window_is_not_counted_twice():
    state = AlertState()
    for i in (0, 1, 1, 1, 0):
        assert evaluate(RULE, metric(i, p99=500), state) is None
    assert state.breaching == 2
    assert evaluate(RULE, metric(2, p99=500), state).state == "firing"


def test_min_requests_neither_breaches_nor_clears():
    rule = ErrorRateAboveRule(id="e", threshold=0.1, fire_after=2, resolve_after=1, min_requests=10)
    state = AlertState()
    assert evaluate(rule, metric(0, error_rate=0.5), state) is None
    assert evaluate(rule, metric(1, error_rate=0.9, requests=3), state) is None  # too few: ignored
    assert evaluate(rule, metric(2, error_rate=0.5), state).state == "firing"


@pytest.mark.parametrize(
    ("rule", "m", "applies"),
    [
        (P99AboveRule(id="a", threshold_ms=1, fire_after=1, model="other"), metric(0, p99=5), False),
        (P99AboveRule(id="a", threshold_ms=1, fire_after=1, model="m"), metric(0, p99=5), True),
        (P99AboveRule(id="a", threshold_ms=1, fire_after=1, scope="worker"), metric(0, p99=5), False),
        (GpuMemoryAboveRule(id="g", threshold_bytes=10, fire_after=1), metric(0, scope="worker", key="w1", mem=11), True),
        (QpsBelowRule(id="q", threshold=50, fire_after=1), metric(0, requests=100), True),  # qps 10 < 50
    ],
)
def test_scope_filters_and_kinds(rule, m, applies):
    assert (evaluate(rule, m, AlertState()) is not None) is applies


def test_rules_union_from_config_rejects_unknown_keys():
    cfg = AlertsConfig.model_validate({"rules": [{"kind": "p99_above", "id": "x", "threshold_ms": 5}]})
    assert isinstance(cfg.rules[0], P99AboveRule)
    with pytest.raises(ValueError):
        AlertsConfig.model_validate({"rules": [{"kind": "p99_above", "id": "x", "threshold_ms": 5, "bogus": 1}]})
    with pytest.raises(ValueError):
        AlertsConfig.model_validate({"rules": [{"kind": "nope", "id": "x"}]})


def test_min_requests_counts_the_requests_seen_not_the_estimate():
    # sampling at the source: 8 requests seen stand for 40; a rate from 8 is not one to alert on
    rule = ErrorRateAboveRule(id="e", threshold=0.1, fire_after=1, resolve_after=1, min_requests=10)
    m = metric(0, error_rate=0.5, requests=40).model_copy(update={"sampled_requests": 8})
    assert evaluate(rule, m, AlertState()) is None
    assert evaluate(rule, m.model_copy(update={"sampled_requests": 12}), AlertState()).state == "firing"
