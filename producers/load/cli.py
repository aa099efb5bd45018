"""``trtlens load``: synthetic traffic with a ground-truth file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trtlens.producers.load.scenarios import SCENARIOS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "load",
        help="publish synthetic inference traffic and write its ground truth",
        description="Synthetic requests (no inference) with per-version lognormal latency, cold starts, errors and "
        "deliberate faults; deterministic with --seed. Event time starts at --start-ms and advances with --rate, "
        "whatever the publishing speed (--realtime paces sends to event time).",
    )
    p.add_argument("--rate", type=float, default=1000.0, help="requests per second of event time (default 1000)")
    p.add_argument("--duration-s", type=float, default=10.0, help="seconds of event time (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--start-ms", type=int, help="event time of the first request, epoch ms (default now)")
    p.add_argument("--window-ms", type=int, default=10_000, help="ground-truth window (default 10000)")
    p.add_argument("--workers", type=int, default=4, help="synthetic worker ids (default 4)")
    p.add_argument("--profile", type=Path, help="YAML/JSON file with LoadConfig fields (models, faults, ...)")
    p.add_argument("--scenario", choices=list(SCENARIOS),
                   help="models with one known cause of a slow tail in resnet50/v2 (producers/load/scenarios.py)")
    p.add_argument("--duplicate-rate", type=float, help="per request: one event sent twice")
    p.add_argument("--out-of-order-rate", type=float, help="per request: one event held back within grace")
    p.add_argument("--late-rate", type=float, help="per request: request_complete later than window end + grace")
    p.add_argument("--incomplete-rate", type=float, help="per request: no request_complete")
    p.add_argument("--grace-ms", type=int, help="grace the late/out-of-order faults refer to (default 5000)")
    p.add_argument("--late-by-ms", type=int, help="how far past window end + grace late events go (default 1000)")
    p.add_argument("--gpu-sample-interval-ms", type=int, help="gpu_sample per worker (default 1000; 0 = none)")
    p.add_argument("--ground-truth", type=Path, metavar="PATH", help="write the ground-truth JSON here")
    p.add_argument("--ground-truth-latencies", action="store_true", help="include sorted latencies per window")
    p.add_argument("--output", type=Path, metavar="FILE", help="write JSON lines (.gz ok) instead of publishing")
    p.add_argument("--realtime", action="store_true", help="pace sends to event time")
    p.add_argument("--speed", type=float, default=1.0, help="with --realtime: N× event time (default 1)")
    p.add_argument("--batch-events", type=int, help="events per Kafka record (default from settings: 500)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=cmd_load)


def build_config(args: argparse.Namespace):
    from trtlens.producers.load.config import FaultSpec, LoadConfig

    data: dict = {}
    if args.profile:
        text = args.profile.read_text()
        if args.profile.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    if getattr(args, "scenario", None):
        from trtlens.producers.load.scenarios import scenario_models

        data["models"] = [m.model_dump() for m in scenario_models(args.scenario)]
    data.update(seed=args.seed, rate_rps=args.rate, duration_s=args.duration_s, window_ms=args.window_ms,
                workers=args.workers, ground_truth_latencies=args.ground_truth_latencies)
    if args.start_ms is not None:
        data["start_ms"] = args.start_ms
    if args.gpu_sample_interval_ms is not None:
        data["gpu_sample_interval_ms"] = args.gpu_sample_interval_ms
    faults = dict(data.get("faults") or {})
    for key in ("duplicate_rate", "out_of_order_rate", "late_rate", "incomplete_rate", "grace_ms", "late_by_ms"):
        if (value := getattr(args, key)) is not None:
            faults[key] = value
    data["faults"] = FaultSpec(**faults)
    return LoadConfig(**data)


def cmd_load(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from trtlens.producers.load.core import generate
    from trtlens.producers.load.runner import publish_run, write_ground_truth, write_jsonl
    from trtlens.settings import SettingsError, load_settings

    settings = load_settings(args.config)
    try:
        config = build_config(args)
    except ValidationError as exc:
        problems = [(".".join(str(p) for p in e["loc"]), e.get("input"), e["msg"]) for e in exc.errors(include_url=False)]
        raise SettingsError([(f"load.{k}", v, r) for k, v, r in problems]) from None
    run = generate(config)
    truth = run.ground_truth
    if args.ground_truth:
        write_ground_truth(run, args.ground_truth)
    print(
        f"load: run_tag={run.run_tag} requests={truth['requests']} events={run.expected_events} "
        f"start_ms={run.start_ms} faults={truth['faults']}",
        file=sys.stderr,
    )
    if args.output:
        n = write_jsonl(run, args.output)
        print(f"load: wrote {n} events to {args.output}", file=sys.stderr)
        return 0
    pub_cfg = settings.producer.model_copy(update={"spool_name": "load"})
    if args.batch_events:
        pub_cfg = pub_cfg.model_copy(update={"batch_max_events": args.batch_events})
    progress = None
    bar = None
    if sys.stderr.isatty() and not args.json:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn(), transient=True)
        bar.start()
        task = bar.add_task("publishing", total=run.expected_events)
        progress = lambda n: bar.update(task, completed=n)  # noqa: E731
    try:
        stats = publish_run(run, settings, publisher_config=pub_cfg, realtime=args.realtime, speed=args.speed,
                            progress=progress)
    finally:
        if bar is not None:
            bar.stop()
    summary = {"run_tag": run.run_tag, "ground_truth": str(args.ground_truth) if args.ground_truth else None,
               **stats.to_json()}
    if args.json:
        print(json.dumps(summary))
    else:
        c = stats.counters
        print(f"load: {stats.events} events in {stats.seconds:.2f}s = {stats.events_per_s:,.0f} events/s; "
              f"published={c['published']} spooled={c['spooled']} dropped={c['dropped']} failed={c['failed']} "
              f"spool_pending={c['spool_pending']}")
    return 0 if stats.delivered and stats.counters["failed"] == 0 else 1
