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
FILE_LINE = re.compile(r"^(?P<file>(?:[A-Za-z]:)?[\w./\\-]+\.(?:cpp|cc|cu|cxx|c|h|hpp)):(?P<line>\d+)(?::|\s)\s*(?P<rest>.*)$", re.S)
ERROR_INDEX = re.compile(r"^Error\[(?P<code>\d+)\]:\s*(?P<rest>.*)$", re.S)  # trtexec 10: "[E] Error[4]: ITensor::..."
INNER_FILE_LINE = re.compile(r"(?:ERROR|WARNING):\s*(?P<file>[\w./\\-]+\.(?:cpp|cc|cu|cxx|c|h|hpp)):(?P<line>\d+)\b")
TRT7_SOURCE = re.compile(
    r"(?P<file>[\w./\\-]+\.(?:cpp|cc|cu|h|hpp))\s*\((?P<line>\d+)\)\s*-\s*(?P<cat>[A-Za-z][\w ]*?)"
    r"\s+in\s+(?:[\w<>,~]|::)+:\s*(?P<code>-?\d+)"
)  # "x.cpp (483) - Cudnn Error in nvinfer1::rt::cuda::CudnnConvolutionRunner::executeConv: 8", "... buildEngine: -1"
ERROR_CODE = re.compile(r"Error Code:? ?(?P<code>\d+):\s*(?:(?P<cat>[A-Za-z][\w ]*?)\s*\(|(?P<short>[A-Za-z][\w ]{0,30})$)?")
ERROR_KIND = re.compile(
    r"^(?:[A-Z]\w*Logger\s+)?(?P<kind>INVALID_ARGUMENT|INVALID_CONFIG|INVALID_STATE|UNSUPPORTED_STATE|INTERNAL_ERROR|FAILED_ALLOCATION|"
    r"FAILED_INITIALIZATION|FAILED_EXECUTION|FAILED_COMPUTATION|UNSPECIFIED_ERROR):\s*"
)  # TensorRT 7/8.0 ErrorCode names in front of the message, also after the logger's name (TF-TRT's "DefaultLogger INVALID_ARGUMENT: ...")
# an unprefixed TensorRT error line: "[file.cpp::func::144] Error Code 2: ..." or "1: [file.cpp::...] Error Code 1: ..."
BARE_TRT_ERROR = re.compile(
    r"^(?:\d{1,3}:\s*)?(?:\[[\w.+-]+\.(?:cpp|cc|cu|cxx|h|hpp)::[^\]]*\]\s*|[A-Z]\w*::\w+:\s*)?Error Code:? ?\d+:\s*[A-Z]"
)  # ... or "IExecutionContext::setInputShape: Error Code 3: ...", or headless: "Error Code 1: Serialization (...)"
# an unprefixed line that is an error by what it says: onnxruntime's status ("[ErrorCode:X] Non-zero status code ..."),
# TensorRT's plan-version refusal printed by an application, an error kind with its message, or the parser's call site
# that reports a failure ("ModelImporter.cpp:682: Failed to parse ONNX model from file: x.onnx") or a check that failed there
# ("nvrtc_compile.cpp:940: CHECK(false) failed. NVRTC Compilation failure", printed by Myelin's runtime compiler)
BARE_ERROR = re.compile(
    r"^\[ErrorCode:\w+\]\s*\S|^(?:\d{1,3}:\s*)?The engine plan file is (?:(?:not compatible|incompatible) with this version of TensorRT"
    r"|generated on an incompatible device)"  # ... or built for another GPU, its code in front or not
    r"|^[A-Z][a-z]+ Error:\s+\S"  # ... a kind of error and its message: "Internal Error: MyelinCheckException: ..."
    r"|^(?:[A-Za-z]:)?[\w./\\-]*\.(?:cpp|cc|cu|cxx):\d+:\s+(?:Failed|Could not|Cannot|Unable|CHECK\(.*?\) failed)\b"  # a call site that failed
    r"|^Ort[A-Z]\w*:\s+(?:Failed|Could not|Cannot|Unable)\b"  # an onnxruntime C API call naming itself: "OrtSessionOptionsAppend...: Failed to load shared library"
    r"|^EP Error\s+\S"
    r"|^Parameter check failed at:\s*\S"  # TensorRT 7's API check printed with no tag: "... at: runtime.cpp::deserializeCudaEngine::30, condition: ..."  # onnxruntime's Python session: "EP Error D:\...\provider_bridge_ort.cc:1131 ... [ONNXRuntimeError] : 1 : FAIL : ..."
    # TensorRT 7's source-located error in full, printed with no tag or severity (a blank before its "(" or not):
    # "coreReadArchive.h(271) - Serialization Error in readExternal:0(Type mismatch)"
    r"|^(?:[A-Za-z]:)?[\w./\\-]+\.(?:cpp|cc|cu|h|hpp)\s*\(\d+\)\s*-\s*[A-Za-z][\w ]*?Error in\s+(?:[\w<>,~]|::)+:\s*-?\d+"
)
# Triton's model status table: a row whose status is "UNAVAILABLE: <reason>" reports a model that failed to load
UNAVAILABLE_ROW = re.compile(r"^\|\s*(?P<model>[^|]+?)\s*\|\s*\d+\s*\|\s*UNAVAILABLE:\s*\S")
# the rest of a wrapped status cell: a row whose model and version cells are empty, not a numbered stack frame
WRAPPED_CELL = re.compile(r"^\|\s*\|\s*\|(?P<rest>(?!\s*\d+\s+0x[0-9a-fA-F])[^|]*[^|\s][^|]*)\|?\s*$")
# the ONNX parser's error, printed by the application, with its code or without ("[8] Assertion failed: ...")
# ... or an application's own assert macro naming its file and line in words ("Assertion fail in file 'trtNet.cpp' line 146: msg")
ASSERTION_LINE = re.compile(r"^(?:\[\d+\]\s*)?Assertion fail(?:ed|\s+in file\s+'[^']+',?\s+line\s+\d+):\s*\S")
# glibc assert(): "prog: /src/model.cpp:46: void Model::build(): Assertion `engine' failed." (its opening quote
# may be gone, taken by a paste as the start of its inline code: "`prog: f.cpp:868: ...: Assertion size >= bsize && \"...\"' failed.`", its closing backtick kept)
GLIBC_ASSERT = re.compile(
    r"^(?:\S+:\s+)?(?P<file>[\w./\\+-]+\.(?:cpp|cc|cu|cxx|c|h|hpp)):(?P<line>\d+):\s.*?\bAssertion (?:[`'\u2018])?\S.*[`'\u2019] failed\.?`?$"
)
# any source location a message names, in whichever form: "file.cpp:42", "(file.cpp:42)", "<file.cpp:42>",
# "file.cpp(42)", MSVC's ", file F, line 42" (or "file 'F' line 42"), "[file.cpp::func::42]" (TensorRT 7 without the brackets:
# "at: runtime.cpp::deserializeCudaEngine::30, condition: ..."), with or without a directory or a drive letter
ANY_SOURCE = re.compile(
    r"(?<![\w.+-])(?:[A-Za-z]:)?(?:[^\s()\[\]<>'\"`,]*[/\\])?(?P<file>[\w.+-]+\.(?:cpp|cc|cu|cuh|cxx|c|h|hpp|hxx|inl))"
    r"(?:(?::\d+)?:(?P<l1>\d+)(?![\d.])|\((?P<l2>\d+)\)|'?(?:,\s*|\s+)line\s+(?P<l3>\d+)|::(?:[^\s:\]]+::)*(?P<l4>\d+)(?:\]|(?=,\s)))"
)


