"""Settings of the inference worker (``Settings.worker``, env ``TRTLENS_WORKER__<KEY>``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WorkerSettings(BaseModel):
    """What ``trtlens worker`` does besides serving: how often it profiles layers."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    profile_share: float = Field(
        0.01, ge=0.0, le=1.0,
        description="share of requests run with the layer profiler (TensorRT IProfiler / ONNX Runtime profiling), "
                    "decided by a hash of request_id; each emits one layer_profile event per layer. 0 = off, 1 = all",
    )
