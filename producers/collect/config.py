"""Settings of ``trtlens collect`` (section ``collect``: ``TRTLENS_COLLECT__<KEY>``, or ``collect:`` in the file).

Every model rejects unknown keys; a validation message names the key, the value and the rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from trtlens.listen import is_loopback


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class MappingConfig(_Model):
    """How foreign log records become contract events (configuration, not code).

    ``rename`` maps a foreign field (dotted path into nested objects allowed: ``ctx.req``) to a
    contract field; ``defaults`` fill contract fields that are missing; ``unwrap`` names the
    fields whose value (a JSON string or object) holds the event itself (``message``, ``log``);
    ``ts_field`` names where event time is when ``ts_ms`` is absent (epoch s/ms/us/ns or RFC 3339).
    """

    rename: dict[str, str] = Field(default_factory=dict, description="foreign field (dotted path) → contract field")
    defaults: dict[str, str | int | float | bool] = Field(default_factory=dict, description="contract field → value if missing")
    unwrap: list[str] = Field(default_factory=lambda: ["message", "log", "@message", "msg"])
    ts_fields: list[str] = Field(default_factory=lambda: ["ts_ms", "timestamp", "@timestamp", "time"])
    event_values: dict[str, str] = Field(default_factory=dict,
                                         description="foreign value of `event` → contract event type")


class FilesConfig(_Model):
    paths: list[str] = Field(default_factory=list, description="glob patterns of JSON-lines logs to follow")
    format: Literal["auto", "jsonl", "docker", "cri"] = "auto"
    checkpoint_dir: Path | None = Field(None, description="default <stack.state_dir>/collect-checkpoints")
    start_at: Literal["beginning", "end"] = Field("beginning", description="where files start at the very first "
                                                  "start (no checkpoint yet); after a restart unknown files start at 0")
    poll_interval_ms: int = Field(200, ge=10, le=60_000)
    glob_interval_ms: int = Field(1000, ge=10, le=600_000, description="how often globs are re-expanded")
    read_chunk_bytes: int = Field(1 << 20, ge=4096, le=64 << 20,
                                  description="bytes read per file per poll (at least max_line_bytes + 1)")
    max_line_bytes: int = Field(1 << 20, ge=1024, le=64 << 20, description="a longer line goes to the DLQ, cut")
    fingerprint_bytes: int = Field(256, ge=16, le=65536,
                                   description="first bytes hashed with inode+device: a reused inode is a new file")
    plain_text: Literal["dlq", "skip"] = Field("dlq", description="a line that is not JSON (a stray print): "
                                               "dead-lettered, or only counted")
    rotated_globs: list[str] = Field(default_factory=list, description="where else rotated files may be "
                                     "(logrotate olddir); a checkpointed file missing at restart is looked for "
                                     "by inode in its own directory and here")
    rotated_grace_ms: int = Field(5000, ge=0, le=3_600_000,
                                  description="a rotated-away file is still read to its end this long")


class HttpConfig(_Model):
    enabled: bool = False
    # before host: host's check reads them
    api_key: SecretStr | None = Field(None, description="accepted in X-Amz-Firehose-Access-Key or X-Api-Key")
    bearer_token: SecretStr | None = Field(None, description="accepted as Authorization: Bearer <token>")
    host: str = Field("127.0.0.1", description="address to bind; a non-loopback one needs api_key or bearer_token")
    port: int = Field(8787, ge=0, le=65535, description="0 picks a free port (logged)")
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    max_body_bytes: int = Field(8 << 20, ge=1024, le=256 << 20, description="decoded body bound (413 beyond)")
    max_inflight_requests: int = Field(64, ge=1, le=10_000, description="unacknowledged requests; more → 429")
    spool_full_events: int = Field(1_000_000, ge=0,
                                   description="spooled events at which pushes get 503 + Retry-After (0: never)")
    retry_after_s: int = Field(5, ge=1, le=3600)
    ack_timeout_s: float = Field(30.0, gt=0, le=170, description="wait for the broker's ack before answering 503")

    @field_validator("api_key", "bearer_token")
    @classmethod
    def _non_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("host")
    @classmethod
    def _exposed_needs_auth(cls, value: str, info: ValidationInfo) -> str:
        if not is_loopback(value) and info.data.get("api_key") is None and info.data.get("bearer_token") is None:
            raise ValueError("is not a loopback address: accepting pushes there needs collect.http.api_key or "
                             "collect.http.bearer_token (env TRTLENS_COLLECT__HTTP__API_KEY), or bind 127.0.0.1")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> HttpConfig:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile go together: set both or neither")
        return self


class LambdaConfig(_Model):
    model: str | None = Field(None, description="model name for reports of functions that log no contract events "
                                                "(default: the function name)")
    model_version: str = Field("$LATEST", min_length=1)
    hold_ms: int = Field(2000, ge=0, le=600_000,
                         description="function records wait this long for their platform.report before going alone")
    extension_name: str = Field("trtlens-collect", min_length=1)
    listener_host: str = Field("sandbox.localdomain", min_length=1,
                               description="extension mode: the telemetry listener's host (the sandbox's own name)")
    listener_port: int = Field(4243, ge=0, le=65535, description="telemetry receiver port in extension mode")
    shutdown_reserve_ms: int = Field(200, ge=0, le=2000, description="kept back from SHUTDOWN's deadline")


class KafkaSourceConfig(_Model):
    topics: list[str] = Field(default_factory=list, description="topics other shippers write (one event per record)")
    group_id: str = Field("trtlens-collect", min_length=1)
    max_poll_records: int = Field(5000, ge=1, le=100_000)
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"


class CollectSettings(_Model):
    """``collect:`` section."""

    worker_id: str = Field("collect", min_length=1, description="worker_id given to events that have none")
    validate_events: Literal["full", "envelope"] = Field(
        "full", description="full: the contract's pydantic validation (a bad field → DLQ with the file offset); "
                            "envelope: type, ts_ms and required fields only (≈3× faster; field errors are then "
                            "dead-lettered by streams with topic/partition/offset)")
    spool_pause_events: int = Field(
        500_000, ge=0, description="while the broker is away and the publisher's spool holds this many events, files "
                                   "and Kafka topics stop being read (so a full spool never drops what a checkpoint "
                                   "would then skip); 0: never pause")
    commit_interval_ms: int = Field(1000, ge=10, le=600_000,
                                    description="how often the publisher is flushed and checkpoints committed")
    mapping: MappingConfig = Field(default_factory=MappingConfig)
    mapping_file: Path | None = Field(None, description="YAML file with a `mapping:` block (overrides `mapping`)")
    files: FilesConfig = Field(default_factory=FilesConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    aws_lambda: LambdaConfig = Field(default_factory=LambdaConfig)
    kafka: KafkaSourceConfig = Field(default_factory=KafkaSourceConfig)

    def effective_mapping(self) -> MappingConfig:
        """``mapping``, or the ``mapping:`` block of ``mapping_file``."""
        if self.mapping_file is None:
            return self.mapping
        import yaml

        from trtlens.errors import TrtlensError

        try:
            data = yaml.safe_load(Path(self.mapping_file).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise TrtlensError(f"collect.mapping_file {self.mapping_file}: cannot read it ({exc})") from exc
        block = data.get("mapping", data) if isinstance(data, dict) else None
        if not isinstance(block, dict):
            raise TrtlensError(f"collect.mapping_file {self.mapping_file}: expected a mapping: block")
        try:
            return MappingConfig.model_validate(block)
        except ValueError as exc:
            raise TrtlensError(f"collect.mapping_file {self.mapping_file}: {exc}") from exc
