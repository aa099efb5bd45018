"""The shapes of the dead-letter and delivery-log records, for consumers of those topics.

The writers build these documents as plain dicts; the models here describe them
for ``trtlens asyncapi`` (``docs/asyncapi.json``), and unit tests validate what
each writer produces against them (``extra="forbid"``: a field added to a writer
must be added here). Writers:

* ``trtlens.events.dlq`` (:class:`EventDeadLetter`, one variant per writer):
  ``DecodeError.to_dlq`` plus the writer's location fields —
  streams (``streams/pipeline/core.py``), replay (``producers/replay/core.dlq_doc``),
  collect (``producers/collect/intake.py`` adds ``stage`` and ``source_kind`` to
  what ``filesource.py``, ``httpsource.py`` + ``firehose.py`` + ``telemetry.py``
  and ``kafkasource.py`` build);
* ``trtlens.sink.dlq``: ``sinks.core.DeadLetter.to_dlq``;
* ``trtlens.notify.dlq``: ``sinks.notify.core.dlq_record``;
* ``trtlens.notify.delivered``: ``sinks.notify.core.LogEntry.to_json``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, RootModel, Tag


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------- trtlens.events.dlq
# One topic, three writers (streams, replay, collect) and five collector sources: each writes its own
# location fields. A record is one of the variants below; ``stage`` (absent: streams) and, for collect,
# ``source_kind`` say which (``event_dead_letter_kind``).

DecodeCode = Literal["invalid_json", "not_an_event", "unknown_event_type", "invalid_event", "too_large"]


class _EventDeadLetterBase(_Record):
    """What every ``trtlens.events.dlq`` record holds: the decoder's verdict (``DecodeError.to_dlq``)."""

    code: DecodeCode = Field(description="machine-readable reason")
    reason: str = Field(description="a sentence for a person")
    field: str | None = Field(None, description="the offending field path (latency_ms, stages.0), if any")
    index: int | None = Field(None, description="always null for this source (the streams, telemetry and kafka "
                                                "variants say what it holds there)")
    raw: str | None = Field(description="the bytes that failed, as UTF-8: the line, record or event (inside a "
                                        "batch: that event's own JSON). Cut to the first 1 KiB for too_large, "
                                        "and to the first 1 or 4 KiB for a whole collector push or foreign "
                                        "record that did not parse. Null when the bytes are not UTF-8 (then "
                                        "raw_hex)")
    raw_hex: str | None = Field(None, description="present only when raw is not UTF-8: the bytes in hex")


class StreamsEventDeadLetter(_EventDeadLetterBase):
    """Written by the streams app: a record of ``trtlens.events`` (or one event of its batch) that did not decode.

    No ``stage`` field: its absence is what tells a streams record from the others.
    """

    index: int | None = Field(None, description="position of the bad event inside the record's JSON array; "
                                                "null when the record is one event (or not JSON at all)")
    source: Literal["streams"] = Field(description="always 'streams'")
    topic: str = Field(description="the events topic the record was read from (topics.events)")
    partition: int = Field(description="its partition")
    offset: int = Field(description="the record's offset there (all bad events of one record share it)")


class ReplayEventDeadLetter(_EventDeadLetterBase):
    """Written by ``trtlens replay``: a bad line of a replayed file. Key: the file's name."""

    stage: Literal["replay"]
    index: int | None = Field(None, description="position of the bad event among the line's events (a JSON "
                                                "array, or a CloudWatch payload's log events); null for a line "
                                                "of one value")
    source: str = Field(description="the replayed file's path, as given on the command line")
    line: int = Field(description="1-based line of the file (decompressed, for a .gz); 1 for a whole-document "
                                  ".json file")


class _CollectDeadLetter(_EventDeadLetterBase):
    stage: Literal["collect"]


class CollectFileDeadLetter(_CollectDeadLetter):
    """Written by ``trtlens collect`` from a followed file: a bad line. Key: the file's name."""

    source_kind: Literal["file"]
    source: str = Field(description="the file's path when the line was read (after a rotation: its new name; "
                                    "a file recovered compressed: the compressed file's path)")
    offset: int = Field(description="byte offset of the line's first byte in the file; with compression set, in "
                                    "the decompressed stream, not in the compressed file")
    file_identity: str = Field(description="device:inode:generation:fingerprint of the file as first read: the same "
                                           "across renames and compression; generation grows at each truncation")
    compression: Literal["gzip", "bzip2", "xz"] | None = Field(None, description="present when the line was read "
                                                                  "from a compressed file (.gz, .bz2, .xz) "
                                                                  "(a file rotated and compressed while the "
                                                                  "collector was down)")
    offset_in: Literal["decompressed"] | None = Field(None, description="present with compression: offset counts "
                                                                        "bytes of the decompressed stream")


