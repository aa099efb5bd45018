"""Warnings and errors: codes, categories and source locations, deduplicated with counts.

A diagnostic opens on a warning/error line and stays open for continuation
lines (TensorRT messages with embedded newlines arrive unprefixed; trtexec
indents its follow-up hints), then is committed under the key
``(severity, code, source, category, message)``. Python tracebacks become one
error named by the exception class, with the innermost frame as source.
"""

from __future__ import annotations

import os
import re

from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.state import DiagEntry, ParseState

LEADING_CODE = re.compile(r"^(?P<code>\d{1,3}):\s?(?P<rest>.*)$", re.S)
TRT_SOURCE = re.compile(r"^\[(?P<file>[\w.+-]+\.(?:cpp|cc|cu|cxx|c|h|hpp))::(?:(?P<func>.*?)::)?(?P<line>\d+)\]\s*(?P<rest>.*)$", re.S)
FILE_LINE = re.compile(r"^(?P<file>[\w./\\-]+\.(?:cpp|cc|cu|cxx|c|h|hpp)):(?P<line>\d+):\s*(?P<rest>.*)$", re.S)
INNER_FILE_LINE = re.compile(r"(?:ERROR|WARNING):\s*(?P<file>[\w./\\-]+\.(?:cpp|cc|cu|cxx|c|h|hpp)):(?P<line>\d+)\b")
TRT7_SOURCE = re.compile(
    r"(?P<file>[\w./\\-]+\.(?:cpp|cc|cu|h|hpp))\s*\((?P<line>\d+)\)\s*-\s*(?P<cat>[A-Za-z][\w ]*?)\s+in\s+\w+:\s*(?P<code>\d+)"
)
ERROR_CODE = re.compile(r"Error Code (?P<code>\d+):\s*(?P<cat>[A-Za-z][\w ]*?)\s*(?:\(|$)")
API_SOURCE = re.compile(r"^(?P<api>[A-Z]\w*::\w+):\s*Error Code")
ASSERTION_CODE = re.compile(r"\[(?P<code>\d+)\]\s*Assertion failed")
TRACEBACK = re.compile(r"^Traceback \(most recent call last\):")
FRAME = re.compile(r'^File "(?P<file>[^"]+)", line (?P<line>\d+)')
EXCEPTION = re.compile(r"^(?P<cls>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Fault|Failure))(?::\s*(?P<msg>.*))?$")
NOT_CONTINUATION = re.compile(r"^(?:Traceback|&&&&|#|\{|\||!!!|=== |Layer\(|Name:)")
MAX_CONTINUATION_LINES = 4


def inferred_severity(line: Line) -> str | None:
    if line.severity:
        return line.severity
    if line.trt and LEADING_CODE.match(line.text) and ("Error Code" in line.text or "Assertion" in line.text):
        return "error"
    return None


def extract(line: Line, st: ParseState, *, consumed: bool) -> bool:
    """Returns True when the line belonged to a diagnostic (opened, continued, traceback)."""
    text = line.text
    if _traceback(line, st):
        return True
    severity = inferred_severity(line)
    if severity in ("warning", "error"):
        if (
            st.open_diag is not None
            and line.indent >= 2
            and st.open_diag.severity == severity
            and st.open_diag_lines < MAX_CONTINUATION_LINES
        ):
            _continue(st, text)
            return True
        close(st)
        st.open_diag = DiagEntry(severity=severity, message=text, code=None, source=None, category=None)
        st.open_diag_lines = 0
        st.open_diag_trt = line.trt or line.family in ("deepstream", "legacy", "jetson", "torch_tensorrt", "triton")
        return True
    if (
        line.family == "plain"
        and not consumed
        and text
        and st.open_diag is not None
        and st.open_diag_trt
        and st.open_diag_lines < MAX_CONTINUATION_LINES
        and not NOT_CONTINUATION.match(text)
        and _looks_continued(st.open_diag.message, line)
    ):
        _continue(st, text)
        return True
    if text or line.family != "plain":
        close(st)
    return False


LOOKS_TRT = re.compile(r"::|Error Code|Assertion|\bsetMemoryPoolLimit\b|\bworkspace\b|^\[\d+\]|^\(")


def _looks_continued(message: str, line: Line) -> bool:
    """An unprefixed line after a TensorRT message is its second line when the first
    ends with ':' or the line is indented or reads like TensorRT (API names, codes)."""
    return message.rstrip().endswith((":", ",")) or line.indent > 0 or line.raw[:1] in (" ", "\t") or bool(LOOKS_TRT.search(line.text))


def _continue(st: ParseState, text: str) -> None:
    assert st.open_diag is not None
    st.open_diag.message = f"{st.open_diag.message}\n{text}" if st.open_diag.message else text
    st.open_diag_lines += 1


def _traceback(line: Line, st: ParseState) -> bool:
    if line.family != "plain":
        st.in_traceback = False
        return False
    text = line.text
    if TRACEBACK.match(text):
        close(st)
        st.in_traceback, st.traceback_source = True, None
        return True
    if not st.in_traceback:
        return False
    if line.indent > 0 or line.raw[:1] in (" ", "\t"):
        if m := FRAME.match(text):
            st.traceback_source = f"{_basename(m.group('file'))}:{m.group('line')}"
        return True
    st.in_traceback = False
    if m := EXCEPTION.match(text):
        _commit(st, DiagEntry("error", (m.group("msg") or "").strip(), m.group("cls"), st.traceback_source, "python exception"))
        return True
    return False


def _basename(path: str) -> str:
    return os.path.basename(path.replace("\\", "/"))


def close(st: ParseState) -> None:
    entry, st.open_diag = st.open_diag, None
    if entry is not None:
        _commit(st, _analyse(entry))


def _analyse(entry: DiagEntry) -> DiagEntry:
    msg = entry.message.strip()
    code = source = category = None
    if m := LEADING_CODE.match(msg):
        code, msg = m.group("code"), m.group("rest").strip()
    if m := TRT_SOURCE.match(msg):
        source, msg = f"{m.group('file')}:{m.group('line')}", m.group("rest").strip()
    elif m := FILE_LINE.match(msg):
        source, msg = f"{_basename(m.group('file'))}:{m.group('line')}", m.group("rest").strip()
    if m := INNER_FILE_LINE.search(msg):
        source = f"{_basename(m.group('file'))}:{m.group('line')}"
    if m := TRT7_SOURCE.search(msg):
        source = source or f"{_basename(m.group('file'))}:{m.group('line')}"
        category, code = m.group("cat").strip(), code or m.group("code")
    if m := ERROR_CODE.search(msg):
        code, category = code or m.group("code"), m.group("cat").strip()
    if source is None and (m := API_SOURCE.match(msg)):
        source = m.group("api")
    if code is None and (m := ASSERTION_CODE.search(msg)):
        code = m.group("code")
    return DiagEntry(entry.severity, msg, code, source, category)


def _commit(st: ParseState, entry: DiagEntry) -> None:
    entry.message = entry.message[: st.limits.message_chars]
    key = (entry.severity, entry.code, entry.source, entry.category, entry.message)
    if key in st.diags:
        st.diags[key].count += 1
    elif st.cap("diagnostics", st.diags, st.limits.diagnostics):
        st.diags[key] = entry
