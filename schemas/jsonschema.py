"""JSON Schema of every event and document, for consumers in other languages."""

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
        "events": {name: model.model_json_schema() for name, model in EVENT_TYPES.items()},
        "documents": {name: model.model_json_schema() for name, model in DOCUMENT_TYPES.items()},
    }