def locate_source(msg: str) -> str | None:
    """The first source location named on the message's first line (a logger's escaped newline ends it too),
    or on the next ones while the line before was left unfinished (``[ONNXRuntimeError] : 6 :`` + its wrapped rest)."""
    lines = msg.split("\\n", 1)[0].split("\n")
    for i, line in enumerate(lines[:MAX_CONTINUATION_LINES]):
        if m := ANY_SOURCE.search(line):
            return f"{m.group('file')}:{m.group('l1') or m.group('l2') or m.group('l3') or m.group('l4')}"
        if i + 1 < len(lines) and not UNFINISHED.search(line):
            if m := BARE_LOCATION.fullmatch(lines[i + 1].strip()):
                return f"{_basename(m.group('file'))}:{m.group('line')}"  # TensorRT 7's "Assertion failed: c" + "../builder/f.cpp:20"
            break
    return None


# a line that is nothing but the location of the message above it (TensorRT 7 prints an assertion's that way)
BARE_LOCATION = re.compile(r"(?P<file>(?:[A-Za-z]:)?[\w./\\-]*\.(?:cpp|cc|cu|cxx|c|h|hpp)):(?P<line>\d+)")


STANDALONE_EXCEPTION = re.compile(
    r"^(?:Exception in thread \"[^\"]*\"\s+)?(?P<cls>(?:[A-Za-z_][\w.]*)?(?:Error|Exception)):\s+(?P<msg>\S.*)$"
)  # ... also Java's uncaught one: 'Exception in thread "main" ai.onnxruntime.OrtException: msg'
CRASH = re.compile(
    r"^(?:[\w./-]+: line \d+:\s+\d+\s+)?(?P<what>Segmentation fault|Aborted|Bus error|Illegal instruction|Floating point exception|Killed)"
    r"(?: \(core dumped\))?(?:\s+\S.*)?$|^(?P<terminate>terminate called after throwing an instance of .+)$|"
    r"^(?P<what2>Signal \(\d+\) received)\.?$|"
    r"^(?:Thread \d+ (?:\"[^\"]*\" )?|Program )received signal SIG[A-Z]+\b.*$|"  # gdb stopping on the signal
    r"^.*?\S[.!]\s*(?P<glued>Segmentation fault|Aborted|Bus error|Illegal instruction|Floating point exception) \(core dumped\)$|"
    r"^(?P<zh>已放弃|段错误|总线错误|非法指令|浮点数例外|已杀死)(?:\s*\(核心已转储\))?$"
)  # ... a crash glued to the application's last words, printed without a newline ("Failed to load x.Aborted (core dumped)");
# ... the shell's report in a Chinese locale ("已放弃 (核心已转储)" is "Aborted (core dumped)", "段错误" a segmentation fault);
# ... gdb's 'Thread 10 "trtexec" received signal SIGSEGV, Segmentation fault.' ("Program received signal ..." before threads)
# a TensorRT-tagged line printed without a severity (jetson-inference's "[TRT]    msg") that says it is an error: TensorRT 7's
# "file.cpp (38) - Serialization Error in f: 0", an error kind ("INVALID_CONFIG: ..."), or the tool reporting a failure
# ("device GPU, failed to create CUDA engine", "imageNet -- failed to initialize.", "invalid engine cache file size (0 bytes)")
UNMARKED_TRT_ERROR = re.compile(
    r"^(?:[A-Za-z]:)?[\w./\\-]+\.(?:cpp|cc|cu|h|hpp)\s*\(\d+\)\s*-\s*[A-Za-z][\w ]*?Error\b"
    r"|^(?:INVALID_ARGUMENT|INVALID_CONFIG|INVALID_STATE|INTERNAL_ERROR|FAILED_\w+|UNSPECIFIED_ERROR):\s*\S"
    r"|(?:^|[\s,-])failed to (?:create|load|initialize|build|deserialize|parse|open|allocate|find|read)\b"
    r"|^invalid (?:engine|model|network|cache)\b"
    r"|^[A-Z]\w*Parser: (?:Could not|Cannot|Unable to|Failed to) \w"  # TensorRT 5's "CaffeParser: Could not open file x"
)
# an application's own line, without a prefix, that reports a failure of the kinds jetson-inference's say: "failed to load
# networks/x.caffemodel", "imageNet -- failed to initialize.", "imagenet-console:   failed to initialize imageNet" (in lower
# case: an application's capitalised "Failed to ..." lines are often a wrapper's commentary on an error already logged)
PLAIN_FAILURE = re.compile(
    r"^(?:[A-Za-z_][\w.-]*(?::[ \t]+| -- )|[a-z]+ [A-Za-z0-9]+, )?failed to (?:create|load|initialize|build|deserialize|parse|open|allocate|find|read)\b"
)
# TensorRT's warnings printed by an application without a severity, named by what they say (the ONNX parser's call site may lead)
WARNING_PHRASES = re.compile(
    r"^(?:[\w./\\-]+\.(?:cpp|cc):\d+:\s*)?(?:Could not register plugin creator\b"
    r"|Your ONNX model has been generated with INT64 weights\b|One or more weights outside the range of INT32 was clamped\b)"
)
# Python's warnings module: "/opt/.../torch/nn/functional.py:718: UserWarning: msg" (the offending source line follows, indented)
PY_WARNING = re.compile(r"^(?P<file>(?:[A-Za-z]:)?[^\s:]*\.py):(?P<line>\d+):\s+[A-Z]\w*Warning:\s+\S")
# an error message quoted inside an application's own line: "Model 'x' loading failed with error: ... [TensorRT-LLM][ERROR] ..."
# ... or an application reporting the exception its step died of: "Runner failed with exception: FileNotFoundError(2, '...')"
EMBEDDED_ERROR = re.compile(
    r"\[(?:TensorRT-LLM|TRT-LLM)\]\s*\[(?:ERROR|E)\]|\bloading failed with error:"
    r"|\bfailed with (?:an )?exception:\s*[A-Za-z_][\w.]*(?:Error|Exception)\b"
)
API_SOURCE = re.compile(r"^(?:(?i:TensorRT|TRT) (?i:error|warning):\s*)?(?P<api>[A-Z]\w*::\w+):\s*Error Code")
# ... after an application's own label for what it forwards: "TensorRT error: IExecutionContext::enqueueV3: Error Code 1: .."
ASSERTION_CODE = re.compile(r"\[(?P<code>\d+)\]\s*Assertion failed")
TRACEBACK = re.compile(r"^(?:(?P<cls>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))\s+)?Traceback \(most recent call last\):?")
# Python's threading module before an uncaught exception's traceback: "Exception in thread Thread-4 (_executor_loop_overlap):"
THREAD_EXCEPTION = re.compile(r"^Exception in thread (?P<name>[^\s\"].*?):\s*$")
IPYTHON_FRAME = re.compile(r"^(?:<ipython-input-[^>]*>|\S+\.py) in \S+|^-*> ?\d+ |^\d+ ")
FRAME = re.compile(r'^File \\?"(?P<file>[^"]+?)\\?", line (?P<line>\d+)')  # quotes escaped when a logger quotes the traceback
EXCEPTION = re.compile(r"^(?P<cls>(?:[A-Za-z_][\w.]*)?(?:Error|Exception|Exit|Interrupt|Fault|Failure))(?::\s*(?P<msg>.*))?$")
NOT_CONTINUATION = re.compile(r"^(?:Traceback|&&&&|#|\{|\||!!!|=== |Layer\(|Name:|\d+\s+0x[0-9a-fA-F]+\s)")  # ...|a numbered stack frame
MAX_CONTINUATION_LINES = 4
MAX_VERBATIM_LINES = 8  # a Torch-TensorRT message printed with its own newlines (a hint and a list of remedies)
WHAT = re.compile(r"^what\(\):\s*\S")  # the reason under "terminate called after throwing an instance of ..."


