"""jetson-inference's engine summary, printed once its execution context exists (``tensorNet``):

    [TRT]    CUDA engine context initialized on device GPU:
    [TRT]       -- layers       28
    [TRT]       -- maxBatchSize 1
    [TRT]       -- deviceMemory 4415488
    [TRT]       -- bindings     2
    [TRT]       binding 0
                    -- index   0
                    -- name    'input_0'
                    -- in/out  INPUT

The engine's layer count becomes ``layers_after`` when the build printed none, its device memory
``memory.context_bytes``, the bindings' directions ``facts.network_inputs/outputs`` (unless the build
said ``Detected N inputs and M output network tensors``).

DeepStream's nvinfer prints the engine's bindings the same way once it has the engine, one row each under
its header (``INFO: [Implicit Engine Info]: layers num: 2`` or ``[FullDims Engine Info]``), up to a blank:

    0   INPUT  kFLOAT input_1         3x224x224
    1   OUTPUT kFLOAT predictions/Softmax 20x1x1

Rows are counted only under their header (an excerpt that starts inside the table does not say them all).
"""

from __future__ import annotations

import re

from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.state import ParseState

SUMMARY = re.compile(r"^-- (?P<k>layers|deviceMemory)\s+(?P<v>\d+)$")
BINDING_IO = re.compile(r"^-- in/out\s+(?P<v>INPUT|OUTPUT)$")
ENGINE_INFO = re.compile(r"\[(?:Implicit|FullDims) Engine Info\]:\s*layers num:\s*\d+")
ENGINE_INFO_ROW = re.compile(r"^\d+\s+(?P<v>INPUT|OUTPUT)\s+k[A-Z0-9]+\s+\S")


def extract(line: Line, st: ParseState) -> bool:
    text = line.text
    if st.engine_info_table:
        if line.family == "plain" and (m := ENGINE_INFO_ROW.match(text)):
            key = "inputs" if m.group("v") == "INPUT" else "outputs"
            st.binding_io[key] = st.binding_io.get(key, 0) + 1
            return True
        st.engine_info_table = False
    if "Engine Info]" in text and ENGINE_INFO.search(text):
        st.engine_info_table, st.binding_io = True, {}  # a later engine's table replaces an earlier one's
        return True
    if text[:3] != "-- ":
        return False
    if line.family == "jetson" and (m := SUMMARY.match(text)):
        if m.group("k") == "layers":
            if not st.layer_counts:
                st.layer_counts.append(int(m.group("v")))
        else:
            st.set_memory("context_bytes", int(m.group("v")))
        return True
    if line.family == "plain" and (m := BINDING_IO.match(text)):
        key = "inputs" if m.group("v") == "INPUT" else "outputs"
        st.binding_io[key] = st.binding_io.get(key, 0) + 1
        return True
    return False


def flush(st: ParseState) -> None:
    for key, n in st.binding_io.items():
        st.facts.setdefault(f"network_{key}", n)
