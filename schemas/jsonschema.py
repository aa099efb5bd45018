"""JSON Schema of every event and document, for consumers in other languages.

Each event type's schema also carries ``x-trtlens``: its spec (routing key
fields, window measure, trace role, build report, high value; see
``roles.EventSpec.to_json``), so a consumer written elsewhere can route and
dispatch the way trtlens does without copying the rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from trtlens.schemas.documents import DOCUMENT_TYPES
from trtlens.schemas.events import EVENT_TYPES, SCHEMA_VERSION, Event


def all_schemas() -> dict[str, Any]:
    """``{"events": {...}, "documents": {...}, "event": <discriminated union>}``."""
    return {
        "schema_version": SCHEMA_VERSION,
        "event": TypeAdapter(Event).json_schema(),
        "events": {name: {**model.model_json_schema(), "x-trtlens": model.spec.to_json()}
                   for name, model in EVENT_TYPES.items()},
        "documents": {name: model.model_json_schema() for name, model in DOCUMENT_TYPES.items()},
    }
