"""Tail attribution and exemplars of a window (pure): why its slowest requests were slow.

Computed in the metrics stage from **every** request, like the sketches, and
mergeable across partitions the same way: a partial cannot know the window's
P99 (other partitions move it), so it keeps, per **latency bucket**, what is
needed to describe any tail after the merge:

    row = [count, cold_starts, dominated_by[stage] x 6, stage_sum_ms[stage] x 6]

(sent sparse: :func:`encode_row`, sums to the µs)

A bucket is ``sketch key >> BUCKET_SHIFT``: four DDSketch buckets, about 8%
wide at the default 1% accuracy (so a window holds some 60-80 rows). After the
merge, the tail of quantile ``q`` is every request whose bucket is at or above
the bucket of the window's ``q`` quantile: "at or above the P99", to that
resolution (it may hold a few requests up to ~8% below the P99; ``count``
says how many were described).

Stages are the breakdown of the request's ``inference_complete`` (queue,
engine_load, h2d, compute, d2h, as joined into its trace) and ``other``: the
rest of ``total_ms`` (pre/post-processing, or everything when the request
reported no breakdown). A request is *dominated* by its largest stage.

**Weights**: a request with a ``sample_weight`` ``w`` (its source kept it at a
rate of ``1/w``) adds ``w`` to its row's counts and ``w`` times its stage times
to the sums, so shares and means describe the traffic it stands for; rows of
unweighted requests hold whole counts, as before.

**Exemplars**: the ``request_id``\\ s of the N slowest requests of each partial
(a min-heap of ``(total_ms, request_id)``); the merge keeps the N largest of the
union, so each merged exemplar was an exemplar of its own partition when it
arrived, which is when the trace join learns it must keep that trace.
"""

from __future__ import annotations

import heapq
import math
from itertools import compress
from typing import Any

STAGES: tuple[str, ...] = ("queue", "engine_load", "h2d", "compute", "d2h", "other")
"""Stages a tail is attributed to, in row order (``other`` = total minus the measured stages)."""
STAGE_SOURCES: tuple[str, ...] = ("queue_ms", "engine_load_ms", "h2d_ms", "compute_ms", "d2h_ms")
"""The trace breakdown field of each measured stage (``schemas.documents.StageBreakdown``)."""
N_STAGES = len(STAGES)
ROW = 2 + 2 * N_STAGES
BUCKET_SHIFT = 2
ZERO_BUCKET = -(1 << 30)
TAIL_QUANTILES: tuple[tuple[str, float], ...] = (("p99", 0.99), ("p95", 0.95))
_BITS: tuple[int, ...] = tuple(1 << i for i in range(ROW - 2))  # mask bit of row entry 2 + i


