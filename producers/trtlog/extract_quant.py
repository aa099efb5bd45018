"""Quantization scales, tensors without an INT8 scale, and the kernel a plugin picked per node.

* ``[Quantization] Activations of Gemm_4 quantized to INT8, scale=0.023`` and the
  same family's variants (``Weights of X``, ``tensor X: scale = s``, ``X dynamic
  range [lo, hi]``, ``amax=``) → ``quantization_scales[name] = scale``. An INT8
  (or FP8) scale also gives the tensor's dynamic range (``scale × 127``, FP8
  ``× 448``) in ``calibration``, so the calibration rules see it; weights are
  named ``X.weight``.
* ``Setting dynamic range for X to [lo, hi]`` → ``calibration[X]``.
* ``Missing scale and zero-point for tensor X, expect fall back to non-int8 ...``
  → ``quantization_missing``.
* ``[Plugin] Using kernel efficient_attention for node Attention_5`` (also
  ``Using plugin|implementation K for layer|op N``) → ``plugin_kernels[N] = K``.
"""

from __future__ import annotations

import re

from trtlens.producers.trtlog import extract_calib
from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.state import ParseState
from trtlens.producers.trtlog.units import NUM, to_float

QUANT_TAG = re.compile(r"^\[(?:Quantization|Quantize|Quant|QDQ|INT8|FP8)\]\s*(?P<body>.*)$", re.I)
SCALE = re.compile(rf"\bscales?\s*[=:]\s*(?P<v>{NUM})", re.I)
RANGE = re.compile(rf"\b(?:dynamic range|range|amax)\s*[=:]?\s*\[?\s*(?P<lo>{NUM})\s*(?:,\s*(?P<hi>{NUM})\s*)?\]?", re.I)
KIND = re.compile(r"\b(INT8|UINT8|FP8|INT4|FP4|E4M3|E5M2)\b", re.I)
NAMES = [
    re.compile(r"\b(?P<what>Activations?|Weights?|Outputs?|Inputs?|Tensors?)\s+(?:of|for)\s+'?(?P<name>[^\s,:']+)'?", re.I),
    re.compile(r"\b(?:tensor|layer|node)\s+'?(?P<name>[^\s,:']+)'?", re.I),
    re.compile(r"^'?(?P<name>[^\s,:=']+)'?\s*(?:[:,]|\s+(?:quantized|scale|dynamic|range|amax))", re.I),
]
SET_RANGE = re.compile(rf"Set(?:ting)? dynamic range (?:for|of) (?:tensor )?(?P<name>.+?) to \[\s*(?P<lo>{NUM})\s*,\s*(?P<hi>{NUM})\s*\]")
MISSING = re.compile(r"Missing scale and zero-point for tensor (?P<name>.+?),? expect fall back")
KERNEL = re.compile(
    r"^(?:\[Plugin\]\s*)?Using (?:kernel|plugin|implementation)\s+'?(?P<k>[^\s']+)'?\s+for\s+(?:node|layer|op)\s+'?(?P<n>[^\s']+?)'?\.?$",
    re.I,
)
RANGE_PER_SCALE = {"int8": 127.0, "uint8": 255.0, "fp8": 448.0, "e4m3": 448.0, "e5m2": 57344.0}
PRECISION_OF = {"int8": "int8", "uint8": "int8", "fp8": "fp8", "e4m3": "fp8", "e5m2": "fp8", "int4": "int4", "fp4": "fp4"}


def extract(line: Line, st: ParseState) -> bool:
    text = line.text
    if not text:
        return False
    if m := QUANT_TAG.match(text):
        return _quantization(m.group("body"), st)
    if "Using" in text and (m := KERNEL.match(text)):
        if m.group("n") in st.plugin_kernels or st.cap("plugin_kernels", st.plugin_kernels, st.limits.names):
            st.plugin_kernels[m.group("n")] = m.group("k")
        return True
    if "dynamic range" in text and (m := SET_RANGE.search(text)):
        lo, hi = to_float(m.group("lo")), to_float(m.group("hi"))
        if lo is not None and hi is not None:
            extract_calib.record(st, m.group("name"), max(abs(lo), abs(hi)))
        return True
    if "Missing scale" in text and (m := MISSING.search(text)):
        st.add_name("quantization_missing", st.quant_missing, m.group("name").strip())
        return False  # still a warning
    return False


def _quantization(body: str, st: ParseState) -> bool:
    name = _name(body)
    if name is None:
        return False
    kind = (k.group(1).lower() if (k := KIND.search(body)) else None) or "int8"
    if kind in PRECISION_OF:
        st.add_name("precisions", st.precisions, PRECISION_OF[kind])
    if (m := SCALE.search(body)) and (scale := to_float(m.group("v"))) is not None:
        if name in st.quant_scales or st.cap("quantization_scales", st.quant_scales, st.limits.calibration):
            st.quant_scales[name] = scale
        if kind in RANGE_PER_SCALE:
            extract_calib.record(st, name, abs(scale) * RANGE_PER_SCALE[kind])
        return True
    if m := RANGE.search(body):
        lo, hi = to_float(m.group("lo")), to_float(m.group("hi"))
        if lo is not None:
            extract_calib.record(st, name, max(abs(lo), abs(hi if hi is not None else lo)))
            return True
    return False


def _name(body: str) -> str | None:
    for pattern in NAMES:
        if m := pattern.search(body):
            name = m.group("name")
            what = (m.groupdict().get("what") or "").lower()
            return f"{name}.weight" if what.startswith("weight") else name
    return None
