"""Options of ``trtlens notify`` (``Settings.notify``, env ``TRTLENS_NOTIFY__<KEY>``).

Endpoints are a list (``TRTLENS_NOTIFY__ENDPOINTS`` as JSON, or ``notify.endpoints``
in the settings file)::

    notify:
      endpoints:
        - {name: oncall, kind: alertmanager, url: "http://alertmanager:9093"}
        - {name: chat, kind: slack, url: "https://hooks.slack.com/services/T000/B000/XXXX",
           rules: [p99_above_1s]}
        - {name: audit, kind: webhook, url: "https://audit.example/hook",
           headers: {Authorization: "Bearer ..."}, scopes: [model_version]}

Webhook URLs carry tokens and headers carry credentials, so both are
``SecretStr``; they are wrapped *before* validation, so even a validation error
(which names the offending input) shows ``SecretStr('**********')``, never the
value.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from trtlens.schemas.documents import MetricScope

EndpointKind = Literal["webhook", "slack", "alertmanager"]
ENDPOINT_KINDS: tuple[EndpointKind, ...] = ("webhook", "slack", "alertmanager")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # Prometheus label name
# keys of an endpoint whose values are not secret; every other string value is wrapped
_PLAIN_KEYS = frozenset({"name", "kind", "timeout_s", "queue_max", "rules", "scopes", "labels", "firing_ends_after_s"})
# headers trtlens sets itself: configuring them would break the idempotency contract or the body
RESERVED_HEADERS = frozenset({"idempotency-key", "content-type", "content-length", "host"})
# what ``link_template`` may name (each value URL-quoted)
LINK_FIELDS = ("rule_id", "rule_kind", "scope", "scope_key", "state", "window_start_ms", "window_end_ms", "doc_id")


def _mask_endpoint(data: Any) -> Any:
    """Wrap the URL, every header value and any unknown key's string value in ``SecretStr``."""
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "headers" and isinstance(value, dict):
            out[key] = {k: SecretStr(v) if isinstance(v, str) else v for k, v in value.items()}
        elif key not in _PLAIN_KEYS and isinstance(value, str):
            out[key] = SecretStr(value)
        else:
            out[key] = value
    return out