def inferred_severity(line: Line) -> str | None:
    if line.severity:
        return line.severity
    text = line.text
    if line.trt and LEADING_CODE.match(text) and ("Error Code" in text or "Assertion" in text):
        return "error"
    if "Error Code" in text and BARE_TRT_ERROR.match(text):
        return "error"
    if line.family == "jetson" and UNMARKED_TRT_ERROR.search(text):
        return "error"
    if line.family == "plain" and (BARE_ERROR.match(text) or ("ailed to" in text and PLAIN_FAILURE.match(text))):
        return "error"
    if line.family == "plain" and text[:1] == "|" and UNAVAILABLE_ROW.match(text):
        return "error"
    if WARNING_PHRASES.match(text) or (line.family == "plain" and "Warning:" in text and PY_WARNING.match(text)):
        return "warning"
    if line.family == "plain" and ("rror" in text or "xception" in text) and EMBEDDED_ERROR.search(text) and not STANDALONE_EXCEPTION.match(text):
        return "error"
    return None


def extract(line: Line, st: ParseState, *, consumed: bool) -> bool:
    """Returns True when the line belonged to a diagnostic (opened, continued, traceback)."""
    text = line.text
    if not text and line.family == "plain":
        st.open_diag_verbatim = False  # a blank line ends a message printed with its own newlines
    if _traceback(line, st):
        return True
    if line.family == "plain" and text and (m := CRASH.match(text)):
        close(st)
        entry = DiagEntry("error", text, None, None, "crash")  # a signal or abort is not an error code: the kind stays in the message
        if m.group("terminate"):  # its "  what():  reason" line follows: keep it open for that
            st.open_diag, st.open_diag_lines, st.open_diag_trt = entry, 0, True
        else:
            _commit(st, entry)
        return True
    if line.family == "plain" and st.open_diag is not None and st.open_diag.category == "crash" and WHAT.match(text):
        _continue(st, text)
        st.open_diag.source = st.open_diag.source or locate_source(text)  # the exception's reason names where it was thrown
        return True
    if st.open_diag_row and text[:1] == "|" and (m := WRAPPED_CELL.match(text)) and st.open_diag_lines < MAX_CONTINUATION_LINES:
        assert st.open_diag is not None
        st.open_diag.message += m.group("rest").strip()  # the table cut the cell at its width, mid-word: no separator
        st.open_diag_lines += 1
        return True
    severity = inferred_severity(line)
    if severity == "error" and text[:1] == "|" and (m := UNAVAILABLE_ROW.match(text)):
        close(st)
        if any(f"'{m.group('model')}'" in d.message for d in st.diags.values() if d.severity == "error"):
            return True  # the table sums up a failure the server already logged ("failed to load 'x' version 1: ..."): once
        st.open_diag = DiagEntry(severity="error", message=text.rstrip(" |"), code=None, source=None, category=None)
        st.open_diag_lines, st.open_diag_trt, st.open_diag_row = 0, False, True
        return True
    if severity == "error" and line.family != "plain" and TRACEBACK.match(text.lstrip("\"'")):
        # a logger that prints a whole Python traceback as one message (Triton's python backend: E0728 ... "Traceback ...)
        close(st)
        _end_traceback(st)
        st.in_traceback, st.traceback_source, st.traceback_cls, st.traceback_wrapped = True, None, None, True
        return True
    if severity in ("warning", "error"):
        if (
            st.open_diag is not None
            and line.indent >= st.open_diag_indent + 2  # deeper than the message it goes on (Polygraphy indents by depth)
            and st.open_diag.severity == severity
            and st.open_diag_lines < MAX_CONTINUATION_LINES
        ):
            _continue(st, text)
            return True
        close(st)
        st.open_diag = DiagEntry(severity=severity, message=text, code=None, source=line.own_source, category=None)
        st.open_diag_lines, st.open_diag_indent = 0, line.indent
        st.open_diag_trt = line.trt or line.family in ("deepstream", "legacy", "jetson", "torch_tensorrt", "triton", "trtllm")
        st.open_diag_cut = _cut_at_blank(line.raw)
        # Torch-TensorRT's warnings print their advice with its own newlines (the compiler's dtype-conflict hint and its
        # list of remedies); its errors are followed by the Python exception and the application's output instead
        st.open_diag_verbatim = line.family == "torch_tensorrt" and severity == "warning"
        return True
    # a line that is a whole diagnostic of its own is never the previous one's continuation
    if line.family == "plain" and text and "Assertion" in text and (m := GLIBC_ASSERT.match(text)):
        close(st)
        _commit(st, DiagEntry("error", text, None, f"{_basename(m.group('file'))}:{m.group('line')}", "assertion"))
        return True
    if line.family == "plain" and not consumed and text and (m := STANDALONE_EXCEPTION.match(text)):
        return _exception(st, m, line.raw)
    if (
        line.family == "plain"
        and not consumed
        and text
        and st.open_diag is not None
        and st.open_diag_lines < (MAX_VERBATIM_LINES if st.open_diag_verbatim else MAX_CONTINUATION_LINES)
        and not NOT_CONTINUATION.match(text)
        and (st.open_diag_cut or st.open_diag_verbatim or _looks_continued(st.open_diag.message, line, trt=st.open_diag_trt))
    ):
        _continue(st, text)
        st.open_diag_cut = _cut_at_blank(line.raw)
        return True
    if line.family == "plain" and not consumed and text and ASSERTION_LINE.match(text):
        close(st)
        st.open_diag = DiagEntry(severity="error", message=text, code=None, source=None, category=None)
        st.open_diag_lines, st.open_diag_trt = 0, True
        return True
    if text or line.family != "plain":
        close(st)
    return False


