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
    import asyncio
    import logging
    import signal

    from trtlens.settings import load_settings
    from trtlens.sinks.notify.notifier import Notifier

    log = logging.getLogger("trtlens.sinks.notify")
    settings = load_settings(args.config)
    if args.group_id:
        cfg = settings.notify.model_validate({**settings.notify.model_dump(), "group_id": args.group_id})
        settings = settings.model_copy(update={"notify": cfg})

    async def main() -> None:
        notifier = Notifier(settings)
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        signals = 0

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            if signals == 1:
                log.info("notify=stopping drain=queues (signal again to exit without committing)")
                notifier.request_stop()
            else:
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await notifier.run()

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        return 130
    return 0
