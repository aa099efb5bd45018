"""``trtlens replay PATH...``: backfill historic event logs into trtlens.events."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="replay historic event logs (JSONL, plain or .gz/.bz2/.xz; 'message' wrappers, CloudWatch exports) into Kafka",
        description="Keeps each event's own timestamp (event time), assigns a deterministic event_id where missing "
        "(so a second replay of the same file is removed by dedup), sends bad lines to the dead-letter topic with "
        "file and line, and checkpoints per file (--resume).",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--rate", type=float, help="at most this many events per second")
    p.add_argument("--speed", type=float, help="replay at N× the original pace (by event time)")
    p.add_argument("--resume", action="store_true", help="continue each file from its checkpoint")
    p.add_argument("--checkpoint-dir", type=Path, help="default <stack.state_dir>/replay-checkpoints")
    p.add_argument("--format", default="auto", help="auto (default), jsonl, json-document, or a registered reader")
    p.add_argument("--max-lines", type=int, help="stop after N lines in total (resumable with --resume)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="replay up to N files at once, one process (and publisher) each; default 1. "
                   "Not with --rate, --speed or --max-lines")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=cmd_replay)


def _load_plugins() -> None:
    """Readers other packages register (the grey-box TensorRT log reader), if installed."""
    import importlib
    import logging

    for name in ("trtlens.producers.trtlog.replay",):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        except Exception as exc:  # a broken plug-in must not stop replays of other formats
            logging.getLogger(__name__).warning("plugin=%s msg='failed to load' error=%r", name, exc)


def cmd_replay(args: argparse.Namespace) -> int:
    from trtlens.errors import TrtlensError
    from trtlens.producers.publisher import Publisher
    from trtlens.producers.replay.parallel import check_parallel_options, replay_parallel
    from trtlens.producers.replay.runner import ReplayOptions, replay_files
    from trtlens.settings import load_settings

    missing = [str(p) for p in args.paths if not p.is_file()]
    if missing:
        raise TrtlensError(f"no such file: {', '.join(missing)}")
    if args.rate is not None and args.rate <= 0 or args.speed is not None and args.speed <= 0:
        raise TrtlensError("--rate and --speed must be > 0")
    _load_plugins()
    settings = load_settings(args.config)
    options = ReplayOptions(rate_eps=args.rate, speed=args.speed, resume=args.resume,
                            checkpoint_dir=args.checkpoint_dir or settings.stack.state_dir / "replay-checkpoints",
                            format=args.format, max_lines=args.max_lines)
    check_parallel_options(options, args.jobs)
    config = settings.producer.model_copy(update={"spool_name": "replay"})
    bar = None
    progress = None
    if sys.stderr.isatty() and not args.json:
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                   TransferSpeedColumn)

        bar = Progress(TextColumn("replay"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                       TimeRemainingColumn(), transient=True)
        task = bar.add_task("replay", total=sum(p.stat().st_size for p in args.paths))
        bar.start()
        progress = lambda done, total: bar.update(task, completed=done)  # noqa: E731
    try:
        if args.jobs > 1 and len(args.paths) > 1:
            summary = replay_parallel(args.paths, settings, config, options, args.jobs, progress=progress,
                                      plugins=_load_plugins)
        else:
            with Publisher(settings, config) as pub:
                summary = replay_files(args.paths, pub, options, progress=progress)
                summary.publisher = pub.counters
    finally:
        if bar is not None:
            bar.stop()
    totals = summary.totals()
    if args.json:
        print(json.dumps(summary.to_json()))
    else:
        for f in summary.files:
            state = "complete" if f.complete else "partial"
            print(f"{f.path}: {f.format or '-'} read={f.read} published={f.published} skipped={f.skipped} "
                  f"invalid={f.invalid} ({state}{f', resumed at line ' + str(f.resumed_from) if f.resumed_from else ''})")
        c = summary.publisher
        print(f"replay: read={totals['read']} published={totals['published']} skipped={totals['skipped']} "
              f"invalid={totals['invalid']} in {summary.seconds:.1f}s; broker: published={c['published']} "
              f"dead_lettered={c['dead_lettered']} spooled={c['spooled']} failed={c['failed']}")
    return 0 if summary.delivered and summary.publisher.get("failed", 0) == 0 else 1