class EndpointConfig(BaseModel):
    """One place alerts are delivered to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Names the endpoint in logs, counters, the DLQ and the delivery log")
    kind: EndpointKind = Field(description="webhook (alert JSON + envelope) | slack | alertmanager (API v2)")
    url: SecretStr = Field(
        description="Full URL. webhook/slack: the URL posted to; alertmanager: its base URL "
        "(/api/v2/alerts is appended unless the URL already ends with it)"
    )
    headers: dict[str, SecretStr] = Field(default_factory=dict, description="Extra request headers (secret values)")
    timeout_s: float = Field(10.0, gt=0, le=300, description="Total time one request may take")
    queue_max: int | None = Field(None, ge=1, le=1_000_000, description="This endpoint's queue bound (default: notify.queue_max)")
    rules: list[str] | None = Field(None, min_length=1, description="Only these rule ids (default: all)")
    scopes: list[MetricScope] | None = Field(None, min_length=1, description="Only these scopes (default: all)")
    labels: dict[str, str] = Field(
        default_factory=dict, description="alertmanager: static labels added to every alert (e.g. severity, team)"
    )
    firing_ends_after_s: float = Field(
        86_400.0, ge=0, le=31_536_000,
        description="alertmanager: a firing alert carries endsAt = startsAt + this (0 = omit endsAt, and "
        "Alertmanager resolves it after its resolve_timeout unless it is re-sent)",
    )

    @model_validator(mode="before")
    @classmethod
    def _mask(cls, data: Any) -> Any:
        return _mask_endpoint(data)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be 1-64 characters of letters, digits, '_', '.', '-', starting with a letter or digit")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        scheme, sep, rest = raw.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name in value:
            if not _HEADER.match(name):
                raise ValueError(f"header name {name!r} is not an HTTP token")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by trtlens notify itself")
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> EndpointConfig:
        from urllib.parse import urlsplit

        if "@" in (urlsplit(self.url.get_secret_value()).netloc or "") and any(
                name.lower() == "authorization" for name in self.headers):
            raise ValueError("url carries user:password and headers an Authorization: give the credential once "
                             "(the HTTP client cannot send both)")
        return self

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _LABEL.match(name):
                raise ValueError(f"label name {name!r} must match [A-Za-z_][A-Za-z0-9_]*")
        return value

    def post_url(self) -> str:
        """The URL requests go to (Alertmanager: its v2 alerts endpoint)."""
        url = self.url.get_secret_value()
        if self.kind == "alertmanager" and not url.rstrip("/").endswith("/api/v2/alerts"):
            return url.rstrip("/") + "/api/v2/alerts"
        return url

    def secrets(self) -> list[str]:
        """Every string that must never reach a log line or the DLQ (see ``core.redact``)."""
        from urllib.parse import urlsplit

        url = self.url.get_secret_value()
        out = [url, self.post_url()]
        parts = urlsplit(url)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        if tail.strip("/"):
            out.append(tail)
            out.extend(seg for seg in parts.path.split("/") if len(seg) >= 6)  # tokens are path segments (Slack)
        if parts.query:
            out.append(parts.query)
        if parts.password:
            out.append(parts.password)
        if parts.username:
            out.append(parts.username)
        out.extend(v.get_secret_value() for v in self.headers.values())
        return [s for s in out if s]


class NotifySettings(BaseModel):
    """How ``trtlens notify`` consumes ``trtlens.alerts``, delivers, retries and commits."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    group_id: str = Field("trtlens-notify", min_length=1, description="Kafka consumer group of the notifier")
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest", description="Where a group without committed offsets starts"
    )
    endpoints: list[EndpointConfig] = Field(default_factory=list, description="Where alerts go")
    max_attempts: int = Field(8, ge=1, le=1000, description="Attempts per (alert, endpoint) before it is dead-lettered")
    backoff_initial_ms: int = Field(500, ge=1, le=600_000)
    backoff_max_ms: int = Field(30_000, ge=1, le=3_600_000, description="Cap of a retry delay (Retry-After included)")
    backoff_multiplier: float = Field(2.0, ge=1.0, le=10.0)
    backoff_jitter: float = Field(0.5, ge=0.0, le=1.0, description="Fraction of each delay drawn at random")
    queue_max: int = Field(
        1000, ge=1, le=1_000_000, description="Deliveries waiting per endpoint; beyond it they are dead-lettered"
    )
    fetch_max_records: int = Field(500, ge=1, le=100_000, description="Alert records per fetch")
    poll_timeout_ms: int = Field(500, ge=1, le=60_000, description="How long one fetch waits for records")
    fetch_max_wait_ms: int = Field(100, ge=0, le=30_000, description="Longest a broker fetch waits for data")
    max_poll_interval_ms: int = Field(300_000, ge=10_000, le=3_600_000)
    log_read_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="How long start-up (and each assignment) may take to read the delivery log"
    )
    revoke_drain_timeout_s: float = Field(
        10.0, ge=0, le=600, description="On a rebalance, wait this long for requests in flight before giving partitions up"
    )
    stop_drain_timeout_s: float = Field(
        30.0, ge=0, le=3600, description="On SIGTERM, wait this long for queued deliveries before exiting"
    )
    max_age_s: float | None = Field(
        None, gt=0,
        description="Skip (count, never send) alerts whose window ended longer ago than this by the wall clock, "
        "e.g. 3600 so a backfill (`trtlens replay` of last week) pages nobody; default: send every alert",
    )
    link_template: str | None = Field(
        None,
        description="URL shown with an alert that carries no url of its own, formatted with the alert's "
        "{rule_id} {rule_kind} {scope} {scope_key} {state} {window_start_ms} {window_end_ms} {doc_id} "
        "(URL-quoted), e.g. a Kibana Discover link",
    )

    @model_validator(mode="before")
    @classmethod
    def _mask(cls, data: Any) -> Any:
        # errors raised below name their input: the endpoints' secrets are already wrapped there
        if isinstance(data, dict) and isinstance(data.get("endpoints"), list):
            data = {**data, "endpoints": [_mask_endpoint(e) for e in data["endpoints"]]}
        return data

    @field_validator("link_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            value.format(**{k: "x" for k in LINK_FIELDS})
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"must only use the fields {', '.join(LINK_FIELDS)} in braces ({exc!r})") from None
        return value

    # checks across fields are field validators on purpose: a model-level error would
    # name the section's raw input, URLs included
    @field_validator("backoff_max_ms")
    @classmethod
    def _backoff(cls, value: int, info: ValidationInfo) -> int:
        initial = info.data.get("backoff_initial_ms")
        if initial is not None and value < initial:
            raise ValueError(f"backoff_max_ms ({value}) must be >= backoff_initial_ms ({initial})")
        return value

    @field_validator("endpoints")
    @classmethod
    def _unique(cls, value: list[EndpointConfig]) -> list[EndpointConfig]:
        names = [e.name for e in value]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"endpoint names must be unique; repeated: {', '.join(dup)}")
        return value
