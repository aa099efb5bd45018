"""Physical log lines → logical records, for the three shapes container logs come in.

* ``jsonl``: each line is one record.
* ``docker`` (json-file driver): ``{"log": "<text>\\n", "stream": "stdout", "time": "<RFC 3339>"}``; the
  daemon splits lines longer than 16 KiB into several entries, and only the last one's ``log`` ends
  with ``\\n``: they are joined.
* ``cri`` (containerd, CRI-O, Kubernetes ``/var/log/pods``): ``<RFC 3339 nano> <stream> <tag> <text>``;
  tag ``P`` is a partial line continued by the next entry, ``F`` the full (last) one.

``auto`` decides per file from its first non-empty line. Pure: the follower hands in lines with their
byte range; a logical record spans from its first physical line's start to its last one's end, so a
checkpoint is never placed in the middle of a joined record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from trtlens.producers.collect.mapping import parse_time_ms
from trtlens.schemas.codec import DecodeError

_CRI = re.compile(rb"^(\d{4}-\d\d-\d\dT\S+) (stdout|stderr) ([A-Z](?::\S+)?) ?(.*)$", re.DOTALL)
FORMATS = ("jsonl", "docker", "cri")


@dataclass(slots=True)
class Logical:
    """One logical record: its payload (the application's line), the runtime's time if any, its byte range."""

    payload: bytes
    ts_ms: int | None
    start: int
    end: int


def detect(line: bytes) -> str:
    """The format a file's first non-empty line suggests."""
    if _CRI.match(line):
        return "cri"
    if line.startswith(b"{") and b'"log"' in line and b'"stream"' in line:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            return "jsonl"
        if isinstance(obj, dict) and isinstance(obj.get("log"), str) and "stream" in obj and "time" in obj:
            return "docker"
    return "jsonl"


class LineAssembler:
    """Feeds physical lines, yields :class:`Logical` records or :class:`DecodeError` for broken envelopes."""

    def __init__(self, fmt: str = "auto", *, max_bytes: int = 1 << 20) -> None:
        if fmt not in ("auto", *FORMATS):
            raise ValueError(f"format must be auto, jsonl, docker or cri, got {fmt!r}")
        self.format = fmt
        self.max_bytes = max_bytes
        self._parts: list[bytes] = []
        self._part_start = 0
        self._part_ts: int | None = None

    @property
    def pending_start(self) -> int | None:
        """Start offset of a partial record still being joined (a checkpoint must not pass it)."""
        return self._part_start if self._parts else None

    def feed(self, line: bytes, start: int, end: int) -> Logical | DecodeError | None:
        if self.format == "auto":
            if not line.strip():
                return None
            self.format = detect(line)
        if self.format == "jsonl":
            return Logical(line, None, start, end)
        if self.format == "docker":
            return self._docker(line, start, end)
        return self._cri(line, start, end)

    def _join(self, text: bytes, ts: int | None, start: int, end: int, complete: bool) -> Logical | None:
        if not self._parts:
            self._part_start, self._part_ts = start, ts
        self._parts.append(text)
        if not complete and sum(map(len, self._parts)) < self.max_bytes:
            return None
        payload = b"".join(self._parts)
        out = Logical(payload, self._part_ts, self._part_start, end)
        self._parts = []
        return out

    def _docker(self, line: bytes, start: int, end: int) -> Logical | DecodeError | None:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            return DecodeError("invalid_json", f"docker json-file entry is not JSON: {exc}", line)
        if not isinstance(obj, dict) or not isinstance(obj.get("log"), str):
            return DecodeError("not_an_event", "docker json-file entry without a 'log' string", line, field="log")
        text = obj["log"]
        complete = text.endswith("\n")
        return self._join(text.rstrip("\r\n").encode(), parse_time_ms(obj.get("time")), start, end, complete)

    def _cri(self, line: bytes, start: int, end: int) -> Logical | DecodeError | None:
        m = _CRI.match(line)
        if m is None:
            return DecodeError("not_an_event", "not a CRI log line ('<time> <stream> <P|F> <text>')", line)
        ts, _stream, tag, text = m.groups()
        complete = not tag.startswith(b"P")
        return self._join(text, parse_time_ms(ts.decode()), start, end, complete)
