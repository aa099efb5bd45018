"""Event and document models, the wire format and its codec: the contract
Kafka consumers rely on. See ``events.py`` for compatibility rules and
``codec.py`` for the record format."""

from trtlens.schemas.codec import DecodedRecord, DecodeError, decode, decode_record, encode, encode_batch
from trtlens.schemas.events import EVENT_TYPES, SCHEMA_VERSION, EventBase

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "DecodeError",
    "DecodedRecord",
    "EventBase",
    "decode",
    "decode_record",
    "encode",
    "encode_batch",
]
