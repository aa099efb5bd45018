"""``trtlens bench dashboard``: how long each dashboard panel takes on the embedded store, next to a ceiling.

1. Starts a private embedded stack (free ports, temporary state dir).
2. Writes ``--hours`` of 10-second windows (4 model/versions + 4 workers per
   window, with latency buckets) and the cold-start traces, with the sink's templates.
3. For each time range (15 min, 1 h, all ``--hours``) and panel, the median of
   ``--repeat`` answers of :class:`trtlens.dashboard.data.DashboardData`, its cache
   emptied before each panel (a panel's own repeated queries still share it, as
   they do when serving); and a whole page refresh, every panel in turn from an
   empty cache (panels then share the window fetch, as the page's do).
4. Ceiling, same run, same range: the cheapest aggregation over the same window
   documents (``size: 0`` and one count-only date histogram) — what the store needs
   to touch those documents at all. Prints ms per panel and the ratio; ``--json``
   prints one JSON object.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

PANELS = ("meta", "traffic", "versions", "coldstarts", "gpu", "alerts", "builds", "layers")
WINDOW_MS = 10_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="dashboard panel latency on the embedded store vs one bare aggregation (same run)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=6.0, help="hours of 10-s windows to write (default 6: ~17k documents)")
    p.add_argument("--repeat", type=int, default=3, help="answers per panel and range; the median is reported (default 3)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_bench_dashboard)


def _documents(hours: float, start_ms: int):
    from trtlens.schemas.documents import LATENCY_BUCKET_FIELDS, Quantiles, StageBreakdown, Trace, WindowMetric

    versions = [("resnet50", "v1", 8.0), ("resnet50", "v2", 40.0), ("bert-base", "v1", 15.0), ("yolo", "v3", 25.0)]
    n = int(hours * 3_600_000 / WINDOW_MS)
    for i in range(n):
        start = start_ms + i * WINDOW_MS
        for model, version, base in versions:
            req = 100 + (i * 7) % 50
            buckets = dict.fromkeys(LATENCY_BUCKET_FIELDS, 0)
            k = next(j for j, f in enumerate(LATENCY_BUCKET_FIELDS) if f == "le_inf" or float(f[3:]) >= base)
            buckets[LATENCY_BUCKET_FIELDS[k]] = req - req // 5
            buckets[LATENCY_BUCKET_FIELDS[min(k + 1, len(LATENCY_BUCKET_FIELDS) - 1)]] += req // 5
            cold = 1 if i % 30 == 0 else 0
            yield "metrics", WindowMetric(
                scope="model_version", scope_key=f"{model}/{version}", model=model, model_version=version,
                window_start_ms=start, window_ms=WINDOW_MS, requests=req, qps=req / 10, errors=req // 100,
                error_rate=(req // 100) / req, cold_starts=cold, cold_start_rate=cold / req,
                latency_ms=Quantiles(count=req, p50=base, p95=base * 2, p99=base * 3), latency_buckets=buckets,
            ).model_dump()
            if cold:
                yield "traces", Trace(request_id=f"cold-{model}-{version}-{i}", model=model, model_version=version,
                                      start_ts_ms=start + 5, end_ts_ms=start + 500, status="ok", complete=True, cold_start=True,
                                      stages=StageBreakdown(engine_load_ms=300.0, compute_ms=base, total_ms=300 + base)).model_dump()
        for w in range(4):
            yield "metrics", WindowMetric(scope="worker", scope_key=f"gpu-{w}", worker_id=f"gpu-{w}", window_start_ms=start,
                                          window_ms=WINDOW_MS, requests=100, gpu_memory_max_bytes=(4 + w) * 2**30 + i * 1000,
                                          ).model_dump()


def _seed(es, indices, hours: float, start_ms: int, log) -> int:
    from elasticsearch.helpers import bulk

    from trtlens.sinks.core import daily_index
    from trtlens.sinks.templates import composable_template

    for fam in ("traces", "metrics", "alerts", "builds"):
        es.indices.put_index_template(name=getattr(indices, fam), **composable_template(indices, fam))

    def actions():
        for fam, doc in _documents(hours, start_ms):
            ts = doc.get("window_start_ms") or doc["start_ts_ms"]
            yield {"_index": daily_index(getattr(indices, fam), ts), "_source": doc}

    t0 = time.perf_counter()
    ok, _ = bulk(es, actions(), chunk_size=2000, refresh=True)
    log(f"bench dashboard: wrote {ok:,} documents in {time.perf_counter() - t0:.1f}s")
    return ok


def _median_ms(fn, repeat: int, *, before=None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def cmd_bench_dashboard(args: argparse.Namespace) -> int:
    import json
    import tempfile
    from pathlib import Path

    from trtlens.dashboard.data import DashboardData
    from trtlens.es import es_client
    from trtlens.settings import load_settings
    from trtlens.stack import apply_to_settings, start_stack, stop_stack

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    base = load_settings(args.config)
    start_ms = 1_795_300_000_000
    end_ms = start_ms + int(args.hours * 3_600_000)
    with tempfile.TemporaryDirectory(prefix="trtlens-bench-dashboard-") as tmp:
        settings = base.model_copy(update={"stack": base.stack.model_copy(update={"kafka_port": 0, "es_port": 0, "state_dir": Path(tmp)})})
        log(f"bench dashboard: starting a private embedded stack in {tmp} ...")
        state = start_stack(settings, detached=False)
        try:
            settings = apply_to_settings(settings, state)
            es = es_client(settings.elasticsearch, request_timeout=120)
            docs = _seed(es, settings.indices, args.hours, start_ms, log)
            data = DashboardData(settings, client=es)
            data.cache_s = 3600.0
            clear = data.clear_cache
            rows = []
            for label, span_ms in (("15m", 900_000), ("1h", 3_600_000), (f"{args.hours:g}h", end_ms - start_ms)):
                params = {"from": str(end_ms - span_ms), "to": str(end_ms)}
                ceiling = _median_ms(lambda: es.search(index=settings.indices.metrics, size=0, query={"range": {
                    "window_start_ms": {"gte": end_ms - span_ms, "lt": end_ms}}}, aggs={"t": {"date_histogram": {
                        "field": "window_start_ms", "fixed_interval": f"{max(WINDOW_MS, span_ms // 120)}ms"}}}), args.repeat)
                panels = {name: _median_ms(lambda n=name: data.panel(n, params), args.repeat, before=clear) for name in PANELS}
                page = _median_ms(lambda: [data.panel(n, params) for n in PANELS], args.repeat, before=clear)
                windows = span_ms // WINDOW_MS * 8
                rows.append({"range": label, "window_docs": windows, "ceiling_ms": round(ceiling, 1),
                             "panels_ms": {k: round(v, 1) for k, v in panels.items()},
                             "page_ms": round(page, 1)})
                log(f"bench dashboard: range {label} done")
        finally:
            stop_stack(settings)
    result = {"documents": docs, "hours": args.hours, "repeat": args.repeat, "ranges": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"dashboard panels on the embedded store ({docs:,} documents; median of {args.repeat})")
    for col in ("range", "window docs", "ceiling ms", *PANELS, "whole page ms", "page / ceiling"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["range"], f"{r['window_docs']:,}", f"{r['ceiling_ms']:.0f}", *(f"{r['panels_ms'][p]:.0f}" for p in PANELS),
                      f"{r['page_ms']:.0f}", f"{r['page_ms'] / max(r['ceiling_ms'], 0.1):.1f}×")
    Console().print(table)
    print("ceiling = one count-only date histogram over the same range's window documents, same run, same store")
    return 0
