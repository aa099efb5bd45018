"""``trtlens dashboard``, ``trtlens report`` and ``trtlens kibana import``."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import time
from pathlib import Path

from trtlens.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dashboard", help="serve the web dashboard over the store (127.0.0.1:19300 by default)",
        description="A local web UI over the store (embedded osmem or Elasticsearch): QPS and latency heatmap, "
        "version comparison with tail attribution, cold starts, GPU memory with threshold and trend, alerts with "
        "exemplar traces, build quality and diffs, layer hotspots. Binds 127.0.0.1 unless dashboard.auth_token is "
        "set (env TRTLENS_DASHBOARD__AUTH_TOKEN). Everything it serves ships with the package; no other host is "
        "contacted. Settings: TRTLENS_DASHBOARD__{HOST,PORT,REFRESH_S,...}.",
    )
    p.add_argument("--host", help="address to bind (default dashboard.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default dashboard.port, 19300; 0 picks a free one)")
    p.set_defaults(func=run_dashboard)

    r = sub.add_parser(
        "report", help="write the dashboard's panels for a time range as one self-contained HTML file (+ PNGs)",
        description="The same panels as `trtlens dashboard`, with their data, script and style inlined in one HTML "
        "file that opens without a server or network (backfills, incident write-ups, CI artifacts). --png renders "
        "one PNG per panel with headless Chromium (apt-get install -y chromium).",
    )
    r.add_argument("--from", dest="from_", required=True, metavar="TIME",
                   help="start: ISO time (2026-12-01T10:00, UTC unless it has an offset), epoch ms, or now-<n>m|h|d")
    r.add_argument("--to", default="now", metavar="TIME", help="end (same forms; default now)")
    r.add_argument("--model", help="only this model")
    r.add_argument("--out", type=Path, default=Path("trtlens-report.html"), help="HTML file to write (default trtlens-report.html)")
    r.add_argument("--png", action="store_true", help="also write PNGs of every panel into <out>-png/")
    r.set_defaults(func=run_report)

    k = sub.add_parser("kibana", help="Kibana saved objects of the production stack (data views, visualizations, dashboard)",
                       description="Kibana saved objects for the trtlens indices: `trtlens kibana import` loads them "
                       "(saved objects import API, overwrite=true: importing again changes nothing); `export` prints them.")
    ks = k.add_subparsers(dest="kibana_command", metavar="ACTION", required=True)
    ki = ks.add_parser("import", help="import (overwrite) the saved objects into Kibana",
                       description="POST <url>/api/saved_objects/_import?overwrite=true with the shipped NDJSON "
                       "(built for the configured index names). Credentials: --username/--password or --api-key, or "
                       "env KIBANA_USERNAME / KIBANA_PASSWORD / KIBANA_API_KEY.")
    ki.add_argument("--url", default=None, help="Kibana base URL (default env KIBANA_URL, else http://localhost:5601)")
    ki.add_argument("--space", help="Kibana space id (default: the default space)")
    ki.add_argument("--username")
    ki.add_argument("--password")
    ki.add_argument("--api-key")
    ki.add_argument("--wait-s", type=float, default=0.0, help="retry this long while Kibana is not answering yet")
    ki.set_defaults(func=run_kibana_import)
    ke = ks.add_parser("export", help="print the saved objects (NDJSON) for the configured index names")
    ke.set_defaults(func=run_kibana_export)


def run_dashboard(args: argparse.Namespace) -> int:
    from trtlens.dashboard.server import DashboardServer

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = load_settings(args.config)
    if overrides:
        settings = load_settings(args.config, dashboard={**settings.dashboard.model_dump(), **overrides})
    from trtlens.obs import Observability

    server = DashboardServer(settings).start()
    # /metrics, /healthz, /readyz like every other process (probes: trtlens health --ready);
    # ready while the store answers, since every panel reads it
    obs = Observability(settings.obs)
    obs.set_readiness(lambda: (True, "store reachable") if server.data.es.ping() else (False, "store unreachable"))
    obs.start()
    print(f"trtlens dashboard: {server.url}  (store {settings.elasticsearch.url.split('@')[-1]}; Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        obs.stop()
        server.stop()
    return 0


def parse_time(raw: str) -> str:
    """ISO → epoch ms (UTC unless an offset is given); epoch ms and now-… pass through."""
    raw = raw.strip()
    if raw == "now" or raw.startswith("now-") or raw.isdigit():
        return raw
    try:
        t = _dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"trtlens: error: {raw!r} is not an ISO time, epoch ms or now-<n>m|h|d") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return str(int(t.timestamp() * 1000))


def run_report(args: argparse.Namespace) -> int:
    from trtlens.dashboard.data import DashboardData
    from trtlens.dashboard.report import write_report

    settings = load_settings(args.config)
    params = {"from": parse_time(args.from_), "to": parse_time(args.to), **({"model": args.model} if args.model else {})}
    from elastic_transport import TransportError

    from trtlens.dashboard.report import ReportError

    store = settings.elasticsearch.url.split("@")[-1]
    data = DashboardData(settings)
    try:
        print(f"reading panels from {store} ...", file=sys.stderr, flush=True)
        out = write_report(data, params, args.out, png=args.png)
    except TransportError as exc:
        raise ReportError(f"cannot read the store at {store} ({type(exc).__name__}); is it up? "
                          "(`trtlens stack status`, or set TRTLENS_ELASTICSEARCH__URL)") from None
    finally:
        data.close()
    meta = out["panels"]["meta"]
    print(f"wrote {out['html']} ({out['html'].stat().st_size:,} bytes; {meta['from']}..{meta['to']}, "
          f"{len(meta['models'])} model(s))")
    for img in out["images"]:
        print(f"wrote {img}")
    return 0


def _ndjson(settings) -> str:
    from trtlens.dashboard.kibana import saved_objects, to_ndjson

    return to_ndjson(saved_objects(settings.indices))


def run_kibana_import(args: argparse.Namespace) -> int:
    import os

    from trtlens.dashboard.kibana import KibanaError, import_objects

    settings = load_settings(args.config)
    url = args.url or os.environ.get("KIBANA_URL") or "http://localhost:5601"
    kwargs = {"space": args.space, "username": args.username or os.environ.get("KIBANA_USERNAME"),
              "password": args.password or os.environ.get("KIBANA_PASSWORD"),
              "api_key": args.api_key or os.environ.get("KIBANA_API_KEY")}
    deadline = time.monotonic() + args.wait_s
    while True:
        try:
            answer = import_objects(url, _ndjson(settings), **kwargs)
            break
        except KibanaError as exc:
            if (exc.status is None or exc.status >= 500) and time.monotonic() < deadline:
                print(f"kibana not ready ({exc.reason}); retrying ...", file=sys.stderr, flush=True)
                time.sleep(5)
                continue
            raise
    print(json.dumps({"success": answer.get("success"), "imported": answer.get("successCount")}))
    return 0


def run_kibana_export(args: argparse.Namespace) -> int:
    sys.stdout.write(_ndjson(load_settings(args.config)))
    return 0