class Tail:
    """Per-partial bucket rows and exemplars (model-version scope)."""

    __slots__ = ("rows", "exemplars", "weighted")

    def __init__(self) -> None:
        self.rows: dict[int, list[float]] = {}
        self.exemplars: list[tuple[float, str]] = []  # min-heap, at most N
        self.weighted = False  # a weighted request was added: counts may have fractions (encode_row)

    def add(self, bucket: int, total_ms: float, cold: bool, stages: dict[str, float] | None,
            request_id: str, n_exemplars: int, weight: float = 1) -> bool:
        """Count one request (as ``weight`` requests); True when it is (so far) among the partial's
        ``n_exemplars`` slowest."""
        if weight != 1:
            self.weighted = True
        row = self.rows.get(bucket)
        if row is None:
            row = self.rows[bucket] = [0.0] * ROW
        row[0] += weight
        if cold:
            row[1] += weight
        rest = total_ms
        best, best_ms = N_STAGES - 1, -1.0
        if stages:
            get = stages.get
            for i, src in enumerate(STAGE_SOURCES):
                v = get(src)
                if v:
                    row[2 + N_STAGES + i] += v * weight
                    rest -= v
                    if v > best_ms:
                        best, best_ms = i, v
        if rest < 0.0:
            rest = 0.0
        row[2 + 2 * N_STAGES - 1] += rest * weight
        if rest > best_ms:
            best = N_STAGES - 1
        row[2 + best] += weight
        if n_exemplars <= 0:
            return False
        ex = self.exemplars
        item = (total_ms, request_id)
        if len(ex) < n_exemplars:
            heapq.heappush(ex, item)
            return True
        if item > ex[0]:
            heapq.heapreplace(ex, item)
            return True
        return False

    def to_dict(self) -> dict[str, Any]:
        """Rows in their compact wire form (:func:`encode_row`), exemplars slowest first."""
        if self.weighted:
            return {"rows": [encode_row_weighted(b, self.rows[b]) for b in sorted(self.rows)],
                    "exemplars": [[t, r] for t, r in sorted(self.exemplars, reverse=True)], "weighted": True}
        return {"rows": [encode_row(b, self.rows[b]) for b in sorted(self.rows)],
                "exemplars": [[t, r] for t, r in sorted(self.exemplars, reverse=True)]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Tail":
        t = cls()
        t.weighted = bool(d.get("weighted"))
        t.rows = dict(decode_row(r) for r in d.get("rows", ()))
        t.exemplars = [(float(a), str(b)) for a, b in d.get("exemplars", ())]
        heapq.heapify(t.exemplars)
        return t


def encode_row(bucket: int, row: list[float]) -> list[float | int]:
    """``[bucket, count, cold, mask, *the non-zero of the other 12]`` (bit i of mask: entry 2 + i is there).

    Most entries are zero (a window's requests rarely spend time in every stage): a
    partial goes to the merge stage with every processing group, so its size is CPU.
    Counts go as ints, stage sums rounded to the µs (``round(x, 3)``). Written with
    C-level iterators (``compress``, ``filter``): every dirty partial encodes all its
    rows on every send (a unit test compares it with the plain loop)."""
    return [bucket, int(row[0]), int(row[1]), sum(compress(_BITS, row[2:])),
            *map(int, filter(None, row[2:2 + N_STAGES])), *[round(x, 3) for x in row[2 + N_STAGES:] if x]]


def encode_row_weighted(bucket: int, row: list[float]) -> list[float | int]:
    """:func:`encode_row` of a row with weighted requests: counts keep their fractions (to 1e-6)."""
    return [bucket, round(row[0], 6), round(row[1], 6), sum(compress(_BITS, row[2:])),
            *[round(x, 6) for x in row[2:2 + N_STAGES] if x], *[round(x, 3) for x in row[2 + N_STAGES:] if x]]


def decode_row(r: list[float | int]) -> tuple[int, list[float]]:
    """Inverse of :func:`encode_row` and :func:`encode_row_weighted`: ``(bucket, row)``."""
    row = [0.0] * ROW
    row[0], row[1] = float(r[1]), float(r[2])
    mask, k = int(r[3]), 4
    for i in range(ROW - 2):
        if mask >> i & 1:
            row[2 + i] = float(r[k])
            k += 1
    return int(r[0]), row


def bucket_of(sketch_key: int | None) -> int:
    """The attribution bucket of a DDSketch key (None: the zero bucket)."""
    return ZERO_BUCKET if sketch_key is None else sketch_key >> BUCKET_SHIFT


def merge_tails(tails: list[dict[str, Any]], n_exemplars: int) -> tuple[dict[int, list[float]], list[str]]:
    """Rows summed per bucket, and the ``n_exemplars`` slowest request ids of all partials (ties: larger id)."""
    rows: dict[int, list[float]] = {}
    ex: list[tuple[float, str]] = []
    for d in tails:
        for r in d.get("rows", ()):
            b, row = decode_row(r)
            acc = rows.get(b)
            if acc is None:
                rows[b] = row
            else:
                for i, x in enumerate(row):
                    acc[i] += x
        ex.extend((float(t), str(rid)) for t, rid in d.get("exemplars", ()))
    ex.sort(reverse=True)
    seen: set[str] = set()
    ids: list[str] = []
    for _, rid in ex:
        if rid not in seen:
            seen.add(rid)
            ids.append(rid)
        if len(ids) >= n_exemplars:
            break
    return rows, ids


def _share(n: float, d: float) -> float:
    return round(n / d, 6) if d else 0.0


def summarize(rows: dict[int, list[float]], threshold_ms: float | None, threshold_bucket: int | None) -> dict[str, Any] | None:
    """The attribution of the tail at or above ``threshold_bucket`` (see the module doc), or None if empty."""
    if threshold_ms is None or threshold_bucket is None or not rows:
        return None
    tail = [0.0] * ROW
    total = [0.0] * ROW
    for b, r in rows.items():
        for i, x in enumerate(r):
            total[i] += x
        if b >= threshold_bucket:
            for i, x in enumerate(r):
                tail[i] += x
    n = tail[0]
    if not n:
        return None
    body_n = total[0] - n
    sums = 2 + N_STAGES
    return {
        "threshold_ms": round(threshold_ms, 6),
        "count": round(n),  # weighted: the estimate, to the nearest request
        "cold_start_share": _share(tail[1], n),
        "dominant_stage_share": {s: _share(tail[2 + i], n) for i, s in enumerate(STAGES)},
        "stage_mean_ms_tail": {s: round(tail[sums + i] / n, 6) for i, s in enumerate(STAGES)},
        "stage_mean_ms_body": ({s: round((total[sums + i] - tail[sums + i]) / body_n, 6) for i, s in enumerate(STAGES)}
                               if body_n > 0 else {}),
        "delta_prev": None,
    }


def delta(cur: dict[str, Any], prev: dict[str, Any] | None) -> dict[str, Any] | None:
    """Change of an attribution against the same quantile's of the previous window (current minus previous)."""
    if prev is None:
        return None
    out: dict[str, Any] = {
        "threshold_ms": round(cur["threshold_ms"] - prev["threshold_ms"], 6),
        "count": cur["count"] - prev["count"],
        "cold_start_share": round(cur["cold_start_share"] - prev["cold_start_share"], 6),
    }
    for key in ("dominant_stage_share", "stage_mean_ms_tail"):
        a, b = cur[key], prev.get(key) or {}
        out[key] = {s: round(a.get(s, 0.0) - b.get(s, 0.0), 6) for s in STAGES}
    return out


def attribution_of(rows: dict[int, list[float]], quantiles: dict[str, tuple[float | None, int | None]],
                   prev: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{"p99": T, "p95": T}`` from merged rows; ``quantiles``: name → (threshold_ms, its bucket)."""
    out: dict[str, Any] = {}
    for name, _q in TAIL_QUANTILES:
        thr, b = quantiles.get(name, (None, None))
        t = summarize(rows, thr, b)
        if t is not None:
            t["delta_prev"] = delta(t, (prev or {}).get(name))
            out[name] = t
    return out or None


def threshold_bucket(value: float | None, gamma_ln: float, min_value: float) -> int | None:
    """Bucket of a quantile estimate, with the sketch's key rule (``ceil(log(x) / log(gamma))``)."""
    if value is None:
        return None
    return bucket_of(math.ceil(math.log(value) / gamma_ln) if value > min_value else None)


def attribute_many(requests: list[tuple[Any, Any]], traces: dict[str, Any], gamma_ln: float, n_exemplars: int,
                   min_value: float, waiting: dict[str, tuple[Any, Any]] | None = None,
                   inference: int = 0) -> list[tuple[str, Any]]:
    """:meth:`Tail.add` for each ``(request_complete event, its model-version partial)``, inlined (the hot path).

    ``traces``: the trace join's open traces by request_id (each request's joined
    stage breakdown). Returns ``(request_id, partial)`` of each request that became
    an exemplar candidate of its partial (among its N slowest so far). Same rows
    and exemplars as :meth:`Tail.add` (a unit test compares).

    With ``waiting``, a request whose trace has no event of the ``inference`` kinds (a KindBits mask)
    yet and no error (it completed before its inference: out of order) is not
    attributed but put there by request_id, for the caller to attribute when
    its inference arrives (in the same pass: one trace lookup per request).
    """
    ceil, log, get = math.ceil, math.log, traces.get
    push, replace = heapq.heappush, heapq.heapreplace
    other_sum = 2 + 2 * N_STAGES - 1
    out: list[tuple[str, Any]] = []
    keep = out.append
    for item in requests:
        ev, p = item
        d = ev.__dict__  # pydantic keeps field values here: one lookup each instead of the generic getattr
        rid = d["request_id"]
        tr = get(rid)
        if (waiting is not None and tr is not None and tr.error is None and not tr.kinds & inference
                and d["status"] != "error"):
            waiting[rid] = item
            continue
        total = d["total_ms"]
        t = p.tail
        if t is None:
            t = p.tail = Tail()
        b = (ceil(log(total) / gamma_ln) >> BUCKET_SHIFT) if total > min_value else ZERO_BUCKET
        w = d["sample_weight"]
        if w != 1:  # a request that stands for w (rare: its source sampled by rate): Tail.add, not unrolled
            if t.add(b, total, d["cold_start"], tr.stages if tr is not None else None, rid, n_exemplars, w):
                keep((rid, p))
            continue
        rows = t.rows
        row = rows.get(b)
        if row is None:
            row = rows[b] = [0.0] * ROW
        row[0] += 1
        if d["cold_start"]:
            row[1] += 1
        rest, best, best_ms = total, N_STAGES - 1, -1.0
        if tr is not None and tr.stages:
            sg = tr.stages.get
            # STAGE_SOURCES unrolled: queue, engine_load, h2d, compute, d2h (rows 8..12 hold their sums)
            v = sg("queue_ms")
            if v:
                row[8] += v
                rest -= v
                best, best_ms = 0, v
            v = sg("engine_load_ms")
            if v:
                row[9] += v
                rest -= v
                if v > best_ms:
                    best, best_ms = 1, v
            v = sg("h2d_ms")
            if v:
                row[10] += v
                rest -= v
                if v > best_ms:
                    best, best_ms = 2, v
            v = sg("compute_ms")
            if v:
                row[11] += v
                rest -= v
                if v > best_ms:
                    best, best_ms = 3, v
            v = sg("d2h_ms")
            if v:
                row[12] += v
                rest -= v
                if v > best_ms:
                    best, best_ms = 4, v
        if rest < 0.0:
            rest = 0.0
        row[other_sum] += rest
        if rest > best_ms:
            best = N_STAGES - 1
        row[2 + best] += 1
        if n_exemplars:
            ex = t.exemplars
            if len(ex) < n_exemplars:
                push(ex, (total, rid))
                keep((rid, p))
            else:
                low = ex[0]
                if total > low[0] or (total == low[0] and rid > low[1]):
                    replace(ex, (total, rid))
                    keep((rid, p))
    return out


assert STAGE_SOURCES == ("queue_ms", "engine_load_ms", "h2d_ms", "compute_ms", "d2h_ms") and ROW == 14, \
    "attribute_many unrolls STAGE_SOURCES and the row layout: update it with them"
