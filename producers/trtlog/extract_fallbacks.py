"""What did not run as asked: plugin fallbacks (and plugins missing at load time),
DLA → GPU fallbacks, FP16 weight-conversion warnings.

DLA forms (TensorRT 5 → 10, every tool's prefix peeled first):

* ``Layer 'X' (TYPE): Unsupported on DLA. Switching this layer's device type to GPU.``
* ``Default DLA is enabled but layer X is not supported on DLA, falling back to GPU.``
  (TensorRT 5/6: ``... is not running on DLA, ...``)
* ``DLA only supports FP16 and Int8 precision type. Switching X device type to GPU.``
* ``DLA supports only 8 subgraphs per DLA core. Switching to GPU for layer X``
"""

from __future__ import annotations

import re

from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.state import ParseState
from trtlens.schemas.events import LayerInfo

PLUGIN = [
    re.compile(r"No importer registered for op:\s*(?P<op>[^\s.]+)\.?\s*Attempting to import as plugin"),
    re.compile(r"Searching for plugin:\s*(?P<op>[^,\s]+)"),
    re.compile(r"Successfully created plugin:\s*(?P<op>\S+)"),
    re.compile(r"Skipping fusion for node\s+(?P<op>\S+)\s+due to unsupported plugin"),
    re.compile(r"^\[Fallback\]\s+(?P<op>\S+)\s+not supported"),
    re.compile(r"Unsupported operator:\s*(?P<torch>(?:aten|prim)::\w+(?:\.\w+)?)"),  # overload kept: aten::max.dim
]
# a plugin the engine needs is not registered where it is deserialised (TRT 7-10 wordings)
PLUGIN_MISSING = re.compile(
    r"(?:getPluginCreator could not find plugin|Cannot find plugin|Plugin creator not found|could not find plugin creator)"
    r"[:\s]+(?:for\s+)?(?P<op>[A-Za-z_][\w.:-]*?)(?:[,\s]|$)",
    re.I,
)
ONNX_OP = re.compile(r'^op_type:\s*"(?P<op>[^"]+)"')
DLA = [
    re.compile(r"^Layer '(?P<name>.*)' \((?P<type>[A-Z_0-9]+)\):\s*Unsupported on DLA"),
    re.compile(r"Default DLA is enabled but layer (?P<name>.+?) is not (?:supported|running) on DLA"),
    re.compile(r"\bSwitching to GPU for layer (?P<name>\S.*?)\.?\s*$"),
    re.compile(r"\bSwitching (?!this layer's|its )(?P<name>\S.*?) device type to GPU"),
    re.compile(r"^Layer (?P<name>.+?)(?: \((?P<type>[A-Z_0-9]+)\))?:? (?:is )?not supported on DLA"),
    re.compile(r"^(?P<name>.+?)(?: \((?P<type>[A-Z_0-9]+)\))?: .*(?:falling back to GPU|[Ss]witching (?:this layer's|its) device type to GPU)"),
]
FP16_SUMMARY = re.compile(r"^-?\s*(?P<n>\d+)\s+weights?\s+(?:are|is)\s+affected by this issue:\s*(?P<what>.+)$")
FP16_WEIGHT = re.compile(r"Weights \[name=(?P<name>.+?)\] had the following issues when converted to FP16")
FP16_ITEM = re.compile(r"^-\s+(?P<what>.*(?:subnormal|FP16|overflow|underflow).*)$", re.I)


def fp16_kind(text: str) -> str:
    t = text.lower()
    if "overflow" in t or "exceed" in t:
        return "fp32_overflow"
    if "subnormal" in t and ("less than" in t or "minimum" in t or "below" in t):
        return "below_min_subnormal"
    if "subnormal" in t:
        return "subnormal"
    if "underflow" in t or "zero" in t:
        return "underflow"
    return re.sub(r"[^a-z0-9]+", "_", t).strip("_")[:40] or "other"


def extract(line: Line, st: ParseState) -> bool:
    text = line.text
    if m := ONNX_OP.match(text):
        st.last_onnx_op = m.group("op")
        return True
    if "importFallbackPluginImporter" in text:
        st.add_name("plugin_fallbacks", st.plugin_fallbacks, st.last_onnx_op or "unknown-op")
        st.facts["plugin_not_found"] = True
        return False  # still a diagnostic
    if "IPluginCreator not found" in text:  # "Cannot deserialize plugin since corresponding IPluginCreator not found in Plugin Registry"
        st.facts["plugin_not_found"] = True
        return False  # still a diagnostic; the message does not name the plugin
    if "lugin" in text and (m := PLUGIN_MISSING.search(text)):
        st.add_name("plugin_fallbacks", st.plugin_fallbacks, m.group("op"))
        st.facts["plugin_not_found"] = True
        return False  # still a diagnostic
    for pattern in PLUGIN:
        if m := pattern.search(text):
            op = m.group("op") if "op" in pattern.groupindex else f"torch:{m.group('torch')}"
            st.add_name("plugin_fallbacks", st.plugin_fallbacks, op)
            st.last_onnx_op = op
            return True
    if "DLA" in text or "to GPU" in text:
        for pattern in DLA:
            if m := pattern.search(text):
                name = m.group("name")
                layer_type = m.groupdict().get("type")
                if name not in st.dla_fallbacks and st.cap("dla_fallbacks", st.dla_fallbacks, st.limits.names):
                    st.dla_fallbacks[name] = LayerInfo(name=name, layer_type=layer_type, device="GPU")
                return True
    return _fp16(text, st)


def _fp16(text: str, st: ParseState) -> bool:
    if m := FP16_SUMMARY.match(text):
        kind = fp16_kind(m.group("what"))
        st.fp16_summary[kind] = max(st.fp16_summary.get(kind, 0), int(m.group("n")))
        return True
    if m := FP16_WEIGHT.search(text):
        st.fp16_current_weight = m.group("name")
        return True
    if st.fp16_current_weight and (m := FP16_ITEM.match(text)):
        names = st.fp16_weights.setdefault(fp16_kind(m.group("what")), set())
        if len(names) < st.limits.names:
            names.add(st.fp16_current_weight)
        return True
    return False
