"""Per-layer engine information: precision, tactic and type of every engine layer.

Text forms (verbose log, ``--dumpLayerInfo`` / ``--profilingVerbosity=detailed``):

* TensorRT 8.x: ``Layer(CaskConvolution): Conv_0, Tactic: 102502606, in[Int8(1,3,224,224)] -> out[Int8(...)]``
* TensorRT 8.6/10.x: ``Name: Conv_0, LayerType: CaskConvolution, Inputs: [ { Name: x, ...,
  Format/Datatype: Row major linear FP32 }], Outputs: [ ... ], ..., TacticValue: 0x..., ...``
* TensorRT 8.2-8.4's placement list: ``[GpuLayer] Gemm_794 + Relu_795`` / ``[DlaLayer] name`` (the name, and whether it runs on the GPU or a DLA)

Both may follow an ``Engine Layer Information:`` / ``Layers:`` header without a
prefix, and long lines may arrive wrapped: inside such a block an unprefixed
line that does not start a new layer continues the previous one (outside a
block too, while the record has an unclosed ``[`` or ``{``). An engine built
with ``kLAYER_NAMES_ONLY`` prints one bare layer name per line after ``Layers:``
and its bindings after ``Bindings:``.

JSON form: ``--exportLayerInfo`` (``{"Layers": [...], "Bindings": [...]}``),
layers as objects (detailed) or plain names (LAYER_NAMES_ONLY).
"""

from __future__ import annotations

import re
from typing import Any

from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.state import ParseState
from trtlens.producers.trtlog.units import compute_precision, norm_precision
from trtlens.schemas.events import LayerInfo

BLOCK_HEADER = re.compile(r"^(?:Engine Layer Information|Layers|Layer Information)\s*:?\s*$", re.I)
BINDINGS_HEADER = re.compile(r"^Bindings\s*:\s*$")
# TRT 8 verbose, one line per engine layer after the build: "Layer: Conv_0 + Relu_1 Host Persistent: 1696 Device Persistent: 0 ..."
PERSISTENT = re.compile(r"^Layer: (?P<name>.+?) (?:Weights: \d+ )?Host ?Persistent: \d+ Device ?Persistent: \d+")
# TRT 8.2-8.4's placement list after "Layers Running on GPU:" / "... on DLA:": "[GpuLayer] Gemm_794 + Relu_795", "[DlaLayer] {ForeignNode[...]}"
PLACED_LAYER = re.compile(r"^\[(?P<dev>Gpu|Dla)Layer\]\s+(?P<name>\S.*?)\s*$")
V8_START = re.compile(r"^Layer\((?P<type>[^)]*)\)\s*:\s*")
V8 = re.compile(r"^Layer\((?P<type>[^)]*)\)\s*:\s*(?P<name>.*?)(?:,\s*Tactic:\s*(?P<tactic>[-\w]+)\s*(?:,\s*(?P<io>.*))?)?\s*$")
V10_START = re.compile(r"^Name:\s*.*?,\s*LayerType:")
V10 = re.compile(r"^Name:\s*(?P<name>.*?),\s*LayerType:\s*(?P<type>[^,]*)")
TENSOR_V8 = re.compile(r"\[(?P<type>[A-Za-z][\w]*)\((?P<dims>[^()]*)\)\]")
IO_SPLIT = re.compile(r"\)\]\s*->\s*")
FORMAT_V10 = re.compile(r"Format/Datatype:\s*(?P<fmt>[^}]*?)\s*\}")
TACTIC_V10 = re.compile(r"TacticValue:\s*(?P<v>-?(?:0x)?[0-9a-fA-F]+)")
TACTIC_NAME_V10 = re.compile(r"TacticName:\s*(?P<v>[^,\s]+)")


def extract(line: Line, st: ParseState) -> bool:
    """Handle block headers, layer lines and wrapped continuations."""
    text = line.text
    starts = bool(V8_START.match(text) or V10_START.match(text))
    if starts:
        flush(st)
        st.layer_pending = text
        st.layer_names_only = False
        return True
    plain = line.family == "plain" and bool(text)
    if st.layer_pending is not None and plain and (st.layer_block or _unclosed(st.layer_pending)):
        if not BLOCK_HEADER.match(text) and len(st.layer_pending) < 100_000:
            st.layer_pending += text
            return True
    flush(st)
    if text.startswith("Layer: ") and (m := PERSISTENT.match(text)):
        if m.group("name") not in st.layers:
            add_layer(st, LayerInfo(name=m.group("name")))
        return True
    if text[:1] == "[" and (m := PLACED_LAYER.match(text)):
        if m.group("name") not in st.layers:
            add_layer(st, LayerInfo(name=m.group("name"), device=m.group("dev").upper()))
        return True
    if BLOCK_HEADER.match(text):
        st.layer_block, st.layer_names_only, st.in_bindings = True, True, False
        return True
    if BINDINGS_HEADER.match(text):
        st.layer_block, st.in_bindings = False, True
        return True
    if plain and st.in_bindings:
        st.add_name("bindings", st.bindings, text)
        st.facts["bindings"] = ",".join(st.bindings)[: st.limits.message_chars]
        return True
    if plain and st.layer_block and st.layer_names_only:
        add_layer(st, LayerInfo(name=text))
        return True
    if line.family != "plain" or not text:
        st.layer_block = st.in_bindings = False
    return False


