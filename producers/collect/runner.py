"""The ``trtlens collect`` process: one publisher, one committer, the configured sources, the obs listener."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from pathlib import Path

from trtlens.producers.collect.commit import Committer
from trtlens.producers.collect.config import CollectSettings
from trtlens.producers.collect.intake import Intake
from trtlens.producers.collect.mapping import Mapper

log = logging.getLogger(__name__)


class Collector:
    """Wires sources to one publisher. ``run()`` blocks until SIGTERM/SIGINT or ``request_stop()``."""

    def __init__(self, settings, publisher, config: CollectSettings | None = None) -> None:
        self.settings = settings
        self.config = config or settings.collect
        self.publisher = publisher
        self.committer = Committer(publisher, interval_ms=self.config.commit_interval_ms)
        self.intake = Intake(publisher, self.committer, Mapper(self.config.effective_mapping(),
                                                               worker_id=self.config.worker_id,
                                                               validate=self.config.validate_events),
                             spool_pause_events=self.config.spool_pause_events)
        self.files = None
        self.http = None
        self.kafka = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _build_sources(self) -> None:
        cfg = self.config
        if cfg.files.paths:
            from trtlens.producers.collect.filesource import FileSource

            cp_dir = cfg.files.checkpoint_dir or Path(self.settings.stack.state_dir) / "collect-checkpoints"
            self.files = FileSource(cfg.files, self.intake, cp_dir)
        if cfg.http.enabled:
            from trtlens.producers.collect.httpsource import HttpSource
            from trtlens.producers.collect.telemetry import TelemetryJoiner

            lam = cfg.aws_lambda
            joiner = TelemetryJoiner(self.intake.mapper, function_name=os.environ.get(
                "AWS_LAMBDA_FUNCTION_NAME", lam.model or "lambda"), model=lam.model, model_version=lam.model_version,
                hold_ms=lam.hold_ms)
            self.http = HttpSource(cfg.http, self.intake, joiner=joiner)
        if cfg.kafka.topics:
            from trtlens.producers.collect.kafkasource import KafkaSource

            self.kafka = KafkaSource(cfg.kafka, self.settings, self.intake)
        if self.files is None and self.http is None and self.kafka is None:
            from trtlens.errors import TrtlensError

            raise TrtlensError("no source configured: give --files GLOB, --http, or --kafka-topic "
                               "(or collect.files.paths / collect.http.enabled / collect.kafka.topics)")

    def request_stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def run(self, *, ready=None) -> bool:
        """Run until stopped; returns True when everything read was acknowledged and committed."""
        return asyncio.run(self._main(ready))

    async def _main(self, ready) -> bool:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._loop.add_signal_handler(sig, self._stop.set)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass
        self._build_sources()
        self.committer.start()
        if self.files is not None:
            self.files.start()
        if self.kafka is not None:
            self.kafka.start()
        if self.http is not None:
            await self.http.start()
        log.info("collect=running host=%s files=%s http=%s kafka=%s", socket.gethostname(),
                 self.config.files.paths or "-", self.http.port if self.http else "-",
                 ",".join(self.config.kafka.topics) or "-")
        if ready is not None:
            ready(self)
        await self._stop.wait()
        log.info("collect=stopping msg='final flush and commit'")
        if self.http is not None:
            await self.http.stop()
        if self.files is not None:
            await asyncio.to_thread(self.files.stop)
        if self.kafka is not None:
            await asyncio.to_thread(self.kafka.stop_reading)
        ok = await asyncio.to_thread(self.committer.stop)
        if self.kafka is not None:
            await asyncio.to_thread(self.kafka.close)
        return ok
