"""Triton server facts (glog lines) and Prometheus metrics exposition text."""

from __future__ import annotations

import re

from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.state import ParseState
from trtlens.producers.trtlog.units import NUM, to_float

BACKEND_INIT = re.compile(r"TRITONBACKEND_Initialize:\s*(?P<v>\S+)")
API_VERSION = re.compile(r"^Triton TRITONBACKEND API version:\s*(?P<v>\S+)")
PINNED = re.compile(r"Pinned memory pool is created at '[^']*' with size (?P<v>\d+)")
CUDA_POOL = re.compile(r"CUDA memory pool is created on device (?P<d>\d+) with size (?P<v>\d+)")
LOADING = re.compile(r"^loading:\s*(?P<v>\S+)")
MODEL_INIT = re.compile(r"TRITONBACKEND_ModelInitialize:\s*(?P<m>[^\s(]+)\s*\(version (?P<v>\d+)\)")  # a backend taking a model
# a backend's "backend configuration:" prints its configuration as JSON on the next line ("{}", '{"cmdline":{...}}')
CONFIG_HEAD = re.compile(r"\bbackend configuration:\s*$")
CONFIG_BODY = re.compile(r"^\{.*\}$")
LOADED = re.compile(r"successfully loaded '(?P<m>[^']+)'(?: version (?P<v>\d+))?")
FAILED = re.compile(r"failed to load '(?P<m>[^']+)'(?: version (?P<v>\d+))?")
FAILED_MODEL = re.compile(r"Model '(?P<m>[^']+)' loading failed with error:(?: version (?P<v>\d+))?")  # tritonserver 23.x+
# TRTIS (2019, before Triton's own loader): "Successfully loaded servable version {name: m version: 1}",
# "Loading servable: {name: m version: 1} failed: ..." and "Servable {name: m version: 1} cannot be loaded: ..."
LOADED_SERVABLE = re.compile(r"Successfully loaded servable version \{name: (?P<m>[^\s}]+) version: (?P<v>\d+)\}")
FAILED_SERVABLE = re.compile(r"(?:Loading servable: |^Servable )\{name: (?P<m>[^\s}]+) version: (?P<v>\d+)\} (?:failed|cannot be loaded)\b")
UNLOADED = re.compile(r"successfully unloaded '(?P<m>[^']+)'(?: version (?P<v>\d+))?")
TABLE_ROW = re.compile(r"^\|\s*(?P<m>[^|]+?)\s*\|\s*(?P<v>\d+)\s*\|\s*(?P<s>READY|UNAVAILABLE|LOADING|UNLOADING)\b")
# the server's backend table: "| pytorch     | /opt/tritonserver/backends/pytorch/libtriton_pytorch.so | {} |",
# its path also wrapped at the column's width: "| onnxruntime | /opt/tritonserver/backends/onnxruntime/libtriton | {..."
BACKEND_ROW = re.compile(r"^\|\s*(?P<b>[\w-]+)\s*\|\s*\S*[/\\]libtriton(?:_[\w.-]*)?\s*\|")
HELP = re.compile(r"^#\s*HELP\s+(?P<name>[a-zA-Z_:][\w:]*)\s*(?P<text>.*)$")
TYPE = re.compile(r"^#\s*TYPE\s+(?P<name>[a-zA-Z_:][\w:]*)\s+(?P<type>\w+)\s*$")
SAMPLE = re.compile(rf"^(?P<name>[a-zA-Z_:][\w:]*)(?P<labels>\{{.*\}})?\s+(?P<v>{NUM}|NaN|[+-]?Inf)(?:\s+-?\d+)?\s*$")
LABEL = re.compile(r'(?P<k>[a-zA-Z_]\w*)\s*=\s*"(?P<v>(?:[^"\\]|\\.)*)"')


def _t(st: ParseState) -> dict:
    return st.triton


