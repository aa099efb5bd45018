"""trtexec performance summaries (one-line TRT 8+/10 form and the old multi-line
TRT 7 form), per-layer profile tables (``--dumpProfile``: TRT 7/8 name-first,
right-aligned layout and TRT 10 name-last layout; ``[Profile] X took Y ms``),
jetson-inference's ``Timing Report`` (Network → GPU compute, Total → latency, CUDA
times) and Polygraphy's ``trt-runner ... | Average inference time: X ms``."""

from __future__ import annotations

import re

from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.state import ParseState, ProfileRow
from trtlens.producers.trtlog.units import NUM, to_float

ONE_LINE = re.compile(
    r"^(?P<what>Latency|Host Latency|End-to-End Host Latency|Enqueue Time|H2D Latency|D2H Latency|GPU Compute Time|GPU Compute)"
    r"\s*:\s*(?P<body>min\s*=.*)$",
    re.I,
)
# "mean = 5.9 ms"; a transcription that lost the '=' ("max 6.19507 ms, mean 5.93288 ms") still reads
STAT = re.compile(
    rf"\b(?P<key>min|max|mean|median|percentile\s*\(\s*(?P<q>{NUM})\s*%\s*\))\s*=?\s*(?P<v>{NUM})\s*(?P<u>ms|s|us|µs)?", re.I
)
# the summary's closing lines glued to the line before when a paste lost their newlines:
# "D2H Latency: min = ..., percentile(99%) 1.50879 ms Total Host Walltime: 3.05281 s Total GPU Compute Time: 1.87796 s ..."
GLUED_SCALARS = re.compile(r"\s+(?=Total Host Walltime:|Total GPU Compute Time:|GPU compute time is unstable)")
SECTION = re.compile(r"^(Host Latency|End-to-End Host Latency|Enqueue Time|H2D Latency|D2H Latency|GPU Compute(?: Time)?)\s*$", re.I)
OLD_STAT = re.compile(rf"^(?P<key>min|max|mean|median):\s*(?P<v>{NUM})\s*ms(?:\s*\(end to end\s*(?P<e2e>{NUM})\s*ms\))?", re.I)
OLD_PCT = re.compile(rf"^percentile:\s*(?P<v>{NUM})\s*ms at (?P<q>{NUM})%(?:\s*\(end to end\s*(?P<e2e>{NUM})\s*ms at {NUM}%\))?", re.I)
THROUGHPUT = re.compile(rf"^throughput:\s*(?P<v>{NUM})\s*qps", re.I)
WALLTIME = re.compile(rf"^(?:Total Host Walltime|walltime):\s*(?P<v>{NUM})\s*s\b", re.I)
GPU_TOTAL = re.compile(rf"^(?:Total GPU Compute Time|total compute time):\s*(?P<v>{NUM})\s*s\b", re.I)
COV = re.compile(rf"coefficient of varian(?:ce|t)\s*(?:is|=)\s*(?P<v>{NUM})\s*%", re.I)
ENQUEUE_BOUND = re.compile(r"Throughput may be bound by Enqueue Time", re.I)
TRT6_AVG = re.compile(rf"Average over \d+ runs is (?P<mean>{NUM}) ms(?: \(host walltime is {NUM} ms, (?P<q>\d+)% percentile time is (?P<p>{NUM})\))?")
PROFILE_HDR = re.compile(r"=== Profile \(\s*(?P<n>\d+)\s+iterations?\s*\)\s*===")
TABLE_NAME_FIRST = re.compile(r"^Layer\s+Time\s*\(ms\)", re.I)
TABLE_NAME_LAST = re.compile(r"^Time\s*\(ms\).*\bLayer\s*$", re.I)
# a --dumpProfile table pasted without its header, rows only (trtexec to the console, TRT 7/8): a layer named
# with its engine-layer type in brackets, then total time, average time and share ("... [Activation]  64.10  5.83  0.2")
HEADLESS_ROW = re.compile(rf"^(?P<name>.*\[[A-Za-z][\w ]*\].*?\S)\s+(?P<t>{NUM})\s+(?P<a>{NUM})\s+(?P<p>{NUM})\s*$")
PROFILER_CB = re.compile(rf"^\[Profile\]\s*(?P<layer>.+?)\s+took\s+(?P<v>{NUM})\s*ms", re.I)
JETSON_REPORT = re.compile(r"^Timing Report\b")
JETSON_ROW = re.compile(rf"^(?P<what>Pre-Process|Network|Post-Process|Visualize|Total)\s+CPU\s*(?P<cpu>{NUM})\s*ms\s+CUDA\s*(?P<cuda>{NUM})\s*ms", re.I)
POLY_RUNNER = re.compile(rf"^trt-runner\S*\s*\|\s*Completed (?P<n>\d+) iteration\(s\) in {NUM} ms \| Average inference time: (?P<v>{NUM}) ms")

_WHAT = {
    "latency": "latency", "host latency": "latency", "end-to-end host latency": "end_to_end",
    "enqueue time": "enqueue", "h2d latency": "h2d", "d2h latency": "d2h",
    "gpu compute time": "gpu_compute", "gpu compute": "gpu_compute",
}  # fmt: skip
_QUANTILE = {"90": "p90_ms", "95": "p95_ms", "99": "p99_ms", "50": "median_ms"}
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001, None: 1.0, "": 1.0}


def _stats(st: ParseState, section: str) -> dict:
    return st.perf.setdefault(section, {})


def _q_key(q: str) -> str | None:
    number = to_float(q)
    if number is None:
        return None
    return _QUANTILE.get(f"{number:g}")


