"""Second half of the metrics stage (pure): merge per-partition partials into final windows.

Partials arrive keyed by scope (``scope|scope_key``), so every partial of one
scope — all windows, all source partitions — meets in one place, together with
the alert state of that scope. Per window the merge keeps the **newest partial
per source partition** (highest source offset), so replays overwrite.

Closing rule (event time; idleness is declared by the partition's own worker):

* every source partition reports its watermark in heartbeats sent after its
  partials, and ``idle: true`` when its worker has had no records for it for
  ``idle_timeout_ms`` (a partition that never had data is announced idle the same
  way, counted from its assignment);
* the close bound is the **minimum watermark of the non-idle source partitions**;
  a window is final when ``bound >= start + window_ms + grace_ms``;
* a partition not heard from at all (not assigned yet, its worker restarting,
  a rebalance in progress) **holds windows open** — silence is not idleness, so
  a rebalance never closes a window early;
* when **all** source partitions are idle (end of input, a pause in traffic),
  every open window is flushed as final. Data that arrives later for an emitted
  window re-emits it (same document id, updated values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from trtlens.schemas.documents import LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKET_FIELDS, GpuMemory, Quantiles, WindowMetric
from trtlens.streams.metrics.attribution import attribution_of, merge_tails, threshold_bucket
from trtlens.streams.metrics.config import MetricsConfig
from trtlens.streams.metrics.sketch import MIN_VALUE, DDSketch
from trtlens.streams.metrics.windows import close_at

QS = (0.5, 0.9, 0.95, 0.99)


def quantiles_of(sk: DDSketch | None) -> Quantiles:
    """Count, min, max, mean and quantiles of a sketch (weighted: of the population; count rounded)."""
    if sk is None or not sk.count:
        return Quantiles()
    p50, p90, p95, p99 = sk.quantiles(QS)
    return Quantiles(count=round(sk.count), min=sk.min, max=sk.max, mean=sk.sum / sk.count, p50=p50, p90=p90,
                     p95=p95, p99=p99)


def buckets_of(sk: DDSketch | None) -> dict[str, int]:
    """The window's fixed latency buckets (every field, zeros included; empty without requests; weighted: rounded)."""
    if sk is None or not sk.count:
        return {}
    return dict(zip(LATENCY_BUCKET_FIELDS, map(round, sk.bucket_counts(LATENCY_BUCKET_BOUNDS_MS))))


def _merge_sketch(into: DDSketch | None, d: dict | None) -> DDSketch | None:
    if not d:
        return into
    sk = DDSketch.from_dict(d)
    if into is None:
        return sk
    into.merge(sk)
    return into


def merge_partials(partials: list[dict[str, Any]], config: MetricsConfig, *, final: bool,
                   prev_attribution: dict[str, Any] | None = None) -> WindowMetric:
    """One WindowMetric from the partials (dicts) of one (scope, window), all partitions.

    Tail attribution rows and exemplars merge too (``metrics/attribution.py``):
    the tail is cut at the merged sketch's P99 / P95; ``prev_attribution`` (the
    previous window's of the same scope) gives ``delta_prev``.

    Partials are combined in partition order, not arrival order: float sums (the
    sketch's ``sum``, hence ``mean``) then come out bit-identical however many
    workers produced them and whichever reached the merge first, so a backfill
    reproduces the live run's documents exactly.

    Counts are the estimates of the traffic the events stand for (each request
    counted ``sample_weight`` times: ``extra_*`` of the partials, ``metrics/core.py``),
    rounded to whole requests in the document; QPS and the rates come from the
    unrounded estimates. ``sampled_requests`` counts the requests seen. Without
    weighted requests every figure is the exact integer count."""
    partials = sorted(partials, key=lambda p: p["partition"])
    first = partials[0]
    requests = errors = cold = late = 0
    seen = 0
    lat = fi = el = None
    mem: int | None = None
    util: float | None = None
    model = version = worker = None
    engines: set[str] = set()
    tails: list[dict[str, Any]] = []
    gpus: dict[int, list[int]] = {}
    for p in partials:
        engines.update(p.get("engines") or ())
        if p.get("tail"):
            tails.append(p["tail"])
        for g in p.get("gpus") or ():
            cur = gpus.get(g[0])
            if cur is None:
                gpus[g[0]] = [g[1], g[2]]
            else:
                cur[0], cur[1] = max(cur[0], g[1]), max(cur[1], g[2])
        seen += p["requests"]
        if "extra_requests" in p:  # weighted requests seen
            requests += p["requests"] + p["extra_requests"]
            errors += p["errors"] + p["extra_errors"]
            cold += p["cold_starts"] + p["extra_cold_starts"]
        else:
            requests += p["requests"]
            errors += p["errors"]
            cold += p["cold_starts"]
        late += p["late_events"]
        lat = _merge_sketch(lat, p.get("latency"))
        fi = _merge_sketch(fi, p.get("first_inference"))
        el = _merge_sketch(el, p.get("engine_load"))
        if p.get("gpu_memory_max_bytes") is not None:
            mem = max(mem or 0, p["gpu_memory_max_bytes"])
        if p.get("gpu_utilization_max_pct") is not None:
            util = max(util or 0.0, p["gpu_utilization_max_pct"])
        model = model or p.get("model")
        version = version or p.get("model_version")
        worker = worker or p.get("worker_id")
    window_ms = first["window_ms"]
    latency = quantiles_of(lat)
    attribution = None
    exemplars: list[str] = []
    if tails:
        rows, exemplars = merge_tails(tails, config.exemplars)
        g_ln = lat._gamma_ln if lat is not None else 0.0
        cuts = {"p99": (latency.p99, threshold_bucket(latency.p99, g_ln, MIN_VALUE)),
                "p95": (latency.p95, threshold_bucket(latency.p95, g_ln, MIN_VALUE))} if lat is not None else {}
        attribution = attribution_of(rows, cuts, prev_attribution)
    return WindowMetric(
        scope=first["scope"],
        scope_key=first["scope_key"],
        model=model,
        model_version=version,
        worker_id=worker,
        window_start_ms=first["window_start_ms"],
        window_ms=window_ms,
        final=final,
        requests=round(requests),
        sampled_requests=seen,
        qps=requests * 1000.0 / window_ms,
        errors=round(errors),
        error_rate=errors / requests if requests else 0.0,
        cold_starts=round(cold),
        cold_start_rate=cold / requests if requests else 0.0,
        latency_ms=latency,
        first_inference_ms=quantiles_of(fi),
        engine_load_ms=quantiles_of(el),
        gpu_memory_max_bytes=mem,
        gpu_utilization_max_pct=util,
        late_events=late,
        partitions=sorted(p["partition"] for p in partials),
        engines=sorted(engines),
        attribution=attribution,  # type: ignore[arg-type]
        exemplars=exemplars,
        gpus=[GpuMemory(gpu_index=i, memory_used_max_bytes=u, memory_total_bytes=t) for i, (u, t) in sorted(gpus.items())],
        sketch=lat.to_dict() if (lat is not None and config.include_sketch) else None,
        latency_buckets=buckets_of(lat),
    )


