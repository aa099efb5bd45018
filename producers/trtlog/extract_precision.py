"""Which reduced precisions the build enabled, from whichever tool printed them.

FP32 is always on and is not listed; ``precisions`` names what was enabled on
top of it. Sources (the trtexec ``--fp16/--int8/--best`` flags are read with
the command line in :mod:`extract_build`):

* trtexec ``Precision: FP32+FP16``
* Polygraphy ``Flags | [FP16, INT8]`` and ``Precision | TF32: False, FP16: True, INT8: False``
* Torch-TensorRT ``precision=torch.float16``, ``enabled_precisions={torch.half}``, ``"Enabled Precision": [Half, ]``
* TensorRT-LLM ``Set gemm_plugin to bfloat16.`` (a plugin's dtype is the model's)
* jetson-inference ``selecting fastest native precision for GPU:  FP16``
* INT8 work in the log: calibration running or read from a cache, missing INT8 scales
* a tool naming the precision it builds or runs in (``Run Paddle-TRT FP16 mode``, ``building INT8 engine``,
  ``Building FP16 core model...``), unless the sentence negates it
* a precision flag on a command line (``--precision fp16``, ``--precision=int8``), or an item of a
  settings list (jetson-voice's builder configuration: ``  - precision fp16``)
* a builder script saying which flag it sets (``Setting BuilderFlag.FP16``, not a ``set_flag(...)`` code line)
"""

from __future__ import annotations

import re

from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.state import ParseState

REDUCED = ("fp16", "bf16", "int8", "fp8", "int4", "fp4", "tf32")
PRECISION_LINE = re.compile(r"^Precision:\s*([A-Za-z0-9+ ]+?)\s*(?:\(.*\))?$")  # "FP32+FP16 (obey precision constraints)"
POLY_FLAGS = re.compile(r"Flags\s*\|\s*\[([^\]]*)\]")
POLY_BOOLS = re.compile(r"\b(TF32|FP16|BF16|INT8|FP8|INT4|FP4):\s*True\b")
TORCH_SETTING = re.compile(r"(?:enabled_precisions|precision)\s*[=:]\s*\{?\s*(?P<v>[^}),]+(?:,\s*[^}),]+)*)", re.I)
TORCH_SPEC = re.compile(r'"Enabled Precisions?"\s*:\s*\[(?P<v>[^\]]*)\]')
TRTLLM_PLUGIN = re.compile(r"^Set (?P<k>\w+_plugin) to (?P<v>float16|bfloat16|fp8|int8)\.?$")
JETSON = re.compile(r"selecting fastest native precision for \w+:\s*(?P<v>FP16|INT8|FP32)", re.I)
INT8_WORK = re.compile(
    r"Starting Calibration|Calibration completed|Calibrated batch|(?:Reading|Writing) Calib(?:ration)? Cache|"
    r"Post Processing Calibration|Missing scale and zero-point|quantized to INT8|Starting calibration thread",
    re.I,
)
# a tool saying which precision it builds or runs in: "Run Paddle-TRT FP16 mode", "building INT8 engine",
# "TensorRT: building FP16 engine as x.engine", "Using FP16 precision", "with INT8 calibration"
PRECISION_MODE = re.compile(
    r"\b(?:run(?:ning)?|build(?:ing)?|use|using|enabled?|enabling|with|in)\b(?:\s+[\w-]+){0,3}?\s+"
    r"(?P<p>FP16|INT8|BF16|FP8|half)[\s-]+(?:[a-z]+\s+)?(?:mode|precision|engine|inference|calibration|model)\b",
    re.I,
)
# a precision flag on any command line, the script's or a wrapped one: "--precision fp16 \\", "--precision=int8"
PRECISION_FLAG = re.compile(r"(?<!\S)--(?:precision|enabled[_-]precisions?)(?:=|[ \t]+)(?P<v>[\w.]+)")
PRECISION_ITEM = re.compile(r"^-\s+precision\s+(?P<v>\w+)\s*$")  # "  - precision fp16" (jetson-voice)
# a builder script reporting the flag it sets: "Setting BuilderFlag.INT8" (tensorrt-utils' onnx_to_tensorrt.py)
BUILDER_FLAG = re.compile(r"\b(?:Setting|Set|Enabling|Enabled)\s+(?:trt\.)?BuilderFlag\.(?P<v>FP16|BF16|INT8|FP8|TF32)\b")
NEGATED = re.compile(r"(?i)\b(?:not|no|without|unsupported|disabled?|cannot|can't|doesn't|isn't|fall(?:s|ing)? back)\b")
_WORDS = {
    "half": "fp16", "float16": "fp16", "fp16": "fp16", "torch.float16": "fp16", "torch.half": "fp16", "dtype.half": "fp16",
    "bfloat16": "bf16", "bf16": "bf16", "torch.bfloat16": "bf16", "dtype.bf16": "bf16",
    "int8": "int8", "char": "int8", "torch.int8": "int8", "torch.qint8": "int8", "dtype.int8": "int8",
    "fp8": "fp8", "torch.float8_e4m3fn": "fp8", "dtype.fp8": "fp8", "tf32": "tf32",
    "dtype.f16": "fp16", "dtype.i8": "int8", "dtype.f8": "fp8",
}  # fmt: skip


def _add(st: ParseState, value: str) -> bool:
    value = value.strip().strip("'\"<>:").lower()  # dynamo prints enum reprs: "<dtype.f16: 6>"
    p = _WORDS.get(value, value)
    if p in REDUCED:
        st.add_name("precisions", st.precisions, p)
        return True
    return False


def extract(line: Line, st: ParseState) -> bool:
    text = line.text
    if m := PRECISION_LINE.match(text):
        for token in re.split(r"[+\s]+", m.group(1)):
            _add(st, token)
        return True
    if m := POLY_FLAGS.search(text):
        for token in re.split(r"[,\s]+", m.group(1)):
            _add(st, token)
        return True
    if "True" in text and "|" in text and (found := POLY_BOOLS.findall(text)):
        for token in found:
            _add(st, token)
        return True
    if "recision" in text:
        if "--" in text and (m := PRECISION_FLAG.search(text)):
            return _add(st, m.group("v"))
        if m := PRECISION_ITEM.match(text):
            return _add(st, m.group("v"))
        if m := TORCH_SPEC.search(text) or TORCH_SETTING.search(text):
            hit = False
            for token in re.split(r"[,\s]+", m.group("v")):
                hit = _add(st, token) or hit
            if hit:
                return True
        if m := JETSON.search(text):
            return _add(st, m.group("v"))
    if line.family == "trtllm" and (m := TRTLLM_PLUGIN.match(text)):
        _add(st, m.group("v"))
        return False  # the setting itself is a fact too (extract_env)
    if "BuilderFlag." in text and (m := BUILDER_FLAG.search(text)):
        return _add(st, m.group("v"))
    if INT8_WORK.search(text):
        st.add_name("precisions", st.precisions, "int8")
    elif (m := PRECISION_MODE.search(text)) and not NEGATED.search(text):
        _add(st, m.group("p"))
    return False
