"""Two-stage signals of a foreground service: the first stops it cleanly, a second cuts it short (exit 130)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from trtlens.sinks.lifecycle import run_in_foreground


class Service:
    def __init__(self, *, signals: int, drains: bool) -> None:
        self.signals = signals
        self.drains = drains
        self.stop_requests = 0
        self.events: list[str] = []
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        self.stop_requests += 1
        self._stop.set()

    async def run(self) -> None:
        for _ in range(self.signals):
            await asyncio.sleep(0.01)
            os.kill(os.getpid(), signal.SIGTERM)
        await self._stop.wait()
        self.events.append("stop requested")
        if not self.drains:
            await asyncio.sleep(30)  # a drain that never ends: only a second signal gets out
        self.events.append("drained")


def test_the_first_signal_asks_for_a_clean_stop_and_the_service_returns_0():
    svc = Service(signals=1, drains=True)
    undone = []
    rc = run_in_foreground(lambda: svc, log=logging.getLogger("t"), stopping="stopping",
                           started=lambda s: (lambda: undone.append(s)))
    assert rc == 0 and svc.stop_requests == 1 and svc.events == ["stop requested", "drained"] and undone == [svc]


def test_a_second_signal_cancels_a_drain_that_hangs_and_exits_130_after_undoing_the_start():
    svc = Service(signals=2, drains=False)
    undone = []
    rc = run_in_foreground(lambda: svc, log=logging.getLogger("t"), stopping="stopping",
                           started=lambda s: (lambda: undone.append(s)))
    assert rc == 130 and svc.stop_requests == 1 and svc.events == ["stop requested"] and undone == [svc]
