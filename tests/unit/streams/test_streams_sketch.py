import math
import random

import pytest
from ddsketch import DDSketch as ReferenceSketch

from trtlens.streams.metrics.sketch import DDSketch


def exact(sorted_values, q):
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


@pytest.mark.parametrize("dist", ["lognormal", "uniform", "bimodal", "constant"])
@pytest.mark.parametrize("n", [1, 7, 100, 10_000])
def test_quantiles_within_relative_accuracy(dist, n):
    rng = random.Random(n)
    gen = {
        "lognormal": lambda: rng.lognormvariate(2.5, 0.6),
        "uniform": lambda: rng.uniform(0.5, 500.0),
        "bimodal": lambda: rng.choice([rng.gauss(5, 0.5), rng.gauss(900, 50)]),
        "constant": lambda: 12.5,
    }[dist]
    values = [abs(gen()) + 0.01 for _ in range(n)]
    sk = DDSketch(0.01)
    for v in values:
        sk.add(v)
    values.sort()
    qs = (0.0, 0.5, 0.9, 0.95, 0.99, 1.0)
    for q, est in zip(qs, sk.quantiles(qs)):
        want = exact(values, q)
        assert abs(est - want) <= 0.01 * want + 1e-9, (q, est, want)
        assert sk.quantile(q) == est


def test_merge_equals_single_sketch_and_roundtrips():
    rng = random.Random(1)
    values = [rng.lognormvariate(3, 1) for _ in range(5000)]
    whole, parts = DDSketch(0.01), [DDSketch(0.01) for _ in range(4)]
    for i, v in enumerate(values):
        whole.add(v)
        parts[i % 4].add(v)
    merged = DDSketch.from_dict(parts[0].to_dict())
    for p in parts[1:]:
        merged.merge(DDSketch.from_dict(p.to_dict()))
    assert merged.count == whole.count == 5000
    assert merged.bins == whole.bins
    assert merged.quantiles((0.5, 0.99)) == whole.quantiles((0.5, 0.99))
    assert merged.to_dict() == DDSketch.from_dict(merged.to_dict()).to_dict()


def test_agrees_with_the_ddsketch_package():
    rng = random.Random(3)
    values = [rng.lognormvariate(2, 0.8) for _ in range(20_000)]
    ours, ref = DDSketch(0.01), ReferenceSketch(relative_accuracy=0.01)
    for v in values:
        ours.add(v)
        ref.add(v)
    for q in (0.5, 0.9, 0.99):
        assert abs(ours.quantile(q) - ref.get_quantile_value(q)) <= 0.021 * ref.get_quantile_value(q)


@pytest.mark.parametrize(
    ("values", "q", "want"),
    [([], 0.5, None), ([0.0, 0.0, 5.0], 0.5, 0.0), ([0.0, 0.0, 5.0], 1.0, 5.0)],
)
def test_empty_and_zero_bucket(values, q, want):
    sk = DDSketch(0.01)
    for v in values:
        sk.add(v)
    got = sk.quantile(q)
    assert got == want if want is None or want == 0.0 else abs(got - want) <= 0.05


def test_merge_rejects_other_accuracy():
    with pytest.raises(ValueError):
        DDSketch(0.01).merge(DDSketch(0.02))


# ------------------------------------------------------------------ weights (sampling at the source)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_weight_is_the_value_added_that_many_times(seed):
    """Integer weights: the weighted rule (cumulative weight reaches q * count) gives the nearest-rank answer
    of the value repeated; every count matches, and the weighted sketch survives its dict as floats."""
    rng = random.Random(seed)
    weighted, repeated = DDSketch(0.01), DDSketch(0.01)
    for _ in range(2_000):
        v, w = rng.lognormvariate(3, 0.8), rng.choice([1, 2, 5])
        weighted.add_weighted(v, weighted.key(v), float(w))
        for _ in range(w):
            repeated.add(v)
    weighted.add_weighted(0.0, None, 3.0)  # the zero bucket takes weights too
    for _ in range(3):
        repeated.add(0.0)
    qs = (0.0, 0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0)
    assert weighted.quantiles(qs) == repeated.quantiles(qs)
    assert [weighted.quantile(q) for q in qs] == repeated.quantiles(qs)
    assert (weighted.count, weighted.zero, weighted.bins) == (repeated.count, repeated.zero, repeated.bins)
    assert weighted.sum == pytest.approx(repeated.sum, rel=1e-12)
    back = DDSketch.from_dict(weighted.to_dict())
    assert type(back.count) is float and back.bins == weighted.bins and back.quantiles(qs) == weighted.quantiles(qs)


def test_fractional_weights_estimate_the_population_quantiles():
    # the body sampled at 0.2 (weight 5), the tail kept whole: the weighted P50 / P99 are the population's
    rng = random.Random(4)
    values = sorted(rng.lognormvariate(3, 0.6) for _ in range(50_000))
    cut = values[int(0.95 * len(values))]
    sk = DDSketch(0.01)
    for i, v in enumerate(values):
        if v >= cut:
            sk.add_weighted(v, sk.key(v), 1.0) if i % 2 else sk.add(v)
        elif rng.random() < 0.2:
            sk.add_weighted(v, sk.key(v), 1 / 0.2)
    for q in (0.5, 0.99):
        want = exact(values, q)
        assert sk.quantile(q) == pytest.approx(want, rel=0.03), q


def test_an_unweighted_sketch_keeps_integer_counts_through_its_dict():
    sk = DDSketch(0.01)
    for v in (1.0, 2.0, 2.0, 0.0):
        sk.add(v)
    d = sk.to_dict()
    assert all(type(c) is int for c in d["counts"]) and type(d["count"]) is int and type(d["zero"]) is int
    back = DDSketch.from_dict(d)
    assert type(back.count) is int and back.bins == sk.bins and back.to_dict() == d
