"""``trtlens notify``: deliver alerts to the configured endpoints until stopped."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "notify",
        help="deliver trtlens.alerts to webhooks, Slack and Alertmanager (consumer group)",
        description="Consume trtlens.alerts and deliver each alert state change (firing once, resolved once) to "
        "every endpoint in notify.endpoints. Offsets commit only after every endpoint delivered the record or it "
        "was dead-lettered to trtlens.notify.dlq; the delivery log trtlens.notify.delivered keeps restarts from "
        "sending twice. SIGTERM/Ctrl-C drains the queues (notify.stop_drain_timeout_s), commits and exits; a "
        "second signal exits at once (safe: unfinished deliveries are re-read).",
    )
    p.add_argument("--group-id", help="consumer group (default: notify.group_id = trtlens-notify)")
    p.set_defaults(func=cmd_notify)


def cmd_notify(args: argparse.Namespace) -> int:
    import logging

    from trtlens.settings import load_settings
    from trtlens.sinks.lifecycle import run_in_foreground
    from trtlens.sinks.notify.notifier import Notifier

    log = logging.getLogger("trtlens.sinks.notify")
    settings = load_settings(args.config)
    if args.group_id:
        cfg = settings.notify.model_validate({**settings.notify.model_dump(), "group_id": args.group_id})
        settings = settings.model_copy(update={"notify": cfg})

    return run_in_foreground(lambda: Notifier(settings), log=log,
                             stopping="notify=stopping drain=queues (signal again to exit without committing)")