def _add(st: ParseState, key: str, value: str) -> None:
    st.add_name(f"triton.{key}", _t(st).setdefault(key, []), value)


def extract(line: Line, st: ParseState) -> bool:
    text = line.text
    if st.triton_config_open:
        st.triton_config_open = False
        if line.family == "plain" and CONFIG_BODY.match(text):
            return True
    if line.family == "plain" and text.startswith("#"):
        if m := HELP.match(text):
            _t(st).setdefault("metric_families", {}).setdefault(m.group("name"), "untyped")
            return True
        if m := TYPE.match(text):
            _t(st).setdefault("metric_families", {})[m.group("name")] = m.group("type")
            return True
    if line.family == "plain" and (m := SAMPLE.match(text)):
        name = m.group("name")
        if "metric_families" in st.triton or name.startswith(("nv_", "trt_", "tensorrt")):
            labels = {lm.group("k"): lm.group("v") for lm in LABEL.finditer(m.group("labels") or "")}
            value = to_float(m.group("v"))
            samples = _t(st).setdefault("metrics", [])
            if value is not None and st.cap("triton.metrics", samples, st.limits.metrics):
                samples.append({"name": name, "labels": labels, "value": value})
            return True
    if text[:1] == "|" and "libtriton" in text and (m := BACKEND_ROW.match(text)):
        _add(st, "backends", m.group("b"))
        return True
    if m := TABLE_ROW.match(text):
        model = f"{m.group('m')}:{m.group('v')}"
        _add(st, "models_ready" if m.group("s") == "READY" else "models_failed", model)
        return True
    if line.family != "triton" and "TRITON" not in text and "Triton" not in text and "load" not in text:
        return False
    if m := BACKEND_INIT.search(text):
        _add(st, "backends", m.group("v"))
    elif m := API_VERSION.match(text):
        _t(st).setdefault("backend_api_version", m.group("v"))
    elif m := PINNED.search(text):
        _t(st)["pinned_pool_bytes"] = int(m.group("v"))
    elif m := CUDA_POOL.search(text):
        _t(st).setdefault("cuda_pool_bytes", {})[m.group("d")] = int(m.group("v"))
    elif m := LOADING.match(text):
        _add(st, "models_loading", m.group("v"))
    elif m := MODEL_INIT.search(text):
        if (model := f"{m.group('m')}:{m.group('v')}") not in _t(st).get("models_loading", []):
            _add(st, "models_loading", model)
    elif line.family == "triton" and CONFIG_HEAD.search(text):
        st.triton_config_open = True
    elif m := LOADED.search(text) or LOADED_SERVABLE.search(text):
        _add(st, "models_ready", f"{m.group('m')}:{m.group('v') or '?'}")
    elif m := FAILED.search(text) or FAILED_MODEL.search(text) or FAILED_SERVABLE.search(text):
        name, failed = m.group("m"), _t(st).get("models_failed", [])
        if m.group("v") or not any(f.startswith(f"{name}:") for f in failed):  # "failed to load 'x'" after "... 'x' version 1"
            _add(st, "models_failed", f"{name}:{m.group('v') or '?'}")
    elif m := UNLOADED.search(text):
        model = f"{m.group('m')}:{m.group('v') or '?'}"
        old = str(st.facts.get("triton_models_unloaded", ""))
        if model not in old.split(","):
            st.facts["triton_models_unloaded"] = f"{old},{model}" if old else model
    else:
        return False
    return True


def idle_models(metrics: list[dict]) -> list[str]:
    """Models whose inference counters stayed 0 while another model served requests."""
    counts: dict[str, float] = {}
    for sample in metrics:
        if sample["name"] in ("nv_inference_count", "nv_inference_request_success"):
            model = sample["labels"].get("model")
            if model is not None:
                counts[model] = max(counts.get(model, 0.0), sample["value"])
    if not counts or max(counts.values()) <= 0:
        return []
    return sorted(m for m, v in counts.items() if v <= 0)
