"""Settings of the emitter's sampling and of its verbose switch, as one pydantic model.

``trtlens worker`` nests it as ``worker.sampling`` (env ``TRTLENS_WORKER__SAMPLING__<KEY>``); users'
own services can load it from their configuration the same way and build the parts with
:meth:`SamplingConfig.sampler` and :meth:`SamplingConfig.verbose_switch`. The rules themselves are
in ``emitter.py`` (:class:`~trtlens.producers.instrument.emitter.Sampler`) and ``verbose.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from trtlens.producers.instrument.emitter import Sampler
from trtlens.producers.instrument.verbose import VerboseSwitch

WEEK_MINUTES = 7 * 24 * 60


class SamplingConfig(BaseModel):
    """Which requests the emitter keeps (all of a request's events go, or none)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    rate: float = Field(
        1.0, ge=0.0, le=1.0,
        description="share of ordinary requests kept, decided by blake2b(request_id); errors, cold starts, slow "
                    "requests and verbose periods are always kept. 1 = every request (exact counts downstream)")
    slow_ms: float | None = Field(
        None, gt=0, description="a request with total_ms at or above this is always kept; unset: no slow rule")
    verbose_minutes: float = Field(
        0.0, ge=0, le=WEEK_MINUTES,
        description="verbose for this many minutes from start-up: every request kept, debug events emitted (0 = off)")
    verbose_control_file: Path | None = Field(
        None, description='JSON {"verbose_until_ms": {"<model>" or "*": <epoch ms>}} any tool can write; re-read '
                          "when its mtime changes")
    verbose_check_interval_ms: int = Field(
        1000, ge=10, le=600_000, description="how often the control file's mtime is looked at (one stat)")
    verbose_on_alerts: bool = Field(
        False, description="consume topics.alerts: a firing alert of the model turns verbose on")
    alert_verbose_minutes: float = Field(
        10.0, gt=0, le=WEEK_MINUTES, description="how long verbose stays on after a firing alert")

    def sampler(self) -> Sampler:
        return Sampler(self.rate, slow_ms=self.slow_ms)

    def verbose_switch(self, *, clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
                       monotonic: Callable[[], float] = time.monotonic) -> VerboseSwitch:
        """The switch, already on for ``verbose_minutes`` (every model) when that is set."""
        switch = VerboseSwitch(self.verbose_control_file, alert_minutes=self.alert_verbose_minutes,
                               check_interval_s=self.verbose_check_interval_ms / 1000, clock_ms=clock_ms,
                               monotonic=monotonic)
        if self.verbose_minutes > 0:
            switch.set(minutes=self.verbose_minutes)
        return switch