def _exception(st: ParseState, m: re.Match[str], raw: str) -> bool:
    """``XError: msg`` standing alone: one error named by the class, its source the location its message names;
    a message broken at its end (``... : 6 : `` wrapped by the terminal) goes on to its next lines."""
    close(st)
    entry = DiagEntry("error", m.group("msg").strip(), m.group("cls"), None, "python exception")
    if _cut_at_blank(raw) or UNFINISHED.search(entry.message) or (reason_next := CHECK_FAILED.search(entry.message)):
        st.open_diag, st.open_diag_lines, st.open_diag_trt = entry, 0, False
        st.open_diag_cut = _cut_at_blank(raw) or bool(reason_next)
    else:
        _commit(st, _analyse(entry))
    return True


# a failed check that prints its reason on the next line (Torch-TensorRT's TORCHTRT_CHECK / c10's TORCH_CHECK):
# "RuntimeError: [Error thrown at core/runtime/TRTEngine.cpp:132] Expected (a == b) to be true but got false" + "Could not find ..."
CHECK_FAILED = re.compile(r"\bExpected .+ to be (?:true|false) but got (?:true|false)\s*$")
LOOKS_TRT = re.compile(r"::|Error Code|Assertion|\bsetMemoryPoolLimit\b|\bworkspace\b|^\[\d+\]")
# a message that cannot end here: a trailing ':' ',' '(' '=' or a backslash, or a word that needs what follows
UNFINISHED = re.compile(
    r"(?:[:,(\[{\\=]|(?:^|\s)(?:and|or|of|to|the|a|an|with|for|in|at|by|from|as|is|are|was|than|because))\s*$", re.I
)
# a line that cannot start a message: it opens with a closing or joining mark, or mid-sentence in lower case
CONTINUES = re.compile(r"^(?:[)\]}(.,;]|\.\.\.|[a-z][a-z_]*(?:[ ,;.)]|$))")
_PAIRS = (("(", ")"), ("[", "]"), ("{", "}"))


