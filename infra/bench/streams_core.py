"""``trtlens bench streams-core``: the partition cores in-process, tail attribution + exemplars off vs on.

The streams worker's figure (``bench streams --compare-attribution``) is the one
that counts, but on a busy machine its CPU time moves more than the difference it
is after. This runs only the pure part that attribution changes — one
``PartitionPipeline`` per partition over the same seeded load as ``bench streams``
(records of ``--events-per-record`` events, 500 by default, the worker's
``process_records`` over processing groups of 2,000 events, partials encoded
as the worker sends them) — with ``metrics.attribution`` off and on, alternating, and
prints CPU-µs per event of each (median and least of ``--rounds``) and the ratios.

``--only off|on`` runs one configuration once and ``--only none`` only builds the
input: under an instruction counter (``valgrind --tool=callgrind python -m
trtlens bench streams-core --only on``) the three give the core's instructions,
which other load on the machine does not change (on − none vs off − none).

``--source-rate R`` (below 1) samples the load at the source first, as the
instrumentation library's emitter does (``producers/instrument``: errors, cold
starts and requests at or above ``--source-slow-ms`` kept, the rest at ``R``
with ``sample_weight = 1/R`` on their events): the weighted path of the
windows, attribution and traces, per event of what is left.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from typing import Any, NamedTuple

RECORD_EVENTS = 500
GROUP_EVENTS = 2_000


class _Record(NamedTuple):
    offset: int
    key: bytes | None
    value: bytes


def build_input(requests: int, seed: int, partitions: int, events_per_record: int = RECORD_EVENTS,
                source_rate: float = 1.0, source_slow_ms: float | None = None) -> tuple[dict[int, list[bytes]], int]:
    """The bench's seeded load as records per partition (the producers' partitioning), and its event count.

    One event per record is a JSON object per record, as other producers send them; more is a JSON array.
    ``source_rate`` < 1: the emitter's sampling applied first (module doc).
    """
    import orjson

    from trtlens.kafka import partition_for_key
    from trtlens.producers.load.config import FaultSpec, LoadConfig
    from trtlens.producers.load.core import generate
    from trtlens.producers.publisher import routing_key

    run = generate(LoadConfig(seed=seed, rate_rps=requests / 60.0, duration_s=60.0, start_ms=1_700_000_000_000,
                              faults=FaultSpec(duplicate_rate=0.01, out_of_order_rate=0.01, incomplete_rate=0.005)))
    evs = run.events if source_rate >= 1.0 else _sampled_at_source(list(run.events), source_rate, source_slow_ms)
    per: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in evs:
        per[partition_for_key(routing_key(e).encode(), partitions)].append(e)
    n = events_per_record
    records = {p: [orjson.dumps(evs[i] if n == 1 else evs[i:i + n]) for i in range(0, len(evs), n)]
               for p, evs in sorted(per.items())}
    return records, sum(len(v) for v in per.values())


def _sampled_at_source(events: list[dict[str, Any]], rate: float, slow_ms: float | None) -> list[dict[str, Any]]:
    """The events the emitter's :class:`~trtlens.producers.instrument.Sampler` would let out, weights stamped."""
    from trtlens.producers.instrument import Sampler

    sampler = Sampler(rate, slow_ms=slow_ms)
    by_request: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e.get("request_id"):
            by_request[e["request_id"]].append(e)
    verdict: dict[str, float | None | bool] = {}
    for rid, evs in by_request.items():
        end = next((e for e in evs if e["event"] == "request_complete"), None)
        keep, weight = sampler.decide(
            rid, error=any(e["event"] == "error" or e.get("status") == "error" for e in evs),
            cold_start=any(e.get("cold_start") for e in evs), total_ms=end["total_ms"] if end else None,
            verbose=False)
        verdict[rid] = weight if keep else False
    out = []
    for e in events:
        rid = e.get("request_id")
        v = verdict.get(rid) if rid else None
        if v is False:
            continue
        out.append({**e, "sample_weight": v} if v is not None else e)
    return out


