"""Mutable accumulator the extractors write into while one log is read.

Parser-only: :mod:`trtlens.producers.trtlog.assemble` turns it into the frozen
``EngineBuild`` / ``LayerProfile`` events. Every list is capped (:class:`Limits`)
so one pathological log cannot produce an event too large for a Kafka record;
what was cut is counted in ``truncated``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from trtlens.schemas.events import Fusion, LayerInfo, TacticTiming


@dataclass(frozen=True, slots=True)
class Limits:
    fusions: int = 5000
    layers: int = 5000
    removed_layers: int = 5000
    diagnostics: int = 500
    tactic_timings: int = 256
    calibration: int = 20000
    profile_rows: int = 5000
    metrics: int = 1000
    names: int = 1000  # fallbacks, fp16 weight names, triton model lists
    message_chars: int = 2000


@dataclass(slots=True)
class DiagEntry:
    severity: str
    message: str
    code: str | None
    source: str | None
    category: str | None
    count: int = 1


@dataclass(slots=True)
class ProfileRow:
    layer: str
    time_ms: float | None = None
    avg_ms: float | None = None
    median_ms: float | None = None
    time_pct: float | None = None
    precision: str | None = None


@dataclass
class ParseState:
    limits: Limits = field(default_factory=Limits)
    truncated: Counter = field(default_factory=Counter)
    # build facts
    trt_version: str | None = None
    precisions: list[str] = field(default_factory=list)
    status_markers: list[str] = field(default_factory=list)  # "passed", "failed", "built", "loaded", ...
    layer_counts: list[int] = field(default_factory=list)
    fusions: list[Fusion] = field(default_factory=list)
    removed_layers: list[str] = field(default_factory=list)
    layers: dict[str, LayerInfo] = field(default_factory=dict)
    plugin_fallbacks: list[str] = field(default_factory=list)
    dla_fallbacks: dict[str, LayerInfo] = field(default_factory=dict)
    fp16_summary: dict[str, int] = field(default_factory=dict)
    fp16_weights: dict[str, set[str]] = field(default_factory=dict)  # kind -> weight names
    fp16_current_weight: str | None = None
    calibration: dict[str, float] = field(default_factory=dict)
    calib_header: tuple[str | None, str | None] | None = None
    calib_zero: list[str] = field(default_factory=list)
    calib_suspicious: list[str] = field(default_factory=list)
    quant_scales: dict[str, float] = field(default_factory=dict)
    quant_missing: list[str] = field(default_factory=list)
    plugin_kernels: dict[str, str] = field(default_factory=dict)
    memory: dict[str, int] = field(default_factory=dict)
    peak_now_gpu_bytes: int | None = None
    perf: dict[str, Any] = field(default_factory=dict)
    perf_section: str | None = None  # old multi-line summary: current block
    tactics: list[TacticTiming] = field(default_factory=list)
    tactic_runner: tuple[str | None, str | None] = (None, None)
    phase_times_ms: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    triton: dict[str, Any] = field(default_factory=dict)
    # diagnostics
    diags: dict[tuple, DiagEntry] = field(default_factory=dict)
    open_diag: DiagEntry | None = None
    open_diag_lines: int = 0
    open_diag_indent: int = 0  # blanks before its first line's message: a continuation is indented deeper
    open_diag_trt: bool = False
    open_diag_cut: bool = False  # its last line broke after a single blank, mid-sentence (a terminal's or a paste's wrap)
    open_diag_row: bool = False  # it is a table row's status cell, which the table may wrap into the next rows
    open_diag_verbatim: bool = False  # a Torch-TensorRT warning, printed with its own newlines: lines go on to a blank
    in_traceback: bool = False
    traceback_source: str | None = None
    traceback_cls: str | None = None  # IPython names the exception in its traceback header
    traceback_wrapped: bool = False  # the traceback is one logger message (its lines indented as the logger pleased)
    traceback_thread: str | None = None  # "Exception in thread X" announced the traceback (its error if the exception line is cut)
    traceback_header: bool = False  # the traceback began with Python's "Traceback (most recent call last):"
    # per-layer profile
    profile_rows: list[ProfileRow] = field(default_factory=list)
    profile_total: ProfileRow | None = None
    profile_iterations: int | None = None
    profile_layout: tuple[str, int] | None = None  # ("name_first" | "name_last", numeric columns)
    profile_columns: tuple[str, ...] = ()
    profiler_callbacks: dict[str, list[float]] = field(default_factory=dict)
    # layer information block (8.x/10.x text) and onnx node dump
    layer_block: bool = False
    layer_names_only: bool = False  # a Layers: block that holds bare names (kLAYER_NAMES_ONLY)
    in_bindings: bool = False
    bindings: list[str] = field(default_factory=list)
    layer_pending: str | None = None
    triton_config_open: bool = False  # a Triton backend's "backend configuration:" whose JSON is the next line
    command_parts: list[str] | None = None  # a command continued over lines with a backslash, read so far
    last_onnx_op: str | None = None
    poly_layer: dict[str, Any] | None = None  # Polygraphy "inspect model" layer being read
    binding_io: dict[str, int] = field(default_factory=dict)  # jetson-inference's binding directions: inputs / outputs
    engine_info_table: bool = False  # inside DeepStream's '[Implicit Engine Info]: layers num: N' table
    # timestamps
    first_ts_ms: int | None = None
    last_ts_ms: int | None = None

    def cap(self, name: str, items: list | dict, limit: int) -> bool:
        """True when one more item still fits; counts the overflow otherwise."""
        if len(items) < limit:
            return True
        self.truncated[name] += 1
        return False

    def add_name(self, name: str, items: list[str], value: str) -> None:
        if value not in items and self.cap(name, items, self.limits.names):
            items.append(value)

    def set_memory(self, key: str, value: int | None, *, keep: str = "max") -> None:
        if value is None:
            return
        old = self.memory.get(key)
        if old is None or keep == "last" or (keep == "max" and value > old):
            self.memory[key] = value

    def mark(self, marker: str) -> None:
        if marker not in self.status_markers:
            self.status_markers.append(marker)