def extract(line: Line, st: ParseState) -> bool:
    text = line.text
    if st.profile_layout is not None:
        if _profile_row(text, st):
            return True
        st.profile_layout = None
    if m := PROFILE_HDR.search(text):
        st.profile_iterations = int(m.group("n"))
        st.profile_rows.clear()
        st.profile_total = None
        return True
    if TABLE_NAME_FIRST.match(text) or TABLE_NAME_LAST.match(text):
        cols = ["time_ms", "avg_ms"] + (["median_ms"] if "median" in text.lower() else []) + (["time_pct"] if "%" in text else [])
        st.profile_layout = ("name_first" if text.lower().startswith("layer") else "name_last", len(cols))
        st.profile_columns = tuple(cols)
        st.profile_rows.clear()
        st.profile_total = None
        return True
    if line.family == "trtexec" and not st.profile_rows and _headless_row(text, st):
        return True
    if m := ONE_LINE.match(text):
        stats = _stats(st, _WHAT[m.group("what").lower()])
        body, *glued = GLUED_SCALARS.split(m.group("body"))
        for s in STAT.finditer(body):
            value = to_float(s.group("v"))
            if value is None:
                continue
            value *= _UNIT_MS.get(s.group("u"), 1.0)
            key = s.group("key").lower()
            field = _q_key(s.group("q")) if s.group("q") else f"{key}_ms"
            if field:
                stats[field] = value
        st.perf_section = None
        for part in glued:
            _scalars(part, st)
        return True
    if m := SECTION.match(text):
        st.perf_section = _WHAT[m.group(1).lower()]
        return True
    if st.perf_section and (m := OLD_STAT.match(text) or OLD_PCT.match(text)):
        key = f"{m.group('key').lower()}_ms" if "key" in m.groupdict() else _q_key(m.group("q"))
        if key:
            _stats(st, st.perf_section)[key] = to_float(m.group("v"))
            if m.group("e2e") is not None:
                _stats(st, "end_to_end")[key] = to_float(m.group("e2e"))
        return True
    return _scalars(text, st)


def _scalars(text: str, st: ParseState) -> bool:
    if m := THROUGHPUT.match(text):
        value = to_float(m.group("v"))
        if value is not None and (value > 0 or "throughput_qps" not in st.perf):
            st.perf["throughput_qps"] = value
        return True
    if m := WALLTIME.match(text):
        st.perf["host_walltime_ms"] = (to_float(m.group("v")) or 0.0) * 1000.0
        return True
    if m := GPU_TOTAL.match(text):
        st.perf["gpu_compute_total_ms"] = (to_float(m.group("v")) or 0.0) * 1000.0
        st.perf_section = None
        return True
    if m := COV.search(text):
        st.perf["gpu_compute_cov_pct"] = to_float(m.group("v"))
        return True
    if ENQUEUE_BOUND.search(text):
        st.perf["enqueue_bound"] = True
        return True
    if m := TRT6_AVG.search(text):
        stats = _stats(st, "latency")
        stats["mean_ms"] = to_float(m.group("mean"))
        if m.group("q") and (key := _q_key(m.group("q"))):
            stats[key] = to_float(m.group("p"))
        return True
    if JETSON_REPORT.match(text):
        st.perf_section = "jetson_report"
        return True
    if st.perf_section == "jetson_report" and (m := JETSON_ROW.match(text)):
        what = m.group("what").lower()
        if what in ("network", "total"):
            _stats(st, "gpu_compute" if what == "network" else "latency")["mean_ms"] = to_float(m.group("cuda"))
        return True
    if text.startswith("trt-runner") and (m := POLY_RUNNER.match(text)):
        _stats(st, "latency")["mean_ms"] = to_float(m.group("v"))
        st.facts["polygraphy_iterations"] = int(m.group("n"))
        return True
    if m := PROFILER_CB.match(text):
        times = st.profiler_callbacks.setdefault(m.group("layer"), [])
        if len(st.profiler_callbacks) <= st.limits.profile_rows and (value := to_float(m.group("v"))) is not None:
            times.append(value)
        return True
    return False


def _headless_row(text: str, st: ParseState) -> bool:
    """A profile row with no header above it opens the name-first layout, if its figures read as one: the average
    at most the total (several iterations) and a share of at most 100%."""
    if not text.endswith(tuple("0123456789")) or not (m := HEADLESS_ROW.match(text)):
        return False
    total, avg, pct = (to_float(m.group(g)) for g in "tap")
    if total is None or avg is None or pct is None or not (0 <= avg <= total and 0 <= pct <= 100):
        return False
    st.profile_layout, st.profile_columns, st.profile_total = ("name_first", 3), ("time_ms", "avg_ms", "time_pct"), None
    return _profile_row(text, st)


def _profile_row(text: str, st: ParseState) -> bool:
    layout, k = st.profile_layout or ("name_first", 0)
    nums = r"\s+".join([f"({NUM})"] * k)
    if layout == "name_first":
        m = re.match(rf"^(?P<name>.*?\S)\s+{nums}\s*$", text)
        groups = m.groups()[1:] if m else ()
    else:
        m = re.match(rf"^{nums}\s+(?P<name>\S.*?)\s*$", text)
        groups = m.groups()[:-1] if m else ()
    if not m:
        return False
    values = [to_float(g) for g in groups]
    name = m.group("name")
    row = ProfileRow(layer=name, **dict(zip(st.profile_columns, values)))
    if name == "Total":
        st.profile_total = row
    elif st.cap("profile_rows", st.profile_rows, st.limits.profile_rows):
        st.profile_rows.append(row)
    return True
