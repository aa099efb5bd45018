"""INT8 calibration caches: ``TRT-8401-EntropyCalibration2`` header, then one
``tensor: <hex of float32 scale>`` line per tensor. The dynamic range TensorRT
uses is ``scale * 127``. Zero ranges and suspicious ones (NaN/inf, negative,
or outside [TINY_RANGE, HUGE_RANGE]) are listed so a rule can fail on them.
Also the ``[Calibration] Layer: X, dynamic range [lo, hi]`` form."""

from __future__ import annotations

import math
import re

from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.state import ParseState
from trtlens.producers.trtlog.units import NUM, decode_version_tag, hex_to_float, to_float

HEADER = re.compile(r"^TRT-(?P<ver>\d+)-(?P<calib>[A-Za-z]\w*)\s*$")
# the builder names the cache it writes or reads: "Writing Calibration Cache for calibrator: TRT-7000-EntropyCalibration2"
NAMED = re.compile(r"\bTRT-(?P<ver>\d{4,6})-(?P<calib>\w*Calibrat\w*)")
ENTRY = re.compile(r"^(?P<name>\S.*?):\s*(?P<hex>[0-9a-fA-F]{1,8})\s*$")
SEED = re.compile(rf"^\[Calibration\]\s*Layer:\s*(?P<name>.+?),\s*dynamic range\s*\[\s*(?P<lo>{NUM})\s*,\s*(?P<hi>{NUM})\s*\]", re.I)
INT8_SCALE = 127.0
TINY_RANGE = 1e-4
HUGE_RANGE = 1e4


def extract(line: Line, st: ParseState) -> bool:
    text = line.text
    if m := HEADER.match(text):
        st.calib_header = (decode_version_tag(m.group("ver")) or m.group("ver"), m.group("calib"))
        st.add_name("precisions", st.precisions, "int8")
        return True
    if st.calib_header is None and "TRT-" in text and (m := NAMED.search(text)):
        st.calib_header = (decode_version_tag(m.group("ver")) or m.group("ver"), m.group("calib"))
        return True
    if st.calib_header is not None and line.family == "plain" and (m := ENTRY.match(text)):
        scale = hex_to_float(m.group("hex"))
        if scale is None:
            return False
        record(st, m.group("name"), scale * INT8_SCALE if math.isfinite(scale) else scale)
        return True
    if m := SEED.match(text):
        lo, hi = to_float(m.group("lo")), to_float(m.group("hi"))
        if lo is not None and hi is not None:
            record(st, m.group("name"), max(abs(lo), abs(hi)))
            return True
    return False


def record(st: ParseState, name: str, dynamic_range: float) -> None:
    """One tensor's dynamic range; zero and suspicious ones are listed too."""
    if name not in st.calibration and not st.cap("calibration", st.calibration, st.limits.calibration):
        return
    if not math.isfinite(dynamic_range) or dynamic_range < 0 or (0 < dynamic_range < TINY_RANGE) or dynamic_range > HUGE_RANGE:
        st.add_name("calibration_suspicious", st.calib_suspicious, name)
        if not math.isfinite(dynamic_range):
            return  # not representable in JSON; listed as suspicious
    elif dynamic_range == 0:
        st.add_name("calibration_zero", st.calib_zero, name)
    st.calibration[name] = dynamic_range
