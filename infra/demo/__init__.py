"""``trtlens demo``: the whole pipeline on the embedded stack, with a live view.

What runs (all as supervised child processes that die with the demo):

* the embedded stack (Tansu + osmem), unless one is already up;
* the sink and one Faust worker of the streams app (5-second windows, so a
  one-minute demo closes a dozen of them, and one alert rule for the story);
* two ONNX Runtime workers serving the built-in demo CNN: ``demo-gpu-a`` keeps
  its engine warm, ``demo-gpu-b`` unloads it after 0.3 s idle, like a
  serverless function, so most of its requests are cold starts;
* the load generator for volume, in two phases: model ``resnet50`` version
  ``v2`` is rolled out slow (P99 well above 100 ms, the alert fires), then
  rolled back to fast (the alert resolves); ``v1`` and ``bert-base`` stay fast;
* ``trtlens dashboard`` over the store, in this process: its URL is printed at the
  start and in the summary; with ``--keep`` it keeps serving after the run (with the
  stack) until Ctrl-C.

It ends by running ``trtlens explain`` on the alert it produced.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from trtlens.stack.processes import ManagedProcess, connection_env
from trtlens.settings import Settings, load_settings
from trtlens.demo.watch import PipelineWatch, WatchState

WINDOW_MS = 5_000
GRACE_MS = 2_000
IDLE_TIMEOUT_MS = 3_000
SLOW_P99_MS = 100.0
ALERT_RULE = {
    "id": "resnet50_v2_p99_above_100ms",
    "kind": "p99_above",
    "scope": "model_version",
    "model": "resnet50",
    "model_version": "v2",
    "threshold_ms": SLOW_P99_MS,
    "fire_after": 2,
    "resolve_after": 2,
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole pipeline on the embedded stack with a live view (the README's run command)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--duration-s", type=float, default=60.0, help="seconds of traffic (default 60)")
    p.add_argument("--rate", type=float, default=150.0, help="load generator requests/s (default 150; ~5 events each)")
    p.add_argument("--keep", action="store_true",
                   help="after the run keep the dashboard serving (until Ctrl-C) and leave the stack and its data running")
    p.add_argument("--no-live", action="store_true", help="plain progress lines instead of the live screen")
    p.add_argument("--log-dir", type=Path, help="where child logs go (default: a temp dir, printed)")
    p.set_defaults(func=run)


def _load_profile(v2_median_ms: float) -> dict:
    return {
        "models": [
            {"name": "resnet50", "versions": [
                {"name": "v1", "weight": 0.5, "latency_median_ms": 8.0, "latency_sigma": 0.35, "error_rate": 0.005, "cold_start_prob": 0.002},
                {"name": "v2", "weight": 0.2, "latency_median_ms": v2_median_ms, "latency_sigma": 0.35, "error_rate": 0.01, "cold_start_prob": 0.004},
            ]},
            {"name": "bert-base", "versions": [
                {"name": "v1", "weight": 0.3, "latency_median_ms": 15.0, "latency_sigma": 0.3, "error_rate": 0.002, "cold_start_prob": 0.001},
            ]},
        ],
    }


def _start_stack(settings: Settings, keep: bool):
    """Reuse a running embedded stack, else start one. Returns (settings, state or None)."""
    from trtlens.stack import apply_to_settings, read_state, stack_status, start_stack

    status = stack_status(settings)
    if status.get("ready"):
        print(f"using the running embedded stack: kafka {status['kafka_bootstrap_servers']}, store {status['elasticsearch_url']}")
        return apply_to_settings(settings, read_state(settings)), None
    print("starting the embedded stack (Tansu broker + osmem store) ...", flush=True)
    state = start_stack(settings, detached=keep)
    print(f"  kafka {state.bootstrap_servers}   store {state.es_url}")
    return apply_to_settings(settings, state), state


def _children(settings: Settings, args: argparse.Namespace, log_dir: Path) -> dict[str, list[ManagedProcess]]:
    env = connection_env(settings)
    streams_env = {
        **env,
        "TRTLENS_STREAMS__METRICS__WINDOW_MS": str(WINDOW_MS),
        "TRTLENS_STREAMS__METRICS__GRACE_MS": str(GRACE_MS),
        "TRTLENS_STREAMS__IDLE_TIMEOUT_MS": str(IDLE_TIMEOUT_MS),
        "TRTLENS_STREAMS__ALERTS__RULES": json.dumps([ALERT_RULE]),
    }
    d = args.duration_s
    phase1 = round(d * 0.5, 1)
    profiles = {}
    for name, median in (("slow", 140.0), ("fast", 7.0)):
        path = log_dir / f"load-{name}.yaml"
        path.write_text(yaml.safe_dump(_load_profile(median)))
        profiles[name] = path
    worker = ["worker", "--model", "demo", "--duration-s", str(d)]
    load = ["load", "--realtime", "--rate", str(args.rate), "--window-ms", str(WINDOW_MS), "--workers", "4"]
    return {
        "pipeline": [
            ManagedProcess("sink", ["sink"], log_dir=log_dir, env=env),
            ManagedProcess("streams", ["streams"], log_dir=log_dir, env=streams_env),
        ],
        "traffic": [
            ManagedProcess("worker-a", [*worker, "--rps", "10", "--worker-id", "demo-gpu-a"], log_dir=log_dir, env=env),
            ManagedProcess("worker-b", [*worker, "--rps", "2", "--idle-unload-s", "0.3", "--worker-id", "demo-gpu-b", "--seed", "2"], log_dir=log_dir, env=env),
            ManagedProcess("load-v2-slow", [*load, "--duration-s", str(phase1), "--profile", str(profiles["slow"]), "--seed", "1"], log_dir=log_dir, env=env),
        ],
        "later": [
            ManagedProcess("load-v2-fast", [*load, "--duration-s", str(round(d - phase1, 1)), "--profile", str(profiles["fast"]), "--seed", "2"], log_dir=log_dir, env=env),
        ],
    }


def _render(state: WatchState, elapsed_s: float, duration_s: float, procs: list[ManagedProcess]):
    from rich.console import Group
    from rich.table import Table

    head = Table.grid(padding=(0, 3))
    head.add_row(
        f"[b]t[/b] {elapsed_s:5.0f}/{duration_s:.0f}s",
        f"[b]in[/b] {state.events_per_s:7.0f} events/s ({state.events_in:,} total)",
        f"[b]out[/b] {state.docs_per_s:6.0f} docs/s ({sum(state.docs.values()):,} in the store)",
        f"[b]DLQ[/b] {state.dlq}",
    )
    windows = Table(title=f"last closed {WINDOW_MS // 1000}-s window per model/version", expand=True)
    for col in ("model/version", "window", "requests", "qps", "P99 ms", "errors", "cold-start rate"):
        windows.add_column(col, justify="right" if col not in ("model/version",) else "left")
    for key, doc in sorted(state.latest.items()):
        p99 = (doc.get("latency_ms") or {}).get("p99")
        p99_cell = "-" if p99 is None else f"{p99:.1f}"
        if p99 is not None and p99 > SLOW_P99_MS:
            p99_cell = f"[red]{p99_cell}[/red]"
        windows.add_row(
            key,
            time.strftime("%H:%M:%S", time.localtime(doc["window_start_ms"] / 1000)),
            str(doc["requests"]),
            f"{doc['qps']:.1f}",
            p99_cell,
            str(doc["errors"]),
            f"{doc['cold_start_rate']:.1%}",
        )
    alerts = Table(title="alerts", expand=True)
    for col in ("rule", "scope", "state", "window", "value", "threshold"):
        alerts.add_column(col)
    for doc in state.alerts.values():
        color = "red" if doc["state"] == "firing" else "green"
        alerts.add_row(
            doc["rule_id"], doc["scope_key"], f"[{color}]{doc['state']}[/]",
            time.strftime("%H:%M:%S", time.localtime(doc["window_start_ms"] / 1000)),
            f"{doc['value']:.1f}" if doc["value"] is not None else "-", f"{doc['threshold']:g}",
        )
    if not state.alerts:
        alerts.add_row("(none yet)", "", "", "", "", "")
    status = "  ".join(f"{p.name}:{'up' if p.running else f'exit {p.returncode}'}" for p in procs if p.proc)
    return Group(head, windows, alerts, f"[dim]{status}[/]")


def _summary(settings: Settings) -> dict:
    """What landed in the store, per model/version, straight from Elasticsearch."""
    from trtlens.es import es_client

    es = es_client(settings.elasticsearch)
    ix = settings.indices
    es.indices.refresh(index=f"{ix.traces}*,{ix.metrics}*,{ix.alerts}*", ignore_unavailable=True, allow_no_indices=True)
    metrics = es.search(
        index=ix.metrics, size=0, ignore_unavailable=True, allow_no_indices=True,
        query={"bool": {"filter": [{"term": {"scope": "model_version"}}, {"term": {"final": True}}]}},
        aggs={"mv": {"terms": {"field": "scope_key", "size": 50}, "aggs": {
            "requests": {"sum": {"field": "requests"}},
            "errors": {"sum": {"field": "errors"}},
            "cold": {"sum": {"field": "cold_starts"}},
            "p99": {"max": {"field": "latency_ms.p99"}},
        }}},
    )
    traces = es.search(
        index=ix.traces, size=0, ignore_unavailable=True, allow_no_indices=True,
        aggs={"weight": {"sum": {"field": "sample_weight"}}, "reasons": {"terms": {"field": "sample_reason"}}},
    )
    alerts = es.search(index=ix.alerts, size=50, ignore_unavailable=True, allow_no_indices=True, sort=[{"window_start_ms": "asc"}])
    return {
        "per_version": [
            {
                "scope_key": b["key"],
                "windows": b["doc_count"],
                "requests": int(b["requests"]["value"]),
                "errors": int(b["errors"]["value"]),
                "cold_starts": int(b["cold"]["value"]),
                "max_p99_ms": b["p99"]["value"],
            }
            for b in metrics.get("aggregations", {}).get("mv", {}).get("buckets", [])
        ],
        "traces_stored": traces["hits"]["total"]["value"],
        "traces_weight": (traces.get("aggregations") or {}).get("weight", {}).get("value"),
        "trace_reasons": {b["key"]: b["doc_count"] for b in (traces.get("aggregations") or {}).get("reasons", {}).get("buckets", [])},
        "alerts": [h["_source"] for h in alerts["hits"]["hits"]],
    }


def _print_summary(summary: dict, state: WatchState, settings: Settings) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="per model/version, all closed windows (from Elasticsearch)")
    for col in ("model/version", "windows", "requests", "errors", "cold starts", "worst window P99 ms"):
        table.add_column(col, justify="left" if col == "model/version" else "right")
    for row in summary["per_version"]:
        p99 = row["max_p99_ms"]
        table.add_row(row["scope_key"], str(row["windows"]), f"{row['requests']:,}", str(row["errors"]), str(row["cold_starts"]), f"{p99:.1f}" if p99 else "-")
    console.print(table)
    weight = summary["traces_weight"] or 0
    counted = sum(row["requests"] for row in summary["per_version"])
    console.print(
        f"events in: {state.events_in:,}   dead letters: {state.dlq}   traces stored: {summary['traces_stored']:,} "
        f"of {counted:,} requests counted by the windows; their sample weights estimate {weight:,.0f} "
        f"(kept because {summary['trace_reasons']})"
    )
    for alert in summary["alerts"]:
        print(f"alert {alert['state']:8} {alert['rule_id']} {alert['scope_key']} value={alert['value']:.1f} at window {time.strftime('%H:%M:%S', time.localtime(alert['window_start_ms'] / 1000))}")
    url = settings.elasticsearch.url.rstrip("/")
    ix = settings.indices
    console.print(f"\n[b]Elasticsearch[/b] {url}   indices: {ix.traces}-*, {ix.metrics}-*, {ix.alerts}-*, {ix.builds}-*, {ix.layers}-*, {ix.findings}-* (read aliases without the date)")
    print("Try:")
    print(f"  curl -s '{url}/{ix.traces}/_search?q=cold_start:true&size=3&pretty'")
    print(f"  curl -s -H 'Content-Type: application/json' '{url}/{ix.metrics}/_search?pretty' -d '{{\"size\":5,\"sort\":[{{\"latency_ms.p99\":\"desc\"}}],\"query\":{{\"term\":{{\"scope\":\"model_version\"}}}},\"_source\":[\"scope_key\",\"window_start_ms\",\"requests\",\"latency_ms.p99\",\"cold_start_rate\"]}}'")
    print(f"  curl -s '{url}/{ix.alerts}/_search?pretty'")
    print("  trtlens explain            # why the latest firing alert fired (--json for scripts)")
    print(f"  curl -s '{url}/{ix.layers}/_search?sort=share:desc&size=5&pretty'   # layer-time hotspots of the profiled requests")


def _start_dashboard(settings: Settings):
    """The dashboard over the demo's store, on ``dashboard.port`` (a free port if that one is taken)."""
    from trtlens.dashboard.server import DashboardError, DashboardServer

    try:
        return DashboardServer(settings).start()
    except DashboardError as exc:
        print(f"  dashboard: {exc.reason}; using a free port instead", file=sys.stderr)
        free = settings.model_copy(update={"dashboard": settings.dashboard.model_copy(update={"port": 0})})
        return DashboardServer(free).start()


