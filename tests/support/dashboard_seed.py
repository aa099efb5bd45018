"""Known data for the dashboard tests, written straight into the real embedded store.

Documents have the shapes the pipeline writes (window, trace, alert documents from
the models in ``schemas/documents.py``; build and layer documents in the shapes of
the shared conventions, plus the explain stage's ``attribution``/``exemplars``/
``engines`` on some windows). Index templates are the sink's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trtlens.schemas.documents import LATENCY_BUCKET_FIELDS, Alert, Quantiles, StageBreakdown, Trace, WindowMetric
from trtlens.sinks.core import daily_index
from trtlens.sinks.templates import composable_template

T0 = 1_795_305_600_000  # 2026-11-22T00:00:00Z
WINDOW_MS = 10_000
N_WINDOWS = 30
VERSIONS = {"resnet50/v1": (8.0, 0.01, 0.00), "resnet50/v2": (140.0, 0.02, 0.05), "bert-base/v1": (15.0, 0.0, 0.02)}
WORKERS = {"gpu-a": 2_000_000_000, "gpu-b": 6_000_000_000}
GPU_SLOPE_BYTES_PER_WINDOW = 50_000_000
GPU_THRESHOLD = 7_000_000_000


@dataclass
class Seeded:
    from_ms: int = T0
    to_ms: int = T0 + N_WINDOWS * WINDOW_MS
    windows: list[dict[str, Any]] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    builds: list[dict[str, Any]] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)


def _buckets(i: int, base_ms: float, requests: int) -> dict[str, int]:
    # spread the requests over three buckets around the version's typical latency
    from trtlens.schemas.documents import LATENCY_BUCKET_BOUNDS_MS as B

    k = next((j for j, b in enumerate(B) if b >= base_ms), len(B))
    out = dict.fromkeys(LATENCY_BUCKET_FIELDS, 0)
    lo, mid, hi = max(0, k - 1), k, min(len(B), k + 1)
    out[LATENCY_BUCKET_FIELDS[lo]] += requests // 4
    out[LATENCY_BUCKET_FIELDS[hi]] += requests // 4 + (i % 3)
    out[LATENCY_BUCKET_FIELDS[mid]] += requests - requests // 4 - (requests // 4 + (i % 3))
    return out


def build_documents() -> Seeded:
    s = Seeded()
    for i in range(N_WINDOWS):
        start = T0 + i * WINDOW_MS
        for key, (base, err_rate, cold_rate) in VERSIONS.items():
            model, version = key.split("/")
            requests = 100 + 7 * i + (13 if version == "v2" else 0)
            errors = round(requests * err_rate)
            cold = round(requests * cold_rate) + (1 if i % 10 == 0 else 0)
            lat = Quantiles(count=requests, min=base / 3, max=base * 4, mean=base, p50=base + i * 0.1,
                            p90=base * 1.8, p95=base * 2 + i * 0.2, p99=base * 3 + i)
            w = WindowMetric(
                scope="model_version", scope_key=key, model=model, model_version=version,
                window_start_ms=start, window_ms=WINDOW_MS, requests=requests, qps=requests * 1000 / WINDOW_MS,
                errors=errors, error_rate=errors / requests, cold_starts=cold, cold_start_rate=cold / requests,
                latency_ms=lat, first_inference_ms=Quantiles(count=cold, p50=base * 20, p99=base * 30) if cold else Quantiles(),
                engine_load_ms=Quantiles(count=cold, p99=base * 15) if cold else Quantiles(),
                latency_buckets=_buckets(i, base, requests), partitions=[0, 1, 2],
            ).model_dump()
            if key == "resnet50/v2" and i >= 20:  # the explain stage's fields, on the newest windows of v2
                w["engines"] = ["abcdef0123456789"]
                w["exemplars"] = [f"req-{key}-{i}-slow"]
                w["attribution"] = {q: {"threshold_ms": base * (3 if q == "p99" else 2), "count": 3, "cold_start_share": 0.33,
                                        "dominant_stage_share": {"compute": 0.67, "engine_load": 0.33},
                                        "stage_mean_ms_tail": {"compute": base * 2.5, "queue": 3.0},
                                        "stage_mean_ms_body": {"compute": base * 0.9, "queue": 1.0}, "delta_prev": None}
                                    for q in ("p99", "p95")}
            s.windows.append(w)
        for j, (worker, mem0) in enumerate(WORKERS.items()):
            s.windows.append(WindowMetric(
                scope="worker", scope_key=worker, worker_id=worker, window_start_ms=start, window_ms=WINDOW_MS,
                requests=50, qps=5.0, gpu_memory_max_bytes=mem0 + i * GPU_SLOPE_BYTES_PER_WINDOW * (j + 1),
                gpu_utilization_max_pct=40.0 + j * 10, partitions=[0]).model_dump())
    # traces: every cold start (first inference), two slow exemplars per v2 window, some normal ones
    for i in range(N_WINDOWS):
        start = T0 + i * WINDOW_MS
        for key, (base, _e, _c) in VERSIONS.items():
            model, version = key.split("/")
            kinds = [("ok", False, base), ("slow", False, base * 3 + i)]
            if i % 5 == 0:
                kinds.append(("cold", True, base * 25))
            for name, cold, total in kinds:
                rid = f"req-{key}-{i}-{name}"
                el = total * 0.6 if cold else None
                st = StageBreakdown(queue_ms=1.0, engine_load_ms=el, h2d_ms=0.5, compute_ms=total - 2.0 - (el or 0),
                                    d2h_ms=0.5, total_ms=total)
                s.traces.append(Trace(
                    request_id=rid, model=model, model_version=version, worker_id="gpu-a", start_ts_ms=start + 100,
                    end_ts_ms=start + 100 + int(total), status="ok", complete=True, cold_start=cold, stages=st,
                    event_count=5, sample_reason="cold_start" if cold else ("slow" if name == "slow" else "rate"),
                ).model_dump())
    fire_at, resolve_at = T0 + 12 * WINDOW_MS, T0 + 18 * WINDOW_MS
    for state, at, value in (("firing", fire_at, 160.0), ("resolved", resolve_at, 80.0)):
        s.alerts.append(Alert(rule_id="p99_above_100ms", rule_kind="p99_above", scope="model_version",
                              scope_key="resnet50/v2", state=state, window_start_ms=at, window_ms=WINDOW_MS, value=value,
                              threshold=100.0, message=f"P99 of resnet50/v2 {'above' if state == 'firing' else 'back below'} "
                              f"100 ms: {value:.0f} ms", breaching_windows=2).model_dump())
    s.alerts.append(Alert(rule_id="gpu_mem_high", rule_kind="gpu_memory_above", scope="worker", scope_key="gpu-b",
                          state="firing", window_start_ms=T0 + 22 * WINDOW_MS, window_ms=WINDOW_MS, value=7.1e9,
                          threshold=GPU_THRESHOLD, message="GPU memory of gpu-b above 7 GB", breaching_windows=2).model_dump())
    for n, (fusion, int8, fallbacks, peak, trt) in enumerate(
            [(0.62, 0.40, ["GridSample"], 900_000_000, "10.3.0"), (0.71, 0.55, ["GridSample"], 950_000_000, "10.3.0"),
             (0.69, 0.80, [], 1_020_000_000, "10.4.0")]):
        built = T0 + (5 + 10 * n) * WINDOW_MS
        s.builds.append({"_id": f"resnet50:{built}", "engine_id": f"eng{n:013d}", "model": "resnet50",
                         "model_version": f"v{n + 1}", "built_at_ms": built, "fusion_rate": fusion, "int8_coverage": int8,
                         "passed": True, "status": "ok", "violations": [],
                         "report": {"engine_id": f"eng{n:013d}", "model": "resnet50", "model_version": f"v{n + 1}",
                                    "trt_version": trt, "plugin_fallbacks": fallbacks, "layers_after": 40 - n,
                                    "memory": {"peak_gpu_bytes": peak, "engine_bytes": peak // 4}},
                         "diff_prev": None if n == 0 else {"fusion_rate": {"old": [0.62, 0.71][n - 1], "new": fusion}}})
    for i in range(0, N_WINDOWS, 5):
        for layer, share, ltype in (("conv1 + relu", 0.35, "Convolution"), ("fc", 0.10, "MatrixMultiply"),
                                    ("layer4.conv", 0.45, "Convolution"), ("softmax", 0.02, None)):
            start = T0 + i * WINDOW_MS
            s.layers.append({"_id": f"{start}:abcdef0123456789:{layer}", "@timestamp": start,
                             "window_start_ms": start, "window_end_ms": start + WINDOW_MS, "model": "resnet50",
                             "model_version": "v2", "engine_id": "abcdef0123456789", "layer": layer, "layer_type": ltype,
                             "count": 100, "mean_ms": share * 10, "p50_ms": share * 9, "p99_ms": share * 20 + i * 0.01,
                             "share": share + i * 0.001})
    return s


LAYER_MAPPING = {"dynamic": False, "properties": {
    "@timestamp": {"type": "date", "format": "epoch_millis"}, "window_start_ms": {"type": "date", "format": "epoch_millis"},
    "window_end_ms": {"type": "date", "format": "epoch_millis"}, "model": {"type": "keyword"},
    "model_version": {"type": "keyword"}, "engine_id": {"type": "keyword"}, "layer": {"type": "keyword"},
    "layer_type": {"type": "keyword"}, "count": {"type": "long"}, "mean_ms": {"type": "float"},
    "p50_ms": {"type": "float"}, "p99_ms": {"type": "float"}, "share": {"type": "float"}}}


def seed(es: Any, indices: Any) -> Seeded:
    """Install the sink's templates for the four families, write every document, refresh."""
    s = build_documents()
    for fam in ("traces", "metrics", "alerts", "builds"):
        es.indices.put_index_template(name=getattr(indices, fam), **composable_template(indices, fam))
    es.indices.put_index_template(name=indices.layers, index_patterns=[f"{indices.layers}-*"], priority=200,
                                  template={"mappings": LAYER_MAPPING, "aliases": {indices.layers: {}}})
    ops: list[dict[str, Any]] = []

    def add(prefix: str, doc_id: str, ts: int, doc: dict[str, Any]) -> None:
        ops.append({"index": {"_index": daily_index(prefix, ts), "_id": doc_id}})
        ops.append(doc)

    for w in s.windows:
        add(indices.metrics, f"{w['scope']}:{w['scope_key']}:{w['window_start_ms']}:{w['window_ms']}", w["window_start_ms"], w)
    for t in s.traces:
        add(indices.traces, t["request_id"], t["start_ts_ms"], t)
    for a in s.alerts:
        add(indices.alerts, f"{a['rule_id']}:{a['scope_key']}:{a['window_start_ms']}:{a['state']}", a["window_start_ms"], a)
    for b in s.builds:
        add(indices.builds, b["_id"], b["built_at_ms"], {k: v for k, v in b.items() if k != "_id"})
    for layer in s.layers:
        add(indices.layers, layer["_id"], layer["window_start_ms"], {k: v for k, v in layer.items() if k != "_id"})
    resp = es.bulk(operations=ops, refresh=True)
    assert not resp["errors"], [i for i in resp["items"] if "error" in next(iter(i.values()))][:3]
    es.indices.refresh(index=",".join(f"{getattr(indices, f)}*" for f in ("traces", "metrics", "alerts", "builds", "layers")))
    return s
