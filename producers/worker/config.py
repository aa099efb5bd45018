"""Settings of the inference worker (``Settings.worker``, env ``TRTLENS_WORKER__<KEY>``).

``sampling`` is the instrumentation library's :class:`~trtlens.producers.instrument.config.SamplingConfig`
(env ``TRTLENS_WORKER__SAMPLING__<KEY>``); the ``trtlens worker`` flags of the same names override it
(:func:`sampling_with_flags`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trtlens.errors import TrtlensError
from trtlens.producers.instrument.config import SamplingConfig

# ``trtlens worker`` flag → the ``worker.sampling`` key it overrides
SAMPLING_FLAGS = {
    "--sample-rate": "rate",
    "--slow-ms": "slow_ms",
    "--verbose-minutes": "verbose_minutes",
    "--verbose-control-file": "verbose_control_file",
    "--verbose-check-interval-ms": "verbose_check_interval_ms",
    "--verbose-on-alerts": "verbose_on_alerts",
    "--alert-verbose-minutes": "alert_verbose_minutes",
}


class WorkerFlagError(TrtlensError):
    """A ``trtlens worker`` flag's value breaks the rule of the setting it overrides.

    Attributes:
        flag: the flag (``--sample-rate``); key: the setting (``worker.sampling.rate``); value; rule.
    """

    def __init__(self, flag: str, key: str, value: Any, rule: str) -> None:
        self.flag, self.key, self.value, self.rule = flag, key, value, rule
        super().__init__(f"trtlens worker {flag} {value}: {key}: {rule}")


class WorkerSettings(BaseModel):
    """What ``trtlens worker`` does besides serving: how often it profiles layers, which requests it keeps."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    profile_share: float = Field(
        0.01, ge=0.0, le=1.0,
        description="share of requests run with the layer profiler (TensorRT IProfiler / ONNX Runtime profiling), "
                    "decided by a hash of request_id; each emits one layer_profile event per layer. 0 = off, 1 = all",
    )
    sampling: SamplingConfig = Field(
        default_factory=SamplingConfig,
        description="the emitter's sampling of the worker's requests and its verbose switch "
                    "(producers/instrument/README.md)",
    )


def sampling_with_flags(base: SamplingConfig, given: dict[str, Any]) -> SamplingConfig:
    """``base`` (the ``worker.sampling`` settings) with the flags that were given (flag → value, None = not given).

    A value that breaks a rule raises :class:`WorkerFlagError` naming the flag, the setting and the rule.
    """
    unknown = sorted(set(given) - set(SAMPLING_FLAGS))
    if unknown:
        raise KeyError(f"not sampling flags: {unknown}")
    data = base.model_dump()
    data.update({SAMPLING_FLAGS[flag]: value for flag, value in given.items() if value is not None})
    try:
        return SamplingConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        key = str(err["loc"][0]) if err["loc"] else ""
        flag = next((f for f, k in SAMPLING_FLAGS.items() if k == key), "")
        raise WorkerFlagError(flag, f"worker.sampling.{key}", err.get("input"),
                              err["msg"].removeprefix("Value error, ")) from None
