"""A DDSketch (relative-accuracy quantile sketch) that serialises to a small dict.

Same algorithm and guarantee as the ``ddsketch`` package (Masson et al., VLDB
2019): a value ``x > 0`` goes to bucket ``ceil(log(x) / log(gamma))`` with
``gamma = (1 + a) / (1 - a)``, and a bucket is reported as
``2 * gamma**i / (gamma + 1)``, which is within relative error ``a`` of every
value in it. Kept here (instead of the package object) because windows must
store and merge sketches as JSON: the package has no public serialisation
without protobuf. Unit tests compare it with the package.

Quantiles use the *lower nearest-rank* definition: the value at index
``ceil(q * n) - 1`` of the sorted values, which is what the load generator's
ground truth uses; the estimate is within ``a`` of that exact value.
Values ``<= min_value`` (1 µs) count in a zero bucket reported as 0.

**Weights** (:meth:`DDSketch.add_weighted`): a value can stand for ``w >= 1``
values (an event of a request its source kept at a sampling rate, ``1/rate``).
Its bucket, ``zero``, ``count`` and ``sum`` then grow by ``w``, so quantiles are
those of the population the sample stands for: the value at which the
cumulative weight first reaches ``q * count``. While every weight is 1 the
counts stay integers and the rule is the nearest-rank one above, exactly (the
two agree on integer counts); one weighted value makes ``count`` a float.
"""

from __future__ import annotations

import math
from typing import Any

MIN_VALUE = 1e-3


def log_gamma(relative_accuracy: float) -> float:
    """``log(gamma)`` of a sketch of this accuracy: bucket of ``x`` = ``ceil(log(x) / log_gamma)``."""
    return math.log((1 + relative_accuracy) / (1 - relative_accuracy))


class DDSketch:
    __slots__ = ("accuracy", "_gamma_ln", "_gamma", "bins", "zero", "count", "sum", "min", "max")
    # bins, zero and count are ints while every value added had weight 1 (add, add_keyed), floats after
    # one add_weighted; to_dict / from_dict keep which

    def __init__(self, relative_accuracy: float = 0.01) -> None:
        if not 0 < relative_accuracy < 1:
            raise ValueError("relative_accuracy must be in (0, 1)")
        self.accuracy = relative_accuracy
        self._gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self._gamma_ln = log_gamma(relative_accuracy)
        self.bins: dict[int, int | float] = {}
        self.zero = 0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value: float) -> None:
        self.count += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        if value <= MIN_VALUE:
            self.zero += 1
            return
        key = math.ceil(math.log(value) / self._gamma_ln)
        bins = self.bins
        bins[key] = bins.get(key, 0) + 1

    def key(self, value: float) -> int | None:
        """Bucket of ``value`` (None: the zero bucket); compute once, :meth:`add_keyed` to several sketches."""
        return math.ceil(math.log(value) / self._gamma_ln) if value > MIN_VALUE else None

    def add_keyed(self, value: float, key: int | None) -> None:
        """:meth:`add` with a key from :meth:`key` of a sketch of the same accuracy."""
        self.count += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        if key is None:
            self.zero += 1
        else:
            bins = self.bins
            bins[key] = bins.get(key, 0) + 1

    def add_weighted(self, value: float, key: int | None, weight: float) -> None:
        """:meth:`add_keyed` of a value that stands for ``weight`` values (counts become floats)."""
        self.count += weight
        self.sum += value * weight
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        if key is None:
            self.zero += weight
        else:
            bins = self.bins
            bins[key] = bins.get(key, 0) + weight

    def merge(self, other: "DDSketch") -> None:
        if other.accuracy != self.accuracy:
            raise ValueError(f"cannot merge sketches of accuracy {other.accuracy} into {self.accuracy}")
        if not other.count:
            return
        bins = self.bins
        for key, n in other.bins.items():
            bins[key] = bins.get(key, 0) + n
        self.zero += other.zero
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float | None:
        """Lower nearest-rank quantile estimate (None when empty)."""
        if not self.count:
            return None
        if not 0 <= q <= 1:
            raise ValueError("q must be in [0, 1]")
        if type(self.count) is not int:
            return self.quantiles((q,))[0]
        rank = max(0, math.ceil(q * self.count) - 1)
        if rank < self.zero:
            return 0.0
        seen = self.zero
        for key in sorted(self.bins):
            seen += self.bins[key]
            if seen > rank:
                est = 2 * self._gamma**key / (self._gamma + 1)
                return min(max(est, self.min), self.max)
        return self.max  # pragma: no cover - counts always add up

    def quantiles(self, qs: tuple[float, ...]) -> list[float | None]:
        """Several quantiles in one pass over the sorted bins."""
        if not self.count:
            return [None] * len(qs)
        # the answer is the first bucket whose cumulative count exceeds the rank
        if type(self.count) is int:  # nearest rank (index ceil(q * n) - 1)
            ranks: list[float] = [max(0, math.ceil(q * self.count) - 1) for q in qs]
        else:  # weighted: the cumulative weight reaches q * count (the rule above, on integer counts)
            ranks = [math.nextafter(q * self.count, -math.inf) if q > 0 else 0.0 for q in qs]
        out: list[float | None] = [None] * len(qs)
        order = sorted(range(len(qs)), key=ranks.__getitem__)
        i = 0
        while i < len(order) and ranks[order[i]] < self.zero:
            out[order[i]] = 0.0
            i += 1
        seen = self.zero
        for key in sorted(self.bins):
            seen += self.bins[key]
            while i < len(order) and seen > ranks[order[i]]:
                est = 2 * self._gamma**key / (self._gamma + 1)
                out[order[i]] = min(max(est, self.min), self.max)
                i += 1
            if i == len(order):
                break
        for j in order[i:]:  # float sums of weights may fall an ulp short of q * count at q = 1
            out[j] = self.max
        return out

    def bucket_counts(self, bounds: tuple[float, ...]) -> list[float]:
        """Values per fixed bucket: ``len(bounds) + 1`` counts, the last past ``bounds[-1]`` (weights: floats).

        A sketch bin goes to the first bucket whose bound is >= the bin's reported value,
        so a value within the relative accuracy of a bound may land in its neighbour;
        nothing else is approximate (the counts add up to ``count``)."""
        import bisect

        out: list[float] = [0] * (len(bounds) + 1)
        out[0] += self.zero
        for key, n in self.bins.items():
            out[bisect.bisect_left(bounds, 2 * self._gamma**key / (self._gamma + 1))] += n
        return out

    def to_dict(self) -> dict[str, Any]:
        keys = sorted(self.bins)
        return {
            "relative_accuracy": self.accuracy,
            "keys": keys,
            "counts": [self.bins[k] for k in keys],
            "zero": self.zero,
            "count": self.count,
            "sum": self.sum,
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DDSketch":
        sk = cls(float(data["relative_accuracy"]))
        sk.bins = dict(zip((int(k) for k in data["keys"]), map(_count, data["counts"])))
        sk.zero = _count(data["zero"])
        sk.count = _count(data["count"])
        sk.sum = float(data["sum"])
        if sk.count:
            sk.min = float(data["min"])
            sk.max = float(data["max"])
        return sk


def _count(value: Any) -> int | float:
    """A stored count: an integer stays one (unweighted sketches, older state), a weighted count a float."""
    return value if type(value) is float else int(value)
