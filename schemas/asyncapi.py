"""An AsyncAPI 3.0 document of every trtlens topic, generated from the models and the topic settings.

For people who consume (or produce) the topics from another language: each
channel is one topic (its configured name), with its Kafka key, its value
schema and who writes it. The schemas are the pydantic models' JSON Schemas
(``model_json_schema``) with their references pointed at
``#/components/schemas/<Model>``, so any AsyncAPI or JSON Schema code
generator resolves them; each event model also carries ``x-trtlens``, its
:class:`~trtlens.schemas.roles.EventSpec` (routing key fields, roles), as in
``trtlens schema``.

The events topic's wire rule (``schemas/codec.py``) is in the schema itself: a
record value is one event object **or** a JSON array of them, and its key is
the routing key of the first event only.

    doc = asyncapi_document(settings.topics, settings.kafka)   # a JSON-ready dict
    ``trtlens asyncapi --output docs/asyncapi.json``           # the committed copy
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from trtlens.schemas.deadletters import DeliveryLogEntry, EventDeadLetter, NotifyDeadLetter, SinkDeadLetter
from trtlens.schemas.documents import Alert, BuildReport, EngineFinding, LayerWindow, Trace, WindowMetric
from trtlens.schemas.events import EVENT_TYPES, SCHEMA_VERSION, Event
from trtlens.settings import KafkaSettings, TopicSettings

ASYNCAPI_VERSION = "3.0.0"
REF = "#/components/schemas/{model}"

_WIRE_RULE = (
    "A record value is UTF-8 JSON: one event object, or a JSON array of event objects (a batch). "
    "Every event of one record belongs to the record's partition: the one Kafka's default (murmur2) "
    "key partitioner picks for each event's routing key. The record key is the routing key of the "
    "record's FIRST event only (request_id, else worker_id; engine_id for build reports and layer "
    "profiles): read request_id from each event, never from the key. Dispatch on the `event` field. "
    "A bad event inside a batch is dead-lettered on its own; its neighbours are processed."
)


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema with references to ``#/components/schemas`` (its ``$defs`` included)."""
    return model.model_json_schema(ref_template=REF)


# topic field of TopicSettings → (message name, payload model or None, key description, written by, description)
_CHANNELS: dict[str, tuple[str, type[BaseModel] | None, str, str, str]] = {
    "events": ("EventRecord", None, "routing key of the record's first event (request_id, else worker_id; "
               "engine_id for engine_build / layer_profile)", "producers (worker, load, replay, check --publish, "
               "collect); streams (engine_runtime: engine loads re-keyed by engine_id)", "Inference, engine-load, GPU and build events: the pipeline's input."),
    "events_dlq": ("EventDeadLetter", EventDeadLetter, "streams: the failed record's own key; replay: the file's "
                   "name; collect: the file's name, the HTTP or Firehose request id, 'telemetry' or 'kafka'",
                   "streams, replay, collect",
                   "Records, lines and single events that did not decode or validate, with the reason and where "
                   "they came from. One variant per writer: no `stage` (streams), `stage: replay`, or `stage: "
                   "collect` with `source_kind` file, http, firehose, telemetry or kafka."),
    "traces": ("Trace", Trace, "request_id (= the trace's doc_id)", "streams",
               "One joined, tail-sampled trace per request; a late event re-emits the same key."),
    "metrics": ("WindowMetric", WindowMetric, "doc_id: scope:scope_key:window_start_ms:window_ms", "streams",
                "One final window per scope and window (merged over all partitions)."),
    "alerts": ("Alert", Alert, "doc_id: rule:scope_key:window_start_ms:state", "streams",
               "Alert transitions (firing / resolved) with hysteresis."),
    "builds": ("BuildReport", BuildReport, "doc_id: engine_id:built_at_ms", "streams",
               "Grey-box build checks of one engine build (one per build: a rebuild of the same engine adds one)."),
    "layers": ("LayerWindow", LayerWindow, "doc_id: engine_id:window_start_ms:window_ms:sha256(layer)[:16]", "streams",
               "Runtime time of one engine layer over one event-time window (from layer_profile events); "
               "a late profile re-emits the same key."),
    "findings": ("EngineFinding", EngineFinding, "doc_id: engine_id:ref_ms:kind:hash", "streams",
                 "Build ↔ runtime findings about one engine (split fusion, runtime share, slower than the "
                 "previous engine, build/runtime version mismatch); each is also sent as an alert."),
    "sink_dlq": ("SinkDeadLetter", SinkDeadLetter, "the document id (the record's key)", "sink",
                 "Output records the store cannot index, with the store's reason."),
    "metrics_partials": ("PartialWindow", None, "scope|scope_key", "streams",
                         "INTERNAL between the streams app's stages: cumulative per-partition partial windows and "
                         "watermark heartbeats. Not a contract: its shape may change in any release."),
    "notify_delivered": ("DeliveryLogEntry", DeliveryLogEntry, "endpoint|idempotency_key", "notify",
                         "Compacted delivery log of `trtlens notify`: what it finished per (endpoint, alert). "
                         "Holds no URL or payload."),
    "notify_dlq": ("NotifyDeadLetter", NotifyDeadLetter, "the alert's idempotency key", "notify",
                   "Alerts an endpoint did not take after the configured attempts; holds the endpoint's name, never "
                   "its URL or headers."),
}


