"""How a consuming service runs in the foreground: two-stage signals.

The first SIGINT/SIGTERM asks the service to stop cleanly (``request_stop``: it drains what it holds,
commits and returns from ``run``); a second one cancels it at once without committing, which is safe
because uncommitted records are re-delivered and their writes overwrite (deterministic ids and keys).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any


def run_in_foreground(make_service: Callable[[], Any], *, log: logging.Logger, stopping: str,
                      started: Callable[[Any], Callable[[], None]] | None = None) -> int:
    """Run ``make_service().run()`` until it returns; 0, or 130 when a second signal cut it short.

    ``stopping`` is logged at the first signal; ``started(service)``, when given, runs before ``run``
    and returns what undoes it afterwards (e.g. an obs listener's ``stop``).
    """

    async def main() -> None:
        service = make_service()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        signals = 0

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            if signals == 1:
                log.info(stopping)
                service.request_stop()
            else:
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        undo = started(service) if started is not None else None
        try:
            await service.run()
        finally:
            if undo is not None:
                undo()

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        return 130
    return 0