def _unbalanced(message: str) -> bool:
    """An opening bracket or quote the message has not closed yet: it goes on."""
    if any(message.count(a) > message.count(b) for a, b in _PAIRS):
        return True
    return message.count('"') % 2 == 1 or message.count("`") % 2 == 1


def _looks_continued(message: str, line: Line, *, trt: bool) -> bool:
    """An unprefixed line after a warning or error is its next line by shape, whoever printed it:
    indented under it, after a message that is not finished (a trailing ':' or ',', a dangling
    word, a bracket or quote left open), or a line that cannot start a message (a closing mark,
    a lower-case word mid-sentence). After a TensorRT message, API names and codes also say so."""
    if TORCH_CUDA_ADVICE.match(line.text):
        return True  # PyTorch's CUDA error goes on with its fixed advice, whoever logged the error
    if BARE_LOCATION.fullmatch(line.text.strip()):
        return True  # nothing but a location is never a message: the one above's (TensorRT 7's assertion under INTERNAL_ERROR:)
    lead = len(line.raw) - len(line.raw.lstrip(" \t"))
    if line.indent >= 2 or lead >= 2 or (trt and (line.indent > 0 or lead > 0)):
        return True  # one blank in front is a paste's, not an indent (unless TensorRT's own message goes on)
    head = message.rstrip().rsplit("\n", 1)[-1]
    if UNFINISHED.search(head) or _unbalanced(message):
        return True
    if CONTINUES.match(line.text) and not head.rstrip().endswith((".", "!", "?")):
        return True
    return trt and bool(LOOKS_TRT.search(line.text))


