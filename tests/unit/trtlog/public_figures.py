"""The figures a reader expects from each real log in tests/data/trt-logs/public/.

Written from reading each log (and its row in tests/data/trt-logs/README.md),
not from what the parser prints. One :class:`Figure` is one fact a reader would
want from the log: a count, a value, a name. ``miss`` marks a figure the parser
is known not to get, with the reason; it still counts as expected and unmatched.

Run it to measure coverage (matched figures / all figures):

    .venv/bin/python tests/unit/trtlog/public_figures.py          # summary
    .venv/bin/python tests/unit/trtlog/public_figures.py -v       # every miss
    .venv/bin/python tests/unit/trtlog/public_figures.py blind_b  # one set: tuned, blind_a, ..., blind_l, blind_m

The blind sets' figures live in public_figures_blind.py.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtlens.producers.trtlog import ParseResult, parse_log

PUBLIC = Path(__file__).resolve().parents[2] / "data" / "trt-logs" / "public"
MiB = 1 << 20


@dataclass(frozen=True)
class Figure:
    what: str  # a path into the report ("memory.engine_bytes", "facts.device", "stats.unparsed") or a description
    want: Any
    get: Callable[[ParseResult], Any] | None = None  # default: resolve ``what`` as a path
    miss: str | None = None  # known miss, and why

    def got(self, r: ParseResult) -> Any:
        try:
            return self.get(r) if self.get else resolve(r, self.what)
        except Exception as exc:  # noqa: BLE001 - a getter that fails is a miss, not a crash
            return f"<{type(exc).__name__}: {exc}>"

    def matches(self, r: ParseResult) -> bool:
        return same(self.got(r), self.want)


def resolve(r: ParseResult, path: str) -> Any:
    """``memory.peak_gpu_bytes`` on the EngineBuild; ``stats.x`` on the stats; ``facts.k`` / ``triton.x`` likewise."""
    root, _, rest = path.partition(".")
    obj: Any = r.stats if root == "stats" else getattr(r.build, root)
    parts = rest.split(".") if rest else []
    while parts:
        if isinstance(obj, dict):
            joined = ".".join(parts)  # facts keys may hold dots themselves ("trtllm.gemm_plugin")
            if joined in obj:
                return obj[joined]
            obj = obj.get(parts.pop(0))
        else:
            obj = getattr(obj, parts.pop(0), None)
    return obj


def same(got: Any, want: Any) -> bool:
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(want, (tuple, list)) and isinstance(got, (tuple, list)) and len(want) == len(got):
        return all(same(g, w) for g, w in zip(got, want))
    return got == want


# -- getters for figures that are not a plain path ---------------------------------------------


def n_diag(severity: str, code: str | None = None, category: str | None = None, source: str | None = None) -> Callable:
    def get(r: ParseResult) -> int:
        return sum(
            d.count
            for d in r.build.diagnostics
            if d.severity == severity
            and (code is None or d.code == code)
            and (category is None or d.category == category)
            and (source is None or d.source == source)
        )

    return get


def has_diag(severity: str, text: str) -> Callable:
    return lambda r: any(d.severity == severity and text in d.message for d in r.build.diagnostics)


def diag_set(severity: str, attr: str) -> Callable:
    return lambda r: sorted({getattr(d, attr) for d in r.build.diagnostics if d.severity == severity} - {None})


def skipped(r: ParseResult) -> list[str | None]:
    return [t.tactic for t in r.build.tactic_timings if t.skipped]


def fusion_kinds(r: ParseResult) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in r.build.fusions:
        out[f.kind or "?"] = out.get(f.kind or "?", 0) + 1
    return out


def layer(index: int, *attrs: str) -> Callable:
    return lambda r: tuple(getattr(r.build.layers[index], a) for a in attrs)


def dla_names(r: ParseResult) -> list[str]:
    return [d.name for d in r.build.dla_fallbacks]


def row(index: int) -> Callable:
    return lambda r: (r.profile[index].time_ms, r.profile[index].avg_ms, r.profile[index].median_ms, r.profile[index].time_pct)


def section(name: str, *keys: str) -> Callable:
    return lambda r: tuple(getattr(getattr(r.build.perf, name), f"{k}_ms") for k in keys)


F = Figure

FIGURES: dict[str, list[Figure]] = {
    "p01-python-trt8x-oom-skip-tactic-voltaml.log": [
        F("OutOfMemory errors (code 2)", 2, n_diag("error", code="2", category="OutOfMemory")),
        F("OOM error source", 2, n_diag("error", source="virtualMemoryBuffer.cpp:145")),
        F("memory.requested_bytes", 17179869184),
        F("skipped tactic ids", ["0x000000000000003c"], skipped),
        F("warnings", 2, n_diag("warning")),
        F("wrapped hint joined to the skip warning", True, has_diag("warning", "setMemoryPoolLimit")),
    ],
    "p02-python-trt8x-cuda-driver-oom-missing-bracket-torch2trt.log": [
        F("errors", 2, n_diag("error")),
        F("error categories", ["Cuda Driver", "OutOfMemory"], diag_set("error", "category")),
        F("error sources", ["globWriter.cpp:193", "virtualMemoryBuffer.cpp:148"], diag_set("error", "source")),
        F("status", "failed"),
    ],
    "p03-python-trt8x-oom-app-lines-anime-vsr.log": [
        F("OutOfMemory error", 1, n_diag("error", code="2", category="OutOfMemory", source="virtualMemoryBuffer.cpp:145")),
        F("no other diagnostics", 1, lambda r: sum(d.count for d in r.build.diagnostics)),
    ],
    "p04-unprefixed-trt843-oom-bevdet.log": [
        F("unprefixed OOM line is an error", 1, n_diag("error", code="2", category="OutOfMemory")),
        F("its source", 1, n_diag("error", source="virtualMemoryBuffer.cpp:144")),
        F("status", "failed"),
    ],
    "p05-trt7-deserialize-empty-buffer-segfault-deepsort.log": [
        F("TensorRT error kinds (the crash line is the third error)", ["INVALID_ARGUMENT", "INVALID_CONFIG"],
          lambda r: sorted({d.category for d in r.build.diagnostics if d.severity == "error"} - {None, "crash"})),
        F("crash is an error", True, has_diag("error", "Segmentation fault")),
        F("status", "failed"),
    ],
    "p06-deepstream-trt8x-plugin-not-found-deserialize-yolo.log": [
        F("plugin_fallbacks", ["DETECT_TRT"]),
        F("facts.plugin_not_found", True),
        F("error codes", ["1", "3", "4"], diag_set("error", "code")),
        F("serialization error source", 1, n_diag("error", code="1", category="Serialization", source="pluginV2Runner.cpp:292")),
        F("errors (3 TRT + the app's)", 4, n_diag("error")),
        F("gst WARN line is a warning", 1, n_diag("warning")),
        F("engine_id", "yolov5"),
        F("status", "failed"),
    ],
    "p07-deepstream-gst-engine-open-error-rebuild-yolo.log": [
        F("open error", 1, n_diag("error")),
        F("gst WARN lines", 2, n_diag("warning")),
        F("engine_id", "model_b1_gpu0_fp32"),
    ],
    "p08-python-trt84-version-tag-mismatch-0-vs-96.log": [
        F("facts.runtime_serialization_version", 0),
        F("facts.engine_serialization_version", 96),
        F("error codes", ["1", "4"], diag_set("error", "code")),
        F("serialization error source", 1, n_diag("error", code="1", source="stdArchiveReader.cpp:35")),
        F("status", "failed"),
    ],
    "p09-legacy-trt7-version-tag-coreReadArchive-fastmot.log": [
        F("TRT 7 error", 1, n_diag("error", code="0", category="Serialization Error", source="coreReadArchive.cpp:41")),
        F("facts.runtime_serialization_version", 96),
        F("facts.engine_serialization_version", 97),
        F("status", "failed"),
    ],
    "p10-spdlog-app-trt8-version-tag-213-vs-232-d2slam.log": [
        F("engine_id", "hitnet_1x240x320_model_float16_quant_opt"),
        F("memory.engine_bytes", 6 * MiB),
        F("facts.runtime_serialization_version", 213),
        F("facts.engine_serialization_version", 232),
        F("errors (2 TRT + 2 spdlog)", 4, n_diag("error")),
        F("status", "failed"),
    ],
    "p11-bare-code-prefix-trt84-version-tag-sam.log": [
        F("errors", 2, n_diag("error")),
        F("error sources", ["runtime.cpp:50", "stdArchiveReader.cpp:40"], diag_set("error", "source")),
        F("facts.runtime_serialization_version", 213),
        F("facts.engine_serialization_version", 232),
        F("status", "failed"),
    ],
    "p12-torch-tensorrt-ts-trt8-tactics-activation-memory.log": [
        F("timed tactics", [("1002", 0.011776), ("0", 0.006272)],
          lambda r: [(t.tactic, t.time_ms) for t in r.build.tactic_timings if t.time_ms is not None and not t.fastest]),
        F("fastest tactic", ("0", 0.006272, "Reformat", "(Unnamed Layer* 0) [Identity]"),
          lambda r: next((t.tactic, t.time_ms, t.runner, t.layer) for t in r.build.tactic_timings if t.fastest)),
        F("phase_times_ms.tactic_selection", 8.22353),
        F("layers_after", 1),
        F("memory.activation_bytes", 1073741824),
        F("facts.network_inputs", 1),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p13-torch-tensorrt-ts-shape-analyzer-error-code-4.log": [
        F("errors", 3, n_diag("error", code="4", category="Internal Error", source="graphShapeAnalyzer.cpp:2212")),
        F("distinct error entries", 2, lambda r: len(r.build.diagnostics)),
        F("status", "failed"),
    ],
    "p14-torch-tensorrt-ts-pointwise-assertion-ipython-traceback.log": [
        F("warnings", 1, n_diag("warning")),
        F("assertion errors", 2, n_diag("error", code="2", category="Internal Error", source="pointWiseNode.cpp:17")),
        F("ipython traceback names RuntimeError", 1, n_diag("error", code="RuntimeError")),
        F("status", "failed"),
    ],
    "p15-torch-tensorrt-dynamo-pylog-fp16-construction-time.log": [
        F("precisions", ["fp16"]),
        F("phase_times_ms.graph_construction", 5.506),
        F("warnings", 1, n_diag("warning")),
        F("errors", 0, n_diag("error")),
    ],
    "p16-torch-tensorrt-dynamo-conversion-context-memusage.log": [
        F("memory.peak_gpu_bytes", 1403 * MiB),
        F("memory.cpu_peak_bytes", 15152 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p17-trtllm-012-build-plugin-settings.log": [
        F("facts.trtllm_version", "0.12.0.dev2024070200"),
        F("precisions", ["bf16"]),
        F("facts.trtllm.gpt_attention_plugin", "bfloat16"),
        F("facts.trtllm.paged_kv_cache", "True"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p18-trtllm-05-build-invalid-timing-cache-killed.log": [
        F("warnings", 1, n_diag("warning")),
        F("memory.peak_gpu_bytes", 568 * MiB),
        F("Killed is an error", True, has_diag("error", "Killed")),
        F("status", "failed"),
    ],
    "p19-trtllm-b200-mlir-codegen-scratch-memory.log": [
        F("facts.network_inputs", 17),
        F("facts.network_outputs", 1),
        F("memory.persistent_host_bytes", 58768),
        F("memory.persistent_device_bytes", 0),
        F("memory.scratch_bytes", 501931520),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p20-trtllm-runtime-triton-kv-cache-loaded.log": [
        F("warnings", 6, n_diag("warning")),
        F("facts.kv_cache_bytes", 84073984819),
        F("facts.kv_cache_tokens", 3731744),
        F("facts.tokens_per_block", 32),
        F("tensorrt_llm loaded", True, lambda r: any(m.startswith("tensorrt_llm") for m in r.build.triton.models_ready)),
        F("errors", 0, n_diag("error")),
    ],
    "p21-trtllm-08-runtime-kv-cache-bytes.log": [
        F("facts.kv_cache_bytes", 69524783104),
        F("facts.kv_cache_tokens", 132608),
        F("memory.peak_gpu_bytes", 6683 * MiB),
    ],
    "p22-triton-2x-backend-init-tf-dso-line.log": [
        F("triton.backends", ["pytorch", "tensorflow", "onnxruntime"]),
        F("triton.backend_api_version", "1.4"),
        F("command", True, lambda r: str(r.build.facts.get("command", "")).startswith("tritonserver --model-repository=/lanmu1")),
        F("facts.device", "NVIDIA GeForce RTX 2080 Ti"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p23-triton-1x-plan-backend-pools-4-gpus-yolov4.log": [
        F("triton.pinned_pool_bytes", 268435456),
        F("triton.cuda_pool_bytes", {"0": 67108864, "1": 67108864, "2": 67108864, "3": 67108864}),
        F("warnings", 1, n_diag("warning")),
        F("facts.gpu_count", 4),
        F("facts.device", "GeForce RTX 2080 Ti"),
    ],
    "p24-triton-2x-shutdown-unload-simple-int8.log": [
        F("facts.triton_models_unloaded", "simple_int8:1"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("stats.unparsed", 0),
    ],
    "p25-jetson-inference-trt852-onnx-memusage-precision.log": [
        F("trt_version", "8.5.2"),
        F("memory.peak_gpu_bytes", 9853 * MiB),
        F("precisions", ["fp16"]),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p26-jetson-inference-trt821-plugin-registration.log": [
        F("trt_version", "8.2.1"),
        F("failed plugin registration is a warning", 1, n_diag("warning")),
        F("facts.plugins_registered", 18),
    ],
    "p27-jetson-inference-timing-report-resnet50-tx2.log": [
        F("perf.latency.mean_ms", 107.76915),
        F("perf.gpu_compute.mean_ms", 104.41174),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p28-trtexec-trt7-load-engine-bert-options.log": [
        F("precisions", ["fp16"]),
        F("engine_id", "bert_large_128"),
        F("command", True, lambda r: str(r.build.facts.get("command", "")).startswith("trtexec --loadEngine=")),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("status", "unknown"),
    ],
    "p29-trtexec-trt1020-windows-powershell-load-engine.log": [
        F("trt_version", "10.2.0"),
        F("engine_id", "FM_P_D_fp16"),
        F("status", "unknown"),
    ],
    "p30-trtexec-trt820-int8-hrnet-build-options.log": [
        F("trt_version", "8.2.0"),
        F("precisions", ["int8"]),
        F("engine_id", "percentile_calibrated_hrnet_w32_128"),
        F("model", "percentile_calibrated_hrnet_w32_128"),
    ],
    "p31-trtexec-trt10-dumpprofile-resnet-name-last.log": [
        F("profile.iterations", 2094),
        F("profiled layers", 6, lambda r: len(r.profile)),
        F("first row", (16.15, 0.0077, 0.0075, 0.5), row(0)),
        F("first layer name", "Reformatting CopyNode for Input Tensor 0 to node_of_gpu_0/conv1_1 + node_of_gpu_0/res_conv1_bn_1 + node_of_gpu_0/res_conv1_bn_2",
          lambda r: r.profile[0].layer),
        F("hottest layer", ("node_of_gpu_0/conv1_1 + node_of_gpu_0/res_conv1_bn_1 + node_of_gpu_0/res_conv1_bn_2", 1.6),
          lambda r: (lambda p: (p.layer, p.time_pct))(max(r.profile, key=lambda p: p.time_pct))),
    ],
    "p32-trtexec-trt7-multiline-perf-trailing-spaces-1080ti.log": [
        F("perf.host_walltime_ms", 5671.47),
        F("enqueue min/max/median", (1.9541, 8.28448, 4.74475), section("enqueue", "min", "max", "median")),
        F("gpu compute min/max/mean/median", (564.432, 569.332, 567.144, 567.073), section("gpu_compute", "min", "max", "mean", "median")),
    ],
    "p33-trtexec-trt824-quoted-load-engine-bert.log": [
        F("trt_version", "8.2.4"),
        F("memory.engine_bytes", 638 * MiB),
        F("memory.peak_gpu_bytes", 685 * MiB),
    ],
    "p34-trtexec-trt863-device-info-rtx2080.log": [
        F("trt_version", "8.6.3"),
        F("facts.device", "NVIDIA GeForce RTX 2080"),
        F("facts.compute_capability", "7.5"),
        F("memory.peak_gpu_bytes", 597 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p35-onnx2trt-logger-trt8x-missing-int8-scales.log": [
        F("warnings", 7, n_diag("warning")),
        F("quantization_missing", ["903", "906", "909", "912", "915", "918", "921"]),
        F("precisions", ["int8"]),
    ],
    "p36-trtexec-bare-trt8x-dla-default-fallback-nmt.log": [
        F("DLA fallbacks", 10, lambda r: len(r.build.dla_fallbacks)),
        F("first fallback name", "Embedding matrix", lambda r: dla_names(r)[0]),
        F("fallback device", {"GPU"}, lambda r: {d.device for d in r.build.dla_fallbacks}),
        F("warnings", 11, n_diag("warning")),
    ],
    "p37-legacy-cpp-trt5-dla-not-running-yolov3-xavier.log": [
        F("DLA fallbacks", 13, lambda r: len(r.build.dla_fallbacks)),
        F("layer84-route fell back", True, lambda r: "layer84-route" in dla_names(r)),
        F("warnings", 14, n_diag("warning")),
    ],
    "p38-trtexec-trt8x-dla-glued-timestamps-shufflenet.log": [
        F("DLA fallbacks", 5, lambda r: len(r.build.dla_fallbacks)),
        F("Gather switched to GPU", True, lambda r: "(Unnamed Layer* 275) [Gather]" in dla_names(r)),
        F("split_1 (after glued timestamps) fell back", True,
          lambda r: "shuffle_netv2/shufflenet_stage_2/shufflenet_unit1_11/split_1" in dla_names(r)),
        F("warnings", 7, n_diag("warning")),
    ],
    "p39-deepstream-trt8x-dla-subgraph-limit-switching.log": [
        F("DLA fallbacks", 12, lambda r: len(r.build.dla_fallbacks)),
        F("first fallback name", "conv_6", lambda r: dla_names(r)[0]),
        F("warnings", 12, n_diag("warning")),
    ],
    "p40-python-trt84-fp16-subnormal-same-weight-repeated.log": [
        F("fp16_affected_weights", ["Conv_616 + PWN(PWN(Sigmoid_617), Mul_618).weight"]),
        F("fp16_weight_warnings", {"subnormal": 1}),
        F("advice line deduplicated", 4,
          lambda r: next((d.count for d in r.build.diagnostics if d.message.startswith("If this is not the desired")), 0)),
    ],
    "p41-python-trt85-fp16-subnormal-frigate-yolo.log": [
        F("fp16_affected_weights", ["087_convolutional + 087_convolutional_bn.weight", "089_convolutional + 089_convolutional_bn.weight",
                                    "090_convolutional.weight"]),
        F("fp16_weight_warnings", {"subnormal": 3}),
    ],
    "p42-python-trt8x-fp16-glued-one-line-messages-ppq.log": [
        F("fp16_affected_weights", ["Conv_31 + Add_32 + Relu_33.weight", "Conv_45 + Relu_46.weight"]),
        F("fp16_weight_warnings", {"subnormal": 2}),
    ],
    "p43-onnxruntime-trt-ep-skipping-tactic-error-code-9.log": [
        F("skipped tactic ids", ["0xaa15e43058248292", "0xb4fe42a3eed4e892", "0xe57a5f08bb65a719", "0xbe93c53dd404a388", "0x2b78a94a2ec1dff6"],
          skipped),
        F("facts.skipped_tactics", 5),
        F("errors with code 9", 5, n_diag("error", code="9")),
    ],
    "p44-onnxruntime-trt-ep-nvinfer-dll-missing-cpu-fallback.log": [
        F("missing library error", True, has_diag("error", "nvinfer_10.dll")),
        F("facts.missing_library", "nvinfer_10.dll"),
        F("status", "failed"),
    ],
    "p45-trtexec-trt104-verbose-fusions-alexnet.log": [
        F("fusion kinds", {"ConstShuffleFusion": 3, "ConvReluFusion": 5}, fusion_kinds),
        F("removed_layers", ["/avgpool/AveragePool"]),
        F("layers_before", 32),
        F("layers_after", 9),
        F("facts.layer_count_steps", "32->15->9"),
        F("phase_times_ms.graph_construction", 0.398764),
        F("phase_times_ms.graph_optimization", 0.64049),
        F("warnings", 1, n_diag("warning")),
    ],
    "p46-trtexec-trt104-layers-block-half-engine-built.log": [
        F("build_time_ms", 8625.39),
        F("engine layers", 2, lambda r: len(r.build.layers)),
        F("reformat layer", ("Reformat", "fp16", "0x00000000000003e8"), layer(0, "layer_type", "precision", "tactic")),
        F("conv layer", ("/features/features.0/Conv + /features/features.1/Relu", "CaskConvolution", "fp16", "0x280b0ad3c23d8442"),
          layer(1, "name", "layer_type", "precision", "tactic")),
        F("conv tactic name", True, lambda r: (r.build.layers[1].tactic_name or "").startswith("sm80_xmma_fprop_implicit_gemm")),
        F("status", "ok"),
    ],
    "p47-polygraphy-038-trt8415-run-fp16-build.log": [
        F("fp16_affected_weights", ["Conv-4 + ReLU-5.weight", "MatMul-9 + ReLU-11.weight"]),
        F("fp16_weight_warnings", {"subnormal": 2}),
        F("memory.persistent_host_bytes", 3712),
        F("memory.persistent_device_bytes", 6656),
        F("memory.scratch_bytes", 0),
        F("memory.activation_bytes", 2408456),
        F("memory.peak_gpu_bytes", 438 * MiB),
        F("memory.engine_bytes", 12 * MiB),
        F("build_time_ms", 2278.0),
        F("trt_version", "8.4.1.5"),
        F("precisions", ["fp16"]),
        F("engine_id", "model-FP16"),
        F("facts.network_inputs", 1),
        F("errors", 0, n_diag("error")),
        F("status", "ok"),
    ],
    "p48-trtexec-trt841-load-engine-layer-names-only.log": [
        F("trt_version", "8.4.1"),
        F("engine layers (names only)", 12, lambda r: len(r.build.layers)),
        F("first and last layer", ("Conv-1 + ReLU-2", "(Unnamed Layer* 32) [Shuffle]"),
          lambda r: (r.build.layers[0].name, r.build.layers[-1].name)),
        F("facts.bindings", "tensor-0,tensor-15"),
        F("memory.engine_bytes", 12 * MiB),
        F("phase_times_ms.engine_deserialize", 428.265),
        F("memory.persistent_device_bytes", 6656),
        F("memory.persistent_host_bytes", 5120),
        F("memory.activation_bytes", 2409472),
        F("memory.peak_gpu_bytes", 723 * MiB),
        F("facts.plugins_registered", 38),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("status", "ok"),
    ],
    "p49-trt821-layer-info-text-fp16-io-backtick.log": [
        F("engine layers", 4, lambda r: len(r.build.layers)),
        F("layer precisions", ["fp16"] * 4, lambda r: [x.precision for x in r.build.layers]),
        F("layer tactics", ["1002", "1832046141070096030", "8839784824303350101", "8839784824303350101"],
          lambda r: [x.tactic for x in r.build.layers]),
        F("layer types", ["Reformat", "CaskConvolution", "CaskConvolution", "CaskConvolution"], lambda r: [x.layer_type for x in r.build.layers]),
    ],
    "p50-trt91-quoted-layer-record-wrapped-metadata-bf16-issue.log": [
        F("engine layers", 1, lambda r: len(r.build.layers)),
        F("layer", ("p2o.Conv.37 + p2o.BatchNormalization.37 + p2o.Relu.34", "CaskGemmConvolution", "fp16", "0x00000000000204b4"),
          layer(0, "name", "layer_type", "precision", "tactic")),
        F("tactic name", "ampere_h16816gemm_128x64_ldg8_relu_stages_32x6_tn_v1", lambda r: r.build.layers[0].tactic_name),
    ],
    "p51-calibration-table-trt7000-mnist-sampleint8.log": [
        F("calibration header", ("7.0.0", "EntropyCalibration2", 8),
          lambda r: (r.build.calibration_info.trt_version, r.build.calibration_info.calibrator, r.build.calibration_info.tensors)),
        F("calibration.data", 0.9963378738611937),
        F("calibration.ip2", 28.909769415855408),
        F("conv1 and pool1 share a scale", True, lambda r: r.build.calibration["conv1"] == r.build.calibration["pool1"]),
        F("precisions", ["int8"]),
    ],
    "p52-sample-int8-trt7-indented-calibration-run-passed.log": [
        F("status", "ok"),
        F("phase_times_ms.calibration", 317.902),
        F("calibrator from the cache name", ("7.0.0", "EntropyCalibration2"),
          lambda r: (r.build.calibration_info.trt_version, r.build.calibration_info.calibrator)),
        F("int8 enabled", True, lambda r: "int8" in r.build.precisions),
        F("facts.network_inputs", 1),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    # -- collected after the parser changes above and written blind: a holdout for the coverage measure --
    "p53-trtexec-trt10-verbose-parse-error-api-usage.log": [
        F("API usage error", 1, n_diag("error", code="4", category="API Usage Error", source="ITensor::getDimensions")),
        F("ModelImporter error source", 1, n_diag("error", source="ModelImporter.cpp:1012")),
        F("status", "failed"),
    ],
    "p54-trtexec-trt1013-b9-precision-constraints-obey.log": [
        F("trt_version", "10.13.3"),
        F("engine_id", "ISTD_N"),
        F("model", "ISTD_NS"),
        F("warnings", 1, n_diag("warning")),
        F("precisions", []),
    ],
    "p55-trtexec-trt1000-windows-failed-status-line.log": [
        F("status", "failed"),
        F("trt_version", "10.0.1"),
        F("engine_id", "depth_anything_vits14"),
        F("precisions", ["fp16"]),
    ],
    "p56-trtexec-trt861-backticks-plugin-not-found-runtimeerror.log": [
        F("facts.plugin_not_found", True),
        F("importer assertion", 1, n_diag("error", code="8", source="builtin_op_importers.cpp:5428")),
        F("phase_times_ms.onnx_parse", 1983.27),
        F("RuntimeError line is an error", True, has_diag("error", "Error running command")),
        F("status", "failed"),
    ],
    "p57-deepstream-trt10-magic-tag-incompatible-serialization.log": [
        F("serialization error", 1, n_diag("error", code="1", category="Serialization", source="IRuntime::deserializeCudaEngine")),
        F("errors", 2, n_diag("error")),
        F("gst WARN line", 1, n_diag("warning")),
        F("engine_id", "detector_int8_v6"),
        F("status", "failed"),
    ],
    "p58-deepstream-62-lazy-loading-open-error-secondary-gie.log": [
        F("warnings", 3, n_diag("warning")),
        F("open-error warning source", 1, n_diag("warning", source="nvdsinfer_model_builder.cpp:1487")),
        F("engine_id", "resnet18.caffemodel_b16_gpu0_int8"),
        F("errors", 0, n_diag("error")),
    ],
    "p59-trtexec-trt1000-fp16-build-options-yolov9.log": [
        F("trt_version", "10.0.1"),
        F("precisions", ["fp16"]),
        F("engine_id", "best_engine"),
        F("model", "best"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p60-python-root-logger-onnx-parse-assertion-lffd.log": [
        F("errors (logger line + assertion)", 2, n_diag("error")),
        F("status", "failed"),
    ],
    "p61-trtllm-triton-24-02-mpi-ranks-engine-size.log": [
        F("memory.engine_bytes", 3404 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p62-trtllm-016-tp4-inspect-profiling-verbosity.log": [
        F("memory.engine_bytes", 3122 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    # -- added last, for the Polygraphy "inspect model" layer listing --
    "p63-polygraphy-038-trt841-inspect-engine-layers.log": [
        F("engine layers", 12, lambda r: len(r.build.layers)),
        F("first layer", ("Conv-1 + ReLU-2", "CaskConvolution", "0x632674f65e3422ae"), layer(0, "name", "layer_type", "tactic")),
        F("layer 10 type", "LogSoftmaxTopK", lambda r: r.build.layers[10].layer_type),
        F("facts.network_inputs", 1),
        F("facts.network_outputs", 1),
        F("memory.context_bytes", 2409472),
        F("engine_id", "model"),
        F("warnings", 1, n_diag("warning")),
    ],
}


def parse(name: str) -> ParseResult:
    return parse_log(PUBLIC / name, now_ms=1_700_000_000_000)


def figure_sets() -> dict[str, dict[str, list[Figure]]]:
    """The tuned set (p01-p63) and the two blind sets (public_figures_blind), by name."""
    from public_figures_blind import BLIND_A, BLIND_B, BLIND_C, BLIND_D, BLIND_E, BLIND_F, BLIND_G, BLIND_H, BLIND_I, BLIND_J, BLIND_K, BLIND_L, BLIND_M, BLIND_N, BLIND_O, BLIND_P, BLIND_Q, BLIND_R, BLIND_S, BLIND_T, BLIND_U  # imports this module's helpers

    return {"tuned": FIGURES, "blind_a": BLIND_A, "blind_b": BLIND_B, "blind_c": BLIND_C, "blind_d": BLIND_D, "blind_e": BLIND_E, "blind_f": BLIND_F, "blind_g": BLIND_G, "blind_h": BLIND_H, "blind_i": BLIND_I, "blind_j": BLIND_J, "blind_k": BLIND_K, "blind_l": BLIND_L, "blind_m": BLIND_M, "blind_n": BLIND_N, "blind_o": BLIND_O, "blind_p": BLIND_P, "blind_q": BLIND_Q, "blind_r": BLIND_R, "blind_s": BLIND_S, "blind_t": BLIND_T, "blind_u": BLIND_U}


def all_figures() -> dict[str, list[Figure]]:
    out: dict[str, list[Figure]] = {}
    for figures in figure_sets().values():
        out.update(figures)
    return out


def score(names: list[str] | None = None) -> tuple[int, int, list[tuple[str, Figure, Any]]]:
    """(matched, total, misses) over the public logs; a figure marked ``miss`` counts as unmatched."""
    figures = all_figures()
    matched = total = 0
    misses: list[tuple[str, Figure, Any]] = []
    for name in names or sorted(figures):
        r = parse(name)
        for fig in figures[name]:
            total += 1
            if fig.matches(r):
                matched += 1
            else:
                misses.append((name, fig, fig.got(r)))
    return matched, total, misses


def main(argv: list[str]) -> int:
    """``[-v] [tuned|blind_a|...|blind_t|blind_u]``: the score of one set, or of each set and all of them."""
    sets = figure_sets()
    chosen = [a for a in argv if a in sets] or list(sets)
    for key in chosen:
        names = sorted(sets[key])
        if not names:
            continue
        matched, total, misses = score(names)
        if "-v" in argv:
            for name, fig, got in misses:
                note = f"  [known: {fig.miss}]" if fig.miss else ""
                print(f"MISS {name}: {fig.what}: want {fig.want!r}, got {got!r}{note}")
        print(f"{key}: public TensorRT logs: {len(names)}, expected figures: {total}, matched: {matched} ({100.0 * matched / total:.1f}%)")
    if len(chosen) > 1:
        matched, total, _ = score()
        print(f"all: public TensorRT logs: {len(all_figures())}, expected figures: {total}, matched: {matched} ({100.0 * matched / total:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
