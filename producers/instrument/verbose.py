""""Verbose for N minutes", flippable from outside the process.

While verbose is on for a model, the emitter keeps every request (no sampling) and debug events.
Three ways to flip it:

* in code: ``switch.set(minutes=10, model="resnet50")`` (``model=None``: every model);
* a **control file** (``control_file``), re-read when its mtime changes:
  ``{"verbose_until_ms": {"resnet50": 1733100000000, "*": 0}}`` — any tool can write it
  (``trtlens`` does not need to run in the same process);
* **alerts**: :meth:`VerboseSwitch.on_alert` takes an alert document of ``trtlens.alerts`` (a firing
  alert turns verbose on for its model for ``alert_minutes``); :func:`follow_alerts` runs a Kafka
  consumer on that topic in a thread and calls it, so an alert of the streams app flips it.

The clock is injected; reading the control file costs one ``stat`` per ``check_interval_s``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)
ALL = "*"


class VerboseSwitch:
    def __init__(self, control_file: Path | str | None = None, *, alert_minutes: float = 10.0,
                 check_interval_s: float = 1.0, clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.control_file = Path(control_file) if control_file else None
        self.alert_minutes = alert_minutes
        self.check_interval_s = check_interval_s
        self._clock_ms = clock_ms
        self._mono = monotonic
        self._until: dict[str, int] = {}
        self._file_until: dict[str, int] = {}
        self._mtime: int | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()

    def set(self, *, minutes: float, model: str | None = None) -> None:
        with self._lock:
            self._until[model or ALL] = self._clock_ms() + int(minutes * 60_000)
        log.info("verbose=on model=%s minutes=%s", model or ALL, minutes)

    def clear(self) -> None:
        with self._lock:
            self._until.clear()

    def on_alert(self, alert: dict[str, Any]) -> bool:
        """A firing alert turns verbose on for its model (``scope_key`` "model/version"); True if it did."""
        if alert.get("state") != "firing":
            return False
        scope, key = alert.get("scope"), str(alert.get("scope_key", ""))
        model = key.split("/", 1)[0] if scope == "model_version" and key else None
        self.set(minutes=self.alert_minutes, model=model)
        return True

    def _reload(self) -> None:
        now = self._mono()
        if self.control_file is None or now < self._next_check:
            return
        self._next_check = now + self.check_interval_s
        try:
            mtime = os.stat(self.control_file).st_mtime_ns
        except OSError:
            self._file_until, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        self._mtime = mtime
        try:
            doc = orjson.loads(self.control_file.read_bytes())
            until = doc.get("verbose_until_ms", {}) if isinstance(doc, dict) else {}
            self._file_until = {str(k): int(v) for k, v in until.items()}
        except (OSError, orjson.JSONDecodeError, TypeError, ValueError, AttributeError) as exc:
            log.warning("control_file=%s msg='unreadable; verbose from it is off' error=%r", self.control_file, exc)
            self._file_until = {}

    def active(self, model: str | None = None) -> bool:
        self._reload()
        now = self._clock_ms()
        for table in (self._until, self._file_until):
            if table.get(ALL, 0) > now or (model is not None and table.get(model, 0) > now):
                return True
        return False


def follow_alerts(switch: VerboseSwitch, settings, *, stop: threading.Event, group_id: str | None = None
                  ) -> threading.Thread:
    """Consume ``topics.alerts`` (from now on) in a thread; each firing alert flips ``switch``."""
    def run() -> None:
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(settings.topics.alerts, **settings.kafka.kafka_python_kwargs(),
                                 group_id=group_id, enable_auto_commit=False, auto_offset_reset="latest")
        try:
            while not stop.is_set():
                for records in consumer.poll(timeout_ms=500).values():
                    for rec in records:
                        try:
                            switch.on_alert(orjson.loads(rec.value))
                        except (orjson.JSONDecodeError, TypeError, AttributeError):
                            continue
        finally:
            consumer.close()

    thread = threading.Thread(target=run, name="trtlens-verbose-alerts", daemon=True)
    thread.start()
    return thread
