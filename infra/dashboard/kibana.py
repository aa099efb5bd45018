"""Kibana saved objects for the production stack, and ``trtlens kibana import``.

``saved_objects(indices)`` builds them (pure): one data view per index family,
one visualization per dashboard panel (TSVB time series for the lines, Vega for
the latency heatmap and the cold-start distributions, which TSVB cannot draw),
and one dashboard ``trtlens`` laying them out. ``kibana/trtlens.ndjson`` in
this package is that list for the default index names (a unit test keeps it
equal to the builder, checks its structure and that every field it names is in
the index templates).

Import: ``POST <kibana>/api/saved_objects/_import?overwrite=true`` with the
NDJSON as a multipart file and ``kbn-xsrf: true`` (Kibana's documented saved
objects import API). Ids are fixed, so importing again overwrites the same
objects: idempotent. docker-compose runs it once at start (service
``kibana-objects``).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid
from importlib import resources
from typing import Any

from trtlens.errors import TrtlensError
from trtlens.settings import IndexSettings

NDJSON_NAME = "trtlens.ndjson"
DASHBOARD_ID = "trtlens-dashboard"

# data view per family: (family attribute, time field)
DATA_VIEWS = {
    "metrics": "window_start_ms",
    "traces": "start_ts_ms",
    "alerts": "window_start_ms",
    "builds": "built_at_ms",
    "layers": "window_start_ms",
}


class KibanaError(TrtlensError):
    """The import failed. Attributes: url (without credentials), status (or None), reason."""

    def __init__(self, url: str, status: int | None, reason: str) -> None:
        self.url = url
        self.status = status
        self.reason = reason
        super().__init__(f"kibana import at {url}: {reason}")


def data_view_id(family: str) -> str:
    return f"trtlens-{family}"


def _data_view(ix: IndexSettings, family: str) -> dict[str, Any]:
    pattern = f"{getattr(ix, family)}-*"
    return {"id": data_view_id(family), "type": "index-pattern", "references": [],
            "attributes": {"title": pattern, "name": f"trtlens {family}", "timeFieldName": DATA_VIEWS[family]}}


def _tsvb(vis_id: str, title: str, ix: IndexSettings, family: str, series: list[dict[str, Any]], *,
          filter_kql: str = "", split_field: str | None = None) -> dict[str, Any]:
    """A TSVB time series; ``series``: [{label, metrics: [{type, field}], formatter}]."""
    out_series = []
    for i, s in enumerate(series):
        metrics = [{"id": f"{vis_id}-m{i}-{j}", **m} for j, m in enumerate(s["metrics"])]
        for m in metrics:  # a calculation's variables name earlier metrics as __M<j>__
            for var in m.get("variables", ()):
                var["field"] = f"{vis_id}-m{i}-{var['field'].strip('_M')}"
        out_series.append({
            "id": f"{vis_id}-s{i}", "label": s["label"], "metrics": metrics,
            "split_mode": "terms" if split_field else "everything",
            **({"terms_field": split_field, "terms_size": "10"} if split_field else {}),
            "chart_type": s.get("chart_type", "line"), "line_width": 2, "point_size": 1, "fill": s.get("fill", 0),
            "formatter": s.get("formatter", "number"), "stacked": s.get("stacked", "none"),
            "axis_position": "right", "color": s.get("color", "#3949ab"),
        })
    params = {
        "id": vis_id, "type": "timeseries", "index_pattern": f"{getattr(ix, family)}-*",
        "time_field": DATA_VIEWS[family], "interval": "auto", "axis_position": "left", "axis_formatter": "number",
        "show_legend": 1, "show_grid": 1, "tooltip_mode": "show_all", "use_kibana_indexes": False,
        "filter": {"query": filter_kql, "language": "kuery"}, "series": out_series,
    }
    vis_state = {"title": title, "type": "metrics", "aggs": [], "params": params}
    return {"id": vis_id, "type": "visualization", "references": [], "attributes": {
        "title": title, "description": "", "visState": json.dumps(vis_state), "uiStateJSON": "{}",
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})}}}


def _vega(vis_id: str, title: str, spec: dict[str, Any]) -> dict[str, Any]:
    vis_state = {"title": title, "type": "vega", "aggs": [], "params": {"spec": json.dumps(spec, indent=1)}}
    return {"id": vis_id, "type": "visualization", "references": [], "attributes": {
        "title": title, "description": "", "visState": json.dumps(vis_state), "uiStateJSON": "{}",
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})}}}


def _heatmap_spec(ix: IndexSettings) -> dict[str, Any]:
    from trtlens.schemas.documents import LATENCY_BUCKET_FIELDS

    sums = {f: {"sum": {"field": f"latency_buckets.{f}"}} for f in LATENCY_BUCKET_FIELDS}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "requests per latency bucket (all model/versions)",
        "data": {"url": {
            "index": f"{ix.metrics}-*", "%context%": True, "%timefield%": "window_start_ms",
            "body": {"size": 0, "aggs": {"t": {
                "date_histogram": {"field": "window_start_ms", "interval": {"%autointerval%": True}, "extended_bounds": {
                    "min": {"%timefilter%": "min"}, "max": {"%timefilter%": "max"}}, "min_doc_count": 0},
                "aggs": sums}}}},
            "format": {"property": "aggregations.t.buckets"}},
        "transform": [
            {"fold": [f"{f}.value" for f in LATENCY_BUCKET_FIELDS], "as": ["bucket", "requests"]},
            {"calculate": "replace(datum.bucket, '.value', '')", "as": "bucket"},
        ],
        "mark": "rect",
        "encoding": {
            "x": {"field": "key", "type": "temporal", "title": "window"},
            "y": {"field": "bucket", "type": "ordinal", "sort": list(reversed(LATENCY_BUCKET_FIELDS)), "title": "latency ≤ ms"},
            "color": {"field": "requests", "type": "quantitative", "scale": {"type": "symlog", "scheme": "reds"}},
            "tooltip": [{"field": "key", "type": "temporal"}, {"field": "bucket"}, {"field": "requests"}],
        },
    }


def _cold_spec(ix: IndexSettings) -> dict[str, Any]:
    from trtlens.schemas.documents import LATENCY_BUCKET_BOUNDS_MS

    ranges = [{"to": LATENCY_BUCKET_BOUNDS_MS[0]}] + [
        {"from": a, "to": b} for a, b in zip(LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKET_BOUNDS_MS[1:])] + [
        {"from": LATENCY_BUCKET_BOUNDS_MS[-1]}]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "cold starts: first-inference latency (ms)",
        "data": {"url": {
            "index": f"{ix.traces}-*", "%context%": True, "%timefield%": "start_ts_ms",
            "body": {"size": 0, "query": {"term": {"cold_start": True}},
                     "aggs": {"r": {"range": {"field": "stages.total_ms", "ranges": ranges}}}}},
            "format": {"property": "aggregations.r.buckets"}},
        "mark": "bar",
        "encoding": {"x": {"field": "key", "type": "ordinal", "sort": None, "title": "ms"},
                     "y": {"field": "doc_count", "type": "quantitative", "title": "cold-start requests"}},
    }


def saved_objects(ix: IndexSettings | None = None) -> list[dict[str, Any]]:
    """Data views, visualizations and the dashboard, in import order (references resolve backwards)."""
    ix = ix or IndexSettings()
    mv = "scope : \"model_version\""
    vis = [
        _tsvb("trtlens-qps", "trtlens: QPS per model/version", ix, "metrics",
              [{"label": "requests", "metrics": [{"type": "sum", "field": "requests"}], "chart_type": "bar", "stacked": "stacked"}],
              filter_kql=mv, split_field="scope_key"),
        _vega("trtlens-latency-heatmap", "trtlens: latency heatmap", _heatmap_spec(ix)),
        _tsvb("trtlens-p99", "trtlens: P99 per model/version (worst window)", ix, "metrics",
              [{"label": "P99 ms", "metrics": [{"type": "max", "field": "latency_ms.p99"}]}], filter_kql=mv, split_field="scope_key"),
        _tsvb("trtlens-p50-p95-p99", "trtlens: P50 / P95 / P99", ix, "metrics",
              [{"label": f"P{q} ms", "metrics": [{"type": "max", "field": f"latency_ms.p{q}"}], "color": c}
               for q, c in ((50, "#43a047"), (95, "#fb8c00"), (99, "#e53935"))], filter_kql=mv),
        _tsvb("trtlens-error-rate", "trtlens: error rate per model/version", ix, "metrics",
              [{"label": "error rate", "formatter": "percent", "metrics": [
                  {"type": "sum", "field": "errors"}, {"type": "sum", "field": "requests"},
                  {"type": "calculation", "script": "params.e / Math.max(params.r, 1)", "variables": [
                      {"name": "e", "field": "__M0__"}, {"name": "r", "field": "__M1__"}]}]}],
              filter_kql=mv, split_field="scope_key"),
        _tsvb("trtlens-cold-start-rate", "trtlens: cold-start rate and frequency", ix, "metrics",
              [{"label": "cold starts", "metrics": [{"type": "sum", "field": "cold_starts"}], "chart_type": "bar"},
               {"label": "P99 first inference ms", "metrics": [{"type": "max", "field": "first_inference_ms.p99"}]},
               {"label": "P99 engine load ms", "metrics": [{"type": "max", "field": "engine_load_ms.p99"}]}],
              filter_kql=mv),
        _vega("trtlens-first-inference", "trtlens: first-inference latency distribution", _cold_spec(ix)),
        _tsvb("trtlens-gpu-memory", "trtlens: GPU memory per worker", ix, "metrics",
              [{"label": "GPU memory", "formatter": "bytes", "metrics": [{"type": "max", "field": "gpu_memory_max_bytes"}]}],
              filter_kql="scope : \"worker\"", split_field="worker_id"),
        _tsvb("trtlens-alerts", "trtlens: alerts fired", ix, "alerts",
              [{"label": "firing", "metrics": [{"type": "count"}], "chart_type": "bar"}],
              filter_kql="state : \"firing\"", split_field="rule_id"),
        _tsvb("trtlens-build-quality", "trtlens: build quality (fusion, INT8 coverage)", ix, "builds",
              [{"label": "fusion rate", "formatter": "percent", "metrics": [{"type": "avg", "field": "fusion_rate"}]},
               {"label": "INT8 coverage", "formatter": "percent", "metrics": [{"type": "avg", "field": "int8_coverage"}]},
               {"label": "peak GPU memory", "formatter": "bytes", "metrics": [{"type": "max", "field": "report.memory.peak_gpu_bytes"}]}]),
        _tsvb("trtlens-layer-hotspots", "trtlens: layer-time share (top layers)", ix, "layers",
              [{"label": "share", "formatter": "percent", "metrics": [{"type": "avg", "field": "share"}]}], split_field="layer"),
    ]
    panels, refs = [], []
    for i, v in enumerate(vis):
        ref = f"panel_{i}"
        panels.append({"version": "8.19.3", "type": "visualization", "panelIndex": str(uuid.uuid5(uuid.NAMESPACE_URL, v["id"])),
                       "gridData": {"x": (i % 2) * 24, "y": (i // 2) * 15, "w": 24, "h": 15, "i": str(uuid.uuid5(uuid.NAMESPACE_URL, v["id"]))},
                       "embeddableConfig": {}, "panelRefName": ref})
        refs.append({"name": ref, "type": "visualization", "id": v["id"]})
    dashboard = {"id": DASHBOARD_ID, "type": "dashboard", "references": refs, "attributes": {
        "title": "trtlens", "description": "QPS and latency heatmap, version comparison, cold starts, GPU memory, alerts, "
        "build quality and layer hotspots (the same panels as `trtlens dashboard`)",
        "panelsJSON": json.dumps(panels), "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
        "timeRestore": True, "timeFrom": "now-1h", "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 10000},
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})}}}
    return [*(_data_view(ix, f) for f in DATA_VIEWS), *vis, dashboard]


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(o, sort_keys=True, ensure_ascii=False) + "\n" for o in objects)


def shipped_ndjson() -> str:
    return resources.files("trtlens.dashboard").joinpath("kibana", NDJSON_NAME).read_text(encoding="utf-8")


def multipart(ndjson: str, *, boundary: str) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{NDJSON_NAME}\"\r\n"
            f"Content-Type: application/ndjson\r\n\r\n{ndjson}\r\n--{boundary}--\r\n").encode()


def import_objects(url: str, ndjson: str, *, space: str | None = None, username: str | None = None,
                   password: str | None = None, api_key: str | None = None, timeout_s: float = 30.0) -> dict[str, Any]:
    """Import (overwrite) the objects; returns Kibana's answer. Raises :class:`KibanaError` unless all succeeded."""
    base = url.rstrip("/") + (f"/s/{space}" if space else "")
    target = f"{base}/api/saved_objects/_import?overwrite=true"
    boundary = "trtlens-" + uuid.uuid4().hex
    req = urllib.request.Request(target, data=multipart(ndjson, boundary=boundary), method="POST", headers={
        "kbn-xsrf": "true", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    if api_key:
        req.add_header("Authorization", f"ApiKey {api_key}")
    elif username:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{username}:{password or ''}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            answer = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise KibanaError(target, exc.code, f"HTTP {exc.code}: {exc.read()[:300].decode('utf-8', 'replace')}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise KibanaError(target, None, f"no answer ({getattr(exc, 'reason', exc)}); is Kibana up at {url}?") from None
    if not answer.get("success"):
        raise KibanaError(target, 200, f"import reported errors: {json.dumps(answer.get('errors'))[:500]}")
    return answer
