"""``parse_log``: one TensorRT log (or trtexec JSON export) → one ``EngineBuild``
event plus its ``LayerProfile`` events and parse statistics.

Content never makes it raise: unknown or mangled lines are counted
(``stats.unparsed``) and skipped. Only an unreadable *path* raises
:class:`TrtlogInputError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtlens.errors import TrtlensError
from trtlens.producers.trtlog import (
    extract_build,
    extract_calib,
    extract_diag,
    extract_env,
    extract_fallbacks,
    extract_jetson,
    extract_layers,
    extract_memory,
    extract_perf,
    extract_polygraphy,
    extract_precision,
    extract_quant,
    extract_triton,
)
from trtlens.producers.trtlog.assemble import assemble
from trtlens.producers.trtlog.classify import classify
from trtlens.producers.trtlog.state import Limits, ParseState, ProfileRow
from trtlens.schemas.events import EngineBuild, LayerProfile

_FACT_EXTRACTORS = (
    extract_calib, extract_triton, extract_perf, extract_memory, extract_build, extract_fallbacks, extract_precision, extract_env,
    extract_quant, extract_polygraphy, extract_jetson,
)  # fmt: skip
MAX_JSON_BYTES = 64 << 20
# a paste that lost its newlines: "... FP16: [10/09/2022-20:22:20] [TRT] [W] - Subnormal ..." holds several messages
_GLUED = re.compile(r"(?<=[^\]\s]) (?=\[\d{1,2}/\d{1,2}/\d{4}-\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\] \[(?:TRT|TensorRT|[VIWEF])\])")
# the same for onnxruntime's logger: "... failed.) 2022-03-20 10:58:06.32 [E:onnxruntime:Default, file.h:51 f] [...] msg"
_TS_OPEN = re.compile(r"\[\d{1,2}/\d{1,2}/\d{4}-\d{1,2}:\d{2}:\d{2}")
_GLUED_ORT = re.compile(r"(?<=\S) (?=\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \[[VIWEF]:onnxruntime:)")
# and for glog (Triton), where the next message follows with no blank at all: "... version 1I0421 20:17:23.436445 1 f.cc:1239] ..."
_GLOG_AHEAD = r"[IWEF]\d{4}(?:\d{4})? \d{2}:\d{2}:\d{2}\.\d{6} +\d+ [\w.-]+:\d+\] "
_GLOG_STAMP = re.compile(_GLOG_AHEAD)
_GLUED_GLOG = re.compile(rf"(?<=\S)(?={_GLOG_AHEAD})| (?={_GLOG_AHEAD})")
# a progress bar that ends with its rate and no newline before the next message (tqdm writes '\r'):
# "Synthesizing:   0%|   | 0/1 [00:00<?, ?it/s]2026-01-18 23:02:11,243 WARNING msg"
_PROGRESS_END = re.compile(r"\|\s*\d+/\d+\s*\[[^\]]*(?:it/s|s/it)\](?=\S)")
# onnxruntime's bracket left open at the line's end: a terminal wrapped the prefix ("[E:onnxruntime:Default, x.h:73 " +
# "onnxruntime::TensorrtLogger::log] [...] msg"); the wrapped lines are one message
_ORT_OPEN = re.compile(r"\[[VIWEF]:onnxruntime:[^\]]*$")
MAX_WRAPPED_LINES = 3
# TensorRT's coded message glued to the full stop of the one before, the newline between them lost:
# "... expecting compute 8.6 got compute 7.5, please rebuild.4: [runtime.cpp::deserializeCudaEngine::50] Error Code 4: ..."
_GLUED_CODED = re.compile(r"(?<=[a-z)][.!])(?=\d{1,3}: \[[\w.+-]+\.(?:cpp|cc|cu|cxx|h|hpp)::[^\]]*\] Error Code \d+:)")


class TrtlogInputError(TrtlensError):
    """The log could not be read at all.

    Attributes:
        path: the file that failed.
        reason: the OS error text.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read TensorRT log {path}: {reason}")


