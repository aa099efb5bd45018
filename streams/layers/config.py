"""Options of the layer-profile stage (``streams.layers``, env ``TRTLENS_STREAMS__LAYERS__<KEY>``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LayersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="aggregate layer_profile events into per-window layer documents")
    relative_accuracy: float = Field(0.01, gt=0, lt=0.5, description="DDSketch relative accuracy of p50/p99")
    max_layers_per_window: int = Field(
        4096, ge=1, le=1_000_000,
        description="layers kept per engine window; more (a runaway profile) are counted as overflow, not kept",
    )
    max_builds: int = Field(
        1024, ge=0, le=1_000_000,
        description="latest build report per engine remembered per partition for build ↔ runtime correlation (LRU)",
    )
    correlate: bool = Field(True, description="run the grey-box correlation when an engine window closes and its build is known")
    check_versions: bool = Field(True, description="compare engine-load runtime versions with the engine's build report")
    max_loads: int = Field(
        4096, ge=0, le=1_000_000,
        description="engine loads remembered per partition while their build report has not arrived (LRU)",
    )
