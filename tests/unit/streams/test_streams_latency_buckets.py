"""Fixed latency buckets of a window (the heatmap's data): counts per bucket from the sketch."""

import random

import pytest

from trtlens.schemas.documents import LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKET_FIELDS, WindowMetric
from trtlens.streams.merge.combine import buckets_of
from trtlens.streams.metrics.sketch import DDSketch


def exact_buckets(values):
    out = dict.fromkeys(LATENCY_BUCKET_FIELDS, 0)
    for v in values:
        for bound, name in zip(LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKET_FIELDS):
            if v <= bound:
                out[name] += 1
                break
        else:
            out["le_inf"] += 1
    return out


@pytest.mark.parametrize(
    "values, expected",
    [
        ([0.0, 0.5, 1.5, 3.0], {"le_1": 2, "le_2": 1, "le_5": 1}),
        ([150.0, 150.0, 7.0], {"le_200": 2, "le_10": 1}),
        ([20_000.0, 9_000.0], {"le_inf": 1, "le_10000": 1}),
    ],
)
def test_values_away_from_bounds_land_in_their_bucket(values, expected):
    sk = DDSketch(0.01)
    for v in values:
        sk.add(v)
    got = buckets_of(sk)
    assert set(got) == set(LATENCY_BUCKET_FIELDS)
    assert {k: n for k, n in got.items() if n} == expected


def test_counts_add_up_and_match_exact_buckets_within_accuracy():
    rng = random.Random(7)
    values = [rng.lognormvariate(3.0, 1.2) for _ in range(20_000)]
    sk = DDSketch(0.01)
    for v in values:
        sk.add(v)
    got = buckets_of(sk)
    assert sum(got.values()) == len(values)
    exact = exact_buckets(values)
    # only values within 1% of a bound may move to the neighbouring bucket
    near = sum(1 for v in values for b in LATENCY_BUCKET_BOUNDS_MS if abs(v - b) <= 0.011 * b)
    assert sum(abs(got[k] - exact[k]) for k in LATENCY_BUCKET_FIELDS) <= 2 * near


def test_empty_window_has_no_buckets():
    assert buckets_of(None) == {} and buckets_of(DDSketch(0.01)) == {}


def test_window_rejects_unknown_bucket_names():
    with pytest.raises(ValueError, match="unknown latency bucket"):
        WindowMetric(scope="all", scope_key="*", window_start_ms=0, window_ms=1000, latency_buckets={"le_3": 1})
