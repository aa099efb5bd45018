"""Drop rules: a discriminated union on ``kind``; every rule has an ``id`` used in counters."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)


class EventTypeRule(_Rule):
    kind: Literal["event_type"] = "event_type"
    types: list[str] = Field(min_length=1)


class LevelRule(_Rule):
    kind: Literal["level"] = "level"
    levels: list[Literal["debug", "info", "warning", "error"]] = Field(min_length=1)


class HealthCheckRule(_Rule):
    """Every event of a health-check request: request_id prefix or model name."""

    kind: Literal["health_check"] = "health_check"
    request_id_prefixes: list[str] = Field(default_factory=lambda: ["health-", "healthz-"])
    models: list[str] = Field(default_factory=lambda: ["__health__"])


class FieldEqualsRule(_Rule):
    """Events whose top-level ``field`` equals one of ``values`` (compared as strings)."""

    kind: Literal["field_equals"] = "field_equals"
    field: str = Field(min_length=1)
    values: list[str] = Field(min_length=1)


DropRule = Annotated[Union[EventTypeRule, LevelRule, HealthCheckRule, FieldEqualsRule], Field(discriminator="kind")]


def _default_rules() -> list:
    return [LevelRule(id="debug_level", levels=["debug"]), HealthCheckRule(id="health_checks")]


class DropConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[DropRule] = Field(default_factory=_default_rules)
