"""``trtlens bench streams``."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "streams",
        help="events/s of the streams app (all stages) vs a raw aiokafka consumer decoding the same records",
        description="Starts its own embedded stack on free ports, publishes seeded load, measures the raw consumer "
        "ceiling and one `trtlens streams` worker, prints both, their ratio and the worker's peak RSS.",
    )
    p.add_argument("--requests", type=int, default=100_000, help="requests to generate (~4.5 events each; default 100000)")
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--timeout-s", type=float, default=300.0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from trtlens.streams.bench.core import run_bench

    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    result = run_bench(requests=args.requests, partitions=args.partitions, seed=args.seed, timeout_s=args.timeout_s, log=log)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"app (1 worker, all stages): {result.events_per_s:>12,.0f} events/s  ({result.events} events in {result.app_seconds:.2f}s)")
        print(f"ceiling (raw aiokafka + decode): {result.ceiling_events_per_s:>7,.0f} events/s")
        print(f"ratio: {result.ratio:.2f}   peak RSS of the worker: {result.peak_rss_mb:.0f} MB")
        print(f"worker CPU: {result.worker_cpu_s:.2f}s = {result.events_per_cpu_s:,.0f} events per CPU-second "
              "(independent of other load on the machine)")
        print(f"last progress line: {result.breakdown}")
    return 0
