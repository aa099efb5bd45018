"""``polygraphy inspect model engine.plan --show layers`` (Polygraphy 0.3x-0.4x):

    ---- 1 Engine Input(s) ----
    ---- Memory ----
    Device Memory: 2409472 bytes
    ---- 12 Layer(s) ----
        Layer 0    | Conv-1 + ReLU-2 [Op: CaskConvolution]
            {tensor-0 [dtype=float16, shape=(-1, 1, 28, 28)]}
             -> {tensor-2 [dtype=float16, shape=(-1, 32, 28, 28)]}
            ---- Attributes ----
            Tactic = 0x632674f65e3422ae

Each layer becomes a ``LayerInfo`` (precision from the dtypes when printed), the
I/O counts go to ``facts.network_inputs/outputs``, device memory to
``memory.context_bytes``.
"""

from __future__ import annotations

import re

from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.extract_layers import add_layer
from trtlens.producers.trtlog.state import ParseState
from trtlens.producers.trtlog.units import compute_precision, norm_precision
from trtlens.schemas.events import LayerInfo

LAYER_COUNT = re.compile(r"^---- (?P<n>\d+) Layer\(s\) ----$")
IO_COUNT = re.compile(r"^---- (?P<n>\d+) Engine (?P<what>Input|Output)\(s\) ----$")
DEVICE_MEMORY = re.compile(r"^Device Memory:\s*(?P<v>\d+) bytes$")
LAYER = re.compile(r"^Layer \d+\s*\|\s*(?P<name>.+?) \[Op: (?P<type>[^\]]*)\]\s*$")
TENSOR = re.compile(r"^(?P<arrow>->\s*)?\{?.*?\[(?:.*?\bdtype=(?P<dtype>\w+))?")
TACTIC = re.compile(r"^Tactic = (?P<v>\S+)$")


def extract(line: Line, st: ParseState) -> bool:
    text = line.text
    if line.family != "plain" or not text:
        flush(st)
        return False
    if text.startswith("----") and "Attributes" not in text:
        flush(st)
        if m := IO_COUNT.match(text):
            st.facts["network_inputs" if m.group("what") == "Input" else "network_outputs"] = int(m.group("n"))
            return True
        if (m := LAYER_COUNT.match(text)) and not st.layer_counts:
            st.layer_counts.append(int(m.group("n")))
            return True
        return False
    if m := DEVICE_MEMORY.match(text):
        st.set_memory("context_bytes", int(m.group("v")))
        return True
    if m := LAYER.match(text):
        flush(st)
        st.poly_layer = {"name": m.group("name"), "type": m.group("type"), "in": [], "out": [], "side": "in", "tactic": None}
        return True
    layer = st.poly_layer
    if layer is None:
        return False
    if text.startswith("----"):
        return True  # ---- Attributes ----
    if m := TACTIC.match(text):
        layer["tactic"] = m.group("v")
        return True
    if text.startswith(("{", "->", "(")) or layer["side"] == "out":
        m = TENSOR.match(text)
        if m and m.group("arrow"):
            layer["side"] = "out"
        if m and (p := norm_precision(m.group("dtype"))):
            layer[layer["side"]].append(p)
        return True
    return True  # Origin = ..., other attributes


def flush(st: ParseState) -> None:
    layer, st.poly_layer = st.poly_layer, None
    if layer is None:
        return
    add_layer(
        st,
        LayerInfo(
            name=layer["name"],
            layer_type=layer["type"] or None,
            precision=compute_precision(layer["in"], layer["out"]),
            tactic=layer["tactic"],
            input_precisions=layer["in"],
            output_precisions=layer["out"],
        ),
    )