@dataclass
class ParseStats:
    lines: int = 0
    blank: int = 0
    recognized: int = 0  # a known prefix family (or a known plain-text block)
    extracted: int = 0  # a fact was taken from the line
    unparsed: int = 0  # plain lines no extractor understood
    families: Counter = field(default_factory=Counter)
    document: str = "text"  # text | exportLayerInfo | exportProfile | exportTimes
    truncated: dict[str, int] = field(default_factory=dict)


@dataclass
class ParseResult:
    build: EngineBuild
    profile: list[LayerProfile]
    stats: ParseStats

    @property
    def events(self) -> list[EngineBuild | LayerProfile]:
        return [self.build, *self.profile]


def read_text(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise TrtlogInputError(str(path), exc.strerror or str(exc)) from exc


def parse_log(
    path_or_lines: str | os.PathLike[str] | Iterable[str | bytes],
    *,
    engine_id: str | None = None,
    source: str | None = None,
    worker_id: str | None = None,
    now_ms: int | None = None,
    limits: Limits | None = None,
) -> ParseResult:
    """Parse a log file (``str``/``Path``) or an iterable of lines (``str`` or ``bytes``)."""
    if isinstance(path_or_lines, (str, os.PathLike)):
        text = read_text(path_or_lines)
        source = source or str(path_or_lines)
        lines = text.split("\n")
    else:
        lines = [ln.decode("utf-8", errors="replace") if isinstance(ln, (bytes, bytearray)) else str(ln) for ln in path_or_lines]
        lines = [part for ln in lines for part in ln.split("\n")] if any("\n" in ln for ln in lines) else lines
        text = "\n".join(lines)
    normalized = "\n".join(ln.rstrip("\r") for ln in lines).rstrip("\n")  # same id for a file and its lines
    digest = hashlib.sha256(normalized.encode("utf-8", errors="replace")).hexdigest()
    st = ParseState(limits=limits or Limits())
    stats = ParseStats()
    if not _parse_json(text, st, stats):
        _parse_lines(lines, st, stats)
    stats.truncated = dict(st.truncated)
    build, profile = assemble(
        st, stats_unparsed=stats.unparsed, digest=digest, engine_id=engine_id, source=source, worker_id=worker_id, now_ms=now_ms
    )
    return ParseResult(build=build, profile=profile, stats=stats)


def _parse_lines(lines: list[str], st: ParseState, stats: ParseStats) -> None:
    if lines and lines[-1] == "":
        lines = lines[:-1]  # the newline that ends the file
    nxt = 0
    while nxt < len(lines):
        raw, lineno = lines[nxt], nxt + 1
        nxt += 1
        stats.lines += 1
        joined = 0
        while joined < MAX_WRAPPED_LINES and nxt < len(lines) and lines[nxt].strip() and "onnxruntime:" in raw and _ORT_OPEN.search(raw):
            raw, nxt, joined = raw.rstrip("\r") + lines[nxt], nxt + 1, joined + 1  # joined as the terminal cut it (its blank, if any, kept)
            stats.lines += 1
        for part in split_glued(raw):
            try:
                _one_line(part, lineno, st, stats)
            except Exception:  # noqa: BLE001 - a parser bug on one line must not lose the log
                stats.unparsed += 1
                st.truncated["internal_errors"] += 1
    extract_build.flush(st)
    extract_layers.flush(st)
    extract_polygraphy.flush(st)
    extract_jetson.flush(st)
    extract_diag.finish(st)


def split_glued(raw: str) -> list[str]:
    """One physical line holding several timestamped messages (newlines lost in a paste) → one part each."""
    if len(raw) < 80:
        return [raw]
    if "Error Code" in raw and (m := _GLUED_CODED.search(raw)):
        return [raw[: m.start()], *split_glued(raw[m.start() :])]
    if "it" in raw and (m := _PROGRESS_END.search(raw)):
        return [raw[: m.end()], *split_glued(raw[m.end() :])]
    if raw.count(":onnxruntime:") > 1:
        return _GLUED_ORT.split(raw)
    if _GLOG_STAMP.match(raw) and len(_GLOG_STAMP.findall(raw)) > 1:
        return _GLUED_GLOG.split(raw)
    if raw.count("] [") < 2 or len(_TS_OPEN.findall(raw)) < 2:
        return [raw]
    return _GLUED.split(raw)


def _one_line(raw: str, lineno: int, st: ParseState, stats: ParseStats) -> None:
    line = classify(raw, lineno)
    stats.families[line.family] += 1
    if line.ts_ms is not None:
        st.first_ts_ms = st.first_ts_ms if st.first_ts_ms is not None else line.ts_ms
        st.last_ts_ms = line.ts_ms
    if not line.text:
        stats.blank += 1
    # a layer-information line belongs to that block alone; other extractors all look
    # (one line can carry several facts: a skipped tactic and a failed allocation size)
    consumed = extract_layers.extract(line, st)
    if not consumed:
        for extractor in _FACT_EXTRACTORS:
            consumed = extractor.extract(line, st) or consumed
    in_diag = extract_diag.extract(line, st, consumed=consumed)
    if consumed:
        stats.extracted += 1
    if line.family != "plain" or consumed or in_diag:
        stats.recognized += 1
    elif line.text:
        stats.unparsed += 1


def _parse_json(text: str, st: ParseState, stats: ParseStats) -> bool:
    """trtexec --exportLayerInfo / --exportProfile / --exportTimes documents."""
    head = text.lstrip()[:1]
    if head not in ("{", "[") or len(text) > MAX_JSON_BYTES:
        return False
    try:
        doc: Any = json.loads(text)
    except ValueError:
        return False
    stats.lines = text.count("\n") + 1
    stats.recognized = stats.lines
    if extract_layers.from_json(doc, st):
        stats.document = "exportLayerInfo"
        st.mark("built")
        return True
    if isinstance(doc, list) and _profile_json(doc, st):
        stats.document = "exportProfile"
        st.mark("loaded")
        return True
    if isinstance(doc, list) and _times_json(doc, st):
        stats.document = "exportTimes"
        st.mark("loaded")
        return True
    stats.recognized = 0
    return False


def _profile_json(doc: list, st: ParseState) -> bool:
    rows = [d for d in doc if isinstance(d, dict) and isinstance(d.get("name"), str) and "timeMs" in d]
    if not rows:
        return False
    for d in doc:
        if isinstance(d, dict) and isinstance(d.get("count"), int):
            st.profile_iterations = d["count"]
    for d in rows:
        row = ProfileRow(
            layer=d["name"],
            time_ms=_num(d.get("timeMs")),
            avg_ms=_num(d.get("averageMs")),
            median_ms=_num(d.get("medianMs")),
            time_pct=_num(d.get("percentage")),
        )
        if row.layer == "Total":
            st.profile_total = row
        elif st.cap("profile_rows", st.profile_rows, st.limits.profile_rows):
            st.profile_rows.append(row)
    return True


def _times_json(doc: list, st: ParseState) -> bool:
    def series(key: str) -> list[float]:
        return sorted(v for d in doc if isinstance(d, dict) and (v := _num(d.get(key))) is not None)

    latency = series("latencyMs")
    if not latency:
        return False
    for section, key in (("latency", "latencyMs"), ("gpu_compute", "computeMs"), ("h2d", "h2dMs"), ("d2h", "d2hMs")):
        values = series(key)
        if values:
            st.perf[section] = _summary(values)
    return True


def _summary(values: list[float]) -> dict[str, float]:
    """Lower nearest-rank percentiles (index ceil(q*n)-1), like the rest of trtlens."""
    n = len(values)

    def q(p: float) -> float:
        return values[max(0, math.ceil(round(p * n, 9)) - 1)]

    return {
        "min_ms": values[0], "max_ms": values[-1], "mean_ms": sum(values) / n,
        "median_ms": q(0.5), "p90_ms": q(0.9), "p95_ms": q(0.95), "p99_ms": q(0.99),
    }  # fmt: skip


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
