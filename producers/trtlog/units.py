"""Small conversions shared by the extractors: sizes, precisions, versions, hex floats."""

from __future__ import annotations

import math
import re
import struct

NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"

# TensorRT prints binary multiples; it has written them "MB" in older releases too.
_UNIT = {
    "": 1, "b": 1, "byte": 1, "bytes": 1,
    "k": 1024, "kb": 1024, "kib": 1024,
    "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
    "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
    "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}  # fmt: skip


def to_bytes(value: str | float, unit: str = "") -> int | None:
    """``to_bytes("1.91016", "MiB") -> 2002944``; None when the unit is unknown."""
    try:
        factor = _UNIT[unit.strip().lower()]
        number = float(value)
    except (KeyError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return int(round(number * factor))


def to_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except ValueError:
        return None
    return out if math.isfinite(out) else None


_PRECISION_WORDS = [
    (re.compile(r"\b(?:b?float16|bf16|bfloat)\b", re.I), "bf16"),
    (re.compile(r"\b(?:fp8|e4m3|e5m2)\b", re.I), "fp8"),
    (re.compile(r"\b(?:fp4|e2m1|nvfp4)\b", re.I), "fp4"),
    (re.compile(r"\b(?:half|fp16|float16|kHALF)\b", re.I), "fp16"),
    (re.compile(r"\b(?:uint8)\b", re.I), "uint8"),
    (re.compile(r"\b(?:int8|kINT8|i8)\b", re.I), "int8"),
    (re.compile(r"\b(?:int4|kINT4)\b", re.I), "int4"),
    (re.compile(r"\b(?:int64|kINT64)\b", re.I), "int64"),
    (re.compile(r"\b(?:int32|kINT32)\b", re.I), "int32"),
    (re.compile(r"\b(?:bool|kBOOL)\b", re.I), "bool"),
    (re.compile(r"\b(?:float|fp32|float32|kFLOAT|tf32)\b", re.I), "fp32"),
]
_BF16 = re.compile(r"\b(?:bfloat16|bf16)\b", re.I)


def norm_precision(text: str | None) -> str | None:
    """Normalise a TensorRT type or format string: ``Half`` → fp16, ``Row major linear FP32`` → fp32,
    ``Thirty-two wide channel vectorized row major Int8 format`` → int8."""
    if not text:
        return None
    if _BF16.search(text):
        return "bf16"
    for pattern, name in _PRECISION_WORDS[1:]:
        if pattern.search(text):
            return name
    return None


# how "low" a precision is; the lowest among a layer's inputs names its math
PRECISION_RANK = {"fp4": 0, "int4": 1, "fp8": 2, "int8": 3, "uint8": 3, "fp16": 4, "bf16": 4, "fp32": 5}


def compute_precision(inputs: list[str], outputs: list[str]) -> str | None:
    """A layer's math precision: the lowest floating/quantised type among its inputs
    (an INT8 convolution may write FP32), else its first output's type."""
    ranked = [p for p in inputs if p in PRECISION_RANK]
    if ranked:
        return min(ranked, key=PRECISION_RANK.__getitem__)
    if inputs:
        return inputs[0]
    ranked = [p for p in outputs if p in PRECISION_RANK]
    if ranked:
        return min(ranked, key=PRECISION_RANK.__getitem__)
    return outputs[0] if outputs else None


def decode_version_tag(tag: str) -> str | None:
    """``8003`` → 8.0.3, ``8401`` → 8.4.1, ``101600`` → 10.16.0 (trtexec ``[TensorRT v…]``, cache headers)."""
    if not tag.isdigit():
        return None
    n = int(tag)
    if len(tag) >= 6:
        return f"{n // 10000}.{(n // 100) % 100}.{n % 100}"
    if len(tag) == 4:
        return f"{n // 1000}.{(n // 100) % 10}.{n % 100}"
    return None


def hex_to_float(hex_text: str) -> float | None:
    """Calibration caches store each scale as the hex bits of an IEEE-754 float32."""
    try:
        return struct.unpack(">f", bytes.fromhex(hex_text.strip().zfill(8)))[0]
    except (ValueError, struct.error):
        return None