def _serve_until_interrupted(dashboard) -> None:
    print(f"dashboard keeps serving at {dashboard.url} (--keep); Ctrl-C stops it (the stack stays up)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def run(args: argparse.Namespace) -> int:
    settings, started = _start_stack(load_settings(args.config), args.keep)
    dashboard = _start_dashboard(settings)
    print(f"dashboard: {dashboard.url}  (open it now: panels fill in as windows close)", flush=True)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="trtlens-demo-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"child process logs: {log_dir}")
    groups = _children(settings, args, log_dir)
    every = [p for group in groups.values() for p in group]
    watch = None
    exit_code = 0
    try:
        for proc in groups["pipeline"]:
            proc.start()
        for proc in groups["pipeline"]:
            print(f"  {proc.name}: self-metrics {proc.wait_obs(60)}/metrics  (/healthz, /readyz)")
        watch = PipelineWatch(settings)
        for proc in groups["traffic"]:
            proc.start()
        exit_code = _live(args, groups, every, watch, settings)
        print(f"\n[dashboard] {dashboard.url}")
        if args.keep:
            watch.close()
            watch = None
            _serve_until_interrupted(dashboard)
    except KeyboardInterrupt:
        print("interrupted; stopping everything the demo started", file=sys.stderr)
        exit_code = 130
    finally:
        for proc in reversed(every):
            proc.stop()
        if watch is not None:
            watch.close()
        dashboard.stop()
        if started is not None and not args.keep:
            from trtlens.stack import stop_stack

            stop_stack(settings)
    if started is not None and args.keep:
        print("stack left running (--keep): `trtlens stack status`, `trtlens stack down` when done")
    return exit_code


def _live(args, groups, every, watch: PipelineWatch, settings: Settings) -> int:
    from rich.console import Console
    from rich.live import Live

    console = Console()
    t0 = time.monotonic()
    traffic_end = t0 + args.duration_s
    phase2_at = t0 + args.duration_s * 0.5
    drain_s = max(30.0, (WINDOW_MS + GRACE_MS) / 1000 * 4)
    traffic_done_ms: int | None = None
    totals: list[int] = []
    live = Live(console=console, refresh_per_second=2, transient=False) if not args.no_live and console.is_terminal else None
    last_print = 0.0
    with live if live is not None else contextlib.nullcontext():
        while True:
            now = time.monotonic()
            if now >= phase2_at and not groups["later"][0].proc:
                groups["later"][0].start()
            for proc in groups["pipeline"]:
                if not proc.running:
                    raise SystemExit(f"trtlens: error: {proc.name} exited with {proc.returncode}; log {proc.log_path}:\n{proc.log_tail()}")
            state = watch.poll(timeout_s=0.5)
            elapsed = now - t0
            if live is not None:
                live.update(_render(state, elapsed, args.duration_s, every))
            elif now - last_print >= 5:
                last_print = now
                p99s = ", ".join(f"{k} P99 {d['latency_ms'].get('p99') or 0:.0f}ms" for k, d in sorted(state.latest.items()))
                print(f"t={elapsed:4.0f}s in={state.events_per_s:6.0f} ev/s store={sum(state.docs.values()):6d} docs dlq={state.dlq} alerts firing={len(state.firing)} | {p99s}", flush=True)
            traffic_done = now >= traffic_end and not any(p.running for p in groups["traffic"] + groups["later"])
            if traffic_done and traffic_done_ms is None:
                traffic_done_ms = int(time.time() * 1000)
            if traffic_done and now >= traffic_end + drain_s:
                print(f"warning: the pipeline did not drain within {drain_s:.0f}s; the summary may miss the last windows", file=sys.stderr)
                break
            if traffic_done_ms is not None:
                totals.append(sum(state.docs.values()))
                if _drained(traffic_done_ms, totals):
                    break
    failed = [p for p in groups["traffic"] + groups["later"] if p.returncode not in (0, None)]
    for proc in failed:
        print(f"warning: {proc.name} exited with {proc.returncode}; log {proc.log_path}", file=sys.stderr)
    # stop producers' consumers first so the final counts are stable, then read the store
    for proc in groups["pipeline"][::-1]:
        proc.stop()
    summary = _summary(settings)
    _print_summary(summary, watch.poll(0.1), settings)
    _explain_alert(settings)
    return 1 if failed else 0


def _explain_alert(settings: Settings) -> None:
    """The demo's last word: ``trtlens explain`` on the alert it produced (the latest firing one)."""
    from trtlens.es import es_client
    from trtlens.explain import ExplainError, gather
    from trtlens.explain.core import diagnose, render

    print(f"\nWhy did {ALERT_RULE['model']}/{ALERT_RULE['model_version']} fire? "
          f"`trtlens explain --model {ALERT_RULE['model']} --version {ALERT_RULE['model_version']}`:\n")
    es = es_client(settings.elasticsearch)
    try:
        docs = gather(es, settings.indices, model=ALERT_RULE["model"], model_version=ALERT_RULE["model_version"], at_ms=None)
    except ExplainError as exc:
        print(f"  (nothing to explain: {exc})")
        return
    finally:
        es.close()
    d = diagnose(docs["window"], alert=docs["alert"], previous=docs["previous"], others=docs["others"],
                 traces=docs["traces"], builds=docs["builds"])
    print(render(d))


def _drained(traffic_done_ms: int, totals: list[int]) -> bool:
    """Every window has been flushed and indexed.

    Once all partitions have been silent for ``IDLE_TIMEOUT_MS`` the streams app
    flushes its open windows as final (its idle rule); after that the store must
    stop growing over the last few polls (the sink has indexed what was emitted)."""
    flushed = time.time() * 1000 >= traffic_done_ms + IDLE_TIMEOUT_MS + 2_000
    return flushed and len(totals) >= 4 and len(set(totals[-4:])) == 1