# the advice PyTorch prints under a CUDA error ("CUDA error: an illegal memory access was encountered" + these lines)
TORCH_CUDA_ADVICE = re.compile(
    r"^(?:CUDA kernel errors might be asynchronously reported at some other API call\b"
    r"|For debugging consider passing CUDA_LAUNCH_BLOCKING=1|Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions)"
)


# a line that ends in one blank after a word (not a sentence's end, not a padded column): the text was wrapped there
CUT_AT_BLANK = re.compile(r"[\w,;:|(\[-] $")


def _cut_at_blank(raw: str) -> bool:
    return bool(CUT_AT_BLANK.search(raw.rstrip("\r\n")))


def _continue(st: ParseState, text: str) -> None:
    assert st.open_diag is not None
    st.open_diag.message = f"{st.open_diag.message}\n{text}" if st.open_diag.message else text
    st.open_diag_lines += 1


def _traceback(line: Line, st: ParseState) -> bool:
    if line.family != "plain":
        if st.traceback_wrapped:
            _end_traceback(st)
        st.in_traceback = False
        return False
    text = line.text
    if THREAD_EXCEPTION.match(text):
        # its traceback and exception line follow: one error with them, the header itself where they were cut off
        close(st)
        _end_traceback(st)
        st.in_traceback, st.traceback_source, st.traceback_cls, st.traceback_thread = True, None, None, text.rstrip(": ")
        return True
    if m := TRACEBACK.match(text):
        close(st)
        if st.traceback_thread and st.in_traceback and st.traceback_source is None:
            return True  # the traceback the thread's header announced
        _end_traceback(st)
        st.in_traceback, st.traceback_source, st.traceback_cls = True, None, m.group("cls")
        st.traceback_header = True
        return True
    if not st.in_traceback and ", in " in text and (m := FRAME.match(text)) and st.open_diag is None:
        # a traceback whose "Traceback (most recent call last):" header was cut off (an excerpt): its frames still say so
        _end_traceback(st)
        st.in_traceback, st.traceback_source, st.traceback_cls = True, f"{_basename(m.group('file'))}:{m.group('line')}", None
        st.traceback_header = False
        return True
    if not st.in_traceback:
        return False
    if st.traceback_wrapped and not FRAME.match(text) and (m := EXCEPTION.match(text)) and m.group("msg"):
        st.in_traceback = st.traceback_wrapped = False  # the exception line, indented like the rest of the message
        _commit(st, DiagEntry("error", m.group("msg").strip().rstrip('"'), m.group("cls"), st.traceback_source, "python exception"))
        return True
    if line.indent > 0 or line.raw[:1] in (" ", "\t") or (st.traceback_cls and IPYTHON_FRAME.match(text)):
        if m := FRAME.match(text):
            st.traceback_source = f"{_basename(m.group('file'))}:{m.group('line')}"
        elif st.traceback_cls and (m := re.match(r"^(\S+\.py) in ", text)):
            st.traceback_source = _basename(m.group(1))
        return True
    st.in_traceback = False
    if m := EXCEPTION.match(text):
        st.traceback_cls = st.traceback_thread = None
        _commit(st, DiagEntry("error", (m.group("msg") or "").strip(), m.group("cls"), st.traceback_source, "python exception"))
        return True
    _end_traceback(st)
    return False