def run_core(records: dict[int, list[bytes]], events: int, *, attribution: bool) -> float:
    """CPU-µs per event of the partition cores over ``records`` (fresh state)."""
    import orjson

    from trtlens.settings import load_settings
    from trtlens.streams.pipeline.core import PartitionPipeline

    base = load_settings().streams
    settings = base.model_copy(update={"metrics": base.metrics.model_copy(update={"attribution": attribution})})
    gc.collect()
    t0 = time.process_time()
    for p, recs in records.items():
        pipe = PartitionPipeline(settings, topic="bench", partition=p)
        per_group = max(1, GROUP_EVENTS * len(recs) // max(1, events))  # records in a group of ~2,000 events
        for start in range(0, len(recs), per_group):
            pipe.process_records([_Record(start + k, None, raw) for k, raw in enumerate(recs[start:start + per_group])])
            out, _, _ = pipe.end_group()
            for part in out.partials:
                orjson.dumps(part.to_dict())
            for doc in out.traces:
                orjson.dumps(doc)
    return (time.process_time() - t0) / events * 1e6


def compare(records: dict[int, list[bytes]], events: int, rounds: int) -> dict[str, Any]:
    from trtlens.bench.streams import compare_order

    run_core(records, events, attribution=True)  # warm-up: imports, caches
    runs: dict[str, list[float]] = {"off": [], "on": []}
    for pair in compare_order(rounds):
        for mode in pair:
            runs[mode].append(run_core(records, events, attribution=mode == "on"))
    med = {m: statistics.median(v) for m, v in runs.items()}
    low = {m: min(v) for m, v in runs.items()}
    return {"events": events, "rounds": rounds, "cpu_us_per_event": runs,
            "median_off": round(med["off"], 3), "median_on": round(med["on"], 3),
            "median_ratio": round(med["on"] / med["off"], 4), "least_off": round(low["off"], 3),
            "least_on": round(low["on"], 3), "least_ratio": round(low["on"] / low["off"], 4),
            "load_average": os.getloadavg()}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "streams-core",
        help="the streams partition cores in-process with tail attribution + exemplars off vs on (CPU-us per event)",
        description="Same seeded load as `bench streams`, no broker: PartitionPipeline per partition, attribution "
        "off and on alternating. --only runs one configuration once (for an instruction counter).",
    )
    p.add_argument("--requests", type=int, default=100_000, help="requests to generate (~3 events each; default 100000)")
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--events-per-record", type=int, default=RECORD_EVENTS, metavar="N",
                   help="events per record (1 = one JSON object per record; default 500)")
    p.add_argument("--rounds", type=int, default=4, help="runs per configuration (default 4)")
    p.add_argument("--source-rate", type=float, default=1.0, metavar="R",
                   help="sample the load at the source first, as the emitter does (weights 1/R; default 1: none)")
    p.add_argument("--source-slow-ms", type=float, default=None, metavar="MS",
                   help="with --source-rate: requests at or above MS are always kept (default: no slow rule)")
    p.add_argument("--only", choices=["none", "off", "on"], help="build the input, then run this configuration once")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if not 0.0 < args.source_rate <= 1.0:
        raise SystemExit(f"trtlens bench streams-core: --source-rate {args.source_rate}: must be in (0, 1]")
    records, events = build_input(args.requests, args.seed, args.partitions, args.events_per_record,
                                  args.source_rate, args.source_slow_ms)
    if args.only is not None:
        us = None if args.only == "none" else run_core(records, events, attribution=args.only == "on")
        out = {"events": events, "only": args.only, "cpu_us_per_event": us}
        print(json.dumps(out) if args.json else f"events={events} only={args.only} cpu_us_per_event={us}")
        return 0
    r = compare(records, events, args.rounds)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"partition cores, {events} events, {args.rounds} runs each (CPU-us per event): "
          f"off {r['cpu_us_per_event']['off']} / on {r['cpu_us_per_event']['on']}", file=sys.stdout)
    print(f"median off {r['median_off']:.2f} / on {r['median_on']:.2f} = x{r['median_ratio']:.3f}; "
          f"least off {r['least_off']:.2f} / on {r['least_on']:.2f} = x{r['least_ratio']:.3f}; load average "
          + " ".join(f"{x:.2f}" for x in r["load_average"]))
    return 0
