"""Input formats of ``trtlens replay`` and the registry other formats plug into.

A **reader** turns one input file into :class:`Item` s (an event dict, or a bad
record with its reason), each tagged with its line number:

* ``jsonl`` (default; plain, ``.gz``, ``.bz2`` or ``.xz``): one JSON value per line, in any of the
  shapes of :data:`LINE_SHAPES` — an event object; a log-shipper wrapper whose
  ``message`` (or ``log``) field holds the event as a JSON string or object; a
  CloudWatch Logs subscription/export payload (``logEvents[].message``, one
  payload per line); CloudWatch ``get-log-events`` output (``events[].message``).
* ``json-document``: a whole ``.json`` file holding one of those payloads or a
  JSON array of events, pretty-printed over many lines.

Plugging in a format (the grey-box TensorRT text logs do this)::

    from trtlens.producers.replay.formats import Item, register_reader

    class TrtLogReader:
        name = "tensorrt-log"
        def matches(self, path, head: bytes) -> bool: ...
        def read(self, path, source: str, start_line: int) -> Iterator[Item]: ...

    register_reader(TrtLogReader())

``read`` yields items for lines after ``start_line`` (already replayed ones
are skipped by the reader, which knows its own line numbering).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from trtlens.errors import TrtlensError
from trtlens.producers.compression import open_decompressed, strip_suffix
from trtlens.producers.replay.core import to_event, to_known_event
from trtlens.schemas.codec import MAX_RECORD_BYTES, DecodeError

HEAD_BYTES = 4096
CHUNK_BYTES = 1 << 20
FAST_LINE_BYTES = MAX_RECORD_BYTES // 8
"""Lines up to this size holding a plain event skip re-encoding it (``core.to_known_event``); larger ones take
``to_event``'s exact path (its size limit applies to the event as re-encoded)."""


@dataclass
class Item:
    """One event found in the input, or one bad record (``error`` set, ``event`` None)."""

    line: int
    event: dict[str, Any] | None = None
    error: DecodeError | None = None
    offset: int | None = None
    """Bytes of the input file (its compressed size if compressed) consumed so far, for progress; None if unknown."""


class Reader(Protocol):
    name: str

    def matches(self, path: Path, head: bytes) -> bool: ...

    def read(self, path: Path, source: str, start_line: int) -> Iterator[Item]: ...


class UnknownFormatError(TrtlensError):
    """No reader claims a file. Attributes: path, known."""

    def __init__(self, path: Path, known: list[str]) -> None:
        self.path = path
        self.known = known
        super().__init__(f"{path}: no reader recognises this file (known formats: {', '.join(known)})")


def open_binary(path: Path):
    """Plain, gzip, bzip2 or xz (by magic bytes, not by name: ``compression.py``)."""
    return open_decompressed(open(path, "rb"))  # noqa: SIM115 - returned to the caller


def read_head(path: Path) -> bytes:
    with open_binary(path) as f:
        return f.read(HEAD_BYTES)


# --------------------------------------------------------------------------- line shapes
LineShape = Callable[[Any, str], "list[Item] | None"]


def _event_shape(obj: Any, source: str) -> list[Item] | None:
    if isinstance(obj, dict) and isinstance(obj.get("event"), str):
        return [_item(obj, source)]
    return None


def _wrapped_shape(obj: Any, source: str) -> list[Item] | None:
    if not isinstance(obj, dict) or "event" in obj:
        return None
    for key in ("message", "log", "@message"):
        if key in obj:
            inner = obj[key]
            return [_inner(inner, source, fallback_ts_ms=_ts(obj))]
    return None


def _cloudwatch_shape(obj: Any, source: str) -> list[Item] | None:
    if not isinstance(obj, dict):
        return None
    entries = obj.get("logEvents")
    if entries is None:
        entries = obj.get("events") if isinstance(obj.get("events"), list) else None
    if entries is None:
        return None
    out: list[Item] = []
    for entry in entries:
        if not isinstance(entry, dict) or "message" not in entry:
            out.append(Item(0, error=DecodeError("not_an_event", "CloudWatch log event without 'message'",
                                                    _dumps(entry))))
            continue
        out.append(_inner(entry["message"], source, fallback_ts_ms=_ts(entry)))
    return _positioned(out)


def _array_shape(obj: Any, source: str) -> list[Item] | None:
    if isinstance(obj, list):
        return _positioned([_item(e, source) for e in obj])
    return None


def _positioned(items: list[Item]) -> list[Item]:
    """A line of several events: each bad one's error names its position in the line (its DLQ ``index``)."""
    for k, item in enumerate(items):
        if item.error is not None and item.error.index is None:
            item.error.index = k
    return items


LINE_SHAPES: list[LineShape] = [_event_shape, _cloudwatch_shape, _wrapped_shape, _array_shape]
"""Tried in order on every parsed JSON value; the first that returns a list wins."""


def _ts(obj: dict) -> int | None:
    for key in ("timestamp", "ts_ms", "@timestamp"):
        value = obj.get(key)
        if isinstance(value, int) and value >= 0:
            return value
    return None