def merge_windows(metrics: list[WindowMetric], window_ms: int) -> WindowMetric:
    """A longer window from shorter final windows of one scope (sketches merge; counts add).

    Needs the stored ``sketch`` of each input for the latency quantiles; the
    first-inference and engine-load quantiles keep only count/min/max.
    """
    if not metrics:
        raise ValueError("no windows to merge")
    start = min(m.window_start_ms for m in metrics)
    if any(m.window_start_ms + m.window_ms > start + window_ms for m in metrics):
        raise ValueError("an input window lies outside the merged window")
    if any((m.scope, m.scope_key) != (metrics[0].scope, metrics[0].scope_key) for m in metrics):
        raise ValueError("windows of different scopes")
    lat: DDSketch | None = None
    for m in metrics:
        if m.latency_ms.count and m.sketch is None:
            raise ValueError(f"window {m.doc_id} has no stored sketch")
        lat = _merge_sketch(lat, m.sketch)
    req = sum(m.requests for m in metrics)  # (weighted windows: sums of their rounded estimates)
    err = sum(m.errors for m in metrics)
    cold = sum(m.cold_starts for m in metrics)
    mems = [m.gpu_memory_max_bytes for m in metrics if m.gpu_memory_max_bytes is not None]
    first = metrics[0]
    return WindowMetric(
        scope=first.scope, scope_key=first.scope_key, model=first.model, model_version=first.model_version,
        worker_id=first.worker_id, window_start_ms=start, window_ms=window_ms, final=all(m.final for m in metrics),
        requests=req, sampled_requests=sum(m.sampled_requests for m in metrics), qps=req * 1000.0 / window_ms, errors=err, error_rate=err / req if req else 0.0,
        cold_starts=cold, cold_start_rate=cold / req if req else 0.0, latency_ms=quantiles_of(lat),
        gpu_memory_max_bytes=max(mems) if mems else None, late_events=sum(m.late_events for m in metrics),
        partitions=sorted({p for m in metrics for p in m.partitions}),
        sketch=lat.to_dict() if lat is not None else None,
        latency_buckets=buckets_of(lat),
    )


@dataclass(slots=True)
class MergeWindow:
    partials: dict[int, dict[str, Any]] = field(default_factory=dict)
    emitted: bool = False
    changed: bool = False

    def put(self, partial: dict[str, Any]) -> bool:
        p = partial["partition"]
        old = self.partials.get(p)
        if old is not None and old["offset"] > partial["offset"]:
            return False  # an older replayed partial: keep the newer one
        if old == partial:
            return False
        self.partials[p] = partial
        self.changed = True
        return True


@dataclass(slots=True)
class SourceWatermark:
    watermark_ms: int
    idle: bool = False


def close_bound(watermarks: dict[int, SourceWatermark], source_partitions: int) -> float:
    """Event-time bound up to which windows may close (``-inf`` = wait, ``inf`` = all idle: flush)."""
    active: list[int] = []
    for p in range(source_partitions):
        wm = watermarks.get(p)
        if wm is None:
            return -math.inf  # not heard from: its worker may be starting or rebalancing
        if not wm.idle:
            active.append(wm.watermark_ms)
    if not active:
        return math.inf
    return min(active)


def ready_to_close(window_start_ms: int, bound: float, config: MetricsConfig) -> bool:
    return bound >= close_at(window_start_ms, config.window_ms, config.grace_ms)


def retention_bound(watermarks: dict[int, SourceWatermark], source_partitions: int) -> float:
    """Event-time bound up to which merged windows may be forgotten (``-inf`` = keep everything).

    The slowest active source decides, as for closing: a source partition that
    lags (its worker took it over later, a backfill with skewed partitions) still
    sends partials for windows the others left behind long ago, and those must
    find their window. Only when every source is idle does the newest watermark
    decide (nothing is on its way then)."""
    bound = close_bound(watermarks, source_partitions)
    if bound == math.inf:
        return max((w.watermark_ms for w in watermarks.values()), default=-math.inf)
    return bound


def expired(window_start_ms: int, bound_ms: float, config: MetricsConfig) -> bool:
    """A window no source partition can still send data for (``bound_ms`` from :func:`retention_bound`)."""
    return bound_ms >= close_at(window_start_ms, config.window_ms, config.grace_ms) + config.late_retention_ms
