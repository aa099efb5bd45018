"""Query bodies and response shapes of the dashboard's panels (pure: no I/O, no clock).

Every body is time-filtered (``time_filter``) and bounded: aggregations with a
capped number of buckets, or searches with a capped ``size`` and a ``_source``
list. Only aggregations the embedded store answers are used (terms,
date_histogram, sum/max/avg, range; checked against osmem 0.1.6) so one code
path serves osmem and Elasticsearch.

Interval choice: the date histogram's interval is the smallest "nice" interval
that is at least the windows' own length and gives at most ``max_buckets``
columns. Per interval and model/version: ``requests``, ``errors`` and
``cold_starts`` are sums (QPS = requests / interval, rates = sum / sum, exact);
P50/P95/P99 are the **worst window's** in the interval (exact when the
interval is one window long; percentiles of different windows cannot be added).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from trtlens.schemas.documents import LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKET_FIELDS

NICE_INTERVALS_MS = (
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
    1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000, 604_800_000,
)
STAGE_ORDER = ("queue_ms", "engine_load_ms", "h2d_ms", "compute_ms", "d2h_ms")


def pick_interval_ms(from_ms: int, to_ms: int, *, window_ms: int | None, max_buckets: int) -> int:
    """The smallest nice interval >= ``window_ms`` giving at most ``max_buckets`` columns."""
    span = max(1, to_ms - from_ms)
    floor = max(1_000, window_ms or 0)
    for iv in NICE_INTERVALS_MS:
        if iv >= floor and span / iv <= max_buckets:
            return iv
    return max(floor, -(-span // max_buckets))


def time_filter(field: str, from_ms: int, to_ms: int) -> dict[str, Any]:
    return {"range": {field: {"gte": from_ms, "lt": to_ms, "format": "epoch_millis"}}}


def metric_filters(from_ms: int, to_ms: int, *, scope: str, model: str | None) -> list[dict[str, Any]]:
    out = [time_filter("window_start_ms", from_ms, to_ms), {"term": {"scope": scope}}]
    if model:
        out.append({"term": {"model": model}})
    return out


def _hist(interval_ms: int, from_ms: int, to_ms: int, field: str = "window_start_ms") -> dict[str, Any]:
    return {
        "field": field,
        "fixed_interval": f"{interval_ms}ms",
        "min_doc_count": 0,
        "extended_bounds": {"min": from_ms, "max": max(from_ms, to_ms - 1)},
    }


# ------------------------------------------------------------------ meta


def meta_body(from_ms: int, to_ms: int) -> dict[str, Any]:
    """Models and versions with windows in the range, and the longest window length there."""
    return {
        "size": 0,
        "query": {"bool": {"filter": metric_filters(from_ms, to_ms, scope="model_version", model=None)}},
        "aggs": {
            "models": {"terms": {"field": "model", "size": 100}, "aggs": {
                "versions": {"terms": {"field": "model_version", "size": 100}}}},
            "window_ms": {"max": {"field": "window_ms"}},
            "first": {"min": {"field": "window_start_ms"}},
            "last": {"max": {"field": "window_start_ms"}},
        },
    }


def shape_meta(resp: Mapping[str, Any]) -> dict[str, Any]:
    aggs = resp.get("aggregations") or {}
    models = {
        b["key"]: sorted(v["key"] for v in b["versions"]["buckets"]) for b in aggs.get("models", {}).get("buckets", [])
    }
    return {
        "models": dict(sorted(models.items())),
        "window_ms": _int(aggs.get("window_ms", {}).get("value")),
        "first_window_ms": _int(aggs.get("first", {}).get("value")),
        "last_window_ms": _int(aggs.get("last", {}).get("value")),
    }


# ------------------------------------------------------------------ traffic, versions, cold starts (windows)


def traffic_body(from_ms: int, to_ms: int, interval_ms: int, *, model: str | None, series: int = 50) -> dict[str, Any]:
    sums = {name: {"sum": {"field": name}} for name in ("requests", "errors", "cold_starts")}
    worst = {f"p{q}": {"max": {"field": f"latency_ms.p{q}"}} for q in (50, 95, 99)}
    buckets = {f"b_{name}": {"sum": {"field": f"latency_buckets.{name}"}} for name in LATENCY_BUCKET_FIELDS}
    extra = {
        "fi_p50": {"max": {"field": "first_inference_ms.p50"}},
        "fi_p99": {"max": {"field": "first_inference_ms.p99"}},
        "el_p99": {"max": {"field": "engine_load_ms.p99"}},
    }
    return {
        "size": 0,
        "query": {"bool": {"filter": metric_filters(from_ms, to_ms, scope="model_version", model=model)}},
        "aggs": {"series": {"terms": {"field": "scope_key", "size": series}, "aggs": {
            "t": {"date_histogram": _hist(interval_ms, from_ms, to_ms), "aggs": {**sums, **worst, **buckets, **extra}},
        }}},
    }


def _val(agg: Mapping[str, Any] | None) -> float | None:
    return None if not agg else agg.get("value")


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def shape_traffic(resp: Mapping[str, Any], interval_ms: int) -> dict[str, Any]:
    """Per model/version: one point per interval (QPS, rates, worst P50/P95/P99) and the heatmap matrix."""
    out: dict[str, Any] = {
        "interval_ms": interval_ms,
        "bounds_ms": list(LATENCY_BUCKET_BOUNDS_MS),
        "bucket_fields": list(LATENCY_BUCKET_FIELDS),
        "series": {},
    }
    for s in (resp.get("aggregations") or {}).get("series", {}).get("buckets", []):
        points, heat = [], []
        for b in s["t"]["buckets"]:
            req = int(_val(b["requests"]) or 0)
            err = int(_val(b["errors"]) or 0)
            cold = int(_val(b["cold_starts"]) or 0)
            points.append({
                "t": int(b["key"]),
                "windows": b["doc_count"],
                "requests": req,
                "qps": req * 1000.0 / interval_ms,
                "errors": err,
                "error_rate": err / req if req else None,
                "cold_starts": cold,
                "cold_start_rate": cold / req if req else None,
                "p50": _val(b["p50"]), "p95": _val(b["p95"]), "p99": _val(b["p99"]),
                "first_inference_p50": _val(b["fi_p50"]), "first_inference_p99": _val(b["fi_p99"]),
                "engine_load_p99": _val(b["el_p99"]),
            })
            heat.append([int(_val(b[f"b_{name}"]) or 0) for name in LATENCY_BUCKET_FIELDS])
        out["series"][s["key"]] = {"points": points, "heatmap": heat}
    out["series"] = dict(sorted(out["series"].items()))
    return out


def attribution_body(from_ms: int, to_ms: int, *, model: str | None, size: int = 200, indexed: bool = True) -> dict[str, Any]:
    """The newest windows that carry tail attribution (the streams' explain stage writes it).

    ``indexed``: filter on ``attribution.p99.threshold_ms`` (where the template maps it); otherwise the
    newest ``size`` windows, and :func:`shape_attribution` keeps those that carry it."""
    flt = metric_filters(from_ms, to_ms, scope="model_version", model=model)
    if indexed:
        flt = [*flt, {"exists": {"field": "attribution.p99.threshold_ms"}}]
    return {
        "size": size,
        "sort": [{"window_start_ms": "desc"}],
        "_source": ["scope_key", "window_start_ms", "window_ms", "attribution", "exemplars", "engines"],
        "query": {"bool": {"filter": flt}},
    }


def shape_attribution(resp: Mapping[str, Any]) -> dict[str, Any]:
    """Newest attribution per model/version, with its window."""
    out: dict[str, Any] = {}
    for hit in (resp.get("hits") or {}).get("hits", []):
        src = hit.get("_source") or {}
        key = src.get("scope_key")
        if key and key not in out and src.get("attribution"):
            out[key] = {k: src.get(k) for k in ("window_start_ms", "window_ms", "attribution", "exemplars", "engines")}
    return dict(sorted(out.items()))


# ------------------------------------------------------------------ cold starts (traces)


def cold_distribution_body(from_ms: int, to_ms: int, *, model: str | None) -> dict[str, Any]:
    """First-inference (total) and engine-load latency of the cold-start traces, in the fixed buckets.

    Tail sampling keeps every cold start, so these traces are all of them."""
    ranges = [{"key": LATENCY_BUCKET_FIELDS[0], "to": LATENCY_BUCKET_BOUNDS_MS[0]}]
    for i in range(1, len(LATENCY_BUCKET_BOUNDS_MS)):
        ranges.append({"key": LATENCY_BUCKET_FIELDS[i], "from": LATENCY_BUCKET_BOUNDS_MS[i - 1], "to": LATENCY_BUCKET_BOUNDS_MS[i]})
    ranges.append({"key": "le_inf", "from": LATENCY_BUCKET_BOUNDS_MS[-1]})
    flt = [time_filter("start_ts_ms", from_ms, to_ms), {"term": {"cold_start": True}}]
    if model:
        flt.append({"term": {"model": model}})
    return {
        "size": 0,
        "query": {"bool": {"filter": flt}},
        "aggs": {
            "first_inference": {"range": {"field": "stages.total_ms", "ranges": ranges}},
            "engine_load": {"range": {"field": "stages.engine_load_ms", "ranges": ranges}},
            "per_version": {"terms": {"field": "model_version", "size": 50}},
        },
    }


def shape_cold_distribution(resp: Mapping[str, Any]) -> dict[str, Any]:
    aggs = resp.get("aggregations") or {}

    def counts(name: str) -> list[int]:
        by_key = {b["key"]: b["doc_count"] for b in aggs.get(name, {}).get("buckets", [])}
        return [int(by_key.get(k, 0)) for k in LATENCY_BUCKET_FIELDS]

    return {
        "bounds_ms": list(LATENCY_BUCKET_BOUNDS_MS),
        "cold_start_traces": (resp.get("hits") or {}).get("total", {}).get("value", 0),
        "first_inference": counts("first_inference"),
        "engine_load": counts("engine_load"),
        "note": "ranges are [lower, upper) ms; cold-start traces are always stored by the tail sampler",
    }


# ------------------------------------------------------------------ GPU memory


def gpu_body(from_ms: int, to_ms: int, interval_ms: int) -> dict[str, Any]:
    return {
        "size": 0,
        "query": {"bool": {"filter": [*metric_filters(from_ms, to_ms, scope="worker", model=None),
                                      {"exists": {"field": "gpu_memory_max_bytes"}}]}},
        "aggs": {"workers": {"terms": {"field": "worker_id", "size": 64}, "aggs": {
            "t": {"date_histogram": {"field": "window_start_ms", "fixed_interval": f"{interval_ms}ms", "min_doc_count": 1}, "aggs": {
                "mem": {"max": {"field": "gpu_memory_max_bytes"}},
                "util": {"max": {"field": "gpu_utilization_max_pct"}},
            }},
        }}},
    }


def linear_fit(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares ``(slope, intercept)`` of y over x; None with fewer than two distinct x."""
    n = len(points)
    if n < 2:
        return None
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx == 0:
        return None
    slope = sum((p[0] - mx) * (p[1] - my) for p in points) / sxx
    return slope, my - slope * mx


def shape_gpu(resp: Mapping[str, Any], *, to_ms: int, horizon_ms: int, threshold_bytes: int | None) -> dict[str, Any]:
    """Per worker (its GPU): max memory per interval, a linear trend and where it points at ``to + horizon``."""
    workers: dict[str, Any] = {}
    for w in (resp.get("aggregations") or {}).get("workers", {}).get("buckets", []):
        pts = [{"t": int(b["key"]), "bytes": _val(b["mem"]), "util_pct": _val(b["util"])}
               for b in w["t"]["buckets"] if _val(b["mem"]) is not None]
        fit = linear_fit([(p["t"], p["bytes"]) for p in pts])
        trend = None
        if fit is not None:
            slope, icpt = fit
            at = to_ms + horizon_ms
            crossing = None
            if threshold_bytes and slope > 0:
                crossing = int((threshold_bytes - icpt) / slope)
            trend = {
                "slope_bytes_per_s": slope * 1000.0,
                "from": {"t": pts[0]["t"], "bytes": slope * pts[0]["t"] + icpt},
                "to": {"t": at, "bytes": slope * at + icpt},
                "crosses_threshold_at_ms": crossing,
            }
        workers[w["key"]] = {"points": pts, "trend": trend}
    return {"threshold_bytes": threshold_bytes, "horizon_ms": horizon_ms, "workers": dict(sorted(workers.items()))}


# ------------------------------------------------------------------ alerts, exemplars, traces


def alerts_body(from_ms: int, to_ms: int, *, model: str | None, size: int) -> dict[str, Any]:
    flt: list[dict[str, Any]] = [time_filter("window_start_ms", from_ms, to_ms)]
    if model:
        flt.append({"bool": {"should": [{"prefix": {"scope_key": f"{model}/"}}, {"term": {"scope_key": model}},
                                        {"term": {"scope": "all"}}, {"term": {"scope": "worker"}}],
                             "minimum_should_match": 1}})
    return {"size": size, "sort": [{"window_start_ms": "asc"}], "query": {"bool": {"filter": flt}}}


def window_id(alert: Mapping[str, Any]) -> str:
    """The ``_id`` of the window an alert was raised on (``WindowMetric.doc_id``)."""
    return f"{alert['scope']}:{alert['scope_key']}:{alert['window_start_ms']}:{alert['window_ms']}"


def windows_by_id_body(ids: list[str], from_ms: int, to_ms: int) -> dict[str, Any]:
    return {
        "size": len(ids),
        "_source": ["scope", "scope_key", "model", "model_version", "window_start_ms", "window_ms", "exemplars",
                    "attribution", "engines"],
        "query": {"bool": {"filter": [{"ids": {"values": ids}}, time_filter("window_start_ms", from_ms, to_ms)]}},
    }


def slowest_traces_body(window: Mapping[str, Any], *, size: int) -> dict[str, Any]:
    """The slowest stored traces of one window: exemplars where the window names none."""
    start = int(window["window_start_ms"])
    flt: list[dict[str, Any]] = [time_filter("start_ts_ms", start, start + int(window["window_ms"]))]
    scope, key = window.get("scope"), window.get("scope_key", "")
    if scope == "model_version" and "/" in key:
        model, version = key.rsplit("/", 1)
        flt += [{"term": {"model": model}}, {"term": {"model_version": version}}]
    elif scope == "worker":
        flt.append({"term": {"worker_id": key}})
    return {"size": size, "sort": [{"stages.total_ms": {"order": "desc", "missing": "_last"}}],
            "_source": ["request_id", "stages.total_ms", "status", "cold_start"], "query": {"bool": {"filter": flt}}}


def trace_body(request_id: str, from_ms: int, to_ms: int) -> dict[str, Any]:
    return {"size": 1, "query": {"bool": {"filter": [
        {"term": {"request_id": request_id}}, time_filter("start_ts_ms", from_ms, to_ms)]}}}


def waterfall(trace: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One request's stages laid end to end: ``[{stage, start_ms, duration_ms}]`` (offsets from the start).

    The worker's split stages (host→device, compute, device→host) are shown where
    present; otherwise ``inference_ms`` stands for them."""
    stages = trace.get("stages") or {}
    order = list(STAGE_ORDER)
    if not any(stages.get(k) for k in ("h2d_ms", "compute_ms", "d2h_ms")):
        order = ["queue_ms", "engine_load_ms", "inference_ms"]
    out, at = [], 0.0
    for name in order:
        d = stages.get(name)
        if d:
            out.append({"stage": name.removesuffix("_ms"), "start_ms": at, "duration_ms": float(d)})
            at += float(d)
    total = stages.get("total_ms")
    if total and total > at + 1e-9:
        out.append({"stage": "other", "start_ms": at, "duration_ms": float(total) - at})
    return out


# ------------------------------------------------------------------ builds, layers


def builds_body(from_ms: int, to_ms: int, *, model: str | None, size: int) -> dict[str, Any]:
    """Build documents in the range: either time field (``built_at_ms`` or ``@timestamp``)."""
    flt: list[dict[str, Any]] = [{"bool": {"should": [time_filter("built_at_ms", from_ms, to_ms),
                                                       time_filter("@timestamp", from_ms, to_ms)],
                                           "minimum_should_match": 1}}]
    if model:
        flt.append({"bool": {"should": [{"term": {"model": model}}, {"term": {"report.model": model}}],
                             "minimum_should_match": 1}})
    return {"size": size, "sort": [{"built_at_ms": {"order": "asc", "missing": "_last", "unmapped_type": "date"}}],
            "_source": {"excludes": ["report.layers", "report.calibration", "report.tactic_timings",
                                     "report.quantization_scales", "report.diagnostics"]},
            "query": {"bool": {"filter": flt}}}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def build_row(doc_id: str, src: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of one build document, whichever shape it has (per-build documents carry them at the
    top level, per-engine build reports inside ``report``)."""
    report = src.get("report") or {}
    memory = src.get("memory") or report.get("memory") or {}
    fallbacks = src.get("fallbacks", src.get("plugin_fallbacks", report.get("plugin_fallbacks")))
    built = src.get("built_at_ms") or src.get("@timestamp")
    if isinstance(built, str):
        import datetime as _dt

        built = int(_dt.datetime.fromisoformat(built.replace("Z", "+00:00")).timestamp() * 1000)
    return {
        "id": doc_id,
        "engine_id": src.get("engine_id"),
        "model": src.get("model") or report.get("model"),
        "model_version": src.get("model_version") or report.get("model_version"),
        "built_at_ms": _int(built),
        "fusion_rate": _num(src.get("fusion_rate")),
        "int8_coverage": _num(src.get("int8_coverage")),
        "fallbacks": len(fallbacks) if isinstance(fallbacks, list) else _num(fallbacks),
        "fallback_names": fallbacks if isinstance(fallbacks, list) else [],
        "peak_memory_bytes": _num(memory.get("peak_gpu_bytes") if isinstance(memory, Mapping) else memory),
        "engine_bytes": _num(memory.get("engine_bytes")) if isinstance(memory, Mapping) else None,
        "trt_version": src.get("trt_version") or report.get("trt_version"),
        "precisions": src.get("precisions") or report.get("precisions") or [],
        "layers_after": src.get("layers_after") or report.get("layers_after"),
        "passed": src.get("passed"),
        "diff_prev": src.get("diff_prev"),
    }


DIFF_FIGURES = ("fusion_rate", "int8_coverage", "fallbacks", "peak_memory_bytes", "engine_bytes", "layers_after")


def diff_rows(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Figure by figure, old → new, with the change; fallbacks gained and lost by name."""
    figures = []
    for name in DIFF_FIGURES:
        a, b = old.get(name), new.get(name)
        change = b - a if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
        pct = change / a * 100.0 if change is not None and a else None
        figures.append({"figure": name, "old": a, "new": b, "change": change, "change_pct": pct})
    oldf, newf = set(old.get("fallback_names") or []), set(new.get("fallback_names") or [])
    return {
        "old": old.get("id"), "new": new.get("id"), "figures": figures,
        "fallbacks_added": sorted(newf - oldf), "fallbacks_removed": sorted(oldf - newf),
        "versions": {"old": old.get("trt_version"), "new": new.get("trt_version")},
        "stored_diff_prev": new.get("diff_prev"),
    }


def layers_body(from_ms: int, to_ms: int, *, model: str | None, top: int) -> dict[str, Any]:
    """Layers by their mean share of the request's GPU time, heaviest first."""
    flt = [time_filter("window_start_ms", from_ms, to_ms)]
    if model:
        flt.append({"term": {"model": model}})
    return {
        "size": 0,
        "query": {"bool": {"filter": flt}},
        "aggs": {"layers": {"terms": {"field": "layer", "size": top, "order": {"share": "desc"}}, "aggs": {
            "share": {"avg": {"field": "share"}},
            "mean_ms": {"avg": {"field": "mean_ms"}},
            "p99_ms": {"max": {"field": "p99_ms"}},
            "count": {"sum": {"field": "count"}},
            "type": {"terms": {"field": "layer_type", "size": 1}},
            "engines": {"terms": {"field": "engine_id", "size": 5}},
        }}},
    }


def shape_layers(resp: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for b in (resp.get("aggregations") or {}).get("layers", {}).get("buckets", []):
        types = b["type"]["buckets"]
        rows.append({
            "layer": b["key"], "layer_type": types[0]["key"] if types else None, "windows": b["doc_count"],
            "share": _val(b["share"]), "mean_ms": _val(b["mean_ms"]), "p99_ms": _val(b["p99_ms"]),
            "count": int(_val(b["count"]) or 0), "engines": [e["key"] for e in b["engines"]["buckets"]],
        })
    return rows


def hits_sources(resp: Mapping[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for hit in (resp.get("hits") or {}).get("hits", []):
        yield hit.get("_id"), hit.get("_source") or {}


# ------------------------------------------------------------------ the same answers from fetched window documents
# The embedded store computes aggregations ~6x slower than it returns the documents (measured by
# `trtlens bench dashboard`), so a range holding few enough windows is fetched and aggregated here,
# into the very response shape the store's aggregation has: one shaping path, the same numbers.

WINDOW_SOURCE = ["scope", "scope_key", "model", "model_version", "worker_id", "window_start_ms", "window_ms",
                 "requests", "errors", "cold_starts", "latency_ms.p50", "latency_ms.p95", "latency_ms.p99",
                 "first_inference_ms.p50", "first_inference_ms.p99", "engine_load_ms.p99", "latency_buckets",
                 "gpu_memory_max_bytes", "gpu_utilization_max_pct"]


def windows_body(from_ms: int, to_ms: int, *, scopes: tuple[str, ...], size: int,
                 search_after: list | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "size": size, "track_total_hits": True, "_source": WINDOW_SOURCE,
        "sort": [{"window_start_ms": "asc"}, {"scope_key": "asc"}],
        "query": {"bool": {"filter": [time_filter("window_start_ms", from_ms, to_ms), {"terms": {"scope": list(scopes)}}]}},
    }
    if search_after is not None:
        body["search_after"] = search_after
    return body


def _get(doc: Mapping[str, Any], dotted: str) -> Any:
    cur: Any = doc
    for part in dotted.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _hist_keys(from_ms: int, to_ms: int, interval_ms: int) -> list[int]:
    first = from_ms // interval_ms * interval_ms
    last = (max(from_ms, to_ms - 1)) // interval_ms * interval_ms
    return list(range(first, last + 1, interval_ms))


def _agg_bucket(key: int, docs: list[Mapping[str, Any]], sums: Mapping[str, str], maxes: Mapping[str, str]) -> dict[str, Any]:
    b: dict[str, Any] = {"key": key, "doc_count": len(docs)}
    for name, field in sums.items():
        b[name] = {"value": float(sum(_get(d, field) or 0 for d in docs))}
    for name, field in maxes.items():
        vals = [v for d in docs if (v := _get(d, field)) is not None]
        b[name] = {"value": max(vals) if vals else None}
    return b


def traffic_response(docs: Iterable[Mapping[str, Any]], from_ms: int, to_ms: int, interval_ms: int, *,
                     model: str | None) -> dict[str, Any]:
    """What :func:`traffic_body`'s aggregation answers, computed from the window documents."""
    sums = {"requests": "requests", "errors": "errors", "cold_starts": "cold_starts",
            **{f"b_{n}": f"latency_buckets.{n}" for n in LATENCY_BUCKET_FIELDS}}
    maxes = {"p50": "latency_ms.p50", "p95": "latency_ms.p95", "p99": "latency_ms.p99",
             "fi_p50": "first_inference_ms.p50", "fi_p99": "first_inference_ms.p99", "el_p99": "engine_load_ms.p99"}
    by: dict[str, dict[int, list]] = {}
    for d in docs:
        if d.get("scope") != "model_version" or (model and d.get("model") != model):
            continue
        by.setdefault(d["scope_key"], {}).setdefault(int(d["window_start_ms"]) // interval_ms * interval_ms, []).append(d)
    keys = _hist_keys(from_ms, to_ms, interval_ms)
    series = [{"key": k, "doc_count": sum(map(len, cols.values())),
               "t": {"buckets": [_agg_bucket(t, cols.get(t, []), sums, maxes) for t in keys]}}
              for k, cols in by.items()]
    series.sort(key=lambda s: (-s["doc_count"], s["key"]))
    return {"aggregations": {"series": {"buckets": series[:50]}}}


def meta_response(docs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    models: dict[str, set[str]] = {}
    starts, lengths = [], []
    for d in docs:
        if d.get("scope") != "model_version":
            continue
        if d.get("model"):
            models.setdefault(d["model"], set()).add(d.get("model_version"))
        starts.append(int(d["window_start_ms"]))
        lengths.append(int(d["window_ms"]))
    return {"aggregations": {
        "models": {"buckets": [{"key": m, "versions": {"buckets": [{"key": v} for v in vs if v]}} for m, vs in models.items()]},
        "window_ms": {"value": max(lengths) if lengths else None},
        "first": {"value": min(starts) if starts else None}, "last": {"value": max(starts) if starts else None}}}


def gpu_response(docs: Iterable[Mapping[str, Any]], interval_ms: int) -> dict[str, Any]:
    by: dict[str, dict[int, list]] = {}
    for d in docs:
        if d.get("scope") == "worker" and d.get("gpu_memory_max_bytes") is not None and d.get("worker_id"):
            by.setdefault(d["worker_id"], {}).setdefault(int(d["window_start_ms"]) // interval_ms * interval_ms, []).append(d)
    maxes = {"mem": "gpu_memory_max_bytes", "util": "gpu_utilization_max_pct"}
    return {"aggregations": {"workers": {"buckets": [
        {"key": w, "t": {"buckets": [_agg_bucket(t, cols[t], {}, maxes) for t in sorted(cols)]}} for w, cols in by.items()]}}}