def _end_traceback(st: ParseState) -> None:
    """An IPython traceback names its exception in the header; commit it when no exception line follows."""
    if st.traceback_cls:
        _commit(st, DiagEntry("error", "", st.traceback_cls, st.traceback_source, "python exception"))
    elif st.traceback_wrapped:  # a logger's traceback message cut before its exception line: still one error
        _commit(st, DiagEntry("error", "Traceback (the exception line is missing)", None, st.traceback_source, "python exception"))
    elif st.traceback_thread:  # a thread's uncaught exception cut before its exception line: the header says it
        _commit(st, DiagEntry("error", st.traceback_thread, None, st.traceback_source, "python exception"))
    st.traceback_cls, st.traceback_wrapped, st.traceback_thread = None, False, None


def _basename(path: str) -> str:
    return os.path.basename(path.replace("\\", "/"))


def finish(st: ParseState) -> None:
    """End of the log: commit what is still open."""
    close(st)
    if st.in_traceback and st.traceback_header and not (st.traceback_cls or st.traceback_wrapped or st.traceback_thread):
        # a Python traceback the log ends inside, before its exception line (a paste cut short): still one error;
        # frames with no header above them may be another runtime's trace of an error already counted (TorchScript's)
        st.traceback_wrapped = True
    st.in_traceback = False
    _end_traceback(st)


