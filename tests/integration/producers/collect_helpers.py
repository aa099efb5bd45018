"""Run a Collector in a thread against the real broker; read back events and dead letters."""

from __future__ import annotations

import threading
import time

import orjson

from prodtest_helpers import read_raw, read_topic


class Running:
    def __init__(self, settings, spool_config, config, *, spool_name="collect"):
        from trtlens.producers.collect.runner import Collector
        from trtlens.producers.publisher import Publisher

        self.pub = Publisher(settings, spool_config.model_copy(update={"spool_name": spool_name}))
        self.collector = Collector(settings, self.pub, config)
        self._ready = threading.Event()
        self.result = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("collector did not start")

    def _run(self):
        try:
            self.result = self.collector.run(ready=lambda c: self._ready.set())
        finally:
            self._ready.set()

    def stop(self) -> bool:
        self.collector.request_stop()
        self.thread.join(30)
        self.pub.close()
        return self.result


def wait_for(cond, timeout_s=30.0, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def events_of(settings, want: int, timeout_s=30.0):
    landed = read_topic(settings, settings.topics.events, until=lambda l: len(l.events) >= want, timeout_s=timeout_s)
    return landed


def dead_letters(settings, count: int):
    return [orjson.loads(v) for _, v in read_raw(settings, settings.topics.events_dlq, count=count)]
