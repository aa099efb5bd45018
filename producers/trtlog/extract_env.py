"""Where the engine ran or was built: device, compute capability, GPU count,
TensorRT version read from a loaded library, CUDA and cuDNN versions, missing
libraries, registered plugins, TensorRT-LLM build settings. All land in ``facts``
(and ``trt_version``)."""

from __future__ import annotations

import re

from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.state import ParseState

DEVICE = [
    re.compile(r"Selected Device:\s*(?P<v>.+?)\s*$"),
    re.compile(r"Collecting metrics for GPU \d+:\s*(?P<v>.+?)\s*$"),  # Triton
    re.compile(r"^GPU \d+:\s*(?P<v>\S.*?)\s*$"),  # Triton 1.x metrics, one line per GPU
    re.compile(r"^Device \d+:\s*\"(?P<v>[^\"]+)\""),  # trtexec 10 "Available Devices"
    # TensorFlow (TF-TRT): "Created TensorFlow device (...) -> physical GPU (device: 0, name: TITAN V, pci bus id: ..., compute capability: 7.0)"
    re.compile(r"physical GPU \(device: \d+, name: (?P<v>[^,]+?), pci bus id:[^)]*?(?:compute capability: (?P<cc>\d+\.\d+))?\)"),
]
COMPUTE = re.compile(r"^Compute Capability:\s*(?P<v>\d+\.\d+)\s*$")
GPU_COUNT = re.compile(r"found (?P<v>\d+) (?:GPUs? supporting NVML metrics|CUDA visible devices?)\b", re.I)
LIB_VERSION = re.compile(r"\blibnvinfer(?:_builder_resource|_plugin|_lean|_dispatch)?\.so\.(?P<v>\d+(?:\.\d+){0,3})\b")  # the soname alone gives the major
MISSING_LIB = [
    re.compile(r"\"(?P<lib>[^\"]+\.(?:dll|so(?:\.\d+)*))\" which is missing"),
    re.compile(r"(?P<lib>lib[\w.+-]+\.so(?:\.\d+)*): cannot open shared object file"),
    re.compile(r"LoadLibrary failed with error \d+ .*?when trying to load \"(?:[^\"]*[/\\])?(?P<lib>[^\"/\\]+\.dll)\""),
    re.compile(r"(?:Could not load library|Unable to load library|Failed to load library|cannot load)\s+(?P<lib>[\w.+-]+\.(?:dll|so(?:\.\d+)*))", re.I),
]
# CUDA / cuDNN: a loaded library (libcudart.so.11.0, libcudnn.so.8.9.2), nvidia-smi's header
# ("CUDA Version: 12.4"), "CUDA version: 12.4", TensorRT 7/8 "linked against cuDNN 8.2.1 but loaded cuDNN 8.0.5"
CUDA_VERSION = [
    re.compile(r"\blibcudart\.so\.(?P<v>\d+\.\d+(?:\.\d+)?)\b"),
    re.compile(r"\bcudart64_(?P<v>\d{2,3})\.dll\b"),
    re.compile(r"\bCUDA(?: runtime| Runtime)? [Vv]ersion:?\s*(?P<v>\d+\.\d+(?:\.\d+)?)"),
]
CUDNN_VERSION = [
    re.compile(r"linked against cuDNN (?P<linked>\d+\.\d+(?:\.\d+)*) but loaded cuDNN (?P<v>\d+\.\d+(?:\.\d+)*)"),
    re.compile(r"\blibcudnn(?:_\w+)?\.so\.(?P<v>\d+\.\d+(?:\.\d+)?)\b"),
    re.compile(r"\bcuDNN [Vv]ersion:?\s*(?P<v>\d+\.\d+(?:\.\d+)*)"),
]
PLUGIN_REGISTERED = re.compile(r"^(?:Registered plugin creator - (?:\S*::)?(?P<a>\S+) version|Plugin Creator registration succeeded - (?P<b>\S+))")
TRTLLM_SETTING = re.compile(r"^Set (?P<k>\w+) to (?P<v>[^\s.]+(?:\.\d+)?)\.?$")


def extract(line: Line, st: ParseState) -> bool:
    text = line.text
    if not text:
        return False
    if m := PLUGIN_REGISTERED.match(text):
        st.facts["plugins_registered"] = int(st.facts.get("plugins_registered", 0)) + 1
        return True
    if line.family == "trtllm" and (m := TRTLLM_SETTING.match(text)):
        st.facts[f"trtllm.{m.group('k')}"] = m.group("v")
        return True
    if "found" in text and (m := GPU_COUNT.search(text)):
        st.facts["gpu_count"] = int(m.group("v"))
        return True
    if "GPU" in text or "Device" in text:
        for pattern in DEVICE:
            if m := pattern.search(text):
                st.facts.setdefault("device", m.group("v"))
                if cc := m.groupdict().get("cc"):
                    st.facts.setdefault("compute_capability", cc)
                return True
    if m := COMPUTE.match(text):
        st.facts.setdefault("compute_capability", m.group("v"))
        return True
    if "CUDA" in text or "cud" in text or "cuDNN" in text:
        if _cuda(text, st):
            return not ("linked against" in text)  # the cuDNN mismatch stays a warning
    for pattern in MISSING_LIB:
        if m := pattern.search(text):
            st.facts.setdefault("missing_library", m.group("lib"))
            return False  # the line stays a diagnostic
    if "libnvinfer" in text and (m := LIB_VERSION.search(text)):  # a library that was loaded, not one that is missing
        st.facts.setdefault("library_trt_version", m.group("v"))
        return True
    return False


def _cuda(text: str, st: ParseState) -> bool:
    for pattern in CUDA_VERSION:
        if m := pattern.search(text):
            v = m.group("v")
            st.facts.setdefault("cuda_version", v if "." in v else f"{v[:-1]}.{v[-1]}")  # cudart64_110.dll → 11.0
            return True
    for pattern in CUDNN_VERSION:
        if m := pattern.search(text):
            st.facts.setdefault("cudnn_version", m.group("v"))
            if "linked" in pattern.groupindex:
                st.facts.setdefault("cudnn_linked_version", m.group("linked"))
            return True
    return False
