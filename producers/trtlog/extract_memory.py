"""Memory facts: ``[MemUsageChange]``/``[MemUsageStats]``, activation/weights/persistent/scratch
totals, engine and context sizes, failed allocation requests, TensorRT-LLM's KV cache
(``facts.kv_cache_bytes``, ``kv_cache_tokens``, ``tokens_per_block``)."""

from __future__ import annotations

import re

from trtlens.producers.trtlog.classify import Line
from trtlens.producers.trtlog.state import ParseState
from trtlens.producers.trtlog.units import NUM, to_bytes

UNIT = r"(?:[KMGT]i?B|bytes?|B)"
MEM_CHANGE = re.compile(
    rf"\[MemUsageChange\](?P<what>[^:]*):\s*CPU\s*{NUM}\s*,\s*GPU\s*(?P<dgpu>{NUM})\s*,\s*now:\s*CPU\s*(?P<cpu>{NUM})\s*,\s*GPU\s*(?P<gpu>{NUM})"
    rf"\s*\((?P<unit>{UNIT})\)",
    re.I,
)
MEM_SNAPSHOT = re.compile(rf"\[MemUsageSnapshot\][^:]*:\s*CPU\s*(?P<cpu>{NUM})\s*(?P<u1>{UNIT}),\s*GPU\s*(?P<gpu>{NUM})\s*(?P<u2>{UNIT})", re.I)
PEAK_STATS = re.compile(
    rf"Peak memory usage of TRT CPU/GPU memory allocators:\s*CPU\s*(?P<cpu>{NUM})\s*(?P<u1>{UNIT}),\s*GPU\s*(?P<gpu>{NUM})\s*(?P<u2>{UNIT})",
    re.I,
)
PEAK_BUILD_CPU = re.compile(
    rf"(?:Peak memory usage during Engine building and serialization:\s*CPU:?|Build phase peak memory:)\s*(?P<v>{NUM})\s*(?P<u>{UNIT}|GB|MB)",
    re.I,
)  # TensorRT 8.6+, TensorRT-LLM "Build phase peak memory: 32.45 MB, children: 0.00 MB"
SEED_PEAK = re.compile(rf"(?:Estimated )?peak GPU memory(?: usage)?:?\s*(?P<v>{NUM})\s*(?P<u>{UNIT}|GB|MB)", re.I)
SIMPLE = [
    (re.compile(rf"Total Activation Memory:\s*(?P<v>{NUM})\s*(?P<u>{UNIT})?", re.I), "activation_bytes", "max"),
    (re.compile(rf"Allocated activation device memory of size\s*(?P<v>{NUM})\s*(?P<u>{UNIT})?", re.I), "activation_bytes", "max"),
    (re.compile(rf"Total Weights Memory:\s*(?P<v>{NUM})\s*(?P<u>{UNIT})?", re.I), "weights_bytes", "max"),
    (re.compile(rf"Total Host Persistent Memory:\s*(?P<v>{NUM})\s*(?P<u>{UNIT})?", re.I), "persistent_host_bytes", "max"),
    (re.compile(rf"Total Device Persistent Memory:\s*(?P<v>{NUM})\s*(?P<u>{UNIT})?", re.I), "persistent_device_bytes", "max"),
    (re.compile(rf"Total per-runner device persistent memory is\s*(?P<v>{NUM})\s*(?P<u>{UNIT})?", re.I), "persistent_device_bytes", "max"),
    (re.compile(rf"Total per-runner host persistent memory is\s*(?P<v>{NUM})\s*(?P<u>{UNIT})?", re.I), "persistent_host_bytes", "max"),
    (re.compile(rf"(?:Total|Max) Scratch Memory:\s*(?P<v>{NUM})\s*(?P<u>{UNIT})?", re.I), "scratch_bytes", "max"),
    # TensorRT 10's runtime at context creation: "Allocated device scratch memory of size 254820864"
    (re.compile(rf"Allocated device scratch memory of size\s*(?P<v>{NUM})\s*(?P<u>{UNIT})?", re.I), "scratch_bytes", "max"),
    (re.compile(rf"Loaded engine size:\s*(?P<v>{NUM})\s*(?P<u>{UNIT})", re.I), "engine_bytes", "last"),
    (re.compile(rf"(?:Created engine with size|Engine size|Serialized engine size):\s*(?P<v>{NUM})\s*(?P<u>{UNIT})", re.I), "engine_bytes", "last"),
    (re.compile(rf"execution context with device memory size:\s*(?P<v>{NUM})\s*(?P<u>{UNIT})", re.I), "context_bytes", "max"),
    (re.compile(rf"Allocated (?P<v>{NUM})\s*(?P<u>{UNIT}) for execution context memory", re.I), "context_bytes", "max"),  # TRT-LLM
    (re.compile(r"Requested amount of GPU memory \((?P<v>\d+) bytes\)", re.I), "requested_bytes", "max"),
    (re.compile(r"insufficient memory on requested size of (?P<v>\d+)", re.I), "requested_bytes", "max"),
    (re.compile(r"Requested size was (?P<v>\d+) bytes", re.I), "requested_bytes", "max"),
    # a builder that could not give a plugin its scratch space: "... requires 210571452800 bytes of scratch space, but only N is available"
    (re.compile(r"requires (?P<v>\d+) bytes of scratch space, but only \d+ is available", re.I), "requested_bytes", "max"),
    (re.compile(rf"Tried to allocate (?P<v>{NUM}) ?(?P<u>{UNIT}|GB|MB)", re.I), "requested_bytes", "max"),  # PyTorch OOM
]  # fmt: skip
KV_CACHE = [
    (re.compile(rf"Allocated (?P<v>{NUM}) ?(?P<u>{UNIT}|GB|MB) for max tokens in paged KV cache(?: \((?P<t>\d+)\))?", re.I), "kv_cache_bytes"),
    (re.compile(r"Allocate (?P<v>\d+) bytes for k/v cache", re.I), "kv_cache_bytes"),
    (re.compile(r"Using (?P<t>\d+) (?:total )?tokens in paged KV cache", re.I), None),
    (re.compile(r"(?:Number of tokens per block:|tokens per block=|\bSet tokens_per_block to)\s*(?P<b>\d+)", re.I), None),
]
BLOCK_ASSIGN = re.compile(r"\[BlockAssignment\].*requiring (?P<v>\d+) bytes")