class CollectHttpDeadLetter(_CollectDeadLetter):
    """Written by ``trtlens collect`` from ``POST /v1/events``: a bad line of an NDJSON push. Key: request_id.

    Holds no request header (no credentials).
    """

    source_kind: Literal["http"]
    request_id: str = Field(description="the push's X-Request-Id header, else an id the collector made (returned "
                                        "in the response)")
    line: int | None = Field(None, description="0-based line of the body (blank lines counted), or 0-based element "
                                               "of a JSON-array body; absent when the whole body is a broken JSON "
                                               "array (raw: its first 4 KiB)")


class CollectFirehoseDeadLetter(_CollectDeadLetter):
    """Written by ``trtlens collect`` from ``POST /firehose``: a bad record or log event of a Firehose delivery.

    Key: request_id. Holds no request header (no access key).
    """

    source_kind: Literal["firehose"]
    request_id: str = Field(description="the delivery's requestId (the same on each Firehose retry)")
    record: int = Field(description="0-based index of the record in the delivery's records")
    line: int | None = Field(None, description="plain (not CloudWatch) record data: 0-based line within it")
    log_group: str | None = Field(None, description="CloudWatch Logs record: its logGroup")
    log_stream: str | None = Field(None, description="CloudWatch Logs record: its logStream")
    log_event: int | None = Field(None, description="0-based index in logEvents of an entry without a message "
                                                    "string")
    cloudwatch_id: str | None = Field(None, description="the CloudWatch log event's id (else "
                                                        "request_id:record:n) whose message did not decode")


class CollectTelemetryDeadLetter(_CollectDeadLetter):
    """Written by ``trtlens collect`` from ``POST /lambda/telemetry``: a bad Lambda Telemetry API record.

    Key: ``telemetry``. Holds no request header.
    """

    source_kind: Literal["telemetry"]
    delivery: str = Field(description="an id the collector gave the push (one per POST)")
    index: int | None = Field(None, description="0-based position of the record in the push's JSON array; null "
                                                "when the push itself is not an array")
    raw_hex: str | None = Field(None, description="never set: a push is parsed as JSON first, so its records "
                                                  "are UTF-8")
    lambda_request_id: str | None = Field(None, description="present for a function record that did not map: "
                                                            "its invocation's Lambda request id (null: none "
                                                            "known)")


class CollectKafkaDeadLetter(_CollectDeadLetter):
    """Written by ``trtlens collect`` from a foreign topic (``collect.kafka.topics``): a bad record. Key: ``kafka``."""

    source_kind: Literal["kafka"]
    topic: str = Field(description="the foreign topic the record was read from (not trtlens.events)")
    partition: int = Field(description="its partition in that topic")
    offset: int = Field(description="its offset in that topic and partition")
    index: int | None = Field(None, description="position of the bad event inside the record's JSON array; null "
                                                "when the record is one object")


def event_dead_letter_kind(record: Any) -> str | None:
    """Which variant a ``trtlens.events.dlq`` record is: ``streams``, ``replay`` or ``collect:<source_kind>``."""
    get = record.get if isinstance(record, dict) else (lambda name: getattr(record, name, None))
    stage = get("stage")
    if stage is None:
        return "streams"
    if stage == "collect":
        return f"collect:{get('source_kind')}"
    return stage if isinstance(stage, str) else None


EVENT_DEAD_LETTER_VARIANTS: dict[str, type[_EventDeadLetterBase]] = {
    "streams": StreamsEventDeadLetter,
    "replay": ReplayEventDeadLetter,
    "collect:file": CollectFileDeadLetter,
    "collect:http": CollectHttpDeadLetter,
    "collect:firehose": CollectFirehoseDeadLetter,
    "collect:telemetry": CollectTelemetryDeadLetter,
    "collect:kafka": CollectKafkaDeadLetter,
}


class EventDeadLetter(RootModel[Annotated[
    Union[tuple(Annotated[model, Tag(kind)] for kind, model in EVENT_DEAD_LETTER_VARIANTS.items())],  # noqa: UP007
    Discriminator(event_dead_letter_kind),
]]):
    """``trtlens.events.dlq``: a record or one event that did not decode or validate, with where it came from.

    Exactly one variant per writer: streams (no ``stage``), replay (``stage: replay``), collect
    (``stage: collect``, then ``source_kind``: file, http, firehose, telemetry, kafka). Every variant has
    the decoder's ``code``, ``reason``, ``field``, ``index``, ``raw`` / ``raw_hex``; the rest says where the
    bad input was. ``EventDeadLetter.model_validate(doc).root`` is the variant's model.
    """


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


DEAD_LETTER_TYPES: dict[str, type[BaseModel]] = {
    "event_dead_letter": EventDeadLetter,
    "sink_dead_letter": SinkDeadLetter,
    "notify_dead_letter": NotifyDeadLetter,
    "delivery_log_entry": DeliveryLogEntry,
}
