import pytest

from trtlens.streams.traces.sampling import decide, hash_fraction, rate_keeps


def test_hash_is_stable_and_uniform():
    assert hash_fraction("req-1") == hash_fraction("req-1")
    xs = [hash_fraction(f"req-{i}") for i in range(20_000)]
    assert all(0 <= x < 1 for x in xs)
    buckets = [0] * 10
    for x in xs:
        buckets[int(x * 10)] += 1
    assert all(1_700 < b < 2_300 for b in buckets)


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.25, 0.5, 0.9])
def test_rate_within_tolerance(rate):
    n = 40_000
    kept = sum(rate_keeps(f"r{i}", rate) for i in range(n))
    sigma = (n * rate * (1 - rate)) ** 0.5
    assert abs(kept - n * rate) < 5 * sigma


def test_decision_is_deterministic_per_request():
    for i in range(1000):
        rid = f"abc-{i}"
        assert rate_keeps(rid, 0.3) == rate_keeps(rid, 0.3)


@pytest.mark.parametrize(
    ("flags", "keep", "reason", "weight"),
    [
        ({"error": True}, True, "error", 1.0),
        ({"cold_start": True}, True, "cold_start", 1.0),
        ({"incomplete": True}, True, "incomplete", 1.0),
        ({"slow": True}, True, "slow", 1.0),
    ],
)
def test_always_kept_kinds(flags, keep, reason, weight):
    base = {"error": False, "cold_start": False, "incomplete": False, "slow": False}
    assert decide("x", **{**base, **flags}, sample_rate=0.0) == (keep, reason, weight)


def test_rate_weight_estimates_the_count():
    n, rate = 20_000, 0.2
    total = 0.0
    for i in range(n):
        keep, reason, w = decide(f"q{i}", error=False, cold_start=False, incomplete=False, slow=False, sample_rate=rate)
        if keep:
            assert reason == "rate" and w == 5.0
            total += w
    assert abs(total - n) / n < 0.05


@pytest.mark.parametrize(("rate", "kept"), [(1.0, True), (0.0, False)])
def test_rate_bounds(rate, kept):
    assert rate_keeps("anything", rate) is kept
