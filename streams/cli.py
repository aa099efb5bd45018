"""``trtlens streams``: run one Faust worker of the streams app."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "streams",
        help="run one Faust worker: validate, dedup, drop, windowed metrics, alerts, trace join, tail sampling",
        description=(
            "Runs one worker of the streams app in the foreground (Ctrl-C stops it). Start more processes with the "
            "same settings to share the partitions: they form one consumer group (app id = settings streams.app_id)."
        ),
    )
    p.add_argument("--app-id", help="override streams.app_id (consumer group and changelog topic prefix)")
    p.add_argument("--web", action="store_true", help="enable Faust's web server (streams.web_port)")
    p.add_argument("--faust-log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from trtlens.settings import load_settings
    from trtlens.streams.app import run_worker

    settings = load_settings(args.config)
    updates = {}
    if args.app_id:
        updates["app_id"] = args.app_id
    if args.web:
        updates["web_enabled"] = True
    if updates:
        settings = settings.model_copy(update={"streams": settings.streams.model_copy(update=updates)})
    import logging

    logging.getLogger("trtlens.streams").info(
        "streams=starting app_id=%s kafka=%s topic=%s msg='waiting for the broker (up to 30 s)'",
        settings.streams.app_id, settings.kafka.bootstrap_servers, settings.topics.events,
    )
    return run_worker(settings, loglevel=args.faust_log_level)