def _unclosed(record: str) -> bool:
    return record.count("[") > record.count("]") or record.count("{") > record.count("}")


def flush(st: ParseState) -> None:
    pending, st.layer_pending = st.layer_pending, None
    if not pending:
        return
    info = parse_v8(pending) if pending.startswith("Layer(") else parse_v10(pending)
    if info is not None:
        add_layer(st, info)


def add_layer(st: ParseState, info: LayerInfo) -> None:
    if info.name in st.layers or st.cap("layers", st.layers, st.limits.layers):
        st.layers[info.name] = info


def parse_v8(text: str) -> LayerInfo | None:
    m = V8.match(text)
    if not m:
        return None
    io = m.group("io") or ""
    parts = IO_SPLIT.split(io, maxsplit=1)
    left, right = (parts[0] + ")]", parts[1]) if len(parts) == 2 else (io, "")
    inputs = [p for t in TENSOR_V8.finditer(left) if (p := norm_precision(t.group("type")))]
    outputs = [p for t in TENSOR_V8.finditer(right) if (p := norm_precision(t.group("type")))]
    layer_type = m.group("type").strip() or None
    return LayerInfo(
        name=m.group("name").strip(),
        layer_type=layer_type,
        precision=compute_precision(inputs, outputs),
        tactic=m.group("tactic"),
        device="DLA" if layer_type and "dla" in layer_type.lower() else None,
        input_precisions=inputs,
        output_precisions=outputs,
    )


def parse_v10(text: str) -> LayerInfo | None:
    m = V10.match(text)
    if not m:
        return None
    i_in = text.find("Inputs:")
    i_out = text.find("Outputs:")
    end_candidates = [i for i in (text.find(k, max(i_out, 0)) for k in ("ParameterType:", "TacticName:", "TacticValue:", "Origin:")) if i > 0]
    i_end = min(end_candidates) if end_candidates else len(text)
    in_part = text[i_in:i_out] if 0 <= i_in < i_out else ""
    out_part = text[i_out:i_end] if i_out >= 0 else ""
    inputs = [p for f in FORMAT_V10.finditer(in_part) if (p := norm_precision(f.group("fmt")))]
    outputs = [p for f in FORMAT_V10.finditer(out_part) if (p := norm_precision(f.group("fmt")))]
    tactic = TACTIC_V10.search(text)
    tactic_name = TACTIC_NAME_V10.search(text)
    layer_type = m.group("type").strip() or None
    return LayerInfo(
        name=m.group("name").strip(),
        layer_type=layer_type,
        precision=compute_precision(inputs, outputs),
        tactic=tactic.group("v") if tactic else None,
        tactic_name=tactic_name.group("v") if tactic_name else None,
        device="DLA" if layer_type and "dla" in layer_type.lower() else None,
        input_precisions=inputs,
        output_precisions=outputs,
    )


def from_json(doc: Any, st: ParseState) -> bool:
    """``--exportLayerInfo`` document; True when it was one."""
    if not isinstance(doc, dict) or not isinstance(doc.get("Layers"), list):
        return False
    for item in doc["Layers"]:
        if isinstance(item, str):
            add_layer(st, LayerInfo(name=item))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            continue
        inputs = _json_precisions(item.get("Inputs"))
        outputs = _json_precisions(item.get("Outputs"))
        tactic = item.get("TacticValue", item.get("Tactic"))
        layer_type = item.get("LayerType") if isinstance(item.get("LayerType"), str) else None
        add_layer(
            st,
            LayerInfo(
                name=item["Name"],
                layer_type=layer_type,
                precision=compute_precision(inputs, outputs),
                tactic=str(tactic) if tactic is not None else None,
                tactic_name=item.get("TacticName") if isinstance(item.get("TacticName"), str) else None,
                device="DLA" if layer_type and "dla" in layer_type.lower() else None,
                input_precisions=inputs,
                output_precisions=outputs,
            ),
        )
    bindings = doc.get("Bindings")
    if isinstance(bindings, list):
        st.facts["bindings"] = ",".join(str(b) for b in bindings)[: st.limits.message_chars]
    st.facts["layer_info_source"] = "exportLayerInfo"
    return True


def _json_precisions(tensors: Any) -> list[str]:
    out: list[str] = []
    if isinstance(tensors, list):
        for t in tensors:
            if isinstance(t, dict) and (p := norm_precision(str(t.get("Format/Datatype", t.get("Datatype", ""))))):
                out.append(p)
    return out