def _hoist(schema: dict[str, Any], into: dict[str, Any]) -> dict[str, Any]:
    """Move ``$defs`` into ``into`` (component schemas); the same name must mean the same schema."""
    for name, sub in schema.pop("$defs", {}).items():
        have = {k: v for k, v in into.setdefault(name, sub).items() if k != "x-trtlens"}
        if have != sub:
            raise ValueError(f"two different JSON Schemas are both named {name!r}")
    return schema


def component_schemas() -> dict[str, Any]:
    """Every schema the document refers to, by model name."""
    out: dict[str, Any] = {}
    union = _hoist(TypeAdapter(Event).json_schema(ref_template=REF), out)
    for model in EVENT_TYPES.values():
        out[model.__name__] = {**out[model.__name__], "x-trtlens": model.spec.to_json()}
    out["Event"] = {**union, "description": "One trtlens event; `event` names its type."}
    for _, model, _, _, _ in _CHANNELS.values():
        if model is not None:
            _hoist(schema := model_schema(model), out)
            out.setdefault(model.__name__, schema)
    return out


def _payload(field: str, model: type[BaseModel] | None) -> dict[str, Any]:
    if field == "events":
        ref = {"$ref": REF.format(model="Event")}
        return {"description": _WIRE_RULE, "oneOf": [ref, {"type": "array", "minItems": 1, "items": ref}]}
    if model is None:
        return {"type": "object", "description": "internal; no contract"}
    return {"$ref": REF.format(model=model.__name__)}


def asyncapi_document(topics: TopicSettings | None = None, kafka: KafkaSettings | None = None,
                      *, version: str | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document for these topic names and this cluster (defaults: the shipped settings)."""
    from trtlens import __version__

    topics = topics or TopicSettings()
    kafka = kafka or KafkaSettings()
    fields = [name for name, f in TopicSettings.model_fields.items() if f.annotation is str]
    missing = set(fields) ^ set(_CHANNELS)
    if missing:
        raise ValueError(f"topics without an AsyncAPI channel (or channels without a topic): {sorted(missing)}")
    compacted = {t for t, cfg in topics.topic_configs().items() if cfg.get("cleanup.policy") == "compact"}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for field in fields:
        name, model, key, writers, description = _CHANNELS[field]
        address = getattr(topics, field)
        topic_config: dict[str, Any] = {"cleanup.policy": ["compact" if address in compacted else "delete"]}
        messages[name] = {
            "name": name,
            "title": name,
            "contentType": "application/json",
            "payload": _payload(field, model),
            "bindings": {"kafka": {"key": {"type": "string", "description": key}, "bindingVersion": "0.5.0"}},
        }
        channels[field] = {
            "address": address,
            "description": f"{description} Written by: {writers}. Settings key: topics.{field} "
                           f"(env TRTLENS_TOPICS__{field.upper()}).",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"kafka": {"topic": address, "partitions": topics.partitions,
                                   "replicas": topics.replication_factor, "topicConfiguration": topic_config,
                                   "bindingVersion": "0.5.0"}},
        }
        ref = {"$ref": f"#/channels/{field}"}
        msg = [{"$ref": f"#/channels/{field}/messages/{name}"}]
        operations[f"receive_{field}"] = {"action": "receive", "channel": ref, "messages": msg,
                                          "summary": f"consume {address}"}
        if field == "events":
            operations["send_events"] = {"action": "send", "channel": ref, "messages": msg,
                                         "summary": f"publish events to {address} (follow the wire rule)"}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "trtlens topics",
            "version": version or __version__,
            "description": "Every Kafka topic of a trtlens pipeline: key, value schema (JSON, from the pydantic "
                           f"models; event schema version {SCHEMA_VERSION}) and writer. Generated by "
                           "`trtlens asyncapi`; topic names are those of the settings it ran with.",
        },
        "defaultContentType": "application/json",
        "servers": {"kafka": {"host": kafka.bootstrap_servers, "protocol": "kafka",
                              "description": f"bootstrap servers (kafka.bootstrap_servers); security protocol "
                                             f"{kafka.security_protocol}"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": component_schemas()},
    }