def close(st: ParseState) -> None:
    entry, st.open_diag, st.open_diag_cut, st.open_diag_row = st.open_diag, None, False, False
    st.open_diag_verbatim, st.open_diag_indent = False, 0
    if entry is not None:
        _commit(st, _analyse(entry))


# an application's call site in front of its message, with its qualified function (FastDeploy's FDERROR:
# "fastdeploy/runtime/backends/tensorrt/trt_backend.cc(264)::fastdeploy::TrtBackend::InitFromOnnx  Failed to ...")
FN_CALL_SITE = re.compile(
    r"^(?P<file>(?:[A-Za-z]:)?[\w./\\-]*\.(?:cpp|cc|cu|cxx|c|h|hpp))\((?P<line>\d+)\)::(?P<fn>\w+(?:::[\w~]+)*)(?:[ \t]+|\n|$)(?P<rest>.*)$",
    re.S,
)
# a logger callback's function: it forwards someone else's message ("FDTrtLogger::log", "TensorrtLogger::log")
FORWARDER_FN = re.compile(r"(?i)^(?:log|logger|_?log_\w*)$")


def _analyse(entry: DiagEntry) -> DiagEntry:
    msg = entry.message.strip()
    code = source = category = None
    site = None  # the application's call site, when it printed one in front (a logger callback's is not the source)
    if (m := FN_CALL_SITE.match(msg)) and m.group("rest").strip():
        msg = m.group("rest").strip()
        if not FORWARDER_FN.match(m.group("fn").rsplit("::", 1)[-1]):
            site = f"{_basename(m.group('file'))}:{m.group('line')}"
    if m := LEADING_CODE.match(msg) or ERROR_INDEX.match(msg):
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
    if m := ERROR_KIND.match(msg):
        category = m.group("kind")
    if m := ERROR_CODE.search(msg):
        code = code or m.group("code")
        category = (m.group("cat") or m.group("short") or "").strip() or category
    if source is None and (m := API_SOURCE.match(msg)):
        source = m.group("api")
    if source is None and entry.severity == "warning" and (m := PY_WARNING.match(msg)):
        source = f"{_basename(m.group('file'))}:{m.group('line')}"
    if site is not None:
        source = site
    if source is None:
        source = locate_source(msg)
    if code is None and (m := ASSERTION_CODE.search(msg)):
        code = m.group("code")
    code = code or entry.code
    return DiagEntry(entry.severity, msg, code, source or entry.source, category or entry.category)  # the message's own source first


def _commit(st: ParseState, entry: DiagEntry) -> None:
    entry.message = entry.message[: st.limits.message_chars]
    key = (entry.severity, entry.code, entry.source, entry.category, entry.message)
    if key in st.diags:
        st.diags[key].count += 1
    elif st.cap("diagnostics", st.diags, st.limits.diagnostics):
        st.diags[key] = entry
