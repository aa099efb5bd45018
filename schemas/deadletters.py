"""The shapes of the dead-letter and delivery-log records, for consumers of those topics.

The writers build these documents as plain dicts (``DecodeError.to_dlq``,
``sinks.core.DeadLetter.to_dlq``, ``sinks.notify.core.dlq_record``,
``LogEntry.to_json``); the models here describe them for ``trtlens asyncapi``
and ``trtlens schema``, and a unit test validates what each writer produces
against them (``extra="forbid"``: a field added to a writer must be added here).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventDeadLetter(_Record):
    """``trtlens.events.dlq``: a record or one event of a batch that did not decode (streams, replay)."""

    code: Literal["invalid_json", "not_an_event", "unknown_event_type", "invalid_event", "too_large"] = Field(
        description="machine-readable reason")
    reason: str = Field(description="a sentence for a person")
    field: str | None = Field(None, description="the offending field path (latency_ms, stages.0), if any")
    index: int | None = Field(None, description="position inside a batch record; null for a single event")
    raw: str | None = Field(description="the bytes that failed as UTF-8 (the event's own JSON inside a batch)")
    raw_hex: str | None = Field(None, description="present when raw is not UTF-8: the bytes in hex")
    source: str = Field(description="'streams', or the replayed file's path")
    topic: str | None = Field(None, description="streams: where the record was read")
    partition: int | None = None
    offset: int | None = None
    stage: Literal["replay"] | None = Field(None, description="replay: set; streams: absent")
    line: int | None = Field(None, description="replay: 1-based line of the file")


class SinkDeadLetter(_Record):
    """``trtlens.sink.dlq``: an output-topic record the store cannot index."""

    stage: Literal["sink"]
    code: Literal["invalid_json", "invalid_document", "unknown_topic", "rejected"]
    reason: str
    field: str | None = None
    topic: str
    partition: int
    offset: int
    key: str | None
    doc_id: str | None = None
    index: str | None = Field(None, description="the index the document was meant for")
    status: int | None = Field(None, description="the store's HTTP status for this document")
    error_type: str | None = Field(None, description="the store's error type (mapper_parsing_exception, ...)")
    dead_lettered_at_ms: int
    raw: str | None
    raw_hex: str | None = None


class NotifyDeadLetter(_Record):
    """``trtlens.notify.dlq``: an alert an endpoint did not take. Never holds an endpoint's URL or headers."""

    stage: Literal["notify"]
    code: Literal["delivery_failed", "rejected", "queue_full", "invalid_json", "invalid_alert"]
    reason: str = Field(description="redacted against the endpoint's secrets")
    endpoint: str | None = Field(description="the endpoint's name (null: the record is no alert)")
    endpoint_kind: Literal["webhook", "slack", "alertmanager"] | None
    idempotency_key: str | None
    doc_id: str | None
    attempts: int
    last_status: int | None
    last_error: str | None = Field(description="redacted against the endpoint's secrets")
    field: str | None
    topic: str
    partition: int
    offset: int
    key: str | None
    dead_lettered_at_ms: int
    alert: dict[str, Any] | None = Field(description="the Alert document, to re-publish after a fix")
    raw: str | None = Field(None, description="only when the record is no alert")
    raw_hex: str | None = None


class DeliveryLogEntry(_Record):
    """``trtlens.notify.delivered`` (compacted, key ``endpoint|idempotency_key``): what notify finished."""

    endpoint: str
    idempotency_key: str
    doc_id: str
    rule_id: str
    scope_key: str
    state: str
    window_start_ms: int
    outcome: Literal["delivered", "dead_lettered"]
    attempts: int
    at_ms: int


DEAD_LETTER_TYPES: dict[str, type[_Record]] = {
    "event_dead_letter": EventDeadLetter,
    "sink_dead_letter": SinkDeadLetter,
    "notify_dead_letter": NotifyDeadLetter,
    "delivery_log_entry": DeliveryLogEntry,
}
