"""Amazon Data Firehose HTTP-endpoint delivery and CloudWatch Logs subscription data (pure).

Protocol (Firehose developer guide, "HTTP endpoint delivery request and response specifications"):

* ``POST`` with ``Content-Type: application/json`` (optionally ``Content-Encoding: gzip``), headers
  ``X-Amz-Firehose-Protocol-Version: 1.0``, ``X-Amz-Firehose-Request-Id`` (the same on every retry of a
  request), ``X-Amz-Firehose-Access-Key`` (the configured key, verbatim), ``X-Amz-Firehose-Source-Arn``.
* Body ``{"requestId": "...", "timestamp": <epoch ms>, "records": [{"data": "<base64>"}, ...]}``.
* Response ``200`` with body ``{"requestId": "<the request's id>", "timestamp": <epoch ms>}``;
  a failure is any other status with ``{"requestId", "timestamp", "errorMessage"}``; Firehose retries it.

A record's data is, after base64: gzip-compressed CloudWatch Logs subscription data
(``{"messageType": "DATA_MESSAGE", "logGroup", "logStream", "logEvents": [{"id", "timestamp", "message"}]}``;
``CONTROL_MESSAGE`` is a reachability check and yields nothing), or plain bytes holding one event or
NDJSON. Each yielded payload carries a position that names it uniquely and stably across retries
(the CloudWatch event id, or request id + record index + line), from which missing ``event_id`` s derive.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from dataclasses import dataclass

import orjson

from trtlens.schemas.codec import DecodeError


class FirehoseRequestError(DecodeError):
    """The request as a whole is not a Firehose delivery (answered 400; nothing of it is published)."""


@dataclass(slots=True)
class Payload:
    data: bytes
    source_id: str          # what ids derive from: log group/stream, or the Firehose request id
    position: str           # unique within source_id, stable across Firehose retries
    ts_ms: int | None       # CloudWatch's event timestamp (fills a missing ts_ms)
    where: dict             # for the DLQ: record index, log group/stream, CloudWatch id


def gunzip_bounded(data: bytes, max_bytes: int) -> bytes:
    """Decompress gzip, refusing output beyond ``max_bytes`` (a zip bomb is a 413, not an OOM)."""
    d = zlib.decompressobj(wbits=47)  # gzip or zlib header
    out = d.decompress(data, max_bytes + 1)
    if len(out) > max_bytes or d.unconsumed_tail:
        raise ValueError(f"decompressed body exceeds {max_bytes} bytes")
    return out


def parse_request(body: bytes, header_request_id: str | None) -> tuple[str, list[bytes]]:
    """The request id and the decoded (base64) data of each record; raises :class:`FirehoseRequestError`."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FirehoseRequestError("invalid_json", f"Firehose body is not JSON: {exc}", body[:1024]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
        raise FirehoseRequestError("not_an_event", "Firehose body needs a 'records' array", body[:1024],
                                   field="records")
    request_id = str(doc.get("requestId") or header_request_id or "")
    if not request_id:
        raise FirehoseRequestError("not_an_event", "no requestId in body or X-Amz-Firehose-Request-Id",
                                   body[:1024], field="requestId")
    out = []
    for rec in doc["records"]:
        data = rec.get("data") if isinstance(rec, dict) else None
        if not isinstance(data, str):
            out.append(None)
            continue
        try:
            out.append(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):
            out.append(None)
    return request_id, out


def record_payloads(request_id: str, index: int, data: bytes | None, *, max_bytes: int
                    ) -> tuple[list[Payload], list[tuple[dict, DecodeError]]]:
    """The payloads inside one record and the errors (each with its DLQ location)."""
    where = {"request_id": request_id, "record": index}
    if data is None:
        return [], [(where, DecodeError("invalid_json", "record data is missing or not base64", b"", field="data"))]
    if data[:2] == b"\x1f\x8b":
        try:
            data = gunzip_bounded(data, max_bytes)
        except (ValueError, zlib.error, EOFError, gzip.BadGzipFile) as exc:
            return [], [(where, DecodeError("invalid_json", f"record is not valid gzip: {exc}", data[:1024]))]
        return _cloudwatch(request_id, index, data)
    payloads = []
    for n, line in enumerate(data.splitlines()):
        if line.strip():
            payloads.append(Payload(line, f"firehose:{request_id}", f"{index}:{n}", None, {**where, "line": n}))
    return payloads, []


def _cloudwatch(request_id: str, index: int, data: bytes) -> tuple[list[Payload], list[tuple[dict, DecodeError]]]:
    where = {"request_id": request_id, "record": index}
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return [], [(where, DecodeError("invalid_json", f"gzip record is not CloudWatch Logs JSON: {exc}",
                                        data[:1024]))]
    if not isinstance(doc, dict) or "logEvents" not in doc and doc.get("messageType") != "CONTROL_MESSAGE":
        return [], [(where, DecodeError("not_an_event", "gzip record without logEvents", data[:1024],
                                        field="logEvents"))]
    if doc.get("messageType") == "CONTROL_MESSAGE":
        return [], []
    group, stream = str(doc.get("logGroup", "")), str(doc.get("logStream", ""))
    cw_where = {**where, "log_group": group, "log_stream": stream}
    payloads, errors = [], []
    for n, le in enumerate(doc.get("logEvents") or []):
        if not isinstance(le, dict) or not isinstance(le.get("message"), str):
            errors.append(({**cw_where, "log_event": n},
                           DecodeError("not_an_event", "logEvent without a message string", orjson.dumps(le))))
            continue
        cw_id = str(le.get("id") or f"{request_id}:{index}:{n}")
        ts = le.get("timestamp") if isinstance(le.get("timestamp"), int) else None
        payloads.append(Payload(le["message"].encode(), f"cwl:{group}:{stream}", cw_id, ts,
                                {**cw_where, "cloudwatch_id": cw_id}))
    return payloads, errors


def response_body(request_id: str, now_ms: int, error: str | None = None) -> bytes:
    body: dict = {"requestId": request_id, "timestamp": now_ms}
    if error is not None:
        body["errorMessage"] = error
    return orjson.dumps(body)
