"""Line classifier: peel the wrapper prefixes every TensorRT-emitting tool adds.

TensorRT's own logger only hands a severity and a message to the application;
every tool then prints it its own way. The classifier peels prefixes off the
front of a line, in any order, until none matches, so combinations nobody
wrote down (a Triton glog line carrying a TensorRT message, a Polygraphy
``[W] [TRT]`` pair, ...) still come apart:

=================  ===========================================================
family             example prefix
=================  ===========================================================
trtexec            ``[07/02/2026-03:47:09] [V] [TRT] msg`` (C++ order)
python             ``[06/26/2023-14:33:11] [TRT] [E] msg`` / ``[TRT] [W] msg``
legacy             ``[TensorRT] VERBOSE: msg`` (TensorRT 5-7 Python logger)
bare               ``[W] msg`` / ``[E]`` / ``[!]`` (Polygraphy, trtexec to a file)
deepstream         ``ERROR: [TRT]: msg`` / ``WARNING: [TRT]: msg``
jetson             ``[TRT]    msg`` (jetson-inference, no severity; ``[GIE]`` with TensorRT 2-3, its old name)
torch_tensorrt     ``WARNING: [Torch-TensorRT ...] - msg`` / ``INFO:torch_tensorrt...:msg`` (``[TRTorch ...]`` before 1.0)
trtllm             ``[TRT-LLM] [E] msg`` / ``[TensorRT-LLM][WARNING] msg``
triton             ``I0829 03:48:40.853740 1161 file.cc:123] msg`` (glog)
                   ``2020-02-18 04:06:43.967599: I file.cc:812] msg`` (TensorFlow / TF-TRT)
glib               ``(deepstream-app:6565): GLib-GObject-WARNING **: 07:46:40.227: msg``
gstreamer          ``0:00:04.04 9789 0x2d12ae40 WARN nvinfer gstnvinfer.cpp:635:func:<elem> msg``
onnxruntime        ``E onnxruntime: [2024-09-20 12:15:43   ERROR] msg``,
                   ``2025-05-14 15:30:20.64 [E:onnxruntime:Default, file.cc:2167 func] msg``
onnx2trt           ``[2022-11-08 06:01:58 WARNING] msg`` (onnx-tensorrt / ORT TensorRT logger)
status             ``&&&& PASSED TensorRT.trtexec [TensorRT v101600] # cmd``
plain              nothing recognised (tables, JSON, tracebacks, continuations)
=================  ===========================================================

A markdown quote mark (``> ``), a list bullet (``* ``), docker compose's ``service-1  | `` column or an
opening backtick in front of any of these is peeled too (a terminal's colours pasted as HTML tags are
dropped like ANSI codes), so is a context tag such as ``[RANK 0]`` between the others, and a
trtexec timestamp that lost its opening ``[`` in a paste still counts.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

from trtlens.producers.trtlog.prefix import peel as peel_app_prefix

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# a terminal's colours exported as HTML (a pasted <pre> block): '<font color="#FCE94F"><b>WARN   </b></font>', '&lt;elem&gt;'
HTML_TAG_RE = re.compile(r"</?(?:font|b|strong|span)\b[^<>]*>", re.I)
_HTML_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&amp;", "&"))
# docker compose's service column in front of every line: "triton-models-1  | I0625 13:46:36.561751 1 f.cc:773] msg"
_COMPOSE = re.compile(r"[a-z0-9][\w.-]*[-_]\d+\s+\|(?: |$)")

_GLOG = re.compile(r"([IWEF])(\d{4}|\d{8})\s+(\d\d:\d\d:\d\d(?:\.\d+)?)\s+(\d+)\s+([^\s:\]]+):(\d+)\][ \t]?")
_TS = re.compile(r"\[?(\d{1,2})/(\d{1,2})/(\d{4})-(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?\][ \t]*")
_ISO_TS = re.compile(
    r"\[?(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\]?[ \t]+(?:-[ \t]+)?"
)
_BRACKET_SEV = re.compile(
    r"\[(V|I|W|E|F|!|S|X|(?i:VERBOSE|INFO|WARN|WARNING|ERROR|FATAL|DEBUG|TRACE|INTERNAL_ERROR|CRITICAL))\][ \t]?"
)
_TAG = re.compile(r"\[(TRT|TensorRT|GIE|TRT-LLM|TensorRT-LLM|Torch-TensorRT[^\]]*|TRTorch[^\]]*|TensorRT Conversion Context)\]:?[ \t]*")
_TORCH_DASH = re.compile(r"-[ \t]+")
_WORD_SEV = re.compile(r"(VERBOSE|INFO|WARNING|Warning|WARN|Warn|ERROR|INTERNAL[_ ]ERROR|DEBUG|FATAL|CRITICAL|TRACE):[ \t]?")
_PYLOG = re.compile(
    r"(DEBUG|INFO|WARNING|ERROR|CRITICAL):(?P<logger>[A-Za-z_][\w.]*)"
    r"(?:[ \t]*\[[^\]]*\])?:[ \t]?"
)  # Python logging's default "LEVEL:logger:msg"; torch_tensorrt / tensorrt_llm loggers name the family
# Python logging's "%(asctime)s:%(levelname)s:%(name)s:%(message)s": "2021-04-13 17:49:54,157:WARNING:tensorflow:msg"
_ISO_TS_PYLOG = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})[.,]\d+:(?=(?:DEBUG|INFO|WARNING|ERROR|CRITICAL):)")
_STATUS = re.compile(r"&&&&\s+(RUNNING|PASSED|FAILED|WAIVED)\b")
# a terminal logger's stamp in front of everything: "2023-12-04_08:50:03#[12/04/2023-08:50:03] [W] msg"
_TERM_TS = re.compile(r"\d{4}-\d{2}-\d{2}_\d{2}:\d{2}:\d{2}#")
# an application logger around TensorRT's: "[2023-09-21 04:18:00][warn][trt_builder.cpp:33]:NVInfer: msg" (tensorRT_Pro)
_APP_TS_LEVEL = re.compile(
    r"\[(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?\]\[(?i:(verbose|debug|info|warn|warning|error|fatal))\]"
    r"(?:\[(?P<file>[^\]:\s]+):(?P<line>\d+)\])?:?[ \t]*(?:NVInfer:[ \t]*)?"
)
# GLib's g_warning(): "(deepstream-app:6565): GLib-GObject-WARNING **: 07:46:40.227: msg"
_GLIB = re.compile(r"\([^\s():]+:\d+\):\s+[\w-]*?-?(WARNING|CRITICAL|ERROR|INFO|DEBUG|Message)\s+\*\*:\s+(?:\d\d:\d\d:\d\d\.\d+:\s+)?")
# TensorFlow's (abseil) prefix: "2020-02-18 04:06:43.967599: I tensorflow/compiler/.../trt_engine_op.cc:812] msg" (TF-TRT)
_ABSL = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+: ([IWEF]) ([^\s:\]]+):(\d+)\][ \t]?")
# a tool's name then a severity word: "TensorRT: WARNING ⚠️ 'dynamic=True' model requires ..." (an exporter's own line)
_TOOL_SEV = re.compile(r"[A-Z][\w-]{1,24}:[ \t]+(WARNING|ERROR)\b:?[ \t]*")
_QUOTE = re.compile(r">[ \t]+(?=\S)")
# torch.distributed's prefix on every line a rank writes to stderr: "[rank0]:   File ..." (the indentation after it is the line's)
_RANK = re.compile(r"\[(?:rank|default)\d+\]:[ ]?")
# a trtexec line cut in a paste right after its severity's letter: "E] Error[10]: [optimizer.cpp::computeCosts::3728] ..."
_CUT_SEV = re.compile(r"([VIWEF])\][ \t]+(?=\S)")
# a shell prompt glued in front of a logger's stamp: "root@host:/ws# I1106 12:36:07.335524 3487 f.cc:241] msg",
# "user@host:~$ [03/15/2022-09:42:36] [I] msg" (the command's output pasted on the prompt's line)
_PROMPT = re.compile(
    r"(?:\([\w.-]+\) )?(?:PS )?[^\s#$>]+[#$>] "
    r"(?=[IWEF]\d{4}(?:\d{4})? \d\d:\d\d:\d\d\.\d+ +\d+ [\w.-]+:\d+\]|\[\d{1,2}/\d{1,2}/\d{4}-\d{1,2}:\d\d:\d\d)"
)
# a wrapper's own call site between the severity word and TensorRT's tag (DeepStream 5):
# "ERROR: ../nvdsinfer/nvdsinfer_func_utils.cpp:33 [TRT]: msg"
_SITE_BEFORE_TAG = re.compile(r"(?P<file>[\w./\\-]+\.(?:cpp|cc|cxx|c|h|hpp)):(?P<line>\d+)[ \t]+(?=\[(?:TRT|TensorRT)\])")
_BACKTICKS = re.compile(r"`{1,3}(?=\S)")  # a markdown code span or fence opened on the log's own line
_EMPHASIS = re.compile(r"\*{1,3}(?=[^\s*])")  # markdown bold or italic opened on the log's own line ("**[libprotobuf ERROR ...")
_BULLET = re.compile(r"[*+-][ \t]+(?=\S)")  # a markdown list item around a log line ("* I0530 23:11:42.519991 1 f.cc:106] msg")
# a context tag between a tool's tag and its severity: "[TRT-LLM] [RANK 0] [E] msg" (TensorRT-LLM's PyTorch flow),
# or a logger's field left empty after the severity: "[ERROR] [] TensorRT error: ..." (no logger name)
_CONTEXT_TAG = re.compile(r"\[(?:(?:RANK|Rank|rank|GPU|Device|device)[ :]?\d+)?\][ \t]?")
_GST = re.compile(
    r"\d+:\d\d:\d\d\.\d+\s+\d+\s+0x[0-9a-fA-F]+\s+(ERROR|WARN|FIXME|INFO|DEBUG|LOG|TRACE|MEMDUMP)\s+\S+\s+"
    r"([^\s:]+):(\d+):(?P<fn>[^\s:]*):(?:<[^>]*>)?[ \t]*"
)
# a wrapper's function that is a logger callback forwards someone else's message ("TensorrtLogger::log",
# "gst_nvinfer_logger"): its file:line is the forwarder's, never the message's source
_FORWARDER = re.compile(r"(?i)log(?:ger)?\b|logger|_log_")
_ORT_API = re.compile(r"([VIWEF]) onnxruntime:[ \t]*")
_ORT_BRACKET = re.compile(r"\[([VIWEF]):onnxruntime:[^,\]]*,\s*([^\s:\]]+):(\d+)(?P<fn>[^\]]*)\][ \t]*")
_TS_SEV = re.compile(
    r"\[(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?\s+"
    r"(VERBOSE|INFO|WARNING|ERROR|BUG|INTERNAL_ERROR|FATAL|DEBUG|UNKNOWN)\][ \t]*"
)
_ORT_SUFFIX = re.compile(r"\s*\[[\w.-]+\.(?:h|cc|cpp):\d+ [\w:~<>]+\]\s*$")

_SEVERITY = {
    "V": "debug", "S": "debug", "X": "debug", "VERBOSE": "debug", "DEBUG": "debug", "TRACE": "debug",
    "I": "info", "INFO": "info",
    "W": "warning", "WARNING": "warning",
    "E": "error", "F": "error", "!": "error", "ERROR": "error", "FATAL": "error", "CRITICAL": "error",
    "INTERNAL_ERROR": "error", "INTERNAL ERROR": "error", "BUG": "error",
    "WARN": "warning", "FIXME": "warning", "MESSAGE": "info", "LOG": "debug", "MEMDUMP": "debug", "UNKNOWN": "info",
}  # fmt: skip


@dataclass(slots=True)
class Line:
    """One physical line after its wrappers were peeled off."""

    lineno: int
    raw: str
    text: str  # the message, stripped
    indent: int  # leading blanks of the message after the prefix (continuations)
    family: str
    severity: str | None  # debug | info | warning | error
    trt: bool  # a TensorRT logger tag ([TRT], [TensorRT], ...) was present
    ts_ms: int | None = None
    origin: str | None = None  # glog file:line of the wrapping tool
    own_source: str | None = None  # the wrapper's file:line when the wrapper is the message's own call site

    @property
    def prefixed(self) -> bool:
        return self.family not in ("plain",)


def _epoch_ms(year: int, month: int, day: int, hh: int, mm: int, ss: int) -> int | None:
    try:
        return calendar.timegm((year, month, day, hh, mm, ss, 0, 0, 0)) * 1000 if 1 <= month <= 12 else None
    except (ValueError, OverflowError):
        return None


_STAMP_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:(?:[ T_]+|-)(\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _stamp_ms(stamp: str) -> int | None:
    """An application stamp with a year-first date gives a time; a time of day alone does not."""
    if not (m := _STAMP_DATE.search(stamp)):
        return None
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    return _epoch_ms(y, mo, d, int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0))


def classify(raw: str, lineno: int = 0) -> Line:
    """Peel known prefixes off ``raw``; never raises."""
    s = ANSI_RE.sub("", raw).rstrip("\r\n").replace("\x00", "")
    if s.startswith("\ufeff"):
        s = s[1:]
    if "</" in s and HTML_TAG_RE.search(s):
        s = HTML_TAG_RE.sub("", s)
        for entity, char in _HTML_ENTITIES:
            s = s.replace(entity, char)
    rest = s.lstrip(" \t")
    if rest[:1].isalnum() and (m := _COMPOSE.match(rest)):
        rest = rest[m.end() :]
    severity: str | None = None
    ts_ms: int | None = None
    origin: str | None = None
    own_source: str | None = None
    forwarded = False  # a wrapper that is a logger callback: the forwarded message's own severity wins
    tokens: list[str] = []  # order of what was peeled: ts, sev, tag, word, glog, pylog
    tag_name = ""
    app_severity: str | None = None
    if m := _QUOTE.match(rest):
        rest = rest[m.end() :]
    if rest[:2] in ("[r", "[d") and (m := _RANK.match(rest)):
        rest = rest[m.end() :]
    if rest[:1] in "*+-" and (m := _BULLET.match(rest)) and (inner := classify(rest[m.end() :], lineno)).family != "plain":
        inner.raw = raw  # a bullet is peeled only in front of a prefix: "- 131 weights are affected ..." stays as it is
        return inner
    if rest[:1] == "`" and (m := _BACKTICKS.match(rest)):
        rest = rest[m.end() :]
    if rest[:1] == "*" and (m := _EMPHASIS.match(rest)):
        rest = rest[m.end() :]
        if (tail := rest.rstrip()).endswith(m.group(0)):
            rest = tail[: -len(m.group(0))]  # closed on the same line: "**cmd**"
    if m := _TERM_TS.match(rest):
        rest = rest[m.end() :]
    if rest[:1] not in "[&" and (m := _PROMPT.match(rest)):
        rest = rest[m.end() :]
    if "&&&&" in rest and not rest.startswith("&&&&") and (m := _STATUS.search(rest)) and rest[m.start() - 1] in "#`'\" \t>":
        rest = rest[m.start() :]  # a status line behind a prompt, a stamp or a markdown backtick
    if _STATUS.match(rest):
        return Line(lineno, raw, rest.strip(), 0, "status", None, False)
    if rest[1:2] == "]" and (m := _CUT_SEV.match(rest)):
        severity, rest = _SEVERITY[m.group(1)], rest[m.end() :]
        tokens.append("sev")
    for _ in range(6):
        head = rest[:1]
        if not tokens and head == "(" and (m := _GLIB.match(rest)):
            severity = _SEVERITY.get(m.group(1).upper(), "info")
            tokens.append("glib")
        elif not tokens and head.isdigit() and rest[4:5] == "-" and (m := _ABSL.match(rest)):
            severity = _SEVERITY[m.group(1)]
            origin = f"{m.group(2)}:{m.group(3)}"
            tokens.append("glog")
        elif not tokens and head.isupper() and (m := _TOOL_SEV.match(rest)):
            severity = _SEVERITY[m.group(1)]
            tokens.append("word")
        elif head.isdigit() and (m := _GST.match(rest)):
            severity = severity or _SEVERITY[m.group(1)]
            origin = f"{m.group(2)}:{m.group(3)}"
            own_source = None if _FORWARDER.search(m.group("fn")) else origin
            tokens.append("gst")
        elif not tokens and rest[1:13] == " onnxruntime" and (m := _ORT_API.match(rest)):
            severity = severity or _SEVERITY[m.group(1)]
            tokens.append("ort")
        elif head == "[" and rest[2:14] == ":onnxruntime" and (m := _ORT_BRACKET.match(rest)):
            severity = severity or _SEVERITY[m.group(1)]
            origin = f"{m.group(2)}:{m.group(3)}"
            forwarded = bool(_FORWARDER.search(m.group("fn")))
            own_source = None if forwarded else origin
            tokens.append("ort")
        elif head == "[" and rest[1:2].isdigit() and rest[5:6] == "-" and "][" in rest[19:28] and (m := _APP_TS_LEVEL.match(rest)):
            y, mo, d, hh, mi, ss = (int(g) for g in m.groups()[:6])
            ts_ms = _epoch_ms(y, mo, d, hh, mi, ss)
            severity = severity or _SEVERITY[m.group(7).upper()]
            origin = f"{m.group('file')}:{m.group('line')}" if m.group("file") else origin
            tokens.append("tssev")
        elif head == "[" and rest[1:2].isdigit() and rest[5:6] == "-" and (m := _TS_SEV.match(rest)):
            y, mo, d, hh, mi, ss = (int(g) for g in m.groups()[:6])
            ts_ms = _epoch_ms(y, mo, d, hh, mi, ss)
            # onnxruntime's TensorrtLogger::log printed TensorRT's ERROR under its own [W:onnxruntime:...] (2019)
            severity = _SEVERITY[m.group(7)] if forwarded else severity or _SEVERITY[m.group(7)]
            tokens.append("tssev")
        elif m := _GLOG.match(rest):
            severity = severity or _SEVERITY[m.group(1)]
            origin = f"{m.group(5)}:{m.group(6)}"
            own_source = None if "log" in m.group(5).lower() else origin  # logging.cc, trt_logger.cc: a logger callback
            if len(d8 := m.group(2)) == 8:  # glog with the year ("W20240501 ..."): the stamp is a time
                hh, mi, ss = (int(x) for x in m.group(3).split(".")[0].split(":"))
                ts_ms = _epoch_ms(int(d8[:4]), int(d8[4:6]), int(d8[6:]), hh, mi, ss)
            tokens.append("glog")
        elif m := _TS.match(rest):
            mo, d, y, hh, mi, ss = (int(g) for g in m.groups())
            ts_ms = _epoch_ms(y, mo, d, hh, mi, ss)
            tokens.append("ts")
        elif not tokens and (m := _ISO_TS.match(rest) or (head.isdigit() and _ISO_TS_PYLOG.match(rest))):
            y, mo, d, hh, mi, ss = (int(g) for g in m.groups())
            ts_ms = _epoch_ms(y, mo, d, hh, mi, ss)
            tokens.append("ts")
        elif m := _BRACKET_SEV.match(rest):
            severity = severity or _SEVERITY[m.group(1).upper() if len(m.group(1)) > 1 else m.group(1)]
            tokens.append("sev")
        elif m := _TAG.match(rest):
            tag_name = tag_name or m.group(1)
            tokens.append("tag")
            if m.group(1).startswith(("Torch-TensorRT", "TRTorch")) and (dash := _TORCH_DASH.match(rest, m.end())):
                rest = rest[dash.end() :]
                continue
        elif tokens and tokens[-1] == "word" and (m := _SITE_BEFORE_TAG.match(rest)):
            origin = f"{m.group('file').replace(chr(92), '/').rsplit('/', 1)[-1]}:{m.group('line')}"  # a forwarder's, no source
            tokens.append("site")
        elif tokens and head == "[" and (m := _CONTEXT_TAG.match(rest)):
            tokens.append("ctx")  # says nothing about the family or the severity
        elif m := _PYLOG.match(rest):
            severity = severity or _SEVERITY[m.group(1)]
            logger = m.group("logger").split(".")[0]
            if logger in ("torch_tensorrt", "tensorrt_llm", "polygraphy", "tensorrt", "modelopt"):
                tag_name = tag_name or logger
            tokens.append("pylog")
        elif (not tokens or tokens[-1] in ("tag", "ts")) and (m := _WORD_SEV.match(rest)):
            severity = severity or _SEVERITY[m.group(1).upper().replace("INTERNAL_ERROR", "INTERNAL ERROR")]
            tokens.append("word")
        elif "app" not in tokens and (ap := peel_app_prefix(rest, after_severity=severity is not None, after_token=bool(tokens))) is not None:
            # an application logger's own prefix (general grammar); a severity inside it gives way to TensorRT's
            app_severity = ap.severity
            origin = origin or ap.origin
            own_source = own_source or ap.own_source
            if ap.stamp and ts_ms is None:
                ts_ms = _stamp_ms(ap.stamp)
            tokens.append("app" if ap.severity else "ts")
            rest = rest[ap.end :]
            continue
        else:
            break
        rest = rest[m.end() :]
    severity = severity or app_severity
    message = rest
    if "ort" in tokens and (m := _ORT_SUFFIX.search(message)):
        origin = origin or message[m.start() :].strip(" []").split(" ")[0]
        message = message[: m.start()]
    text = message.strip()
    if text[:1] == "*" and tokens and (m := _EMPHASIS.match(text)) and text.endswith(m.group(0)) and len(text) > 2 * m.end():
        text = text[m.end() : -m.end()].strip()  # a message set in bold after its prefix: "E0530 ... logging.cc:43] **msg**"
    indent = len(message) - len(message.lstrip(" \t"))
    family = _family(tokens, tag_name)
    if family == "triton" and len(text) > 1 and text[0] == '"' and text[-1] == '"' and '"' not in text[1:-1].replace('\\"', ""):
        text = text[1:-1]  # tritonserver 24.x quotes every message: I0120 ... model_lifecycle.cc:473] "loading: x:1"
    trt = tag_name in ("TRT", "TensorRT", "GIE", "TensorRT Conversion Context") or tag_name.startswith(("Torch-TensorRT", "TRTorch"))
    if family == "triton" or "tssev" in tokens:
        trt = True  # Triton's TensorRT backend (glog) and onnx-tensorrt's logger forward TensorRT's messages
    return Line(lineno, raw, text, indent, family, severity, trt, ts_ms, origin, own_source)


def _family(tokens: list[str], tag: str) -> str:
    if not tokens:
        return "plain"
    if "glog" in tokens:
        return "triton"
    if "gst" in tokens:
        return "gstreamer"
    if "glib" in tokens:
        return "glib"
    if "ort" in tokens:
        return "onnxruntime"
    if "tssev" in tokens:
        return "onnx2trt"
    if "app" in tokens and not tag and not any(t in tokens for t in ("sev", "word", "pylog")):
        return "app"
    if tag.startswith(("Torch-TensorRT", "TRTorch")) or tag == "torch_tensorrt" or tag == "TensorRT Conversion Context":
        return "torch_tensorrt"
    if tag in ("TRT-LLM", "TensorRT-LLM", "tensorrt_llm"):
        return "trtllm"
    if "pylog" in tokens:
        return "pylog"
    first_tag = tokens.index("tag") if "tag" in tokens else -1
    if "word" in tokens:
        w = tokens.index("word")
        if first_tag >= 0 and w < first_tag:
            return "deepstream"
        return "legacy" if first_tag >= 0 else "plain_severity"
    if "sev" in tokens:
        s = tokens.index("sev")
        if first_tag >= 0 and first_tag < s:
            return "python"
        return "trtexec" if "ts" in tokens else "bare"
    if first_tag >= 0:
        return "jetson" if "ts" not in tokens else "python"
    return "plain"
