"""The dashboard's data endpoints: one method per panel, each a bounded, time-filtered store query.

``DashboardData(settings).panel(name, params)`` answers the JSON a panel draws
(the HTTP server and ``trtlens report`` both call it). Query bodies and
response shapes are pure functions in :mod:`trtlens.dashboard.queries`.
Missing indices answer empty panels, never errors (a fresh stack has none).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trtlens.dashboard import queries as q
from trtlens.dashboard.config import DashboardSettings
from trtlens.errors import TrtlensError
from trtlens.settings import Settings

log = logging.getLogger(__name__)

CACHE_S = 2.0
WINDOW_PAGE = 5_000
CACHE_ENTRIES = 64
PANELS = ("meta", "traffic", "versions", "coldstarts", "gpu", "alerts", "builds", "build_diff", "layers", "trace")


class BadRequest(TrtlensError):
    """A data request's parameter is missing or wrong.

    Attributes:
        param: the parameter; reason: what is wrong with it.
    """

    def __init__(self, param: str, reason: str) -> None:
        self.param = param
        self.reason = reason
        super().__init__(f"parameter {param!r}: {reason}")


@dataclass(frozen=True, slots=True)
class Range:
    from_ms: int
    to_ms: int
    model: str | None = None


def parse_range(params: Mapping[str, str], *, default_span_ms: int, max_span_ms: int, now_ms: int) -> Range:
    """``from``/``to`` (epoch ms, or ``now-<n>m|h|d`` style relative to now) and an optional ``model``."""

    def one(name: str, default: int) -> int:
        raw = (params.get(name) or "").strip()
        if not raw:
            return default
        if raw == "now":
            return now_ms
        if raw.startswith("now-"):
            units = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
            num, unit = raw[4:-1], raw[-1:]
            if unit not in units or not num.isdigit():
                raise BadRequest(name, f"{raw!r} is not now-<n>s|m|h|d")
            return now_ms - int(num) * units[unit]
        try:
            return int(float(raw))
        except ValueError:
            raise BadRequest(name, f"{raw!r} is neither epoch milliseconds nor now-<n>m") from None

    to_ms = one("to", now_ms)
    from_ms = one("from", to_ms - default_span_ms)
    if from_ms >= to_ms:
        raise BadRequest("from", f"must be before to ({from_ms} >= {to_ms})")
    if to_ms - from_ms > max_span_ms:
        raise BadRequest("from", f"the range spans {(to_ms - from_ms) / 86_400_000:.1f} days; the most is "
                                 f"{max_span_ms / 86_400_000:.1f} (dashboard.max_span_days)")
    model = (params.get("model") or "").strip() or None
    return Range(from_ms, to_ms, model)


class DashboardData:
    """Answers the panels from the store named by ``settings.elasticsearch`` (osmem or Elasticsearch)."""

    def __init__(self, settings: Settings, *, client: Any = None) -> None:
        from trtlens.es import es_client

        self.settings = settings
        self.cfg: DashboardSettings = settings.dashboard  # type: ignore[attr-defined]
        self.ix = settings.indices
        self.es = client if client is not None else es_client(settings.elasticsearch)
        self.cache_s = CACHE_S  # 0 turns the cache off (benchmarks)
        self._cache: dict[tuple, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.es.close()

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        """One search; the same body asked again within ``CACHE_S`` (several panels of one page refresh
        share the traffic aggregation) is answered from a small cache."""
        import orjson

        key = (index, orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self.cache_s:
                return hit[1]
        resp = self.es.search(index=index, ignore_unavailable=True, allow_no_indices=True, **body)
        out = resp.body if hasattr(resp, "body") else resp
        with self._lock:
            if len(self._cache) >= CACHE_ENTRIES:
                self._cache = {k: v for k, v in self._cache.items() if now - v[0] < CACHE_S}
                if len(self._cache) >= CACHE_ENTRIES:
                    self._cache.clear()
            self._cache[key] = (now, out)
        return out

    # ------------------------------------------------------------ dispatch

    def panel(self, name: str, params: Mapping[str, str], *, now_ms: int | None = None) -> dict[str, Any]:
        if name not in PANELS:
            raise BadRequest("panel", f"unknown panel {name!r}; panels: {', '.join(PANELS)}")
        now = int(time.time() * 1000) if now_ms is None else now_ms
        rng = parse_range(params, default_span_ms=self.cfg.default_span_min * 60_000,
                          max_span_ms=int(self.cfg.max_span_days * 86_400_000), now_ms=now)
        out = getattr(self, f"_{name}")(rng, params)
        return {"from": rng.from_ms, "to": rng.to_ms, "model": rng.model, **out}

    # ------------------------------------------------------------ panels

    def window_docs(self, rng: Range) -> list[dict[str, Any]] | None:
        """Every model/version and worker window of the range (``_source`` trimmed), or None when there are
        more than ``max_window_docs`` (then the panels use the store's aggregations)."""
        cap = self.cfg.max_window_docs
        if cap <= 0:
            return None
        page = min(cap, WINDOW_PAGE)
        out: list[dict[str, Any]] = []
        after = None
        while True:
            resp = self._search(self.ix.metrics, q.windows_body(rng.from_ms, rng.to_ms, scopes=("model_version", "worker"),
                                                                size=page, search_after=after))
            total = (resp.get("hits") or {}).get("total", {}).get("value", 0)
            if total > cap:
                return None
            hits = (resp.get("hits") or {}).get("hits", [])
            out.extend(h.get("_source") or {} for h in hits)
            if len(hits) < page or len(out) >= total:
                return out
            after = hits[-1]["sort"]

    def _meta_of(self, rng: Range) -> dict[str, Any]:
        docs = self.window_docs(rng)
        resp = q.meta_response(docs) if docs is not None else self._search(self.ix.metrics, q.meta_body(rng.from_ms, rng.to_ms))
        return q.shape_meta(resp)

    def _meta(self, rng: Range, params: Mapping[str, str]) -> dict[str, Any]:
        meta = self._meta_of(rng)
        return {**meta, "refresh_s": self.cfg.refresh_s, "panels": list(PANELS),
                "indices": {k: getattr(self.ix, k) for k in ("traces", "metrics", "alerts", "builds", "layers")}}

    def _interval(self, rng: Range) -> int:
        meta = self._meta_of(rng)
        return q.pick_interval_ms(rng.from_ms, rng.to_ms, window_ms=meta["window_ms"], max_buckets=self.cfg.max_buckets)

    def _traffic(self, rng: Range, params: Mapping[str, str]) -> dict[str, Any]:
        iv = self._interval(rng)
        docs = self.window_docs(rng)
        if docs is not None:
            resp = q.traffic_response(docs, rng.from_ms, rng.to_ms, iv, model=rng.model)
        else:
            resp = self._search(self.ix.metrics, q.traffic_body(rng.from_ms, rng.to_ms, iv, model=rng.model))
        return q.shape_traffic(resp, iv)

    def _versions(self, rng: Range, params: Mapping[str, str]) -> dict[str, Any]:
        out = self._traffic(rng, params)
        for s in out["series"].values():
            s.pop("heatmap")
        attribution = q.shape_attribution(
            self._search(self.ix.metrics, q.attribution_body(rng.from_ms, rng.to_ms, model=rng.model)))
        if not attribution:  # the template may not index attribution: look at the newest windows instead
            attribution = q.shape_attribution(self._search(self.ix.metrics, q.attribution_body(
                rng.from_ms, rng.to_ms, model=rng.model, size=max(50, 20 * len(out["series"])), indexed=False)))
        out["attribution"] = attribution
        return out

    def _coldstarts(self, rng: Range, params: Mapping[str, str]) -> dict[str, Any]:
        traffic = self._traffic(rng, params)
        freq = {k: [{"t": p["t"], "cold_starts": p["cold_starts"], "cold_start_rate": p["cold_start_rate"],
                     "first_inference_p99": p["first_inference_p99"], "engine_load_p99": p["engine_load_p99"]}
                    for p in s["points"]] for k, s in traffic["series"].items()}
        dist = q.shape_cold_distribution(
            self._search(self.ix.traces, q.cold_distribution_body(rng.from_ms, rng.to_ms, model=rng.model)))
        return {"interval_ms": traffic["interval_ms"], "frequency": freq, "distribution": dist}

    def _gpu(self, rng: Range, params: Mapping[str, str]) -> dict[str, Any]:
        iv = self._interval(rng)
        threshold = self.gpu_threshold_bytes(rng)
        horizon = max(60_000, (rng.to_ms - rng.from_ms) // 4)
        docs = self.window_docs(rng)
        resp = q.gpu_response(docs, iv) if docs is not None else self._search(self.ix.metrics, q.gpu_body(rng.from_ms, rng.to_ms, iv))
        out = q.shape_gpu(resp, to_ms=rng.to_ms, horizon_ms=horizon, threshold_bytes=threshold)
        return {"interval_ms": iv, **out}

    def gpu_threshold_bytes(self, rng: Range) -> int | None:
        """The dashboard's own setting, else the smallest ``gpu_memory_above`` rule the streams app runs,
        else the threshold of such an alert in the range."""
        if self.cfg.gpu_memory_threshold_bytes:
            return self.cfg.gpu_memory_threshold_bytes
        streams = getattr(self.settings, "streams", None)
        rules = getattr(getattr(streams, "alerts", None), "rules", None) or []
        found = [r.threshold_bytes for r in rules if getattr(r, "kind", None) == "gpu_memory_above"]
        if found:
            return min(found)
        resp = self._search(self.ix.alerts, {"size": 1, "_source": ["threshold"], "query": {"bool": {"filter": [
            q.time_filter("window_start_ms", rng.from_ms, rng.to_ms), {"term": {"rule_kind": "gpu_memory_above"}}]}}})
        for _id, src in q.hits_sources(resp):
            return int(src["threshold"])
        return None

    def _alerts(self, rng: Range, params: Mapping[str, str]) -> dict[str, Any]:
        alerts = [dict(src) for _id, src in q.hits_sources(self._search(
            self.ix.alerts, q.alerts_body(rng.from_ms, rng.to_ms, model=rng.model, size=self.cfg.max_docs)))]
        ids = sorted({q.window_id(a) for a in alerts if a.get("state") == "firing"})[:100]
        windows: dict[str, dict[str, Any]] = {}
        if ids:
            lo = min(int(a["window_start_ms"]) for a in alerts)
            for wid, src in q.hits_sources(self._search(self.ix.metrics, q.windows_by_id_body(ids, lo, rng.to_ms + 1))):
                windows[wid] = src
        for a in alerts:
            wid = q.window_id(a)
            w = windows.get(wid)
            if a.get("state") != "firing":
                continue
            exemplars = list((w or {}).get("exemplars") or [])
            source = "window" if exemplars else "slowest_stored"
            if not exemplars:
                body = q.slowest_traces_body({**a, **(w or {})}, size=self.cfg.exemplars)
                exemplars = [src.get("request_id") for _i, src in q.hits_sources(self._search(self.ix.traces, body))]
            a["exemplars"] = [e for e in exemplars if e][: self.cfg.exemplars]
            a["exemplar_source"] = source
            if w and w.get("attribution"):
                a["attribution"] = w["attribution"]
        return {"alerts": alerts}

    def _trace(self, rng: Range, params: Mapping[str, str]) -> dict[str, Any]:
        rid = (params.get("request_id") or "").strip()
        if not rid:
            raise BadRequest("request_id", "required: the request whose stages to show")
        hits = list(q.hits_sources(self._search(self.ix.traces, q.trace_body(rid, rng.from_ms, rng.to_ms))))
        if not hits:
            return {"request_id": rid, "trace": None, "waterfall": []}
        trace = hits[0][1]
        return {"request_id": rid, "trace": trace, "waterfall": q.waterfall(trace)}

    def _build_rows(self, rng: Range) -> list[dict[str, Any]]:
        resp = self._search(self.ix.builds, q.builds_body(rng.from_ms, rng.to_ms, model=rng.model, size=self.cfg.max_docs))
        rows = [q.build_row(i, src) for i, src in q.hits_sources(resp)]
        return sorted(rows, key=lambda r: (r["built_at_ms"] or 0, r["id"]))

    def _builds(self, rng: Range, params: Mapping[str, str]) -> dict[str, Any]:
        return {"builds": self._build_rows(rng)}

    def _build_diff(self, rng: Range, params: Mapping[str, str]) -> dict[str, Any]:
        rows = {r["id"]: r for r in self._build_rows(rng)}
        a, b = params.get("a"), params.get("b")
        for name, val in (("a", a), ("b", b)):
            if not val:
                raise BadRequest(name, "required: the id of a build in the range")
            if val not in rows:
                raise BadRequest(name, f"no build {val!r} in the range")
        return {"diff": q.diff_rows(rows[a], rows[b])}

    def _layers(self, rng: Range, params: Mapping[str, str]) -> dict[str, Any]:
        resp = self._search(self.ix.layers, q.layers_body(rng.from_ms, rng.to_ms, model=rng.model, top=self.cfg.top_layers))
        return {"layers": q.shape_layers(resp)}
