"""Options of ``trtlens dashboard`` and ``trtlens report`` (``Settings.dashboard``, env ``TRTLENS_DASHBOARD__<KEY>``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from trtlens.listen import is_loopback, refusal


class DashboardSettings(BaseModel):
    """The local web UI over the store, and the limits that keep its queries cheap on the embedded store."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # before host: host's check reads it
    auth_token: SecretStr | None = Field(
        None, description="if set, every request needs the token (Bearer, or Basic with it as password)")
    host: str = Field("127.0.0.1", min_length=1, description="address to bind; a non-loopback one needs auth_token")
    port: int = Field(19300, ge=0, le=65535, description="port to serve on (0 picks a free one)")
    refresh_s: int = Field(10, ge=0, le=3600, description="the page's default auto-refresh period (0 = off)")
    default_span_min: int = Field(15, ge=1, le=525_600, description="time range shown when none is asked for")
    max_span_days: float = Field(31.0, gt=0, le=400, description="longest time range one request may ask for")
    max_buckets: int = Field(120, ge=10, le=1000, description="most time columns of a chart (sets the interval)")
    max_window_docs: int = Field(
        20_000, ge=0, le=200_000,
        description="ranges with at most this many window documents are fetched and summed here (the embedded "
        "store aggregates ~6x slower than it fetches); larger ones use the store's aggregations; 0 = always those")
    max_docs: int = Field(500, ge=10, le=10_000, description="most alerts / builds one panel lists")
    top_layers: int = Field(15, ge=1, le=200, description="layers in the hotspot table")
    exemplars: int = Field(3, ge=1, le=20, description="exemplar traces linked per alert")
    gpu_memory_threshold_bytes: int | None = Field(
        None, gt=0, description="GPU memory line; default: the smallest gpu_memory_above alert rule")

    @field_validator("auth_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty (unset it to serve without a token on a loopback address)")
        return value

    @field_validator("host")
    @classmethod
    def _exposed_needs_token(cls, value: str, info: ValidationInfo) -> str:
        if not is_loopback(value) and info.data.get("auth_token") is None:
            raise ValueError(refusal(value, "dashboard"))  # the one bind rule (trtlens.listen)
        return value
