"""The settings shell: the sections every trtlens process shares, and the registry of the others.

Bottom layer: this module imports no component. Each component declares its
own section (a pydantic model rejecting unknown keys) and registers it under a
name through the ``trtlens.settings`` entry-point group in ``pyproject.toml``
(``streams = "trtlens.streams.config:StreamsSettings"``); :func:`register_section`
does the same at run time (plugins, tests). :func:`load_settings` assembles one
root model from the shell's sections plus every registered one.

Sources, highest priority first: keyword overrides (the CLI), environment
variables ``TRTLENS_<SECTION>__<KEY>`` (e.g. ``TRTLENS_KAFKA__BOOTSTRAP_SERVERS``),
a ``.env`` file, a TOML or YAML file named by ``TRTLENS_CONFIG`` (or ``--config``),
then the defaults. Defaults point at the embedded stack on ports that do not
collide with a real Kafka (9092) or Elasticsearch (9200).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, ValidationInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from trtlens.errors import TrtlensError
from trtlens.listen import BindRefusedError, check_bind, is_loopback  # noqa: F401 - is_loopback re-exported

DEFAULT_KAFKA_PORT = 19092
# settings whose values an error message must not repeat
SECRET_KEYS = frozenset({"sasl_password", "password", "api_key", "auth_token"})
DEFAULT_ES_PORT = 19200


class SettingsError(TrtlensError):
    """A setting failed validation.

    Attributes:
        problems: one ``(key, value, rule)`` per failing setting; key is dotted
            (``kafka.bootstrap_servers``) and names its env var in the message.
    """

    def __init__(self, problems: list[tuple[str, Any, str]]) -> None:
        self.problems = problems
        lines = [
            f"  {key} = {value!r}: {rule}  (env TRTLENS_{key.upper().replace('.', '__')})"
            for key, value, rule in problems
        ]
        super().__init__("invalid settings:\n" + "\n".join(lines))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class KafkaSettings(_Section):
    bootstrap_servers: str = f"127.0.0.1:{DEFAULT_KAFKA_PORT}"
    client_id: str = "trtlens"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    # Group joins on the embedded broker wait session_timeout/2 (DESIGN.md): keep it short.
    session_timeout_ms: int = Field(6000, ge=1000, le=300_000)
    heartbeat_interval_ms: int = Field(1000, ge=100, le=60_000)

    @field_validator("bootstrap_servers")
    @classmethod
    def _hosts(cls, value: str) -> str:
        for part in value.split(","):
            host, sep, port = part.strip().rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError("must be host:port[,host:port...] with a port in 1..65535")
        return value

    def common_kwargs(self) -> dict[str, Any]:
        """Connection and security options understood by kafka-python and aiokafka alike."""
        out: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            out["sasl_mechanism"] = self.sasl_mechanism
            out["sasl_plain_username"] = self.sasl_username
            out["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        return out

    def kafka_python_kwargs(self) -> dict[str, Any]:
        out = self.common_kwargs()
        for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if (value := getattr(self, key)) is not None:
                out[key] = str(value)
        return out

    def aiokafka_kwargs(self) -> dict[str, Any]:
        out = self.common_kwargs()
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            out["ssl_context"] = create_ssl_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
                certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
                keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
            )
        return out


class TopicSettings(_Section):
    events: str = "trtlens.events"
    events_dlq: str = "trtlens.events.dlq"
    traces: str = "trtlens.traces"
    metrics: str = "trtlens.metrics"
    alerts: str = "trtlens.alerts"
    builds: str = "trtlens.builds"
    layers: str = "trtlens.layers"  # per window × engine × layer runtime profile aggregates
    findings: str = "trtlens.findings"  # build ↔ runtime findings (split fusions, runtime share, version mismatch)
    sink_dlq: str = "trtlens.sink.dlq"
    metrics_partials: str = "trtlens.metrics.partials"  # internal: per-partition partial windows → merge stage
    notify_delivered: str = "trtlens.notify.delivered"  # compacted: what `trtlens notify` finished, per (endpoint, key)
    notify_dlq: str = "trtlens.notify.dlq"
    partitions: int = Field(3, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1, le=16)

    def all_topics(self) -> list[str]:
        return [self.events, self.events_dlq, self.traces, self.metrics, self.alerts, self.builds, self.layers,
                self.findings, self.sink_dlq, self.metrics_partials, self.notify_delivered, self.notify_dlq]

    def topic_configs(self) -> dict[str, dict[str, str]]:
        """Topic-level configs a topic is created with (topics not named here get the broker's defaults)."""
        return {self.notify_delivered: {"cleanup.policy": "compact"}}


class ElasticsearchSettings(_Section):
    url: str = f"http://127.0.0.1:{DEFAULT_ES_PORT}"
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_certs: Path | None = None
    verify_certs: bool = True
    request_timeout_s: float = Field(30.0, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        for part in value.split(","):
            if not part.strip().startswith(("http://", "https://")):
                raise ValueError("must start with http:// or https:// (comma-separate several nodes)")
        return value


class IndexSettings(_Section):
    """Index families. Documents go to daily indices ``<name>-YYYY.MM.DD`` (by event
    time); ``<name>`` itself is a read alias over all of them."""

    traces: str = "trtlens-traces"
    metrics: str = "trtlens-metrics"
    alerts: str = "trtlens-alerts"
    builds: str = "trtlens-builds"
    layers: str = "trtlens-layers"
    findings: str = "trtlens-findings"
    shards: int = Field(1, ge=1, le=64)
    replicas: int = Field(0, ge=0, le=8)
    retention_days: int = Field(30, ge=1, le=3650)


class StackSettings(_Section):
    """The embedded stack (Tansu broker + osmem store) started by ``trtlens stack up``."""

    host: str = "127.0.0.1"
    kafka_port: int = Field(DEFAULT_KAFKA_PORT, ge=0, le=65535, description="0 picks a free port")
    es_port: int = Field(DEFAULT_ES_PORT, ge=0, le=65535, description="0 picks a free port")
    state_dir: Path = Field(default_factory=lambda: Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local/state")) / "trtlens")
    ready_timeout_s: float = Field(30.0, gt=0, le=600)


class ObsSettings(_Section):
    """The self-metrics and health listener every long-running process starts (``trtlens.obs``)."""

    enabled: bool = True
    # before host: host's check reads it
    auth_token: SecretStr | None = Field(None, description="if set, every request needs Authorization: Bearer <token>")
    host: str = Field("127.0.0.1", min_length=1, description="address to bind; a non-loopback one needs auth_token")
    port: int = Field(0, ge=0, le=65535, description="0 picks a free port (written to port_file, logged)")
    port_file: Path | None = Field(None, description="where the process writes the port it bound (for a supervisor)")

    @field_validator("auth_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty (unset it to serve without a token on a loopback address)")
        return value

    @field_validator("host")
    @classmethod
    def _exposed_needs_token(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("enabled", True):
            try:
                check_bind(value, authenticated=info.data.get("auth_token") is not None, section="obs")
            except BindRefusedError as exc:
                raise ValueError(str(exc)) from None
        return value


class Settings(BaseSettings):
    """The shell: connection, topic, index, stack and obs sections (components add theirs, see the module doc)."""

    model_config = SettingsConfigDict(
        env_prefix="TRTLENS_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        validate_default=True,
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    indices: IndexSettings = Field(default_factory=IndexSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    obs: ObsSettings = Field(default_factory=ObsSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        config = os.environ.get("TRTLENS_CONFIG")
        if config:
            path = Path(config)
            if path.suffix == ".toml":
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            elif path.suffix in (".yaml", ".yml"):
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        sources.append(file_secret_settings)
        return tuple(sources)


ENTRY_POINT_GROUP = "trtlens.settings"
_sections: dict[str, type[BaseModel]] = {}
_discovered = False
_root: type[Settings] | None = None


def register_section(name: str, model: type[BaseModel]) -> None:
    """Add a settings section (``TRTLENS_<NAME>__<KEY>``); a name may be registered once."""
    global _root
    if name in Settings.model_fields:
        raise ValueError(f"settings section {name!r} belongs to the shell")
    if _sections.get(name, model) is not model:
        raise ValueError(f"settings section {name!r} is registered twice ({_sections[name].__module__}, {model.__module__})")
    _sections[name] = model
    _root = None


def sections() -> dict[str, type[BaseModel]]:
    """Every registered section (entry points discovered on first use), by name."""
    global _discovered
    if not _discovered:
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name not in _sections:
                register_section(ep.name, ep.load())
        _discovered = True
    return dict(_sections)


def settings_class() -> type[Settings]:
    """The root model: the shell plus one field per registered section."""
    global _root
    registered = sections()
    if _root is None:
        from pydantic import create_model

        fields: dict[str, Any] = {name: (model, Field(default_factory=model)) for name, model in registered.items()}
        _root = create_model("Settings", __base__=Settings, __module__=__name__, **fields)
    return _root


def settings_env(settings: BaseModel, *, sections_: list[str] | None = None) -> dict[str, str]:
    """``TRTLENS_*`` environment variables that reproduce ``settings`` in a child process.

    Secrets are passed as their real values (a child needs them); lists and
    nested models are flattened with ``__``, lists as JSON. ``sections_`` limits
    the output to some sections.
    """
    import orjson

    env: dict[str, str] = {}

    def flatten(prefix: str, model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            key = f"{prefix}{name.upper()}"
            if value is None:
                continue
            if isinstance(value, SecretStr):
                env[key] = value.get_secret_value()
            elif isinstance(value, BaseModel):
                flatten(f"{key}__", value)
            elif isinstance(value, bool):
                env[key] = str(value).lower()
            elif isinstance(value, (list, dict)):
                env[key] = orjson.dumps(_revealed(value)).decode()
            else:
                env[key] = str(value)

    for name in type(settings).model_fields:
        if sections_ is None or name in sections_:
            flatten(f"TRTLENS_{name.upper()}__", getattr(settings, name))
    return env


def _revealed(value: Any) -> Any:
    """JSON-ready ``value`` with secrets as their real values (a child process needs them)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {name: _revealed(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {k: _revealed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_revealed(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def load_settings(config: Path | str | None = None, **overrides: Any) -> Settings:
    """Build settings from all sources; raise :class:`SettingsError` naming key, value and rule."""
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise SettingsError([("config", str(path), "file does not exist")])
        if path.suffix not in (".toml", ".yaml", ".yml"):
            raise SettingsError([("config", str(path), "must be a .toml, .yaml or .yml file")])
    saved = os.environ.get("TRTLENS_CONFIG")
    try:
        if config is not None:
            os.environ["TRTLENS_CONFIG"] = str(config)
        return settings_class()(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            key = ".".join(str(p) for p in err["loc"])
            rule = err["msg"].removeprefix("Value error, ")
            value = "**********" if key.rsplit(".", 1)[-1] in SECRET_KEYS else err.get("input")
            problems.append((key, value, rule))
        raise SettingsError(problems) from None
    finally:
        if config is not None:
            if saved is None:
                os.environ.pop("TRTLENS_CONFIG", None)
            else:
                os.environ["TRTLENS_CONFIG"] = saved
