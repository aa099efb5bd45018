"""A general grammar for the prefix an application's own logger puts in front of a message.

The classifier knows the wrappers of the tools that print TensorRT's messages
(trtexec, Polygraphy, Triton, ...). Every application that forwards them
through its own logger adds one more, and each is different: spdlog's
``[2024-05-01 10:00:00.123] [trt] [warning] msg``, Python logging's
``2024-05-01 10:00:00,123 - app - WARNING - msg``, loguru's
``2024-05-01 10:00:00.123 | ERROR    | mod:func:42 - msg``, ``[INFO] 10:00:00 file.cpp:42 msg``,
a pid in parentheses, a thread id, a file and line, a logger name.
Instead of one rule per format, this reads a prefix as a run of tokens of a few
kinds, in any order:

* a timestamp (a date and/or a time of day; in brackets or not),
* a severity word (``WARNING``, ``warn``, ``E``... in brackets, or bare in capitals,
  or any case before ``:``/``|``/``-``),
* a bracketed tag (a logger name, a thread, a file and line, a rank),
* a file and line (``file.cpp:42``, loguru's ``module:function:42``) or a pid / thread id,
* a logger name in front of a separator (``app -``, ``app:``).

A run counts as a prefix only when it holds a severity, or when it stops right
before a tag the classifier knows (``[TRT]``, ``[W]``...): a line that merely
starts with a bracket or a number (a TensorRT message such as ``[MemUsageChange] ...``,
a table row) is left as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LEVELS = (
    "VERBOSE|DEBUG|DBG|INFO|INF|NOTICE|WARNING|WARN|WRN|ERROR|ERR|FATAL|CRITICAL|CRIT|TRACE|SEVERE|INTERNAL_ERROR"
)
_LEVEL_MAP = {
    "VERBOSE": "debug", "DEBUG": "debug", "DBG": "debug", "TRACE": "debug",
    "INFO": "info", "INF": "info", "NOTICE": "info",
    "WARNING": "warning", "WARN": "warning", "WRN": "warning",
    "ERROR": "error", "ERR": "error", "FATAL": "error", "CRITICAL": "error", "CRIT": "error", "SEVERE": "error",
    "INTERNAL_ERROR": "error",
    "V": "debug", "D": "debug", "I": "info", "W": "warning", "E": "error", "F": "error",
}  # fmt: skip

_SEP = re.compile(r"[ \t]*(?:(?:[-|:#,>@]|::)[ \t]*)?")
_DATE = r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|\d{1,2}/\d{1,2}(?=[ \t]+\d{1,2}:\d{2}))"  # ... mmengine's "09/28 10:10:40"
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,:]\d{1,9})?"
_STAMP = re.compile(
    rf"(?:{_DATE}(?:(?:[ T_]+|-){_TIME})?|{_TIME})(?:Z|[+-]\d{{2}}:?\d{{2}}|[ \t]+(?:UTC|GMT|[A-Z]{{3}}T))?(?![\w:/])"
)
_LEVEL_CAPS = re.compile(rf"(?:{_LEVELS})(?=[ \t:|\]\-]|$)")
_LEVEL_ANY = re.compile(rf"(?i:{_LEVELS})(?=[ \t]*[:|]|[ \t]+-[ \t])")
_BRACKET = re.compile(r"\[([^\[\]]{1,240})\]")
_PAREN = re.compile(r"\((?:pid[ =:]?)?\d+\)|\([\w.-]+:\d+\)")
_FILE_LINE = re.compile(
    r"[\w./\\-]+\.(?:cc|cpp|cxx|c|h|hpp|cu|py|java|go|rs|js|ts|kt|scala)(?::\d+)+(?::[\w<>~]+)?(?=[ \t\]:|,)-]|$)"
    r"|[A-Za-z_][\w.]*:[\w<>]+:\d+(?=[ \t])"
)  # "file.cpp:42", loguru's "module:function:42"
_NUMBER = re.compile(r"(?:0x[0-9a-fA-F]+|\d+|(?:pid|tid|thread)[=:]\d+)(?=[ \t\]|-])")  # never "2:" (TensorRT's code)
_LOGGER = re.compile(r"[A-Za-z_][\w.\-]*(?=[ \t]+[-|][ \t])|[a-z_][\w.\-]*(?=:[ \t])")
_LOGGER_SEP = re.compile(
    rf"[A-Za-z_][\w.\-]*(?=[ \t]+[-|][ \t])|[A-Za-z_][\w.]*(?=:(?:{_LEVELS}):)"
)  # "app - WARNING - msg" / "root:WARNING:msg": a name before a separator or before ":LEVEL:"
# syslog / journald: "Jan 01 10:00:00 host prog[1234]: msg"; Android logcat: "E/TensorRT(1234): msg"
_MONTH_STAMP = re.compile(r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ \t]+\d{1,2}[ \t]+\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?")
_SYSLOG_HOST = re.compile(r"[\w.-]+(?=[ \t]+[\w.\-/]+\[\d+\]:)")
_SYSLOG_PROG = re.compile(r"[\w.\-/]+\[\d+\]:")
_LOGCAT = re.compile(r"([VDIWEF])/[\w.\-]+\([ \t]*\d+\):")
_IN_BRACKET_LEVEL = re.compile(rf"(?:^|[\s,:/])((?i:{_LEVELS})|[VIWEFD])(?=$|[\s,:/])")
_IN_BRACKET_STAMP = re.compile(rf"{_DATE}|\d{{1,2}}:\d{{2}}:\d{{2}}")
_KNOWN_NEXT = re.compile(
    r"\[(?:TRT|TensorRT|TRT-LLM|TensorRT-LLM|Torch-TensorRT[^\]]*|TRTorch[^\]]*|V|I|W|E|F|!)\]|"
    r"(?:VERBOSE|INFO|WARNING|ERROR|INTERNAL_ERROR):[ \t]|&&&&"
)
# a severity and the call site in one bracket, as glog-style loggers print them: PyTorch's c10
# "[W shape_type_inference.cpp:1968] Warning: ..." (with a glog stamp in newer releases: "[W1007 14:33:11.614 file.cpp:1168]"),
# protobuf's "[libprotobuf ERROR google/protobuf/text_format.cc:298]" (a library's name first, a Windows path too,
# also one whose build directory was masked: "[libprotobuf WARNING ****\externals\...\coded_stream.cc:604]")
_SEV_CALL_SITE = re.compile(
    rf"(?:[A-Za-z][\w.-]*[ \t]+)?(?P<lv>[VDIWEF]|(?i:{_LEVELS}))(?:\d{{4}}[ \t]+\d{{1,2}}:\d{{2}}:\d{{2}}(?:\.\d+)?)?"
    r"(?:[ \t]+\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?)?[ \t]+(?:\d+[ \t]+)?"
    r"(?:[A-Za-z]:)?(?:[^\s\[\]]*[/\\])?(?P<file>[\w.-]+\.(?:cc|cpp|cxx|c|h|hpp|cu|py):\d+)"
)
# a logger that closes every field with a pipe, no blanks: "\t|yolov5|error|[TensorRT] 3: ..." (noahmr/yolov5-tensorrt);
# a Markdown table row ends with its pipe, this never does
_PIPE_FIELDS = re.compile(r"\|(?:[\w.\-]+\|){1,3}(?=[^|\s])")
_QUIET_BRACKET = re.compile(r"[a-z0-9_./ :@=-]+|[\w.-]+(?:\.\w+)?:\d+|(?:RANK|Rank|GPU|Device|TID|PID|pid|tid) ?:?\d+|\w+-\d+")


@dataclass(slots=True)
class AppPrefix:
    end: int  # where the message starts
    severity: str | None
    stamp: str | None  # the timestamp's text, if one was read
    origin: str | None  # file:line named in the prefix
    own_source: str | None = None  # the message's own call site, when the logger prints it with the severity


def _level(word: str) -> str | None:
    return _LEVEL_MAP.get(word.upper())


def _call_site(content: str) -> tuple[str | None, str] | None:
    """(level, file:line) of a bracket that holds a severity and its call site, else None."""
    m = _SEV_CALL_SITE.fullmatch(content.strip())
    return (_level(m.group("lv")), m.group("file")) if m else None


def _bracket(content: str) -> tuple[str, str | None]:
    """What a bracketed token says: ('sev', level) / ('ts', None) / ('file', file:line) / ('tag', None) / ('stop', None)."""
    c = content.strip()
    if "::" in c:
        return "stop", None  # TensorRT's own "[file.cpp::func::42]"
    if (lv := _level(c)) is not None:
        return "sev", lv
    if m := _IN_BRACKET_LEVEL.search(c):
        if len(m.group(1)) > 1 or _IN_BRACKET_STAMP.search(c):
            return "sev", _level(m.group(1))
    if _IN_BRACKET_STAMP.search(c):
        return "ts", None
    if m := _FILE_LINE.match(c):
        return "file", m.group(0)
    return "tag", None


def peel(rest: str, *, after_severity: bool = False, after_token: bool = False) -> AppPrefix | None:
    """Read an application logger's prefix off the front of ``rest``; None when there is none.

    ``after_severity``: a known wrapper already gave the severity (``[INFO] 10:00:00 msg``); then only
    stamps and ids are read, never a file and line or a name, which may be TensorRT's own source.
    ``after_token``: something was peeled before (a stamp); only then may the prefix open with a ``|``
    separator (loguru's ``stamp | ERROR | msg``); a line that opens with one is a Markdown table row."""
    pos, n = 0, len(rest)
    if rest[:1] == "|" and not after_severity and (m := _PIPE_FIELDS.match(rest)) and not rest.rstrip().endswith("|"):
        levels = [lv for f in m.group(0).strip("|").split("|") if (lv := _LEVEL_MAP.get(f.upper())) and len(f) > 1]
        if len(levels) == 1:
            return AppPrefix(m.end(), levels[0], None, None)
    if rest[:1] in ("|", "-") and not after_severity:
        if not after_token:
            return None
        pos = _SEP.match(rest, 1).end()  # type: ignore[union-attr]  # "| ERROR | ..." after a stamp already peeled
    severity: str | None = None
    stamp: str | None = None
    origin: str | None = None
    own_source: str | None = None
    tokens = 0
    strong = False  # a timestamp, a bracketed severity or a capitalised level word: a logger's, not prose
    last_end = 0
    for _ in range(10):
        if pos >= n:
            break
        if _KNOWN_NEXT.match(rest, pos):
            break
        head = rest[pos]
        if after_severity:
            if head.isdigit() and (m := _STAMP.match(rest, pos)):
                stamp, strong = stamp or m.group(0), True
            elif stamp and (m := _NUMBER.match(rest, pos)):
                pass
            else:
                break
        elif head == "[" and (m := _BRACKET.match(rest, pos)) and severity is None and (site := _call_site(m.group(1))):
            severity, own_source, strong = site[0], site[1], True
            origin = origin or own_source
        elif head == "[" and (m := _BRACKET.match(rest, pos)):
            kind, value = _bracket(m.group(1))
            if kind == "stop" or (kind == "tag" and severity is not None and not _QUIET_BRACKET.fullmatch(m.group(1))):
                break
            if kind == "sev":
                if severity is not None:
                    break
                severity, strong = value, True
            elif kind == "ts":
                stamp, strong = stamp or m.group(1), True
            elif kind == "file":
                origin = origin or value
        elif head.isdigit() and (m := _STAMP.match(rest, pos)):
            stamp, strong = stamp or m.group(0), True
        elif not tokens and head in "VDIWEF" and (m := _LOGCAT.match(rest, pos)):
            severity, strong = _level(m.group(1)), True
        elif not tokens and head.isupper() and (m := _MONTH_STAMP.match(rest, pos)):
            stamp, strong = stamp or m.group(0), True
        elif (m := _SYSLOG_PROG.match(rest, pos)) or (stamp and (m := _SYSLOG_HOST.match(rest, pos))):
            strong = True
        elif severity is None and head.isalpha() and (m := _LEVEL_CAPS.match(rest, pos) or _LEVEL_ANY.match(rest, pos)):
            severity = _level(m.group(0))
            strong = strong or m.group(0).isupper()
        elif head == "(" and (m := _PAREN.match(rest, pos)):
            pass
        elif (m := _FILE_LINE.match(rest, pos)) and (tokens or severity):
            origin = origin or m.group(0).split(":")[0] + ":" + m.group(0).split(":")[-1]
        elif (stamp or severity) and (m := _NUMBER.match(rest, pos)):
            pass
        elif (tokens and (m := _LOGGER.match(rest, pos))) or (severity is None and (m := _LOGGER_SEP.match(rest, pos))):
            pass
        else:
            break
        tokens += 1
        last_end = m.end()
        pos = _SEP.match(rest, last_end).end()  # type: ignore[union-attr]
    if not tokens:
        return None
    if after_severity:
        return AppPrefix(pos, None, stamp, None) if stamp else None
    if severity is not None and strong and (tokens > 1 or rest[last_end : last_end + 1] in (":", "]", "|", " ")):
        return AppPrefix(pos, severity, stamp, origin, own_source)
    if (strong or severity is None) and _KNOWN_NEXT.match(rest, pos):
        # a stamp, a process name or a launcher's "[node-1]" in front of a tag the classifier reads
        return AppPrefix(pos, None, stamp, origin)  # a logger's stamp in front of a tag the classifier reads
    return None