def extract(line: Line, st: ParseState) -> bool:
    text = line.text
    if ("KV cache" in text or "k/v cache" in text or "tokens per block" in text.lower() or "tokens_per_block to" in text) and _kv_cache(text, st):
        return True
    if "Mem" not in text and "mem" not in text and "size" not in text and "Block" not in text and "allocate" not in text and "scratch" not in text:
        return False
    if m := MEM_CHANGE.search(text):
        gpu = to_bytes(m.group("gpu"), m.group("unit"))
        if gpu is not None and (st.peak_now_gpu_bytes is None or gpu > st.peak_now_gpu_bytes):
            st.peak_now_gpu_bytes = gpu
        st.set_memory("cpu_now_peak_bytes", to_bytes(m.group("cpu"), m.group("unit")))
        if "ExecutionContext creation" in m.group("what"):
            st.set_memory("context_bytes", to_bytes(m.group("dgpu").lstrip("+"), m.group("unit")))
        # TensorRT 8.6+'s "TensorRT-managed allocation in engine deserialization: CPU +0, GPU +61": the engine's
        # device share, its size where the log printed no "Loaded engine size" (a Python runtime at WARNING-and-up)
        elif "in engine deserialization" in m.group("what") and st.memory.get("engine_bytes") is None:
            st.set_memory("engine_bytes", to_bytes(m.group("dgpu").lstrip("+"), m.group("unit")))
        return True
    if m := PEAK_STATS.search(text):
        st.set_memory("peak_gpu_bytes", to_bytes(m.group("gpu"), m.group("u2")))
        st.set_memory("cpu_peak_bytes", to_bytes(m.group("cpu"), m.group("u1")))
        return True
    if m := PEAK_BUILD_CPU.search(text):
        st.set_memory("cpu_peak_bytes", to_bytes(m.group("v"), m.group("u")))
        return True
    if m := MEM_SNAPSHOT.search(text):
        gpu = to_bytes(m.group("gpu"), m.group("u2"))
        if gpu is not None and (st.peak_now_gpu_bytes is None or gpu > st.peak_now_gpu_bytes):
            st.peak_now_gpu_bytes = gpu
        return True
    for pattern, key, keep in SIMPLE:
        if m := pattern.search(text):
            value = to_bytes(m.group("v"), m.groupdict().get("u") or "")
            if key == "engine_bytes" and _rounded(st.memory.get(key), value):
                return True  # the same size printed again in whole MiB: keep the precise one
            st.set_memory(key, value, keep=keep)
            return True
    if m := BLOCK_ASSIGN.search(text):
        st.set_memory("block_assignment_bytes", int(m.group("v")))
        return True
    if m := SEED_PEAK.search(text):
        st.set_memory("seed_peak_bytes", to_bytes(m.group("v"), m.group("u")))
        return True
    return False


def _rounded(old: int | None, new: int | None) -> bool:
    """``new`` is ``old`` rounded to whole MiB (trtexec: "Created engine with size: 34.271 MiB", then "Loaded engine size: 34 MiB")."""
    return old is not None and new is not None and new != old and new % (1 << 20) == 0 and abs(new - old) < (1 << 20)


def _kv_cache(text: str, st: ParseState) -> bool:
    hit = False
    for pattern, key in KV_CACHE:
        if m := pattern.search(text):
            groups = m.groupdict()
            if key and (value := to_bytes(m.group("v"), groups.get("u") or "")) is not None:
                st.facts[key] = value
            if groups.get("t"):
                st.facts["kv_cache_tokens"] = int(groups["t"])
            if groups.get("b"):
                st.facts["tokens_per_block"] = int(groups["b"])
            hit = True
    return hit