def _dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:
        return repr(obj).encode()


def _item(obj: Any, source: str, fallback_ts_ms: int | None = None) -> Item:
    try:
        return Item(0, event=to_event(obj, source, fallback_ts_ms=fallback_ts_ms))
    except DecodeError as err:
        return Item(0, error=err)


def _inner(inner: Any, source: str, *, fallback_ts_ms: int | None) -> Item:
    if isinstance(inner, str):
        try:
            inner = orjson.loads(inner)
        except orjson.JSONDecodeError as exc:
            return Item(0, error=DecodeError("invalid_json", f"message is not JSON: {exc}", inner.encode()))
    return _item(inner, source, fallback_ts_ms)


def parse_value(obj: Any, source: str) -> list[Item]:
    for shape in LINE_SHAPES:
        items = shape(obj, source)
        if items is not None:
            return items
    return [Item(0, error=DecodeError("not_an_event", "neither an event, a 'message' wrapper nor a CloudWatch payload",
                                      _dumps(obj)))]


def parse_line(raw: bytes, source: str, line: int) -> list[Item]:
    """Every item one input line yields (blank lines yield none)."""
    text = raw.strip()
    if not text:
        return []
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return [Item(line, error=DecodeError("invalid_json", str(exc), text))]
    if (type(obj) is dict and type(obj.get("event")) is str and len(text) <= FAST_LINE_BYTES
            and LINE_SHAPES[0] is _event_shape):  # what _event_shape takes, without encoding it again
        event = to_known_event(obj, source)
        if event is not None:
            return [Item(line, event=event)]
    items = parse_value(obj, source)
    for item in items:
        item.line = line
    return items


# --------------------------------------------------------------------------- readers
class JsonLinesReader:
    name = "jsonl"

    def matches(self, path: Path, head: bytes) -> bool:
        return head.lstrip()[:1] in (b"{", b"[") or not head.strip()

    def read(self, path: Path, source: str, start_line: int) -> Iterator[Item]:
        lineno = 0
        for lines, offset in _line_chunks(path):
            if lineno + len(lines) <= start_line:  # replayed already: not even parsed
                lineno += len(lines)
                continue
            last = lineno + len(lines)
            for raw in lines:
                lineno += 1
                if lineno <= start_line:
                    continue
                items = parse_line(raw, source, lineno) or [Item(lineno)]  # blank: read, nothing to publish
                if lineno == last:
                    items[-1].offset = offset
                yield from items


def _line_chunks(path: Path) -> Iterator[tuple[list[bytes], int]]:
    """The file's lines (plain or compressed), a decompressed chunk at a time, each with the input bytes read by
    then.

    Reading ``CHUNK_BYTES`` at once and splitting them is ~3× cheaper per line than iterating a ``GzipFile``
    (whose ``readline`` runs in Python); the lines are the same (the last one may lack its newline).
    """
    with open(path, "rb") as raw_file:
        f = open_decompressed(raw_file)
        pending: list[bytes] = []  # the start of a line that continues in the next chunk
        while chunk := f.read(CHUNK_BYTES):
            if b"\n" not in chunk:  # a line longer than a chunk: its parts are joined once, at its end
                pending.append(chunk)
                continue
            if pending:
                chunk = b"".join((*pending, chunk))
            lines = chunk.split(b"\n")
            rest = lines.pop()
            pending = [rest] if rest else []
            yield lines, raw_file.tell()
        if pending:
            yield [b"".join(pending)], raw_file.tell()


class JsonDocumentReader:
    """A whole ``.json`` file (pretty-printed payloads); line numbers are 1 for the document."""

    name = "json-document"

    def matches(self, path: Path, head: bytes) -> bool:
        name = strip_suffix(path.name)
        if not name.endswith(".json"):
            return False
        first = head.lstrip().split(b"\n", 1)[0].strip()
        try:
            orjson.loads(first)
            return False  # the first line is a complete value: JSON lines after all
        except orjson.JSONDecodeError:
            return True

    def read(self, path: Path, source: str, start_line: int) -> Iterator[Item]:
        if start_line >= 1:
            return
        with open_binary(path) as f:
            data = f.read()
        items = parse_line(data, source, 1) if data.strip() else []
        yield from items or [Item(1)]


READERS: list[Reader] = [JsonDocumentReader(), JsonLinesReader()]


def register_reader(reader: Reader, *, first: bool = True) -> None:
    """Add a format; ``first`` = consulted before the built-in ones."""
    READERS[:] = [r for r in READERS if r.name != reader.name]
    if first:
        READERS.insert(0, reader)
    else:
        READERS.append(reader)


def reader_for(path: Path, format_name: str = "auto") -> Reader:
    if format_name != "auto":
        for reader in READERS:
            if reader.name == format_name:
                return reader
        raise UnknownFormatError(path, [r.name for r in READERS])
    head = read_head(path)
    for reader in READERS:
        if reader.matches(path, head):
            return reader
    raise UnknownFormatError(path, [r.name for r in READERS])
