"""Figures a reader expects from the public logs collected blind, after p01-p63.

Same rules as :mod:`public_figures`: each figure was written from reading the log
(and its row in tests/data/trt-logs/README.md) before the parser was run on it.

* ``BLIND_A`` (p64-p93): collected first; the parser's score on them before any
  change is the first blind figure, then the parser was improved against them.
* ``BLIND_B`` (p94-p108): collected after those changes, figures written before
  running the parser; their score before any change is the second blind figure
  (then the parser was improved against them too).
* ``BLIND_C`` (p109-): collected after the BLIND_B changes, same rules: the third
  blind figure. ``BLIND_D``, ``BLIND_E`` and ``BLIND_F`` (p121-p166) likewise, each
  collected after the previous round's fixes. ``BLIND_G`` (p167-p184): collected after the
  general prefix grammar, chosen for application loggers and unusual prefixes. ``BLIND_H``
  (p185-p199): collected after round G's fixes and the glog-year / name-first / table-row changes,
  chosen for tools the earlier sets had few of (Paddle Inference, Ultralytics export, TurboOCR,
  Triton's model table, onnxruntime graph warnings, trtllm-build). ``BLIND_I`` (p200-p225):
  collected after round H's fixes and the one source grammar, chosen for families the earlier
  sets had few of (Polygraphy comparisons, DeepStream 7.1, TensorRT 10 build errors, onnx-tensorrt
  parser errors, PyTorch's ``[W file:line]`` warnings, TensorRT-LLM runtime, trtllm-serve, Triton
  glued and quoted glog, JetPack 6 trtexec). ``BLIND_J`` (p226-p245): collected after round I's
  fixes, chosen for mmdeploy, TF-TRT, DeepStream 6.0/6.3, jetson-inference runtime, ROS 2 launch,
  TensorRT-LLM ranks and runtime OOM, FasterTransformer in Triton, TRTIS 2019 and TensorRT 7 timing.
* ``BLIND_K`` (p246-p259): collected after round J's fixes, a random-ish mix taken from plain
  searches (engine build failures, serialization errors, INT64 warnings, deepstream-app, trtexec,
  the TensorRT-LLM backend) rather than from families the earlier sets had few of.
* ``BLIND_L`` (p260-p279): collected after round K's fixes, again taken as plain searches returned
  them (INT64 warnings, importer assertions, onnxruntime's TensorRT provider, Torch-TensorRT, trtexec
  option dumps, killed Jetson builds, DeepStream, Triton startup, trtllm-build, TF-TRT).
* ``BLIND_M`` (p280-p301): collected while round L was measured, first run on the parser with round
  L's fixes; taken from plain searches again, with runtime output favoured over builds
  (deserialization and version errors, enqueue and CUDA errors at inference, Triton model loads,
  TensorRT-LLM runtime, onnxruntime's TensorRT EP at session creation, DeepStream at runtime, a
  trtexec inference summary).
* ``BLIND_N`` (p302-p316): collected after round M's fixes, taken from plain searches as they came
  (trtexec and Python build failures, a TensorRT-LLM build out of scratch space, TensorRT 3 and 7 on
  Jetson boards, DeepStream plugin lookups and enqueue failures, onnxruntime's provider library load,
  TF-TRT rebuilding an engine, a Triton model table).
* ``BLIND_O`` (p317-p329): collected after round N's fixes, taken from plain searches as they came
  (a Torch-TensorRT TorchScript compile refused, a trtexec DLA run on a Jetson, plugin imports and a
  DLA fallback warning, TensorRT 10 Python API errors, onnxruntime's TensorRT EP at inference and in
  INT8, a trtexec Myelin failure at inference, Triton plan loads and a TensorRT-LLM model table).
* ``BLIND_P`` (p330-p342): collected after round O's fix, taken from plain searches as they came
  (TensorRT build errors and INT64 warnings from trtexec and the ONNX parser, a trtexec option dump,
  trtllm-build plugin settings, a TensorRT-LLM benchmark out of memory, C++ API usage errors, a Python engine
  load, a C++ loader's glibc assertion, DeepStream engine open errors).
* ``BLIND_Q`` (p343-p357): collected after round P's fixes, taken from plain searches as they came
  (trtexec build failures, version-tag refusals, Torch-TensorRT's compile spec and a runtime binding error,
  DeepStream warnings and plugin lookups, TensorRT 7 assertions, a trtexec option dump behind a script,
  mmdeploy's [GpuLayer] list, an application's tab-and-pipe logger, a TensorRT-LLM build that terminated).
* ``BLIND_R`` (p358-p372): collected after round Q's fixes, taken from plain searches as they came, runtime
  output favoured (enqueueV3 failures from an application, Torch-TensorRT, onnxruntime's TensorRT EP and a
  Python wrapper, CUDA errors at execution and in a calibrator, plans built for another GPU, trtexec
  performance summaries, Triton's TensorRT backend config, a gdb backtrace, a TensorRT-LLM executor thread).
* ``BLIND_S`` (p373-p386): collected after round R's fixes, taken from plain searches as they came, families
  the earlier rounds had few of favoured (TensorRT 6-7 verbose fusion and timing output, INT8 calibration
  starts, Polygraphy's onnxrt runner, TF-TRT segment conversion, Torch-TensorRT's dynamo partitioner,
  DeepStream's implicit engine info, Jetson runtime and trtexec output, a TensorRT-LLM container start).
* ``BLIND_T`` (p387-p399): collected after round S's fixes, taken from plain searches as they came (onnx2trt
  and ONNX-parser output, a Polygraphy comparison's failed tail, torch2trt/mmdet2trt warnings and a plugin's
  glibc assertion, a Jetson Nano Python runtime killed, TensorRT-LLM 0.8 run.py, INT8 calibration warnings and
  an executeV2 failure inside the calibrator, legacy cask and TensorRT 10 builder assertions, FastDeploy's
  forwarding logger, DeepStream 5 on a TX2, jetson-inference with TensorRT 5).
* ``BLIND_U`` (p400-p414): collected after round T's fixes, taken from plain searches as they came (a jetson-voice
  builder summary ending in FAILED_ALLOCATION, TensorRT 7's unprefixed allocation errors and a yolo-tensorrt
  deserialization assertion, a tensorrtx INT8 build on an Orin, plans refused for another GPU under vLLM and
  TensorRT-LLM 0.8, FastMOT's Python logging, a Triton model that needs a GPU, PaddleOCR's ultra_infer forwarding
  logger and an out-of-memory build, a Polygraphy traceback, TF-TRT cache warnings, DeepStream 5 under gstd,
  jetson-inference's empty engine cache, unprefixed runtime messages on a TX2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from public_figures import MiB, F, diag_set, has_diag, n_diag, section, skipped

BLIND_A: dict[str, list[F]] = {
    "p64-cpp-logger-trt8x-network-no-output-assertion-aborted.log": [
        F("TRT error: network has no output", True, has_diag("error", "Network must have at least one output")),
        F("TRT error: network validation failed", True, has_diag("error", "Network validation failed")),
        F("glibc assertion line is an error", True, has_diag("error", "Assertion `engine' failed")),
        F("Aborted (core dumped) is an error", True, has_diag("error", "Aborted")),
        F("model", "hrnet_w48_coco_256x192"),
        F("status", "failed"),
    ],
    "p65-legacy-trt7-quoted-network-no-output-traceback.log": [
        F("errors behind '> '", 2, n_diag("error")),
        F("model", "yolov3-416"),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p66-legacy-trt7-int64-warning-failed-to-create-engine.log": [
        F("INT64 warning", 1, n_diag("warning")),
        F("TRT error", True, has_diag("error", "Network must have at least one output")),
        F("model", "model"),
        F("status", "failed"),
    ],
    "p67-polygraphy-021-legacy-trt-path-warning-build-config.log": [
        F("warnings", 1, n_diag("warning")),
        F("warning source", 1, n_diag("warning", source="onnx2trt_utils.cpp:220")),
        F("precisions", []),  # the build config says fp16=False, int8=False
        F("errors", 0, n_diag("error")),
    ],
    "p68-trtexec-trt84-load-engine-memusage-context.log": [
        F("memory.engine_bytes", 21 * MiB),
        F("memory.peak_gpu_bytes", 2222 * MiB),
        F("memory.cpu_peak_bytes", 674 * MiB),
        F("memory.context_bytes", 67 * MiB),
        F("phase_times_ms.engine_deserialize", 5115.44),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("status", "ok"),
    ],
    "p69-trtexec-trt10-build-memory-summary-skip-tactic.log": [
        F("skipped tactic ids", ["0x0000000000000000"], skipped),
        F("memory.requested_bytes", 7742685184),
        F("warnings", 1, n_diag("warning")),
        F("facts.network_inputs", 2),
        F("facts.network_outputs", 2),
        F("memory.persistent_host_bytes", 84864),
        F("memory.persistent_device_bytes", 0),
        F("memory.scratch_bytes", 2065996800),
        F("memory.activation_bytes", 2478873600),
        F("memory.weights_bytes", 34082304),
        F("phase_times_ms.engine_generation", 273487.0),
        F("memory.peak_gpu_bytes", 2174 * MiB),
        F("build_time_ms", 273506.0),
        F("memory.engine_bytes", 34.271 * MiB),
        F("status", "ok"),
    ],
    "p70-triton-glog-trt82-memusage-snapshot-engine-mb.log": [
        F("memory.engine_bytes", 52 * MiB),  # TensorRT's "MB" are MiB
        F("memory.peak_gpu_bytes", 2805 * MiB),
        F("memory.cpu_peak_bytes", 2775 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p71-deepstream-trt10-error-code-10-missing-scales.log": [
        F("quantization_missing", ["/0/model.22/Reshape_22_output_0", "/0/model.22/Concat_32_output_0"]),
        F("warnings", 2, n_diag("warning")),
        F("code 10 errors", 2, n_diag("error", code="10")),
        F("optimizer source", 1, n_diag("error", source="optimizer.cpp:3869")),
        F("errors (2 TRT + 2 nvdsinfer + 1 gst)", 5, n_diag("error")),
        F("precisions", ["int8"]),
        F("status", "failed"),
    ],
    "p72-deepstream-5-tlt-custom-network-build-failed.log": [
        F("errors", 3, n_diag("error")),
        F("error sources", ["nvdsinfer_model_builder.cpp:797", "nvdsinfer_model_builder.cpp:862", "tlt_decode.cpp:274"],
          diag_set("error", "source")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p73-trtllm-09-runtime-gpt-attention-assertion-stack.log": [
        F("memory.engine_bytes", 15448 * MiB),
        F("errors", 1, n_diag("error")),
        F("assertion source", 1, n_diag("error", source="gptAttentionCommon.cpp:320")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p74-python-trt9-oom-glued-unsupported-state-skipping.log": [
        F("OOM errors", 2, n_diag("error", code="2", category="OutOfMemory", source="virtualMemoryBuffer.cpp:140")),
        F("memory.requested_bytes", 33555480576),
        F("skipped tactic ids (UNSUPPORTED_STATE glued to Skipping)", ["0x000000000000001e", "0x000000000000001f"], skipped),
        F("warnings", 4, n_diag("warning")),
    ],
    "p75-trtllm-01x-build-tail-memusagestats-serialize.log": [
        F("phase_times_ms.engine_generation", 15454.4),
        F("memory.peak_gpu_bytes", 19386 * MiB),
        F("CPU peak about 40291 MiB", True, lambda r: 40291 * MiB <= (r.build.memory.cpu_peak_bytes or 0) <= 40295 * MiB),
        F("phase_times_ms.build_total", 47000.0),
        F("engine_id", "rank0"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("status", "ok"),
    ],
    "p76-trtllm-014-windows-starship-prompt-plugin-settings.log": [
        F("facts.trtllm_version", "0.14.0"),
        F("facts.trtllm.gemm_plugin", "float16"),
        F("facts.trtllm.context_fmha", "True"),
        F("precisions", ["fp16"]),
        F("command after the '❯' prompt", True, lambda r: str(r.build.facts.get("command", "")).startswith("trtllm-build --checkpoint_dir")),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p77-trtllm-trt9-build-total-scratch-cudnn-mismatch.log": [
        F("facts.network_inputs", 13),
        F("facts.network_outputs", 1),
        F("memory.persistent_host_bytes", 63184),
        F("memory.persistent_device_bytes", 0),
        F("memory.scratch_bytes", 537001984),  # "Total Scratch Memory"
        F("memory.activation_bytes", 3120566272),
        F("memory.weights_bytes", 14483464192),
        F("memory.peak_gpu_bytes", 14649 * MiB),
        F("warnings", 1, n_diag("warning")),
        F("facts.cudnn_version", "8.9.2"),
        F("facts.cudnn_linked_version", "8.9.6"),
        F("phase_times_ms.engine_generation", 16305.5),
    ],
    "p78-trtexec-trt80-multiline-host-latency-percentile.log": [
        F("host latency min/max/mean/median/p99", (1.64058, 6.2915, 1.66069, 1.65601, 1.67065),
          section("latency", "min", "max", "mean", "median", "p99")),
        F("end to end mean/p99", (3.00909, 3.03931), section("end_to_end", "mean", "p99")),
        F("perf.throughput_qps", 0.0),
        F("perf.host_walltime_ms", 3004.61),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p79-trtexec-trt107-orin-device-info-curly-quotes.log": [
        F("facts.device", "Orin"),
        F("facts.compute_capability", "8.7"),
        F("trt_version", "10.7.0"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p80-python-trt9-set-input-shape-profile-repeated-chatrtx.log": [
        F("errors", 4, n_diag("error", code="3", category="API Usage Error", source="executionContext.cpp:2309")),
        F("one distinct entry", 1, lambda r: len(r.build.diagnostics)),
        F("status", "failed"),
    ],
    "p81-cpp-logger-trt8x-validate-input-bindings-wrapped-paren.log": [
        F("errors", 2, n_diag("error", code="3", category="API Usage Error", source="executionContext.cpp:1831")),
        F("distinct entries (dimension 10 and 9)", 2, lambda r: len(r.build.diagnostics)),
    ],
    "p82-bare-code-prefix-trt10-resolve-slots-comfyui.log": [
        F("error", 1, n_diag("error", code="3", category="API Usage Error", source="executionContext.cpp:2842")),
    ],
    "p83-triton-2202-jetson-torch-tensorrt-warning-backends.log": [
        F("triton.backends", ["pytorch", "tensorflow", "onnxruntime"]),
        F("triton.backend_api_version", "1.8"),
        F("Torch-TensorRT warning", 1, n_diag("warning")),
        F("command", True, lambda r: str(r.build.facts.get("command", "")).startswith("./bin/tritonserver --model-repository=/models/")),
        F("facts.cuda_version", "11.0"),
        F("errors", 0, n_diag("error")),
    ],
    "p84-polygraphy-inspect-engine-basic-indented-device-memory.log": [
        F("warnings", 1, n_diag("warning")),
        F("facts.network_inputs", 1),
        F("facts.network_outputs", 1),
        F("memory.context_bytes", 7325696),
        F("engine layers (87 Layer(s))", 87, lambda r: r.build.layers_after),
        F("engine_id", "model"),
    ],
    "p85-triton-metrics-curl-prompt-five-models.log": [
        F("triton.metric_families", {"nv_inference_request_success": "counter", "nv_inference_request_failure": "counter",
                                     "nv_inference_count": "counter"}),
        F("metric samples", 13, lambda r: len(r.build.triton.metrics)),
        F("simple_sequence served nothing", True, lambda r: any(m.startswith("simple_sequence") for m in r.build.triton.idle_models)),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p86-jetson-inference-trt852-engine-cache-load-ssd.log": [
        F("trt_version", "8.5.2"),
        F("memory.peak_gpu_bytes", 4502 * MiB),
        F("precisions", ["fp16"]),
        F("memory.engine_bytes", 33 * MiB),
        F("engine_id", "ssd_mobilenet_v2_coco.uff.1.1.8502.GPU.FP16"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p87-jetson-inference-model-format-unsupported-exception.log": [
        F("Python exception is an error", True, has_diag("error", "detectNet failed to load network")),
        F("status", "failed"),
    ],
    "p88-trtexec-trt10-perf-summary-p90-p95-leading-blank.log": [
        F("perf.throughput_qps", 130.298),
        F("latency mean/p90/p95/p99", (7.60628, 10.2996, 10.8698, 12.9675), section("latency", "mean", "p90", "p95", "p99")),
        F("gpu compute median/p99", (7.14139, 12.9485), section("gpu_compute", "median", "p99")),
        F("h2d mean", (0.0122212,), section("h2d", "mean")),
        F("d2h max", (0.110596,), section("d2h", "max")),
        F("perf.host_walltime_ms", 3000.82),
        F("perf.gpu_compute_total_ms", 2965.36),
    ],
    "p89-trtexec-trt86-trace-cut-paste-then-summary.log": [
        F("perf.throughput_qps", 234.19),
        F("latency min/max/mean/median/p90/p95/p99", (4.27838, 5.82495, 4.29966, 4.29718, 4.30725, 4.31128, 4.32874),
          section("latency", "min", "max", "mean", "median", "p90", "p95", "p99")),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p90-trtexec-trt8x-italic-layer-counts-bad-alloc.log": [
        F("layers_before", 83),
        F("layers_after", 83),
        F("terminate/bad_alloc crash is an error", True, has_diag("error", "terminate called")),
        F("precisions", ["int8"]),
        F("engine_id", "erf_int8"),
        F("status", "failed"),
    ],
    "p91-trtorch-conversion-context-oom-torchscript-trace.log": [
        F("OOM error", 1, n_diag("error", code="2", category="OutOfMemory", source="virtualMemoryBuffer.cpp:65")),
        F("'Requested amount' line is an error", True, has_diag("error", "Requested amount of GPU memory")),
        F("memory.requested_bytes", 8589934592),
        F("status", "failed"),
    ],
    "p92-torch-tensorrt-dynamo-debug-compilation-settings-f16.log": [
        F("precisions", ["fp16"]),
        F("plugin_fallbacks", []),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p93-trtllm-06-build-py-llama-tqdm-timing-cache.log": [
        F("warnings", 1, n_diag("warning")),
        F("memory.peak_gpu_bytes", 574 * MiB),
        F("memory.cpu_peak_bytes", 2061 * MiB),
        F("errors", 0, n_diag("error")),
    ],
}

BLIND_B: dict[str, list[F]] = {
    "p94-trtexec-trt1013-windows-cask-klib-builder-creation-failed.log": [
        F("trt_version", "10.13.2"),
        F("cask kernel library assertion", 1, n_diag("error", code="2", category="Internal Error", source="builder.cpp:157")),
        F("errors (1 TRT + 3 trtexec)", 4, n_diag("error")),
        F("memory.peak_gpu_bytes", 1238 * MiB),
        F("engine_id", "best"),
        F("model", "yolov8n"),
        F("status", "failed"),
    ],
    "p95-triton-glog-trt84-version-205-213-signal-11-stack.log": [
        F("facts.runtime_serialization_version", 205),
        F("facts.engine_serialization_version", 213),
        F("error codes", ["1", "4"], diag_set("error", "code")),
        F("Signal (11) received is an error", True, has_diag("error", "Signal (11)")),
        F("errors", 3, n_diag("error")),
        F("status", "failed"),
    ],
    "p96-triton-glog-trt80-safe-version-43-vs-0.log": [
        F("facts.runtime_serialization_version", 43),
        F("facts.engine_serialization_version", 0),
        F("error sources", ["runtime.cpp:75", "stdArchiveReader.cpp:34"], diag_set("error", "source")),
        F("errors", 2, n_diag("error")),
        F("status", "failed"),
    ],
    "p97-legacy-trt6-cask-exec-error-failed-execution.log": [
        F("errors", 2, n_diag("error")),
        F("cask error", 1, n_diag("error", code="7", category="Cask Error", source="caskConvolutionRunner.cpp:245")),
        F("FAILED_EXECUTION kind", 1, n_diag("error", category="FAILED_EXECUTION")),
        F("status", "failed"),
    ],
    "p98-app-logger-trt5-onnx-header-cask-cuda-error-48.log": [
        F("warnings", 1, n_diag("warning")),
        F("errors", 4, n_diag("error")),
        F("distinct errors", 3, lambda r: len([d for d in r.build.diagnostics if d.severity == "error"])),
        F("cuda error 48 twice", 2, n_diag("error", code="48", source="caskConvolutionLayer.cpp:256")),
        F("model", "yolov4"),
        F("engine_id", "yolov4"),
        F("status", "failed"),
    ],
    "p99-sample-mnist-trt843-windows-backtick-status-memusage.log": [
        F("trt_version", "8.4.3"),
        F("warnings", 1, n_diag("warning")),
        F("memory.peak_gpu_bytes", 1542 * MiB),
        F("memory.cpu_peak_bytes", 13231 * MiB),
        F("errors", 0, n_diag("error")),
        F("status", "unknown"),
    ],
    "p100-trtexec-trt861-env-line-onnx-header-parsing.log": [
        F("trt_version", "8.6.1"),
        F("memory.peak_gpu_bytes", 1890 * MiB),
        F("model", "transunet_model"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p101-trtexec-trt7-xavier-nx-caffe-dla-options.log": [
        F("precisions", ["fp16"]),
        F("facts.dla_core", "0"),
        F("model", "googlenet"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("status", "unknown"),
    ],
    "p102-trtllm-tp8-execution-context-memory-per-rank.log": [
        F("memory.context_bytes", 2265.58 * MiB),
        F("memory.peak_gpu_bytes", 46523 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p103-trtllm-t5-trtgptmodel-settings-four-ranks.log": [
        F("memory.engine_bytes", 922 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p104-polygraphy-convert-int8-random-calibration-warnings.log": [
        F("warnings", 2, n_diag("warning")),
        F("precisions", ["int8"]),
        F("command", True, lambda r: str(r.build.facts.get("command", "")).startswith("polygraphy convert subgraph.onnx")),
        F("engine_id", "tmp"),
        F("model", "subgraph"),
        F("errors", 0, n_diag("error")),
    ],
    "p105-trtllm-021-gtest-engine-version-load-time.log": [
        F("memory.engine_bytes", 240 * MiB),
        F("phase_times_ms.engine_deserialize", 205.0),
        F("facts.trtllm_version", "0.21.0rc0"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p106-torch-tensorrt-debug-build-unsupported-operator-stack.log": [
        F("plugin_fallbacks", ["torch:aten::max.dim"]),
        F("errors (stack lines are not more errors)", 1, n_diag("error")),
    ],
    "p107-tensorrt-pro-logger-engine-plan-across-devices.log": [
        F("warnings", 1, n_diag("warning")),
        F("errors", 0, n_diag("error")),
    ],
    "p108-trtexec-trt853-glued-prompts-terminal-timestamps.log": [
        F("trt_version", "8.5.3"),
        F("warnings", 2, n_diag("warning")),
        F("engine_id", "best_4"),
        F("precisions", ["fp16"]),
        F("model", "best"),
    ],
}

BLIND_C: dict[str, list[F]] = {
    "p109-calibration-table-trt8000-entropy-v1-yolov8-slash-names.log": [
        F("calibration header", ("8.0.0", "EntropyCalibration", 31),  # first written as 32: a miscount of the excerpt
          lambda r: (r.build.calibration_info.trt_version, r.build.calibration_info.calibrator, r.build.calibration_info.tensors)),
        F("calibration.images (3c010a14 x 127)", 1.0002441219985485, lambda r: r.build.calibration["images"]),
        F("tensor names with slashes", 5.011449288576841, lambda r: r.build.calibration["/model.4/Split_output_0"]),
        F("precisions", ["int8"]),
    ],
    "p110-legacy-trt7-conv-weights-scale-fusions-yolov3.log": [
        F("fusions", 12, lambda r: len(r.build.fusions)),
        F("first fusion", ["078_convolutional", "078_convolutional_bn"], lambda r: r.build.fusions[0].layers),
    ],
    "p111-legacy-trt7-myelin-removals-shuffle-fusion-layer-counts.log": [
        F("fusions (1 ShuffleShuffleFusion + 2 conv-weight)", 3, lambda r: len(r.build.fusions)),
        F("ShuffleShuffleFusion", 1, lambda r: sum(f.kind == "ShuffleShuffleFusion" for f in r.build.fusions)),
        F("removed layers", 5, lambda r: len(r.build.removed_layers)),
        F("layers_before", 95),
        F("layers_after", 93),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p112-bare-verbose-trt6-conv-activation-fusions.log": [
        F("fusions", 6, lambda r: len(r.build.fusions)),
        F("last fusion", ["conv1_6_conv", "activation5"], lambda r: r.build.fusions[-1].layers),
    ],
    "p113-torch-tensorrt-25-shell-warnings-platform-error.log": [
        F("warnings", 2, n_diag("warning")),
        F("errors", 1, n_diag("error")),
    ],
    "p114-torch-tensorrt-dynamo-conversion-context-memory-summary.log": [
        F("phase_times_ms.graph_construction", 3.906),
        F("facts.network_inputs", 2),
        F("facts.network_outputs", 1),
        F("memory.persistent_host_bytes", 352),
        F("memory.persistent_device_bytes", 0),
        F("memory.scratch_bytes", 0),
        F("memory.activation_bytes", 20001280),
        F("memory.weights_bytes", 0),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p115-torch-tensorrt-dynamo-dry-run-build-elapsed.log": [
        F("phase_times_ms.graph_construction", 2.993),
        F("build_time_ms", 459.272),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p116-trtllm-07-session-benchmark-cuda-malloc-oom.log": [
        F("errors", 1, n_diag("error")),
        F("error source", 1, n_diag("error", source="tllmBuffers.h:112")),
        F("status", "failed"),
    ],
    "p117-trtllm-09-version-glued-into-traceback-ipc-oom.log": [
        F("facts.trtllm_version", "0.9.0.dev2024020600"),
        F("RuntimeError", 1, n_diag("error", code="RuntimeError")),
        F("status", "failed"),
    ],
    "p118-triton-trtllm-model-unavailable-cuda-malloc-oom.log": [
        F("errors", 1, n_diag("error")),
        F("tensorrt_llm failed to load", True, lambda r: any(m.startswith("tensorrt_llm") for m in r.build.triton.models_failed)),
        F("status", "failed"),
    ],
    "p119-deepstream-dsl-nano-deserialized-engine-model-loaded.log": [
        F("engine_id", "resnet10.caffemodel_b1_gpu0_fp16"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("status", "ok"),
    ],
    "p120-torch-tensorrt-fx-vsfemasr-doubled-blank-separated.log": [
        F("phase_times_ms.graph_construction", 22.298),
        F("build_time_ms", 4366.112),
        F("errors", 0, n_diag("error")),
    ],
}


# -- fourth blind round (p121-p137): collected after the BLIND_C changes, figures written before the parser ran --
BLIND_D: dict[str, list[F]] = {
    "p121-jetson-trtexec-trt10162-b10-orin-nx-epoch-timestamps.log": [
        F("trt_version", "10.16.2"),
        F("model", "tinyyolov2-8"),
        F("engine_id", "yolo"),
        F("warnings (optShapes broadcast)", 2, n_diag("warning")),
        F("errors", 0, n_diag("error")),
        F("precisions", []),  # "Precision: FP32"
    ],
    "p122-trtexec-trt1000-ea-rtx3060-device-block-plugin-creators.log": [
        F("trt_version", "10.0.0"),
        F("facts.compute_capability", "8.6"),
        F("facts.plugins_registered", 5),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p123-onnxruntime-trt-ep-trt82-glued-two-messages-backticks-size-mismatch.log": [
        F("errors (two messages glued on one line)", 2, n_diag("error")),
        F("error codes", ["1", "4"], diag_set("error", "code")),
        F("error sources", ["runtime.cpp:50", "stdArchiveReader.cpp:54"], diag_set("error", "source")),
        F("error categories", ["Internal Error", "Serialization"], diag_set("error", "category")),
        F("status", "failed"),
    ],
    "p124-app-tensorrt-tag-trt861-cuda-runtime-deallocate-error.log": [
        F("memory.engine_bytes", 39 * MiB),
        F("errors", 1, n_diag("error", code="1", category="Cuda Runtime")),
        F("error source", 1, n_diag("error", source="defaultAllocator.cpp:61")),
        F("status", "failed"),
    ],
    "p125-python-trt84-mmdeploy-plugin-creator-not-found-deserialize.log": [
        F("memory.engine_bytes", 109 * MiB),
        F("memory.peak_gpu_bytes", 447 * MiB),
        F("warnings", 1, n_diag("warning")),
        F("error sources", ["pluginV2Runner.cpp:293", "runtime.cpp:50"], diag_set("error", "source")),
        F("facts.plugin_not_found", True),
        F("status", "failed"),
    ],
    "p126-legacy-trt713-empty-buffer-nonetype-traceback-dsfd.log": [
        F("errors (2 TRT + AttributeError)", 3, n_diag("error")),
        F("error kinds", 2, lambda r: sum(d.category in ("INVALID_ARGUMENT", "INVALID_CONFIG") for d in r.build.diagnostics)),
        F("AttributeError at its innermost frame", 1, n_diag("error", code="AttributeError", source="tensorrt_wrap.py:38")),
        F("status", "failed"),
    ],
    "p127-deepstream-orin-int8-calib-table-missing-map-base-at.log": [
        F("errors (1 TRT + 2 app + 1 gst)", 4, n_diag("error")),
        F("TRT error code 1", 1, n_diag("error", code="1")),
        F("TRT error text", True, has_diag("error", "Unexpected exception _Map_base::at")),
        F("status", "failed"),
    ],
    "p128-trtllm-pytorch-rank-tag-executor-gemm-assertion-frames.log": [
        F("errors", 1, n_diag("error")),
        F("error source", 1, n_diag("error", source="KernelRunner.cpp:180")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p129-trtllm-014-cpp-executor-example-mpi-info.log": [
        F("facts.trtllm_version", "0.14.0.dev2024092400"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("status", "unknown"),
    ],
    "p130-polygraphy-trt84-build-config-cudnn-linked-loaded.log": [
        F("warnings", 1, n_diag("warning")),
        F("facts.cudnn_linked_version", "8.4.1"),
        F("facts.cudnn_version", "8.2.1"),
        F("precisions", []),
        F("errors", 0, n_diag("error")),
    ],
    "p131-polygraphy-trt86-run-trt-vs-onnxrt-two-runners.log": [
        F("build_time_ms", 12280.0),
        F("TensorRT runner's average inference time (not onnxrt's)", 2.276, lambda r: r.build.perf.latency.mean_ms),
        F("precisions", []),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p132-triton-trtllm-010-bls-quoted-traceback-kv-cache-assertion.log": [
        F("errors", 1, n_diag("error")),
        F("the TensorRT-LLM assertion is in the error", True, has_diag("error", "mNextBlocks.empty()")),
        F("status", "failed"),
    ],
    "p133-trtllm-trt10-tllm-exception-cubin-registry-plugin-frames.log": [
        F("errors", 1, n_diag("error")),
        F("error source", 1, n_diag("error", source="cubinObjRegistry.h:62")),
        F("status", "failed"),
    ],
    "p134-trtllm-openmpi-backtrace-end-of-error-message-aborted.log": [
        F("errors (the abort; frames are not errors)", 1, n_diag("error")),
        F("Aborted is an error", True, has_diag("error", "Aborted")),
        F("status", "failed"),
    ],
    "p135-python-trt10-quoted-deserialization-microseconds-range-check.log": [
        F("memory.engine_bytes", 61 * MiB),
        F("phase_times_ms.engine_deserialize", 55.328),
        F("memory.peak_gpu_bytes", 59 * MiB),
        F("errors (one message, 3 times)", 3, n_diag("error", code="1")),
        F("status", "failed"),
    ],
    "p136-cpp-app-tx2-engine-search-runtime-error-what-aborted.log": [
        F("model", "yolov8n_32"),
        F("the reason (what():) is in the error", True, has_diag("error", "Unable to build the TensorRT engine")),
        F("status", "failed"),
    ],
    "p137-cpp-app-onnx-header-deserialize-fallback-trial-sizes.log": [
        F("model", "model"),
        F("engine_id", "model"),
        F("warnings (ir_version)", 1, n_diag("warning")),
        F("status", "failed"),
    ],
}


# -- fifth blind round (p138-p150): collected after the BLIND_D changes, figures written before the parser ran --
BLIND_E: dict[str, list[F]] = {
    "p138-trtexec-trt10-rapidflow-perf-summary-walltime.log": [
        F("perf.throughput_qps", 32.7261),
        F("latency min/mean/p90/p95/p99", (30.1348, 30.7571, 30.8303, 30.8396, 30.8523), section("latency", "min", "mean", "p90", "p95", "p99")),
        F("perf.gpu_compute.mean_ms", 30.3322),
        F("perf.host_walltime_ms", 3086.22),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p139-trtexec-trt8x-yolov10-1000-run-averages-p99-summary.log": [
        F("perf.throughput_qps", 759.832),
        F("latency max/p99", (62.6002, 2.16016), section("latency", "max", "p99")),
        F("perf.gpu_compute.mean_ms", 1.30893),
        F("perf.gpu_compute_total_ms", 2988.28),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p140-jetson-xavier-trtexec-trt840-test-harness-passed.log": [
        F("perf.throughput_qps", 41087.7),
        F("latency p99", (0.420288,), section("latency", "p99")),
        F("trt_version", "8.4.0"),
        F("engine_id", "mnist16"),
        F("status", "ok"),
        F("no diagnostics ('Tests failed: 0' is no error)", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p141-jetson-orin-nx-trtexec-trt1030-load-engine-cuda-graph-options.log": [
        F("trt_version", "10.3.0"),
        F("engine_id", "foundation_stereo_vits"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p142-jetson-orin-trtexec-device-information-three-lines.log": [
        F("facts.device", "Orin"),
        F("facts.compute_capability", "8.7"),
    ],
    "p143-triton-glog-trt8x-plan-instance-cublas-plugin-tactic-source.log": [
        F("memory.engine_bytes", 72 * MiB),
        F("warnings", 1, n_diag("warning")),
        F("errors", 0, n_diag("error")),
    ],
    "p144-triton-glog-trt82-plan-yolov4-init-cuda-cublaslt-cudnn.log": [
        F("memory.engine_bytes", 126 * MiB),
        F("memory.peak_gpu_bytes", 716 * MiB),
        F("memory.cpu_peak_bytes", 1281 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p145-triton-glog-trt8x-context-856-mib-loaded-backend-table.log": [
        F("memory.context_bytes", 856 * MiB),
        F("memory.peak_gpu_bytes", 1324 * MiB),
        F("construction loaded", True, lambda r: any(m.startswith("construction") for m in r.build.triton.models_ready)),
        F("triton.backends", ["pytorch", "tensorflow"]),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p146-deepstream-seg-yolov8-onnx-engine-open-error-rebuild.log": [
        F("engine_id", "yolov8s-seg.onnx_b1_gpu0_fp32"),
        F("warnings (2 gst WARN)", 2, n_diag("warning")),
        F("errors (the open error)", 1, n_diag("error")),
    ],
    "p147-trtllm-pytorch-rank-nccl-invalid-usage-after-frames.log": [
        F("errors", 1, n_diag("error")),
        F("error source", 1, n_diag("error", source="ncclCommunicator.cpp:90")),
        F("status", "failed"),
    ],
    "p148-polygraphy-02x-legacy-int64-warning-runner-lines.log": [
        F("warnings", 1, n_diag("warning")),
        F("warning source", 1, n_diag("warning", source="onnx2trt_utils.cpp:220")),
        F("precisions", []),
        F("errors", 0, n_diag("error")),
    ],
    "p149-polygraphy-trt91-run-command-printed-feed-dict-onnxrt-runner.log": [
        F("model", "1"),
        F("no TensorRT latency (only onnxrt-runner finished)", None, lambda r: r.build.perf.latency.mean_ms if r.build.perf and r.build.perf.latency else None),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p150-trtexec-trt803-load-engine-options-workspace-16-mib.log": [
        F("trt_version", "8.0.3"),
        F("engine_id", "epoch_30"),
        F("precisions", []),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
}


def _major(r: object) -> str:
    return (getattr(r, "build").trt_version or "").split(".")[0]


def _timed(r: object) -> int:
    return sum(1 for t in getattr(r, "build").tactic_timings if not t.skipped and t.time_ms is not None)


def _skipped_count(r: object) -> int:
    return sum(1 for t in getattr(r, "build").tactic_timings if t.skipped)


# Round F (p151-p166): collected after the continuation rule became one of line shape;
# figures written from reading each log before the parser was run on any of them.
BLIND_F: dict[str, list[F]] = {
    "p151-python-trt8x-ultralytics-int8-export-app-lines-calibration-profile.log": [
        F("warnings (2 TRT + the exporter's 'TensorRT: WARNING')", 3, n_diag("warning")),
        F("INT64 warning source", 1, n_diag("warning", source="onnx2trt_utils.cpp:374")),
        F("errors", 0, n_diag("error")),
        F("precisions", ["int8"]),
        F("engine_id", "best-nano-combined"),
        F("memory.persistent_host_bytes", 283360),
        F("phase_times_ms.graph_optimization", 5.564),
        F("facts.network_inputs", 1),
        F("facts.network_outputs", 3),
    ],
    "p152-trtexec-trt7-title-glued-pointwise-assertion-engine-creation-failed.log": [
        F("errors (assertion + engine creation failed)", 2, n_diag("error")),
        F("assertion source", 1, n_diag("error", source="cudaPointWiseRunner.cpp:140")),
        F("assertion category", 1, n_diag("error", category="Assertion Error")),
        F("status", "failed"),
    ],
    "p153-tf-trt-abseil-log-calibration-threads-libnvinfer-6.log": [
        F("TensorRT major version (libnvinfer.so.6)", "6", _major),
        F("precisions (INT8 calibration threads)", ["int8"], lambda r: r.build.precisions),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p154-trt5-unprefixed-tactic-timing-scratch-requested.log": [
        F("timed tactics", 10, _timed),
        F("tactics skipped for scratch memory", 4, _skipped_count),
        F("a negative decimal tactic id kept", True, lambda r: any(t.tactic == "-9018593586369639207" for t in r.build.tactic_timings)),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p155-onnxruntime-trt-ep-trt102-backtick-failed-to-create-engine-status.log": [
        F("errors", 1, n_diag("error")),
        F("status", "failed"),
    ],
    "p156-bare-trt10-set-input-shape-error-wrapped-indented.log": [
        F("errors", 1, n_diag("error", code="3", category="API Usage Error")),
        F("error source", 1, n_diag("error", source="IExecutionContext::setInputShape")),
        F("wrapped lines joined", True, has_diag("error", "Expected dimensions are [8,16]")),
        F("status", "failed"),
    ],
    "p157-triton-trtllm-quoted-glog-failed-to-load-lookahead-assertion.log": [
        F("errors", 1, n_diag("error")),
        F("assertion source", 1, n_diag("error", source="lookaheadDecodingLayer.cpp:56")),
        F("tensorrt_llm_2beam failed to load", True, lambda r: any(m.startswith("tensorrt_llm_2beam") for m in r.build.triton.models_failed)),
        F("status", "failed"),
    ],
    "p158-triton-trtllm-07-backtick-tllm-exception-gpt-attention-frames.log": [
        F("errors", 1, n_diag("error")),
        F("assertion source", 1, n_diag("error", source="gptAttentionCommon.cpp:326")),
        F("TensorRT major version (libnvinfer.so.9)", "9", _major),
        F("status", "failed"),
    ],
    "p159-deepstream-71-int8-root-prompts-rtsp-open-error.log": [
        F("engine_id", "model_b4_gpu0_int8"),
        F("warnings (open error + gst WARN)", 2, n_diag("warning")),
        F("open-error source", 1, n_diag("warning", source="nvdsinfer_model_builder.cpp:1152")),
    ],
    "p160-deepstream-glib-gobject-warnings-int8-open-error.log": [
        F("warnings (2 GLib + open error + gst WARN)", 4, n_diag("warning")),
        F("engine_id", "model_b1_gpu0_int8"),
        F("errors", 0, n_diag("error")),
    ],
    "p161-deepstream-60-backtick-winsys-error-open-int8-rebuild.log": [
        F("errors (the open error)", 1, n_diag("error")),
        F("warnings (2 gst WARN)", 2, n_diag("warning")),
        F("engine_id", "model_b1_gpu0_int8"),
    ],
    "p162-torch-tensorrt-ts-runtime-set-input-shape-closing-paren.log": [
        F("errors (one, its ')' line joined)", 1, n_diag("error")),
        F("error code 3 API Usage Error", 1, n_diag("error", code="3", category="API Usage Error")),
        F("error source", 1, n_diag("error", source="executionContext.cpp:2020")),
        F("status", "failed"),
    ],
    "p163-python-trt10-cosyvoice-set-input-shape-repeated.log": [
        F("errors (the same one 4 times)", 4, n_diag("error")),
        F("one distinct error", 1, lambda r: len([d for d in r.build.diagnostics if d.severity == "error"])),
        F("error source", 4, n_diag("error", source="executionContext.cpp:2037")),
        F("status", "failed"),
    ],
    "p164-cpp-tensorrtx-trt86-lenet-deserialize-microseconds-prompt.log": [
        F("memory.engine_bytes", 0),
        F("phase_times_ms.engine_deserialize", 9.388),
        F("memory.persistent_device_bytes", 0),
        F("memory.persistent_host_bytes", 14656),
        F("memory.activation_bytes", 24576),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p165-cpp-app-trt6-nano-double-error-glibc-assertion-aborted.log": [
        F("errors (assertion + Aborted)", 2, n_diag("error")),
        F("assertion source", 1, n_diag("error", source="yolo.cpp:522")),
        F("status", "failed"),
    ],
    "p166-cpp-app-trt5-nano-plan-incompatible-version-segfault.log": [
        F("errors (incompatible plan + segfault)", 2, n_diag("error")),
        F("facts.expected_trt_version", "5.0.6.3"),
        F("status", "failed"),
    ],
}


BLIND_G: dict[str, list[F]] = {
    "p167-ros2-launch-node-prefix-trt10-build-unused-input.log": [
        F("warnings (unused input behind the ROS launch prefix)", 1, n_diag("warning")),
        F("errors", 0, n_diag("error")),
        F("facts.network_inputs", 16),
        F("facts.network_outputs", 2),
    ],
    "p168-cpp-app-error-prefix-deserialize-stub-msvc-assert.log": [
        F("errors (code 1 + MSVC assertion)", 2, n_diag("error")),
        F("code-1 Internal Error", 1, n_diag("error", code="1", category="Internal Error")),
        F("MSVC assertion source", 1, n_diag("error", source="yolov8.cpp:22")),
        F("status", "failed"),
    ],
    "p169-mmdeploy-python-logging-asctime-trt82-int64-clamped.log": [
        F("warnings (INT64 + clamped twice)", 3, n_diag("warning")),
        F("clamped warnings from onnx2trt_utils.cpp:392", 2, n_diag("warning", source="onnx2trt_utils.cpp:392")),
        F("errors (mmdeploy INFO lines are not)", 0, n_diag("error")),
        F("memory.peak_gpu_bytes", 1128 * MiB),
    ],
    "p170-mmengine-logger-libprotobuf-warning-trt86-parse.log": [
        F("libprotobuf warnings", 2, n_diag("warning")),
        F("errors", 0, n_diag("error")),
        F("memory.peak_gpu_bytes", 1373 * MiB),
        F("model", "end2end"),
    ],
    "p171-mmengine-logger-registry-scope-warnings.log": [
        F("mmengine warning", 1, n_diag("warning")),
        F("warning text without the prefix", True, has_diag("warning", "Failed to search registry")),
        F("errors", 0, n_diag("error")),
    ],
    "p172-polygraphy-style-magic-tag-could-not-deserialize-yolo.log": [
        F("code-1 Serialization error", 1, n_diag("error", code="1", category="Serialization", source="runtime.cpp:314")),
        F("errors", 2, n_diag("error")),
        F("status", "failed"),
        F("engine_id", "YoloS4000img"),
    ],
    "p173-backtick-bare-code-threadsafelogger-refcount-quote-func.log": [
        F("errors", 1, n_diag("error")),
        F("code 2 Internal Error at logging.cpp:61", 1, n_diag("error", code="2", category="Internal Error", source="logging.cpp:61")),
        F("status", "failed"),
    ],
    "p174-comfyui-upscaler-polygraphy-version-239-vs-237.log": [
        F("warnings", 1, n_diag("warning")),
        F("errors", 2, n_diag("error")),
        F("facts.runtime_serialization_version", 239),
        F("facts.engine_serialization_version", 237),
        F("engine_id", "4x_foolhardy_Remacri"),
        F("status", "failed"),
    ],
    "p175-isaac-ros-gxf-trt-info-engine-load.log": [
        F("memory.engine_bytes", 129 * MiB),
        F("memory.peak_gpu_bytes", 1466 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p176-ros1-roslaunch-safe-version-43-glibc-assert-process-died.log": [
        F("errors (2 TRT + assertion)", 3, n_diag("error")),
        F("assertion source", 1, n_diag("error", source="video_inteference_yolov5.cpp:78")),
        F("facts.runtime_serialization_version", 0),
        F("facts.engine_serialization_version", 43),
        F("status", "failed"),
    ],
    "p177-rust-env-logger-warn-ort-trt-ep-unknown-option.log": [
        F("warnings", 1, n_diag("warning")),
        F("warning text without the prefix", True, has_diag("warning", "An error occurred when attempting to register")),
        F("errors (a warning that says error)", 0, n_diag("error")),
    ],
    "p178-tracing-bare-set-device-memory-api-usage-alignment.log": [
        F("errors", 1, n_diag("error")),
        F("code 3 API Usage Error", 1, n_diag("error", code="3", category="API Usage Error")),
        F("status", "failed"),
    ],
    "p179-onnxruntime-terminate-default-logger-what.log": [
        F("crash errors (terminate + what)", 1, n_diag("error", category="crash")),
        F("what() joined", True, has_diag("error", "Attempt to use DefaultLogger")),
        F("status", "failed"),
    ],
    "p180-torchserve-log4j-iso-comma-model-log-worker-start.log": [
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("ts_ms (last stamp, 2023-07-19T21:15:44 UTC)", 1689801344000, lambda r: r.build.ts_ms),
    ],
    "p181-python-trt8x-backtick-incompatible-device-compute-86-89.log": [
        F("errors", 2, n_diag("error")),
        F("code-2 source", 1, n_diag("error", code="2", source="engine.cpp:951")),
        F("facts.expected_compute_capability", "8.6"),
        F("facts.found_compute_capability", "8.9"),
        F("status", "failed"),
    ],
    "p182-python-trt10-docker-cuda-init-failure-35.log": [
        F("warnings (one repeated)", 3, n_diag("warning")),
        F("distinct warnings", 2, lambda r: len([d for d in r.build.diagnostics if d.severity == "warning"])),
        F("errors", 0, n_diag("error")),
    ],
    "p183-legacy-trt7-app-prints-int64-warnings-yolov5-face.log": [
        F("INT64 warnings", 5, n_diag("warning", source="onnx2trt_utils.cpp:198")),
        F("errors", 0, n_diag("error")),
        F("model", "last"),
    ],
    "p184-onnxruntime-bracket-onnx2trt-stamp-windows-path-int64.log": [
        F("warnings", 1, n_diag("warning")),
        F("warning source", 1, n_diag("warning", source="onnx2trt_utils.cpp:364")),
    ],
}


def _failed(name: str) -> Callable[[Any], bool]:
    return lambda r: any(m.startswith(name) for m in r.build.triton.models_failed)


def _ready(name: str) -> Callable[[Any], bool]:
    return lambda r: any(m.startswith(name) for m in r.build.triton.models_ready)


BLIND_H: dict[str, list[F]] = {
    "p185-triton-glog-quoted-trtllm-backend-library-not-found.log": [
        F("errors (one failed load)", 1, n_diag("error")),
        F("warnings", 0, n_diag("warning")),
        F("tensorrt_llm failed to load", True, _failed("tensorrt_llm")),
        F("triton.cuda_pool_bytes", {"4": 67108864, "5": 67108864, "6": 67108864, "7": 67108864}),
        F("triton.models_loading", ["postprocessing:1", "preprocessing:1", "tensorrt_llm:1", "tensorrt_llm_bls:1"]),
    ],
    "p186-trtllm-triton-glog-ensemble-depends-unavailable-backend.log": [
        F("errors", 1, n_diag("error")),
        F("tensorrt_llm failed to load", True, _failed("tensorrt_llm")),
    ],
    "p187-onnxruntime-12-clean-unused-initializers-warnings.log": [
        F("warnings", 4, n_diag("warning")),
        F("warnings from graph.cc:2422", 4, n_diag("warning", source="graph.cc:2422")),
        F("errors", 0, n_diag("error")),
    ],
    "p188-triton-glog-backend-init-tf-abseil-dso-gtx1070.log": [
        F("triton.backends", ["pytorch", "tensorflow", "onnxruntime", "openvino"]),
        F("triton.backend_api_version", "1.4"),
        F("facts.device", "NVIDIA GeForce GTX 1070"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p189-paddle-inference-glog-trt-subgraph-one-time-config-warning.log": [
        F("warnings (glog W)", 1, n_diag("warning")),
        F("warning text without the prefix", True, has_diag("warning", "The one-time configuration of analysis predictor failed")),
        F("errors", 0, n_diag("error")),
    ],
    "p190-paddle-trt-tx2-fp16-mode-subgraph-glog.log": [
        F("precisions (Run Paddle-TRT FP16 mode)", ["fp16"], lambda r: r.build.precisions),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p191-paddle-windows-glog-before-init-escape-remnants.log": [
        F("warnings (glog's own WARNING line)", 1, n_diag("warning")),
        F("errors", 0, n_diag("error")),
    ],
    "p192-ultralytics-8380-trt106-export-gpu-warning-memusage.log": [
        F("warnings (the exporter's WARNING)", 1, n_diag("warning")),
        F("errors", 0, n_diag("error")),
        F("memory.peak_gpu_bytes", 815 * MiB),
        F("trt_version", "10.6.0"),
        F("model", "yolo11s"),
    ],
    "p193-ultralytics-windows-trt109-export-dynamic-windows-path.log": [
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("memory.peak_gpu_bytes", 2589 * MiB),
        F("trt_version", "10.9.0"),
        F("model", "best"),
    ],
    "p194-ultralytics-trt108-export-negative-cpu-delta-domain-padding.log": [
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("memory.peak_gpu_bytes", 3443 * MiB),
        F("memory.cpu_peak_bytes", 3779 * MiB),
        F("trt_version", "10.8.0"),
        F("model", "best"),
    ],
    "p195-torch-tensorrt-ts-bert-dynamic-shape-truncating-warnings.log": [
        F("warnings", 12, n_diag("warning")),
        F("distinct warnings", 4, lambda r: len([d for d in r.build.diagnostics if d.severity == "warning"])),
        F("errors", 0, n_diag("error")),
    ],
    "p196-trtllm-080-glued-version-stamp-lazy-loading-timing-cache-traceback.log": [
        F("warnings (lazy loading + timing cache)", 2, n_diag("warning")),
        F("facts.trtllm_version", "0.8.0"),
        F("memory.peak_gpu_bytes", 1699 * MiB),
        F("memory.cpu_peak_bytes", 7581 * MiB),
    ],
    "p197-trtllm-018-build-prompt-python-logging-flashinfer-set-plugins.log": [
        F("facts.trtllm_version", "0.18.0"),
        F("facts.trtllm.gemm_plugin", "auto"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p198-turbo-ocr-rfc3339-z-stamps-building-trt-engines.log": [
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("ts_ms (last stamp, 2026-06-17T05:49:51Z)", 1781675391000, lambda r: r.build.ts_ms),
    ],
    "p199-triton-trtllm-model-table-wrapped-unavailable-deserialize.log": [
        F("tensorrt_llm failed (UNAVAILABLE row)", True, _failed("tensorrt_llm")),
        F("postprocessing ready", True, _ready("postprocessing")),
        F("preprocessing ready", True, _ready("preprocessing")),
        F("errors (the UNAVAILABLE row)", 1, n_diag("error")),
    ],
}


def _no_trt_latency(r: Any) -> Any:
    return r.build.perf.latency.mean_ms if r.build.perf and r.build.perf.latency else None


BLIND_I: dict[str, list[F]] = {
    "p200-polygraphy-compare-histogram-failed-tolerance-lstm.log": [
        F("errors (the FAILED line)", 1, n_diag("error")),
        F("FAILED line is an error", True, has_diag("error", "Difference exceeds tolerance")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p201-polygraphy-run-trt-fp16-onnxrt-required-tolerances-yolov3-tiny.log": [
        F("errors (the FAILED line)", 1, n_diag("error")),
        F("model", "yolov3-tiny-416"),
        F("precisions", ["fp16"]),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p202-polygraphy-accuracy-summary-wrapped-pass-rate-sam-encoder.log": [
        F("errors (the Accuracy Summary)", 1, n_diag("error")),
        F("wrapped 'Rate: 0.0%' joined to it", True, has_diag("error", "Rate: 0.0%")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p203-deepstream-71-yocto-magic-tag-wrapped-incompatible-serialization.log": [
        F("errors (TRT + DeepStream)", 2, n_diag("error")),
        F("serialization error", 1, n_diag("error", code="1", category="Serialization", source="IRuntime::deserializeCudaEngine")),
        F("wrapped second half joined", True, has_diag("error", "same OS was used")),
        F("engine_id", "resnet18_trafficcamnet_pruned.onnx_b1_gpu0_int8"),
        F("status", "failed"),
    ],
    "p204-deepstream-71-gst-warn-deserialize-try-rebuild-spaced-path.log": [
        F("gst WARN lines", 2, n_diag("warning")),
        F("warning sources", ["nvdsinfer_context_impl.cpp:2080", "nvdsinfer_context_impl.cpp:2185"], diag_set("warning", "source")),
        F("errors", 0, n_diag("error")),
    ],
    "p205-trtllm-014-executor-example-wrapped-prompt-engine-version.log": [
        F("facts.trtllm_version", "0.14.0"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("status", "unknown"),
    ],
    "p206-python-trt861-backend-strategy-warning-embedded-error-code-4.log": [
        F("warnings (three lines, one message)", 1, n_diag("warning")),
        F("the error message inside it joined", True, has_diag("warning", "insufficient workspace")),
        F("errors (the Error Code is quoted by a warning)", 0, n_diag("error")),
    ],
    "p207-python-trt10-birefnet-build-skip-tactic-insufficient-memory.log": [
        F("warnings", 1, n_diag("warning")),
        F("skipped tactic ids", ["0x0000000000000000"], skipped),
        F("memory.requested_bytes", 3835900160),
        F("memory.peak_gpu_bytes", 1117 * MiB),
        F("memory.cpu_peak_bytes", 2982 * MiB),
        F("errors", 0, n_diag("error")),
    ],
    "p208-python-trt101-settype-non-io-warning-memory-summary.log": [
        F("warnings", 1, n_diag("warning")),
        F("facts.network_inputs", 1),
        F("facts.network_outputs", 1),
        F("memory.persistent_host_bytes", 256),
        F("memory.persistent_device_bytes", 0),
        F("memory.scratch_bytes", 0),
        F("errors", 0, n_diag("error")),
    ],
    "p209-trtyolo-export-pytorch-c10-warning-prefix-efficientidxnms.log": [
        F("warnings ([W file:line] Warning:)", 3, n_diag("warning")),
        F("warning source", 3, n_diag("warning", source="shape_type_inference.cpp:1968")),
        F("distinct warnings", 1, lambda r: len([d for d in r.build.diagnostics if d.severity == "warning"])),
        F("errors", 0, n_diag("error")),
    ],
    "p210-python-trt1012-myelin-check-error-code-9-10-no-implementation.log": [
        F("errors (Myelin line + code 9 + code 10)", 3, n_diag("error")),
        F("code 9 error", 1, n_diag("error", code="9")),
        F("code 10 error", 1, n_diag("error", code="10", category="Internal Error", source="IBuilder::buildSerializedNetwork")),
        F("status", "failed"),
    ],
    "p211-cpp-logger-severity-before-tag-elementwise-broadcast-assertion.log": [
        F("errors", 2, n_diag("error")),
        F("error codes", ["2"], diag_set("error", "code")),
        F("error sources", ["builder.cpp:619", "elementWiseRunner.cpp:118"], diag_set("error", "source")),
        F("status", "failed"),
    ],
    "p212-trtexec-trt10-orin-quoted-parsers-onnx-node-dump.log": [
        F("errors ([E] lines)", 3, n_diag("error")),
        F("error sources", ["ModelImporter.cpp:961", "ModelImporter.cpp:964", "ModelImporter.cpp:965"], diag_set("error", "source")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p213-onnx2engine-trt7-parse-node-0-tensors-count-zero-month.log": [
        F("errors (importer assertion + failed to parse)", 2, n_diag("error")),
        F("importer assertion", 1, n_diag("error", code="5", source="ModelImporter.cpp:296")),
        F("status", "failed"),
    ],
    "p214-bold-markdown-trt72-resize-parse-msvc-assertion-model-cpp.log": [
        F("errors (importer, parse failure, no output, validation, assertion)", 5, n_diag("error")),
        F("importer assertion", 1, n_diag("error", code="5", source="ModelImporter.cpp:124")),
        F("MSVC assertion source", 1, n_diag("error", source="model.cpp:30")),
        F("status", "failed"),
    ],
    "p215-bold-markdown-libprotobuf-error-text-format-model-importer-682.log": [
        F("errors (libprotobuf, ModelImporter, could not parse)", 3, n_diag("error")),
        F("libprotobuf error source", 1, n_diag("error", source="text_format.cc:298")),
        F("model", "resnet50"),
        F("status", "failed"),
    ],
    "p216-trt5-jetson-nano-onnx-header-combine-elementwise-assertion.log": [
        F("model", "v2"),
        F("errors (importer assertion + failed to parse)", 2, n_diag("error")),
        F("importer assertion", 1, n_diag("error", code="8", source="builtin_op_importers.cpp:241")),
        F("status", "failed"),
    ],
    "p217-triton-glog-model-table-unavailable-unable-to-create-trt-engine.log": [
        F("errors (the UNAVAILABLE row)", 1, n_diag("error")),
        F("its message", True, has_diag("error", "unable to create TensorRT engine")),
        F("models failed", 1, lambda r: len(r.build.triton.models_failed)),
        F("models ready", 1, lambda r: len(r.build.triton.models_ready)),
        F("status", "failed"),
    ],
    "p218-triton-2103-glued-glog-messages-successfully-loaded-tf.log": [
        F("models ready (two glued messages split)", ["signatures", "stamp_slice"],
          lambda r: sorted(m.rsplit(":", 1)[0] for m in r.build.triton.models_ready)),  # entries are name:version
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p219-trtllm-triton-runtime-engine-size-context-memory-kv-usage.log": [
        F("memory.engine_bytes", 1066 * MiB),
        F("context memory 833.73 MiB", True, lambda r: abs((r.build.memory.context_bytes or 0) - 833.73 * MiB) < MiB),
        F("memory.peak_gpu_bytes", 1672 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p220-triton-25-prompt-glued-quoted-glog-trtllm-mpi-ranks.log": [
        F("postprocessing ready (behind the prompt)", True, _ready("postprocessing")),
        F("preprocessing ready", True, _ready("preprocessing")),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p221-trtllm-backend-warnings-chunked-context-kv-reuse-disabled.log": [
        F("warnings", 2, n_diag("warning")),
        F("KV cache reuse warning", True, has_diag("warning", "KV cache reuse disabled")),
        F("errors", 0, n_diag("error")),
    ],
    "p222-trtllm-071-docker-rfc3339-nanos-forward-free-block-assertion.log": [
        F("errors", 1, n_diag("error")),
        F("assertion source", 1, n_diag("error", source="kvCacheManager.cpp:249")),
        F("status", "failed"),
        F("ts_ms (last stamp, 2024-03-11T18:16:28Z)", 1710180988000, lambda r: r.build.ts_ms),
    ],
    "p223-polygraphy-run-trt10-continued-command-build-config-fp16.log": [
        F("warnings", 1, n_diag("warning")),
        F("precisions", ["fp16"]),
        F("model", "DA3METRIC-LARGE"),
        F("no TensorRT latency (the average is onnxrt's)", None, _no_trt_latency),
        F("errors", 0, n_diag("error")),
    ],
    "p224-trtexec-jetpack6-orin-yocto-average-runs-perf-summary.log": [
        F("perf.throughput_qps", 208.729),
        F("latency min/mean/median/p90/p95/p99", (4.81763, 4.83767, 4.83752, 4.84772, 4.85034, 4.85547),
          section("latency", "min", "mean", "median", "p90", "p95", "p99")),
        F("enqueue mean", (0.357979,), section("enqueue", "mean")),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p225-trtllm-serve-whisper-headless-traceback-executor-worker-error.log": [
        F("errors (one traceback)", 1, n_diag("error")),
        F("RuntimeError at its innermost frame", 1, n_diag("error", code="RuntimeError", source="proxy.py:332")),
        F("its message", True, has_diag("error", "Executor worker returned error")),
        F("status", "failed"),
    ],
}


def _non_fastest_timings(r: Any) -> int:
    return sum(1 for t in r.build.tactic_timings if t.time_ms is not None and not t.fastest and not t.skipped)


# Round J (p226-p245): collected after round I's fixes, chosen for families the earlier sets had
# few of (mmdeploy, TF-TRT, DeepStream 6.0/6.3, jetson-inference runtime, ROS 2 launch, TensorRT-LLM
# PyTorch-backend ranks and runtime OOM, FasterTransformer in Triton, TRTIS 2019, TensorRT 7 timing);
# figures written from reading each log before the parser was run on any of them.
BLIND_J: dict[str, list[F]] = {
    "p226-deepstream-60-bold-lpr-myelin-cublas-assertion-aborted.log": [
        F("warnings", 4, n_diag("warning")),
        F("warning source", 1, n_diag("warning", source="onnx2trt_utils.cpp:364")),
        F("errors (myelin assertion + Aborted)", 2, n_diag("error")),
        F("assertion source", 1, n_diag("error", source="cublas_impl.cpp:477")),
        F("status", "failed"),
    ],
    "p227-jetson-inference-trt7-core-read-archive-imagenet-failed-initialize.log": [
        F("serialization error source", 1, n_diag("error", source="coreReadArchive.cpp:38")),
        F("INVALID_CONFIG error", True, has_diag("error", "Deserialize the cuda engine failed")),
        F("engine creation failure an error", True, has_diag("error", "failed to create CUDA engine")),
        F("model", "bvlc_googlenet"),
        F("status", "failed"),
    ],
    "p228-jetson-inference-engine-context-bindings-device-memory-cuda-alloc.log": [
        F("facts.network_inputs", 1),
        F("facts.network_outputs", 1),
        F("memory.context_bytes", 4415488),
        F("engine layers (-- layers 28)", 28, lambda r: r.build.layers_after),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p229-mmdeploy-trt8x-allocation-dump-terminal-wrapped-requested-gpu-memory.log": [
        F("warnings", 4, n_diag("warning")),
        F("memory.requested_bytes", 4294967296),
        F("errors", 0, n_diag("error")),
    ],
    "p230-mmdeploy-trt8203-int8-calibrated-batches-cache-cublas-mismatch.log": [
        F("precisions", ["int8"]),
        F("calibrator from the cache name", ("8.2.3", "EntropyCalibration2"),
          lambda r: (r.build.calibration_info.trt_version, r.build.calibration_info.calibrator)),
        F("phase_times_ms.calibration", 336825.0),
        F("warnings", 2, n_diag("warning")),
        F("facts.cudnn_linked_version", "8.2.1"),
        F("facts.cudnn_version", "8.0.4"),
        F("memory.peak_gpu_bytes", 2195 * MiB),
        F("memory.cpu_peak_bytes", 2431 * MiB),
        F("errors", 0, n_diag("error")),
    ],
    "p231-mmdeploy-trtexec-trt8402-prompt-plugins-workspace-deprecated.log": [
        F("trt_version", "8.4.2"),
        F("model", "end2end"),
        F("warnings", 1, n_diag("warning")),
        F("precisions", []),
        F("errors", 0, n_diag("error")),
    ],
    "p232-ros2-launch-node-prefix-trt-onnx-header-memusage-building.log": [
        F("memory.peak_gpu_bytes", 3456 * MiB),
        F("memory.cpu_peak_bytes", 2635 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p233-trtllm-pytorch-rank-tags-quoted-cuda-oom-url-wrapped-module-repr.log": [
        F("errors (two ranks)", 2, n_diag("error")),
        F("CUDA OOM error", True, has_diag("error", "CUDA out of memory")),
        F("wrapped 'bles)' joined", True, has_diag("error", "bles)")),
        F("memory.requested_bytes", 40 * MiB),
        F("status", "failed"),
    ],
    "p234-triton-trtllm-backend-mpi-two-ranks-engine-size-44686-mib.log": [
        F("memory.engine_bytes", 44686 * MiB),
        F("warnings", 3, n_diag("warning")),
        F("errors", 0, n_diag("error")),
    ],
    "p235-triton-trtllm-model-table-wrapped-default-mem-pool-not-supported.log": [
        F("errors (the UNAVAILABLE row)", 1, n_diag("error")),
        F("error source (wrapped row)", 1, n_diag("error", source="bufferManager.cpp:170")),
        F("tensorrt_llm failed", True, _failed("tensorrt_llm")),
        F("models ready", 2, lambda r: len(r.build.triton.models_ready)),
        F("status", "failed"),
    ],
    "p236-trtllm-018-headless-traceback-forward-async-malloc-oom-frame.log": [
        F("errors (one traceback)", 1, n_diag("error")),
        F("RuntimeError", 1, n_diag("error", code="RuntimeError")),
        F("its message", True, has_diag("error", "out of memory")),
        F("status", "failed"),
    ],
    "p237-tf-trt-tf20-dso-loader-libnvinfer-5-numa-node.log": [
        F("TensorRT major version (libnvinfer.so.5)", "5", _major),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p238-tf-trt-tf21-segment-ops-not-converted-titan-v-device.log": [
        F("facts.device", "TITAN V"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p239-torch-tensorrt-ts-unsupported-operator-torchscript-source-here.log": [
        F("errors (one unsupported operator, its TorchScript source lines with it)", 1, n_diag("error")),
        F("its message", True, has_diag("error", "aten::addcmul")),
        F("warnings", 0, n_diag("warning")),
    ],
    "p240-triton-fastertransformer-terminate-what-ft-oom-signal-6-frames.log": [
        F("errors (terminate/what + signal 6)", 2, n_diag("error")),
        F("what() message joined", True, has_diag("error", "CUDA runtime error: out of memory")),
        F("OOM source", 1, n_diag("error", source="allocator.h:220")),
        F("status", "failed"),
    ],
    "p241-deepstream-63-warning-deserialize-open-error-try-rebuild.log": [
        F("warnings (WARNING: + 2 gst WARN)", 3, n_diag("warning")),
        F("warning sources", ["nvdsinfer_context_impl.cpp:1976", "nvdsinfer_context_impl.cpp:2081"], diag_set("warning", "source")),
        F("engine_id", "186-best_ap-1-fp16"),
        F("errors", 0, n_diag("error")),
    ],
    "p242-trtis-2019-bulleted-glog-bold-plan-not-compatible-512-vs-515.log": [
        F("errors (E0530 lines)", 2, n_diag("error")),
        F("plan incompatibility error", True, has_diag("error", "expecting library version 5.1.2 got 5.1.5")),
        F("facts.expected_trt_version", "5.1.2"),
        F("inception_plan failed", True, _failed("inception_plan")),
        F("status", "failed"),
    ],
    "p243-trtexec-trt8x-build-tail-persistent-scratch-snapshot-engine-245-mb.log": [
        F("warnings", 1, n_diag("warning")),
        F("facts.network_inputs", 2),
        F("facts.network_outputs", 1),
        F("memory.persistent_host_bytes", 170400),
        F("memory.persistent_device_bytes", 125895680),
        F("memory.scratch_bytes", 59641344),
        F("memory.engine_bytes", 245 * MiB),
        F("memory.peak_gpu_bytes", 1815 * MiB,
          miss="the reader took the largest 'now: GPU' (1815 MiB); the parser's peak is TensorRT's allocator peak, "
               "'[MemUsageStats] ... GPU 4 MiB', preferred by design (producers/trtlog/README.md, memory)"),
        F("errors", 0, n_diag("error")),
    ],
    "p244-trtllm-whisper-build-tail-activation-weights-serialized-caches.log": [
        F("memory.activation_bytes", 42924544),
        F("memory.weights_bytes", 157136256),
        F("phase_times_ms.engine_generation", 3006.21),
        F("engine_id", "rank0"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("status", "ok"),
    ],
    "p245-trt7-python-verbose-negative-tactic-ids-pointwisev2-runner.log": [
        F("tactic timings (not the fastest)", 27, _non_fastest_timings),
        F("fastest tactic", ("256", 0.050752), lambda r: next((t.tactic, t.time_ms) for t in r.build.tactic_timings if t.fastest)),
        F("negative tactic id timed", True, lambda r: any(t.tactic == "-128" and t.time_ms == 0.082336 for t in r.build.tactic_timings)),
        F("LeakyRelu_144 timings", 24, lambda r: sum(1 for t in r.build.tactic_timings if t.layer == "LeakyRelu_144")),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
}


# Round K (p246-p259): collected after round J's fixes, a random-ish mix from plain searches
# ("engine build failed", "Error Code 1: Serialization", "INT64 weights", deepstream-app errors,
# trtexec failures, TensorRT-LLM backend warnings); figures written from reading each log before
# the parser was run on any of them.
BLIND_K: dict[str, list[F]] = {
    "p246-polygraphy-comfyui-windows-prompt-progress-error-code-10-invalid-engine.log": [
        F("errors ([E] code 10, [!] invalid engine, ERROR:root:)", 3, n_diag("error")),
        F("no-implementation error (code 10)", 1, n_diag("error", code="10", category="Internal Error")),
        F("model", "4x-UltraSharp"),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p247-jetson-orin-nx-headless-safe-version-tag-0-vs-97-error-code-4.log": [
        F("errors", 2, n_diag("error")),
        F("error codes", ["1", "4"], diag_set("error", "code")),
        F("facts.runtime_serialization_version", 0),
        F("facts.engine_serialization_version", 97),
        F("status", "failed"),
    ],
    "p248-bare-error-prefix-magic-tag-twice-glued-segfault-pointpillars.log": [
        F("magic-tag errors (code 1)", 2, n_diag("error", code="1", source="stdArchiveReader.cpp:30")),
        F("deserialization errors (code 4)", 2, n_diag("error", code="4", source="runtime.cpp:50")),
        F("glued crash is an error", True, has_diag("error", "Segmentation fault")),
        F("status", "failed"),
    ],
    "p249-app-info-lines-trt8x-version-tag-213-vs-205-bytetrack.log": [
        F("errors", 2, n_diag("error")),
        F("facts.runtime_serialization_version", 213),
        F("facts.engine_serialization_version", 205),
        F("engine_id", "yolox_tiny_det_c5_trt_f16"),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p250-bare-error-prefix-leading-blank-magic-tag-runtime-65.log": [
        F("errors", 2, n_diag("error")),
        F("error sources", ["runtime.cpp:65", "stdArchiveReader.cpp:32"], diag_set("error", "source")),
        F("status", "failed"),
    ],
    "p251-cpp-app-tx2-unprefixed-int64-terminate-what-unable-to-build-aborted.log": [
        F("INT64 warning", 1, n_diag("warning", source="onnx2trt_utils.cpp:366")),
        F("errors (terminate/what + Aborted)", 2, n_diag("error")),
        F("what() message joined", True, has_diag("error", "Unable to build the TensorRT engine")),
        F("model", "yolov8n_1527"),
        F("status", "failed"),
    ],
    "p252-triton-trtllm-backend-prompt-glued-glog-pools-six-warnings.log": [
        F("triton.pinned_pool_bytes", 268435456),
        F("triton.cuda_pool_bytes", {"0": 67108864}),
        F("models loading", 3, lambda r: len(r.build.triton.models_loading)),
        F("warnings", 6, n_diag("warning")),
        F("errors", 0, n_diag("error")),
    ],
    "p253-deepstream-python-warning-model-builder-source-etlt-int8-open-error.log": [
        F("warnings", 1, n_diag("warning")),
        F("warning source", 1, n_diag("warning", source="nvdsinfer_model_builder.cpp:1487")),
        F("engine_id", "resnet18_vehicletypenet.etlt_b16_gpu0_int8"),
        F("errors", 0, n_diag("error")),
    ],
    "p254-deepstream-60-prompt-winsys-error-open-error-two-gst-warn.log": [
        F("open error", 1, n_diag("error")),
        F("gst WARN lines", 2, n_diag("warning")),
        F("warning sources", ["nvdsinfer_context_impl.cpp:1889", "nvdsinfer_context_impl.cpp:1996"], diag_set("warning", "source")),
        F("engine_id", "model_b1_gpu0_fp32"),
    ],
    "p255-deepstream-50-func-utils-trt7-core-read-archive-secondary-gie.log": [
        F("errors (3 [TRT] + model builder)", 4, n_diag("error")),
        F("serialization error source", 1, n_diag("error", source="coreReadArchive.cpp:38")),
        F("TensorRT error kinds", True,
          lambda r: {"INVALID_STATE", "INVALID_CONFIG"} <= {d.category for d in r.build.diagnostics if d.severity == "error"}),
        F("gst WARN line", 1, n_diag("warning")),
        F("engine_id", "ir50_asia-l2norm-db"),
        F("status", "failed"),
    ],
    "p256-trtexec-trt8400-windows-scales-1d-assertion-failed-then-rerun.log": [
        F("trt_version", "8.4.0"),
        F("importer assertion an error", True, has_diag("error", "The scales input must be 1D")),
        F("importer assertion code", 1, n_diag("error", code="8")),
        F("[E] lines", True, lambda r: has_diag("error", "Engine set up failed")(r) and has_diag("error", "Parsing model failed")(r)),
        F("precisions", []),
        F("status", "failed"),
    ],
    "p257-sample-onnx-mnist-trt6-windows-newer-ir-version-sub-node-0.log": [
        F("model", "tmp"),
        F("warnings (newer ir_version)", 1, n_diag("warning")),
        F("errors (one importer assertion)", 1, n_diag("error")),
        F("importer assertion", 1, n_diag("error", code="5", source="ModelImporter.cpp:296")),
        F("status", "failed"),
    ],
    "p258-onnx2trt-tx2-libprotobuf-large-message-warnings-onnx-header.log": [
        F("libprotobuf warnings", 2, n_diag("warning")),
        F("warning sources", ["coded_stream.cc:604", "coded_stream.cc:81"], diag_set("warning", "source")),
        F("model", "model"),
        F("errors", 0, n_diag("error")),
    ],
    "p259-bare-code-prefix-trt8x-size-in-header-does-not-match-archive.log": [
        F("errors", 2, n_diag("error")),
        F("error sources", ["runtime.cpp:50", "stdArchiveReader.cpp:54"], diag_set("error", "source")),
        F("size mismatch message", True, has_diag("error", "Size specified in header does not match archive size")),
        F("status", "failed"),
    ],
}


# Round L (p260-p279): collected after round K's fixes, again taken as plain searches returned them
# (INT64 and clamp warnings, onnx-tensorrt importer assertions, onnxruntime's TensorRT provider,
# Torch-TensorRT TorchScript warnings, trtexec option dumps, Jetson builds killed, DeepStream gst lines,
# Triton startup, trtllm-build memory summaries, TensorRT-LLM exceptions, TF-TRT's logger); figures
# written from reading each log before the parser was run on any of them.
BLIND_L: dict[str, list[F]] = {
    "p260-trtexec-trt8x-int64-clamped-model-importer-92-convert-onnx-weights.log": [
        F("warnings (5 INT64 + 1 clamped)", 6, n_diag("warning")),
        F("warning sources", ["onnx2trt_utils.cpp:198", "onnx2trt_utils.cpp:222"], diag_set("warning", "source")),
        F("importer assertion (one error)", 1, n_diag("error")),
        F("importer assertion code and source", 1, n_diag("error", code="8", source="ModelImporter.cpp:92")),
        F("status", "failed"),
    ],
    "p261-trtexec-trt7-int64-clamped-four-times-shape-outputs-int32-yolov4.log": [
        F("warnings", 6, n_diag("warning")),
        F("clamped warnings", 4, n_diag("warning", source="onnx2trt_utils.cpp:246")),
        F("shape-output warning", True, has_diag("warning", "Output type must be INT32 for shape outputs")),
        F("errors", 0, n_diag("error")),
    ],
    "p262-onnxruntime-windows-ep-error-loadlibrary-126-falling-back-cuda.log": [
        F("errors (EP Error, its 'when using' line joined)", 1, n_diag("error")),
        F("error source", 1, n_diag("error", source="provider_bridge_ort.cc:1131")),
        F("facts.missing_library", "onnxruntime_providers_tensorrt.dll"),
        F("status", "failed"),
    ],
    "p263-onnxruntime-2019-appending-eps-trt-errors-inside-warning-prefix.log": [
        F("TensorRT's ERROR inside onnxruntime's [W:...] is an error", 2, n_diag("error")),
        F("elementwise message", True, has_diag("error", "elementwise inputs must not be Int32")),
        F("warnings", 0, n_diag("warning")),
    ],
    "p264-onnxruntime-153-backticked-exception-during-initialization-get-supported-list.log": [
        F("errors", 1, n_diag("error")),
        F("error source (where it was thrown)", 1, n_diag("error", source="tensorrt_execution_provider.cc:480")),
        F("exception message", True, has_diag("error", "graph_build.Resolve().IsOK() was false")),
        F("status", "failed"),
    ],
    "p265-torch-tensorrt-ts-truncating-warnings-lazy-loading-conformer.log": [
        F("warnings", 10, n_diag("warning")),
        F("lazy-loading warning (Conversion Context)", True, has_diag("warning", "CUDA lazy loading is not enabled")),
        F("errors", 0, n_diag("error")),
        F("precisions", []),
    ],
    "p266-torch-tensorrt-ts-two-warnings-ipython-runtimeerror-cell-header.log": [
        F("warnings", 2, n_diag("warning")),
        F("ipython RuntimeError header is an error", 1, n_diag("error")),
        F("status", "failed"),
    ],
    "p267-torch-tensorrt-ts-multiline-dtype-warnings-roberta.log": [
        F("warnings", 2, n_diag("warning")),
        F("continuation lines joined", True, has_diag("warning", "require_full_compilation")),
        F("errors ('may cause an error' is advice)", 0, n_diag("error")),
    ],
    "p268-trtexec-trt8503-conda-prompt-fp32-fp16-save-engine-named-onnx.log": [
        F("trt_version", "8.5.3"),
        F("precisions", ["fp16"]),
        F("model", "pallet_model_v1_all"),
        F("engine_id", "out"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p269-retinanet-examples-nano-building-fp16-core-model-killed.log": [
        F("Killed is an error", 1, n_diag("error")),
        F("precisions", ["fp16"]),
        F("status", "failed"),
    ],
    "p270-python-trt7-efficientdet-nano-int64-plugin-import-engine-builder.log": [
        F("warnings", 1, n_diag("warning", source="onnx2trt_utils.cpp:220")),
        F("errors", 0, n_diag("error")),
        F("plugin_fallbacks", ["ResizeNearest_TRT", "BatchedNMS_TRT"]),  # written as 1 at first: a miscount (its "Successfully created plugin" line says it too)
        F("precisions", ["fp16"]),
        F("model", "efficientdet-d0-legacy"),
    ],
    "p271-python-trt7-verbose-backtick-pwn-fusion-235-layers-merging-yolov4.log": [
        F("fusions", 1, lambda r: len(r.build.fusions)),
        F("layers_after", 235),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p272-trtexec-trt7-indented-prompt-glued-running-fp16-workspace-yolov5.log": [
        F("precisions", ["fp16"]),
        F("model", "yolov5s_cuda"),
        F("engine_id", "yolov5"),
        F("command", True, lambda r: str(r.build.facts.get("command", "")).startswith("trtexec --onnx=yolov5s_cuda.onnx")),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p273-sd-webui-trt-windows-libprotobuf-starred-path-anything-v3.log": [
        F("libprotobuf warning", 1, n_diag("warning")),
        F("warning source", 1, n_diag("warning", source="coded_stream.cc:604")),
        F("model", "Anything-V3.0-pruned-fp32"),
        F("errors", 0, n_diag("error")),
    ],
    "p274-trtexec-trt861-plan-positional-model-missing-format-not-recognized.log": [
        F("trt_version", "8.6.1"),
        F("model-missing error", True, has_diag("error", "Model missing or format not recognized")),
        F("errors", 1, n_diag("error")),
        F("status", "failed"),
    ],
    "p275-deepstream-gst-unstamped-warn-info-use-engine-file-failed-to-read.log": [
        F("gst WARN line", 1, n_diag("warning")),
        F("warning message", True, has_diag("warning", "Failed to read from model engine file")),
        F("errors", 0, n_diag("error")),
    ],
    "p276-triton-2x-prompt-glog-two-gpus-nvml-not-supported-warnings.log": [
        F("triton.pinned_pool_bytes", 268435456),
        F("triton.cuda_pool_bytes", {"0": 67108864}),
        F("NVML warnings", 6, n_diag("warning")),
        F("errors (NVML_ERROR inside a W line)", 0, n_diag("error")),
        F("facts.gpu_count", 2),
        F("facts.device", "TITAN RTX"),
        F("command", True, lambda r: str(r.build.facts.get("command", "")).startswith("/opt/tritonserver/bin/tritonserver --model-repository=./models")),
    ],
    "p277-trtllm-build-whisper-memory-summary-killed-prompt-continued-command.log": [
        F("facts.network_inputs", 2),
        F("facts.network_outputs", 1),
        F("memory.persistent_host_bytes", 21696),
        F("memory.scratch_bytes", 184320000),
        F("memory.activation_bytes", 399360000),
        F("memory.weights_bytes", 1274045696),
        F("phase_times_ms.engine_generation", 13443.9),
        F("memory.peak_gpu_bytes", 1215 * MiB),
        F("Killed is an error", 1, n_diag("error")),
        F("status", "failed"),
    ],
    "p278-trtllm-010-terminate-tllm-exception-cudamemgetinfo-frames.log": [
        F("errors (terminate + what() one error)", 1, n_diag("error")),
        F("error source", 1, n_diag("error", source="cudaUtils.h:319")),
        F("what() message", True, has_diag("error", "CUDA runtime error in cudaMemGetInfo")),
        F("status", "failed"),
    ],
    "p279-tf-trt-defaultlogger-cannot-set-empty-memory-between-steps.log": [
        F("errors", 9, n_diag("error")),
        F("TensorRT error kind", 9, n_diag("error", category="INVALID_ARGUMENT")),
        F("warnings", 0, n_diag("warning")),
    ],
}


# Round M (p280-p301): collected while round L was being measured (so before its fixes), taken as
# plain searches returned them with runtime output favoured over builds (deserialization and version
# errors, enqueue and CUDA errors at inference, Triton model loads, TensorRT-LLM runtime, onnxruntime's
# TensorRT execution provider at session creation, DeepStream at runtime, a trtexec inference summary);
# figures written from reading each log before the parser was run on any of them.
BLIND_M: dict[str, list[F]] = {
    "p280-python-trt1011-windows-app-logger-version-tag-240-vs-239-fungen.log": [
        F("facts.runtime_serialization_version", 240),
        F("facts.engine_serialization_version", 239),
        F("memory.engine_bytes", 29 * MiB),
        F("errors ([TRT] [E] + the application's ERROR:)", 2, n_diag("error")),
        F("version-tag error", 1, n_diag("error", code="1", category="Serialization", source="IRuntime::deserializeCudaEngine")),
        F("engine_id", "FunGen-12s-pov-1.1.0"),
        F("trt_version (the runtime the application names)", "10.11.0.33", lambda r: r.build.trt_version),
        F("status", "failed"),
    ],
    "p281-onnxruntime-trt-ep-enqueuev3-cuda-runtime-invalid-resource-handle.log": [
        F("errors (enqueueV3 twice + the executor's)", 3, n_diag("error")),
        F("enqueueV3 errors", 2, n_diag("error", code="1", category="Cuda Runtime", source="IExecutionContext::enqueueV3")),
        F("executor error source", 1, n_diag("error", source="sequential_executor.cc:516")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p282-triton-trtllm-compose-prefix-failed-deserialize-cuda-engine-frames.log": [
        F("errors (the E line)", 1, n_diag("error")),
        F("error source", 1, n_diag("error", source="tllmRuntime.cpp:129")),
        F("its message", True, has_diag("error", "Failed to deserialize cuda engine")),
        F("tensorrt_llm failed", True, _failed("tensorrt_llm")),
        F("status", "failed"),
    ],
    "p283-torch2trt-trt514-engine-deserialize-assertion-size-mismatch.log": [
        F("errors", 1, n_diag("error")),
        F("assertion source", 1, n_diag("error", source="engine.cpp:1104")),
        F("status", "failed"),
    ],
    "p284-mmdeploy-trt8x-illegal-memory-access-scoped-cuda-event-repeated.log": [
        F("errors", 8, n_diag("error")),
        F("illegal memory access errors", 8, n_diag("error", code="1", category="Cuda Runtime", source="cudaResources.cpp:24")),
        F("distinct error entries", 1, lambda r: len(r.build.diagnostics)),
        F("status", "failed"),
    ],
    "p285-onnxruntime-115-windows-wrapped-lines-plugin-groupnorm-get-supported-list.log": [
        F("facts.plugin_not_found", True),
        F("plugin_fallbacks", ["GroupNorm"]),
        F("errors (plugin, Initialize, RuntimeException)", 3, n_diag("error")),
        F("plugin error code", 1, n_diag("error", code="3")),
        F("exception source", 1, n_diag("error", source="tensorrt_execution_provider.cc:1352")),
        F("status", "failed"),
    ],
    "p286-onnxruntime-windows-session-initialize-bad-allocation-traceback.log": [
        F("errors (the E line + the traceback)", 2, n_diag("error")),
        F("E line source", 1, n_diag("error", source="inference_session.cc:925")),
        F("traceback at its innermost frame", 1, n_diag("error", source="session.py:177")),
        F("model", "de"),
        F("status", "failed"),
    ],
    "p287-onnxruntime-java-tensorrt-options-cuda-provider-library-missing-tab-frames.log": [
        F("facts.missing_library", "libonnxruntime_providers_cuda.so"),
        F("errors (the E line + the Java exception)", 2, n_diag("error")),
        F("E line source (the location its message names)", 1, n_diag("error", source="provider_bridge_ort.cc:1778")),
        F("Java exception an error", True, has_diag("error", "CUDA Provider not available")),
        F("status", "failed"),
    ],
    "p288-trtllm-pytorch-autotuner-executor-rank-3-illegal-memory-access-moe.log": [
        F("errors", 1, n_diag("error")),
        F("error source", 1, n_diag("error", source="moe_kernels.cu:1282")),
        F("its message", True, has_diag("error", "an illegal memory access was encountered")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p289-cosyvoice-trtllm-tqdm-glued-logging-terminate-no-kernel-image.log": [
        F("warnings (glued after the progress bar)", 1, n_diag("warning")),
        F("errors (terminate/what)", 1, n_diag("error")),
        F("error source", 1, n_diag("error", source="decoderMaskedMultiheadAttentionLaunch.h:274")),
        F("what() message joined", True, has_diag("error", "no kernel image is available")),
        F("status", "failed"),
    ],
    "p290-sample-mnist-trt7234-windows-prompt-cudnn-execute-conv-failed-twice.log": [
        F("errors", 2, n_diag("error")),
        F("cuDNN error source", 2, n_diag("error", source="cudaConvolutionRunner.cpp:483")),
        F("warnings", 1, n_diag("warning")),
        F("facts.cudnn_linked_version", "8.1.0"),
        F("facts.cudnn_version", "8.0.2"),
        F("status", "failed"),
    ],
    "p291-trt-tag-trt7-windows-deconvolution-runner-cudnn-failed-execution.log": [
        F("errors", 2, n_diag("error")),
        F("cuDNN error source", 1, n_diag("error", source="cudaDeconvolutionRunner.cpp:247")),
        F("FAILED_EXECUTION kind", 1, n_diag("error", category="FAILED_EXECUTION")),
        F("status", "failed"),
    ],
    "p292-torch2trt-trt6-backticked-cudnn-mismatch-pooling-runner-failed-execution.log": [
        F("warnings", 2, n_diag("warning")),
        F("errors", 2, n_diag("error")),
        F("cuDNN error source", 1, n_diag("error", source="cudaPoolingRunner.cpp:84")),
        F("FAILED_EXECUTION kind", 1, n_diag("error", category="FAILED_EXECUTION")),
        F("facts.cudnn_linked_version", "7.6.3"),
        F("facts.cudnn_version", "7.6.0"),
        F("status", "failed"),
    ],
    "p293-deepstream-pose-orin-nx-config-lines-warning-open-error-try-rebuild.log": [
        F("warnings (WARNING: + 2 gst WARN)", 3, n_diag("warning")),
        F("warning sources", ["nvdsinfer_context_impl.cpp:1976", "nvdsinfer_context_impl.cpp:2081"], diag_set("warning", "source")),
        F("engine_id", "yolo11n-pose.onnx_b1_gpu0_fp32"),
        F("errors", 0, n_diag("error")),
    ],
    "p294-deepstream-python-jetson-pre-html-font-tags-entities-open-error.log": [
        F("open error", 1, n_diag("error")),
        F("gst WARN line (in HTML)", 1, n_diag("warning")),
        F("its source", 1, n_diag("warning", source="nvdsinfer_context_impl.cpp:1690")),
        F("engine_id", "resnet10.caffemodel_b1_gpu0_int8"),
    ],
    "p295-triton-glog-trt8x-plugin-not-found-batchtile-tao-ssd-unable-to-create.log": [
        F("plugin_fallbacks", ["BatchTilePlugin_TRT"]),
        F("facts.plugin_not_found", True),
        F("error codes", ["1", "3", "4"], diag_set("error", "code")),
        F("errors", 4, n_diag("error")),
        F("tao_ssd failed", True, _failed("tao_ssd")),
        F("status", "failed"),
    ],
    "p296-mmdeploy-mmengine-padded-warning-plugin-library-iplugincreator-not-found.log": [
        F("warnings", 1, n_diag("warning")),
        F("errors", 2, n_diag("error")),
        F("error sources", ["pluginV2Runner.cpp:290", "runtime.cpp:50"], diag_set("error", "source")),
        F("facts.plugin_not_found", True),
        F("status", "failed"),
    ],
    "p297-trtllm-014-runtime-engine-68370-mib-oom-failed-deserialize-tlc-init.log": [
        F("memory.engine_bytes", 68370 * MiB),
        F("memory.requested_bytes", 69568823808),
        F("warnings", 2, n_diag("warning")),
        F("errors (2 Cuda Runtime, 1 OutOfMemory, tlc_init)", 4, n_diag("error")),
        F("OutOfMemory error", 1, n_diag("error", code="2", category="OutOfMemory", source="deserialize.cpp:572")),
        F("tlc_init error source", 1, n_diag("error", source="tllmRuntime.cpp:135")),
        F("status", "failed"),
    ],
    "p298-triton-trtllm-backend-fence-glued-banner-memusage-kv-cache-14575206400.log": [
        F("facts.kv_cache_bytes", 14575206400),
        F("facts.kv_cache_tokens", 35584),
        F("memory.peak_gpu_bytes", 17839 * MiB),
        F("memory.cpu_peak_bytes", 13884 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p299-trtis-1812-tf-trt-default-logger-tensor-scales-native-segment.log": [
        F("errors", 1, n_diag("error")),
        F("error source", 1, n_diag("error", source="cudnnBuilder2.cpp:1508")),
        F("warnings", 2, n_diag("warning")),
        F("status", "failed"),
    ],
    "p300-trtexec-jetson-backticked-unstamped-perf-summary-glued-walltime-cov.log": [
        F("perf.throughput_qps", 169.352),
        F("perf.latency.mean_ms", 5.93288),
        F("perf.latency.p99_ms", 6.17407),
        F("perf.gpu_compute.mean_ms", 3.63242),
        F("perf.d2h.mean_ms", 1.47722),
        F("perf.host_walltime_ms", 3052.81),
        F("perf.gpu_compute_cov_pct", 5.55763),
    ],
    "p301-triton-trtllm-backend-071-malloc-async-oom-failed-create-instance-frames.log": [
        F("errors", 1, n_diag("error")),
        F("error source", 1, n_diag("error", source="tllmBuffers.h:112")),
        F("its message", True, has_diag("error", "out of memory")),
        F("status", "failed"),
    ],
}


# Round N (p302-p316): collected after round M's fixes, taken as plain searches returned them
# (trtexec and Python build failures with no implementation for a Myelin node, a TensorRT-LLM build
# out of scratch space, TensorRT 7 deserialization on a Jetson Nano, DeepStream plugin lookups and
# enqueue failures, onnxruntime's provider library load, TensorRT 3's [GIE] lines, a TensorRT 4
# builder assertion, TF-TRT rebuilding an engine, trtexec option dumps, a Triton model table);
# figures written from reading each log before the parser was run on any of them.
BLIND_N: dict[str, list[F]] = {
    "p302-trt-python-verbose-myelin-time-inf-could-not-find-implementation-error-build.log": [
        F("errors (2 TRT + the application's Error:)", 3, n_diag("error")),
        F("code 10 errors", 2, n_diag("error", code="10")),
        F("Error Code 10 source", 1, n_diag("error", code="10", category="Internal Error", source="optimizer.cpp:3869")),
        F("its message", True, has_diag("error", "Could not find any implementation for node")),
        F("application error", True, has_diag("error", "Build serialized network failed")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p303-trtexec-trt8601-nvrtc-check-failed-skipping-tactic-no-myelin-error-sam3.log": [
        F("errors (NVRTC check + 2 Error[10] + 4 trtexec)", 7, n_diag("error")),
        F("NVRTC check source", 1, n_diag("error", source="nvrtc_compile.cpp:940")),
        F("code 10 errors", 2, n_diag("error", code="10")),
        F("Error Code 10 source", 1, n_diag("error", source="optimizer.cpp:3869")),
        F("skipped tactics", ["0x0000000000000000"], skipped),
        F("trt_version", "8.6.1"),
        F("model", "sam3_static"),
        F("engine_id", "sam3_fp16"),
        F("status", "failed"),
    ],
    "p304-trtexec-trt8522-cut-first-bracket-error-10-assertion-engine-nullptr.log": [
        F("errors (the cut first line too)", 2, n_diag("error")),
        F("error codes", ["10", "2"], diag_set("error", "code")),
        F("error sources", ["builder.cpp:751", "optimizer.cpp:3728"], diag_set("error", "source")),
        F("Internal Error kind", 2, n_diag("error", category="Internal Error")),
        F("status", "failed"),
    ],
    "p305-python-trt71-jetson-nano-magic-tag-invalid-state-deserialize-failed.log": [
        F("errors", 3, n_diag("error")),
        F("serialization error source", 1, n_diag("error", source="coreReadArchive.cpp:31")),
        F("magic tag message", True, has_diag("error", "Magic tag does not match")),
        F("INVALID_STATE kind", 1, n_diag("error", category="INVALID_STATE")),
        F("INVALID_CONFIG kind", 1, n_diag("error", category="INVALID_CONFIG")),
        F("status", "failed"),
    ],
    "p306-deepstream-60-bold-markdown-iplugincreator-not-found-deserialize-failed.log": [
        F("errors", 3, n_diag("error")),
        F("error sources", ["pluginV2Runner.cpp:290", "runtime.cpp:50"], diag_set("error", "source")),
        F("error codes", ["1", "4"], diag_set("error", "code")),
        F("facts.plugin_not_found", True),
        F("engine_id", "best"),
        F("status", "failed"),
    ],
    "p307-trtllm-build-dash-rules-scratch-space-error-code-4-paren-next-line.log": [
        F("errors", 1, n_diag("error")),
        F("code 4 error", 1, n_diag("error", code="4", category="Internal Error", source="IBuilder::buildSerializedNetwork")),
        F("its message", True, has_diag("error", "requires 210571452800 bytes of scratch space")),
        F("memory.requested_bytes", 210571452800),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p308-onnxruntime-151-windows-provider-bridge-failed-load-library-126.log": [
        F("errors (the E line + the append call's)", 2, n_diag("error")),
        F("E line source", 1, n_diag("error", source="provider_bridge_ort.cc:633")),
        F("append call's message", True, has_diag("error", "Failed to load shared library")),
        F("status", "failed"),
    ],
    "p309-trtexec-trt10120-windows-dollar-prompt-static-plugins-build-options-yolo11n-pose.log": [
        F("trt_version", "10.12.0"),
        F("precisions", ["fp16"]),
        F("model", "yolo11n-pose"),
        F("engine_id", "yolo11n-pose"),
        F("command", True, lambda r: str(r.build.facts.get("command", "")).startswith("trtexec --onnx=models/yolo11n-pose.onnx")),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p310-deepstream-face-xavier-nx-plugin-v2-dynamic-ext-execute-enqueue-failed-twice.log": [
        F("errors (3 ERROR lines twice + the gst Error:)", 7, n_diag("error")),
        F("TRT assertion errors", 2, n_diag("error", code="2", source="pluginV2DynamicExtRunner.cpp:115")),
        F("enqueue failures", True, has_diag("error", "Failed to enqueue trt inference batch")),
        F("gst WARN line", 1, n_diag("warning")),
        F("its source", 1, n_diag("warning", source="gstnvinfer.cpp:1357")),
        F("status", "failed"),
    ],
    "p311-jetson-inference-gie-trt3-tx2-quoted-cudnn-engine-cuda-error-4.log": [
        F("TensorRT major version (TensorRT version 3.0)", "3", _major),
        F("errors (Cuda Error, failed to build, 2 failed to load, 2 failed to initialize)", 6, n_diag("error")),
        F("Cuda Error source", 1, n_diag("error", code="4", source="cudnnEngine.cpp:55")),
        F("engine build failure", True, has_diag("error", "failed to build CUDA engine")),
        F("model", "bvlc_alexnet"),
        F("status", "failed"),
    ],
    "p312-cpp-app-trt4-tx2-args-dump-tactic-optimizer-no-supported-formats-aborted.log": [
        F("errors (assertion + Aborted)", 2, n_diag("error")),
        F("assertion source", 1, n_diag("error", source="tacticOptimizer.cpp:2204")),
        F("assertion message", True, has_diag("error", "no supported formats")),
        F("model", "yolov3_608"),
        F("precisions", []),  # mode=fp32
        F("status", "failed"),
    ],
    "p313-deepstream-61-xavier-backtick-app-yolo-nas-open-error-try-rebuild.log": [
        F("warnings (WARNING: + 2 gst WARN)", 3, n_diag("warning")),
        F("warning sources", ["nvdsinfer_context_impl.cpp:1888", "nvdsinfer_context_impl.cpp:1993"], diag_set("warning", "source")),
        F("engine_id", "model_b1_gpu0_fp32"),
        F("errors", 0, n_diag("error")),
    ],
    "p314-tf-trt-tf22-rebuild-engine-op-linked-loaded-601-checkpoint-warning.log": [
        F("trt_version (Linked/Loaded TensorRT version)", "6.0.1", lambda r: r.build.trt_version),
        F("Python logging warning", 1, n_diag("warning")),
        F("its message", True, has_diag("warning", "Unresolved object in checkpoint")),
        F("errors", 0, n_diag("error")),
    ],
    "p315-jetson-benchmarks-trtexec-trt7-caffe-int8-load-engine-options-head.log": [
        F("precisions", ["int8"]),
        F("engine_id", "pose_estimation_b2_ws2048_gpu"),
        F("model", "pose_estimation"),
        F("command", True, lambda r: str(r.build.facts.get("command", "")).startswith("./trtexec --output=Mconv7_stage2_L2")),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p316-triton-2107-verbose-model-table-unknown-execution-accelerator-tensorrt.log": [
        F("errors (the UNAVAILABLE row)", 1, n_diag("error")),
        F("its message", True, has_diag("error", "unknown Execution Accelerator 'tensorrt' is requested")),
        F("encode_onnx failed", True, _failed("encode_onnx")),
        F("status", "failed"),
    ],
}


# Round O (p317-p329): collected after round N's fixes, taken as plain searches returned them
# (a Torch-TensorRT TorchScript compile refused for an unsupported operator, a trtexec DLA run on a
# Jetson Orin, mmdeploy's plugin imports and a DLA fallback warning, TensorRT 10 Python API
# AttributeErrors, onnxruntime's TensorRT EP at inference and calibration, a trtexec Myelin failure at
# inference, Triton plan loads and a TensorRT-LLM model table); figures written from reading each log
# before the parser was run on any of them.
BLIND_O: dict[str, list[F]] = {
    "p317-torch-tensorrt-torchscript-unsupported-one-hot-method-cannot-be-compiled.log": [
        F("errors (2 Unsupported operator + Method requested)", 3, n_diag("error")),
        F("unsupported operator", True, has_diag("error", "Unsupported operator: aten::one_hot")),
        F("compile refused", True, has_diag("error", "Method requested cannot be compiled by Torch-TensorRT")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p318-jetson-inference-trtexec-dla-segnet-engine-built-deserialized-trace.log": [
        F("memory.engine_bytes", 26 * MiB),
        F("memory.context_bytes", 4 * MiB),
        F("phase_times_ms.engine_deserialize", 4.59798),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p319-mmdeploy-jetson-trt-python-plugin-imports-dla-profiles-falling-back-gpu.log": [
        F("plugin_fallbacks", ["GridPriorsTRT", "TRTBatchedNMS"]),
        F("warnings", 1, n_diag("warning")),
        F("DLA fallback warning", True, has_diag("warning", "All dla layers are falling back to GPU")),
        F("errors", 0, n_diag("error")),
    ],
    "p320-triton-trtllm-bert-model-table-wrapped-unavailable-json-key-num-layers.log": [
        F("errors (the UNAVAILABLE row)", 1, n_diag("error")),
        F("its message, wrapped row joined", True, has_diag("error", "key 'num_layers' not found")),
        F("tensorrt_llm failed", True, _failed("tensorrt_llm")),
        F("postprocessing ready", True, _ready("postprocessing")),
        F("status", "failed"),
    ],
    "p321-onnxruntime-trt-ep-progress-bar-glued-enqueuev3-error-code-3-markdown-link.log": [
        F("errors", 1, n_diag("error")),
        F("Error Code 3", 1, n_diag("error", code="3", category="API Usage Error", source="IExecutionContext::enqueueV3")),
        F("its message", True, has_diag("error", "Neither address or allocator is set for output tensor")),
        F("status", "failed"),
    ],
    "p322-trtexec-enqueuev3-bindings-myelin-final-synchronize-failed-700.log": [
        F("errors", 1, n_diag("error")),
        F("Error Code 1 Myelin", 1, n_diag("error", code="1", category="Myelin", source="runner.cpp:718")),
        F("its message", True, has_diag("error", "Final synchronize failed (700)")),
        F("status", "failed"),
    ],
    "p323-yolov7-tensorrt-python-export-prompt-namespace-trt-info-cut-traceback.log": [
        F("model", "best"),
        F("engine_id", "yolov7-foodai-nms"),
        F("precisions", ["fp16"]),
        F("warnings", 0, n_diag("warning")),
    ],
    "p324-faster-live-portrait-trt10-onnx2trt-attributeerror-max-workspace-size.log": [
        F("errors (the AttributeError)", 1, n_diag("error")),
        F("its message", True, has_diag("error", "has no attribute 'max_workspace_size'")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p325-yolo-series-export-memusagesnapshot-attributeerror-set-memory-pool-limit.log": [
        F("errors (the AttributeError)", 1, n_diag("error")),
        F("its message", True, has_diag("error", "has no attribute 'set_memory_pool_limit'")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p326-onnxruntime-trt-ep-int8-indented-calibrator-not-being-used-warning.log": [
        F("warnings", 1, n_diag("warning")),
        F("its message", True, has_diag("warning", "Calibrator is not being used")),
        F("errors", 0, n_diag("error")),
    ],
    "p327-triton-2009-unprefixed-core-read-archive-h-type-mismatch-invalid-state.log": [
        F("errors (Serialization Error + the E1201 line)", 2, n_diag("error")),
        F("serialization error source", 1, n_diag("error", source="coreReadArchive.h:271")),
        F("its message", True, has_diag("error", "Type mismatch")),
        F("std::exception", True, has_diag("error", "std::exception")),
        F("status", "failed"),
    ],
    "p328-triton-2401-trt10-version-tag-236-239-failed-to-load-det-auto-complete.log": [
        F("errors", 2, n_diag("error")),
        F("Error Code 1 Serialization", 1, n_diag("error", code="1", category="Serialization", source="stdArchiveReader.cpp:46")),
        F("facts.runtime_serialization_version", 236),
        F("facts.engine_serialization_version", 239),
        F("det failed", True, _failed("det")),
        F("status", "failed"),
    ],
    "p329-torch-tensorrt-ngc-2204-backticked-plan-not-compatible-expecting-824-got-823.log": [
        F("errors", 1, n_diag("error")),
        F("its message", True, has_diag("error", "not compatible with this version of TensorRT")),
        F("facts.expected_trt_version", "8.2.4"),
        F("status", "failed"),
    ],
}


# Round P (p330-p342): collected after round O's fix, taken as plain searches returned them
# (TensorRT 7-8 build errors and INT64 warnings, a trtexec option dump, trtllm-build plugin settings,
# TensorRT-LLM out of memory in a benchmark, C++ API usage errors, a Python engine load, a C++ loader's
# assertion, DeepStream 6.0 engine open errors); figures written from reading each log before the
# parser was run on any of them.
BLIND_P: dict[str, list[F]] = {
    "p330-voltaml-sd-trt-error-code-10-foreign-node-matmul-assertion-engine-nullptr.log": [
        F("errors", 2, n_diag("error")),
        F("Error Code 10 Internal Error", 1, n_diag("error", code="10", category="Internal Error", source="optimizer.cpp:3728")),
        F("Error Code 2 assertion", 1, n_diag("error", code="2", source="builder.cpp:751")),
        F("its message", True, has_diag("error", "Could not find any implementation for node")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p331-onnx-tensorrt-trt7-int64-weights-cast-down-seven-warnings.log": [
        F("warnings (7 INT64 lines)", 7, n_diag("warning")),
        F("their source", 7, n_diag("warning", source="onnx2trt_utils.cpp:198")),
        F("errors", 0, n_diag("error")),
    ],
    "p332-dcnv2-trt-verbose-importing-initializer-int64-warnings-interleaved.log": [
        F("warnings (5 INT64 lines)", 5, n_diag("warning")),
        F("its message", True, has_diag("warning", "generated with INT64 weights")),
        F("errors", 0, n_diag("error")),
    ],
    "p333-onnx-tensorrt-trtexec-explicit-batch-faster-rcnn-options-dump.log": [
        F("model", "faster_rcnn_inception_v2_coco_guenther_updated_opset11_onnx1.6",
          miss="trtexec's own 'Model:' line names another file than the pasted command's --onnx; reading the "
               "'Model:' line first fixes it but changes p256's model (a log with two runs), so it stays a gap"),
        F("precisions", []),  # trtexec says Precision: FP32
        F("command", True, lambda r: str(r.build.facts.get("command", "")).startswith("trtexec --onnx=/workspace/faster_rcnn_inception_v2_coco.onnx")),
        F("errors", 0, n_diag("error")),
        F("warnings", 0, n_diag("warning")),
    ],
    "p334-trtllm-build-0100-dev-set-plugin-lines-head.log": [
        F("facts.trtllm_version", "0.10.0.dev2024043000"),
        F("facts.trtllm.gemm_plugin", "None"),
        F("facts.trtllm.gpt_attention_plugin", "float16"),
        F("facts.trtllm.context_fmha", "True"),
        F("facts.trtllm.paged_kv_cache", "True"),
        F("facts.tokens_per_block", 128),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p335-pointcloud-detector-cpp-model-infos-runtime-destroyed-before-engines-error-code-3.log": [
        F("errors (one, its ')' line joined)", 1, n_diag("error")),
        F("Error Code 3 API Usage Error", 1, n_diag("error", code="3", category="API Usage Error", source="runtime.cpp:346")),
        F("its message", True, has_diag("error", "Destroying a runtime before destroying deserialized engines")),
        F("warnings", 0, n_diag("warning")),
    ],
    "p336-trtllm-benchmark-py-context-memory-cuda-oom-skipping-exceptions.log": [
        F("facts.trtllm_version", "0.11.0.dev2024052800"),
        F("errors (2 exceptions)", 2, n_diag("error")),
        F("their message", True, has_diag("error", "CUDA out of memory")),
        F("memory.context_bytes", 10304 * MiB),
    ],
    "p337-sunone-aimbot-trt-python-engine-deserialization-context-memusage-only.log": [
        F("memory.engine_bytes", 61 * MiB),
        F("memory.context_bytes", 35 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p338-torch2trt-cpp-loader-engine-cpp-868-deserialize-assertion-size-mismatch.log": [
        F("errors", 1, n_diag("error")),
        F("its source", 1, n_diag("error", source="engine.cpp:868")),
        F("its message", True, has_diag("error", "Mismatch between allocated memory size and expected size of serialized engine")),
        F("status", "failed"),
    ],
    "p339-tensorrt-trt7-upsample-opset11-int64-warnings-in-fence.log": [
        F("warnings (6 INT64 lines)", 6, n_diag("warning")),
        F("their source", 6, n_diag("warning", source="onnx2trt_utils.cpp:198")),
        F("errors", 0, n_diag("error")),
    ],
    "p340-face-mask-deepstream-60-bold-markdown-open-error-int8-two-gst-warn.log": [
        F("open error (in bold)", 1, n_diag("error")),
        F("its source", 1, n_diag("error", source="nvdsinfer_model_builder.cpp:1484")),
        F("gst WARN lines", 2, n_diag("warning")),
        F("warning sources", ["nvdsinfer_context_impl.cpp:1889", "nvdsinfer_context_impl.cpp:1996"], diag_set("warning", "source")),
        F("engine_id", "resnet18_detector.etlt_b1_gpu0_int8"),
    ],
    "p341-deepstream-yolo-tx2-601-yolov4-open-error-rebuild-weights-read.log": [
        F("open error", 1, n_diag("error")),
        F("gst WARN lines", 2, n_diag("warning")),
        F("engine_id", "model_b1_gpu0_fp32"),
        F("model", "yolov4"),
    ],
    "p342-bevdet-cpp-export-backticked-get-input-error-code-3-segfault.log": [
        F("errors (Error Code 3 + the segfault)", 2, n_diag("error")),
        F("Error Code 3 API Usage Error", 1, n_diag("error", code="3", category="API Usage Error", source="network.cpp:1888")),
        F("its condition", True, has_diag("error", "index < getNbInputs()")),
        F("status", "failed"),
    ],
}


# Round Q (p343-p357): collected after round P's fixes, taken as plain searches returned them (trtexec
# build failures with no implementation for a node, version-tag refusals on a Jetson and on Windows,
# Torch-TensorRT's compile spec and a runtime binding error, DeepStream 5.0 to 6.2 warnings and plugin
# lookups, TensorRT 7 assertions from a tensorrtx build and a C++ demo, a trtexec 8.0 option dump behind
# a Python script, mmdeploy's [GpuLayer] list, an application's own tab-and-pipe logger, a TensorRT-LLM
# build that terminated); figures written from reading each log before the parser was run on any of them.
BLIND_Q: dict[str, list[F]] = {
    "p343-lidar-ai-centerpoint-trtexec-error-code-10-convtranspose-engine-set-up-failed.log": [
        F("errors (2 Error[N] + 4 trtexec)", 6, n_diag("error")),
        F("Error Code 10 Internal Error", 1, n_diag("error", code="10", category="Internal Error", source="optimizer.cpp:1855")),
        F("Error Code 2 assertion", 1, n_diag("error", code="2", source="builder.cpp:417")),
        F("its node", True, has_diag("error", "Could not find any implementation for node ConvTranspose_56")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p344-cuda-bevfusion-head-bbox-fastest-tactic-time-inf-timing-cache-foreign-node.log": [
        F("errors", 1, n_diag("error")),
        F("Error Code 10 source", 1, n_diag("error", code="10", category="Internal Error", source="optimizer.cpp:2033")),
        F("its message", True, has_diag("error", "Could not find any implementation for node {ForeignNode[")),
        F("fastest tactic (negative decimal id)", "-3360065831133338131",
          lambda r: next((t.tactic for t in r.build.tactic_timings if t.fastest), None),
          miss="-3360065831133338131 is 0xd15ea5edd15ea5ed, TensorRT's no-tactic sentinel, and 'Time: inf' says no tactic "
               "could be timed: the line reports that nothing was fastest, so the parser records no fastest tactic (a "
               "definition, as in p303; the reader took it for a timing)"),
        F("status", "failed"),
    ],
    "p345-tensorrt-jetson-docker-safe-version-tag-0-vs-43-deserialize.log": [
        F("errors", 2, n_diag("error")),
        F("Error Code 1 Serialization", 1, n_diag("error", code="1", category="Serialization", source="stdArchiveReader.cpp:35")),
        F("Error Code 4", 1, n_diag("error", code="4", source="runtime.cpp:50")),
        F("facts.runtime_serialization_version", 0),
        F("facts.engine_serialization_version", 43),
        F("status", "failed"),
    ],
    "p346-tensorrt-windows-qualified-std-archive-reader-version-213-vs-205.log": [
        F("errors", 2, n_diag("error")),
        F("Error Code 1 Serialization (qualified function)", 1, n_diag("error", code="1", category="Serialization", source="stdArchiveReader.cpp:40")),
        F("Error Code 4 (qualified function)", 1, n_diag("error", code="4", source="runtime.cpp:50")),
        F("facts.runtime_serialization_version", 213),
        F("facts.engine_serialization_version", 205),
        F("status", "failed"),
    ],
    "p347-torch-tensorrt-ts-debug-compile-spec-enabled-precision-half.log": [
        F("precisions", ["fp16"]),  # "Enabled Precision": [Half, ]
        F("errors", 0, n_diag("error")),
        F("warnings", 0, n_diag("warning")),
    ],
    "p348-torch-tensorrt-trtengine-cpp-132-binding-name-expected-true-runtimeerror.log": [
        F("errors (one RuntimeError, its reason line joined)", 1, n_diag("error")),
        F("RuntimeError at its source", 1, n_diag("error", code="RuntimeError", source="TRTEngine.cpp:132")),
        F("its reason", True, has_diag("error", "Could not find a TensorRT engine binding for output named output_0")),
        F("status", "failed"),
    ],
    "p349-deepstream-yolo-orin-62-unknown-embedded-allocation-cap-five-warnings.log": [
        F("warnings (5 repeats)", 5, n_diag("warning")),
        F("its message", True, has_diag("warning", "Unknown embedded")),
        F("errors", 0, n_diag("error")),
    ],
    "p350-tensorrtx-dbnet-trt7-fatal-assertion-int-interval-aborting-glibc-engine-nullptr.log": [
        F("errors ([F] + [E] assertions, the glibc assertion, the abort)", 4, n_diag("error")),
        F("TensorRT's assertions at intInterval.cpp:20", 2, n_diag("error", source="intInterval.cpp:20")),
        F("glibc assertion source", 1, n_diag("error", source="dbnet.cpp:759")),
        F("its condition", True, has_diag("error", "engine != nullptr")),
        F("model", "DBNet2"),  # Loading weights: ./DBNet2.wts
        F("status", "failed"),
    ],
    "p351-tensorrt-demos-mtcnn-parameter-check-blob-nullptr-trtnet-assertion-terminate.log": [
        F("errors (parameter check, app assertion, terminate, Aborted)", 4, n_diag("error")),
        F("parameter check source", 1, n_diag("error", source="runtime.cpp:30")),
        F("its condition", True, has_diag("error", "(blob) != nullptr")),
        F("application assertion source", 1, n_diag("error", source="trtNet.cpp:146")),
        F("status", "failed"),
    ],
    "p352-deepstream-video-pipeline-export-prompt-userwarning-trtexec-8001-build-options.log": [
        F("trt_version", "8.0.1"),
        F("precisions", ["fp16"]),
        F("model", "ds_trt_4"),
        F("engine_id", "ds_trt_4"),
        F("command", True, lambda r: str(r.build.facts.get("command", "")).startswith("trtexec --onnx=checkpoints/ds_trt_4.onnx")),
        F("warnings (PyTorch's UserWarning)", 1, n_diag("warning")),
        F("errors", 0, n_diag("error")),
    ],
    "p353-mmdeploy-xavier-nx-gpulayer-list-batched-nms-memusage-cublas.log": [
        F("engine layers (17 [GpuLayer] lines)", 17, lambda r: len(r.build.layers)),
        F("memory.peak_gpu_bytes", 6885 * MiB),
        F("memory.cpu_peak_bytes", 1099 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p354-jetson-yolov5-legacy-trt7-yololayer-plugin-not-found-nonetype-max-batch-size.log": [
        F("errors (4 TRT + AttributeError)", 5, n_diag("error")),
        F("plugin_fallbacks", ["YoloLayer_TRT"]),
        F("facts.plugin_not_found", True),
        F("serialization error", 1, n_diag("error", code="0", category="Serialization Error", source="safeDeserializationUtils.cpp:323")),
        F("INVALID_CONFIG kind", 1, n_diag("error", category="INVALID_CONFIG")),
        F("AttributeError at its innermost frame", 1, n_diag("error", code="AttributeError", source="yoloDet.py:39")),
        F("engine_id", "license_plate_detection"),
        F("status", "failed"),
    ],
    "p355-yolov5-deepstream-50-hardswish-plugin-not-found-invalid-config-two-gst-warn.log": [
        F("errors (4 [TRT] + the app's)", 5, n_diag("error")),
        F("plugin_fallbacks", ["HardSwishLayer_TRT"]),
        F("facts.plugin_not_found", True),
        F("serialization error source", 1, n_diag("error", source="safeDeserializationUtils.cpp:323")),
        F("gst WARN lines", 2, n_diag("warning")),
        F("warning sources", ["nvdsinfer_context_impl.cpp:1690", "nvdsinfer_context_impl.cpp:1797"], diag_set("warning", "source")),
        F("engine_id", "yolov5s"),
        F("status", "failed"),
    ],
    "p356-yolov5-tensorrt-tab-pipe-app-logger-memusage-yololayer-plugin-not-found.log": [
        F("errors (the two |error| lines)", 2, n_diag("error")),
        F("error codes", ["1", "3"], diag_set("error", "code")),
        F("Error Code 1 source", 1, n_diag("error", code="1", category="Serialization", source="pluginV2Runner.cpp:292")),
        F("plugin_fallbacks", ["YoloLayer_TRT"]),
        F("facts.plugin_not_found", True),
        F("memory.engine_bytes", 18 * MiB),
        F("memory.peak_gpu_bytes", 5675 * MiB),
        F("engine_id", "yolov5s"),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p357-trtllm-build-010-dev-yi-fp8-detected-inputs-terminate-tllm-exception.log": [
        F("facts.network_inputs", 14),
        F("facts.network_outputs", 1),
        F("warnings (RemoveDeadLayers)", 1, n_diag("warning")),
        F("errors (the terminate line)", 1, n_diag("error")),
        F("status", "failed"),
    ],
}


# Round R (p358-p372): collected after round Q's fixes, taken as plain searches returned them, runtime output
# favoured (enqueueV3 failures from a C++ application, Torch-TensorRT, onnxruntime's TensorRT EP and a Python
# wrapper over polygraphy, CUDA errors at execution and in an INT8 calibrator, plans built for another GPU on
# TensorRT 8.0-10.8, trtexec performance summaries from an Orin and a 5070 Ti, Triton's TensorRT backend
# config, a gdb backtrace of trtexec, a TensorRT-LLM executor thread that died); figures written from reading
# each log before the parser was run on any of them.
BLIND_R: dict[str, list[F]] = {
    "p358-sam3-enqueuev3-myelin-cask-fusion-cutensor-illegal-memory-access.log": [
        F("memory.engine_bytes", 1595 * MiB),
        F("phase_times_ms.engine_deserialize", 404.248),  # Deserialization required 404248 microseconds
        F("facts.aux_streams", 6),
        F("memory.persistent_device_bytes", 504320),
        F("memory.persistent_host_bytes", 81536),
        F("memory.scratch_bytes", 254820864),
        F("memory.context_bytes", 244 * MiB),
        F("memory.peak_gpu_bytes", 1827 * MiB),
        F("errors (Myelin, CuTensor, Cuda Runtime)", 3, n_diag("error")),
        F("enqueueV3 errors", 2, n_diag("error", code="1", source="IExecutionContext::enqueueV3")),
        F("error kinds", ["CuTensor", "Cuda Runtime", "Myelin"], diag_set("error", "category")),
        F("Cuda Runtime source", 1, n_diag("error", code="1", category="Cuda Runtime", source="checkMacros.cpp:212")),
        F("Myelin's message", True, has_diag("error", "Platform (Cuda) error")),
        F("status", "failed"),
    ],
    "p359-video-enhancer-torch-tensorrt-enqueuev3-myelin-cuda-error-400-eight-repeats.log": [
        F("errors (8 repeats)", 8, n_diag("error")),
        F("distinct errors", 1, lambda r: len([d for d in r.build.diagnostics if d.severity == "error"])),
        F("Myelin enqueueV3 error", 8, n_diag("error", code="1", category="Myelin", source="IExecutionContext::enqueueV3")),
        F("its message", True, has_diag("error", "CUDA error 400 launching __myl_ReplMove kernel")),
        F("status", "failed"),
    ],
    "p360-monai-vista3d-python-logging-enqueuev3-cask-convolution-cuda-error-700.log": [
        F("errors ([E] enqueueV3 + ignite's ERROR)", 2, n_diag("error")),
        F("Cask enqueueV3 error", 1, n_diag("error", code="1", category="Cask", source="IExecutionContext::enqueueV3")),
        F("ignite's error", True, has_diag("error", "Current run is terminating due to exception: CUDA error: an illegal memory access was encountered")),
        F("its continuation lines", True, has_diag("error", "asynchronously reported")),
        F("facts.engine_path", ".//models/model.pt.image_encoder.encoder.plan"),
        F("engine_id", "model.pt.image_encoder.encoder"),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p361-morpheus-onnxruntime-trt-ep-enqueue-failed-myelin-cuda-error-400.log": [
        F("errors (2 forwarded TensorRT + 2 executor)", 4, n_diag("error")),
        F("forwarded Myelin enqueueV3 errors", 2, n_diag("error", code="1", category="Myelin", source="IExecutionContext::enqueueV3")),
        F("executor error source", 2, n_diag("error", source="sequential_executor.cc:516")),
        F("its status message", True, has_diag("error", "TensorRT EP execution context enqueue failed")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p362-tensorrt-108-app-logger-empty-bracket-enqueuev3-cask-pooling-runner.log": [
        F("errors", 1, n_diag("error")),
        F("Cask enqueueV3 error", 1, n_diag("error", code="1", category="Cask", source="IExecutionContext::enqueueV3")),
        F("its message", True, has_diag("error", "Cask Pooling Runner Execute Failure")),
        F("status", "failed"),
    ],
    "p363-mmdeploy-cascade-mask-rcnn-scoped-cuda-event-destructor-nine-repeats.log": [
        F("errors (9 repeats)", 9, n_diag("error")),
        F("Cuda Runtime at its source", 9, n_diag("error", code="1", category="Cuda Runtime", source="cudaResources.cpp:24")),
        F("distinct errors", 1, lambda r: len([d for d in r.build.diagnostics if d.severity == "error"])),
        F("status", "failed"),
    ],
    "p364-tensorrt-83-bracket-stamp-severity-calibrator-add-illegal-memory-access.log": [
        F("warnings (3 layers with no conforming implementation)", 3, n_diag("warning")),
        F("distinct warnings", 3, lambda r: len([d for d in r.build.diagnostics if d.severity == "warning"])),
        F("errors", 1, n_diag("error")),
        F("calibrator's Cuda Runtime error", 1, n_diag("error", code="1", category="Cuda Runtime", source="calibrator.cpp:779")),
        F("status", "failed"),
    ],
    "p365-insightface-trt-108-iruntime-error-code-6-compute-89-vs-86-nn-init-fail.log": [
        F("errors (TensorRT's + the wrapper's three failure lines)", 4, n_diag("error"),
          miss="'NN Initialize fail' is the application's bare commentary on the failure it logged just before; the parser "
          "leaves an application's unprefixed capitalised failure lines alone by design (they would count one failure twice)"),
        F("Error Code 6", 1, n_diag("error", code="6", category="API Usage Error", source="IRuntime::deserializeCudaEngine")),
        F("facts.expected_compute_capability", "8.9"),
        F("facts.found_compute_capability", "8.6"),
        F("the wrapper's load failure", True, has_diag("error", "Failed to load TensorRT model")),
        F("status", "failed"),
    ],
    "p366-tensorrt-backticked-plan-built-for-compute-86-on-61-error-code-4.log": [
        F("errors", 2, n_diag("error")),
        F("the plan refused (code 6)", 1, n_diag("error", code="6")),
        F("Error Code 4 source", 1, n_diag("error", code="4", source="runtime.cpp:76")),
        F("facts.expected_compute_capability", "6.1"),
        F("facts.found_compute_capability", "8.6"),
        F("status", "failed"),
    ],
    "p367-tensorrt-825-plan-built-for-compute-75-on-86-glued-error-code-4.log": [
        F("errors (the refusal and the glued Error Code 4)", 2, n_diag("error")),
        F("Error Code 4 source", 1, n_diag("error", code="4", category="Internal Error", source="runtime.cpp:50")),
        F("facts.expected_compute_capability", "8.6"),
        F("facts.found_compute_capability", "7.5"),
        F("status", "failed"),
    ],
    "p368-igev-orin-trtexec-continuation-prompts-throughput-latency-enqueue.log": [
        F("perf.throughput_qps", 12.9581),
        F("latency min/mean/median/p99", (75.9753, 76.3344, 76.3436, 76.4476), section("latency", "min", "mean", "median", "p99")),
        F("enqueue mean/p99", (75.8652, 76.2788), section("enqueue", "mean", "p99")),
        F("precisions", ["fp16"]),  # --fp16 on the continued command line
        F("model", "rt_model_simplified"),
        F("facts.engine_path", "./rt_model_simplified.engine"),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p369-sam3-5070ti-perf-summary-without-throughput-enqueue-bound-warning.log": [
        F("latency mean/p99", (148.179, 150.3), section("latency", "mean", "p99")),
        F("perf.gpu_compute.mean_ms", 140.98),
        F("h2d/d2h mean", (1.31971, 5.87888), lambda r: (r.build.perf.h2d.mean_ms, r.build.perf.d2h.mean_ms)),
        F("perf.enqueue.max_ms", 161.751),
        F("perf.host_walltime_ms", 3365.76),
        F("perf.gpu_compute_total_ms", 3242.55),
        F("perf.enqueue_bound", True),
        F("warnings (the enqueue-bound warning, its advice joined)", 1, n_diag("warning")),
        F("errors", 0, n_diag("error")),
    ],
    "p370-triton-tensorrt-backend-config-json-model-config-64-bit-fields-tabbed.log": [
        F("test_tensorrt initialised", True,
          lambda r: r.build.triton is not None
          and any(m.startswith("test_tensorrt") for m in r.build.triton.models_loading + r.build.triton.models_ready)),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("stats.unparsed", 0),
    ],
    "p371-tensorrt-gdb-trtexec-sigsegv-libnvinfer-8-enqueuev2-backtrace.log": [
        F("the SIGSEGV is a crash", 1, n_diag("error", category="crash")),
        F("errors", 1, n_diag("error")),
        F("trt_version", "8"),  # libnvinfer.so.8 names the major version
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p372-trtllm-pytorch-cublas-execution-failed-executor-loop-thread-exception.log": [
        F("errors (RuntimeError, [TRT-LLM] [E], the thread's exception)", 3, n_diag("error")),
        F("RuntimeError", 1, n_diag("error", code="RuntimeError")),
        F("the executor's error", True, has_diag("error", "Encountered an error in forward function: CUDA error: CUBLAS_STATUS_EXECUTION_FAILED")),
        F("the thread's exception", True, has_diag("error", "Exception in thread Thread-4 (_executor_loop_overlap)")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
}


def _fastest(r: Any) -> list[tuple[str | None, float | None]]:
    return [(t.tactic, t.time_ms) for t in r.build.tactic_timings if t.fastest]


def _not_failed(r: Any) -> bool:
    return r.build.status != "failed"


# Round S (p373-p386): collected after round R's fixes, taken as plain searches returned them, families the
# earlier rounds had few of favoured (TensorRT 6's Python verbose fusion and reformat timing, a TensorRT 7 INT8
# calibration that hit an internal assertion, tensorrt-utils' INT8 builder flags, Polygraphy's onnxrt runner
# with padded metadata, TF-TRT segment conversion from TF 1.x to 2.x, Torch-TensorRT's dynamo partitioner,
# DeepStream's implicit engine info, a Jetson Nano Python runtime, an Xavier NX profile and trtexec parse
# header, a TensorRT-LLM container start that failed); figures written from reading each log before the
# parser was run on any of them.
BLIND_S: dict[str, list[F]] = {
    "p373-tensorrt-6-python-verbose-scale-fusion-reformat-timing-runner.log": [
        F("warnings", 1, n_diag("warning")),
        F("errors", 0, n_diag("error")),
        F("fusions", 1, lambda r: len(r.build.fusions)),
        F("its layers", ["(Unnamed Layer* 0) [Scale]", "(Unnamed Layer* 1) [Scale]"], lambda r: r.build.fusions[0].layers),
        F("layers_before", 2),
        F("layers_after", 1),
        F("phase_times_ms.graph_optimization", 0.323121),
        F("timed tactics (not fastest)", 4, _non_fastest_timings),
        F("fastest tactics", [("1002", 0.234496), ("1002", 0.306176)], _fastest),
        F("fastest's runner", "Reformat", lambda r: next(t.runner for t in r.build.tactic_timings if t.fastest)),
        F("status", "unknown"),
    ],
    "p374-tensorrt-7-int8-starting-calibration-internal-error-nbdims-safehelpers-aborting.log": [
        F("facts.network_inputs", 1),
        F("facts.network_outputs", 1),
        F("warnings", 2, n_diag("warning")),
        F("errors (the internal assertion)", 1, n_diag("error")),
        F("its source (the location on its own line)", 1, n_diag("error", source="safeHelpers.cpp:419")),
        F("its condition", True, has_diag("error", "d.nbDims >= 1")),
        F("precisions (INT8 calibration started)", ["int8"], lambda r: r.build.precisions),
        F("status", "failed"),
    ],
    "p375-tensorrt-utils-python-logging-builderflag-fp16-int8-imagenet-calibrator-files.log": [
        F("precisions (BuilderFlag.FP16 and INT8)", ["fp16", "int8"], lambda r: sorted(r.build.precisions)),
        F("no diagnostics (Severity.ERROR is a setting)", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p376-polygraphy-onnxrt-runner-padded-io-metadata-wrapped-average-time.log": [
        F("no TensorRT latency (only onnxrt-runner finished)", None, lambda r: r.build.perf.latency.mean_ms if r.build.perf and r.build.perf.latency else None),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("not failed", True, _not_failed),
    ],
    "p377-tf-trt-tf20-efficientnet-candidate-segments-engine-op-added.log": [
        F("no diagnostics (ops not converted is information)", 0, lambda r: len(r.build.diagnostics)),
        F("not failed", True, _not_failed),
    ],
    "p378-tf-trt-replaced-segments-grappler-optimization-results-graph-size.log": [
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("not failed", True, _not_failed),
    ],
    "p379-tf-trt-tf1-segment-sizes-remove-const-output-node-dropping-empty.log": [
        F("no diagnostics (dropping an empty segment is information)", 0, lambda r: len(r.build.diagnostics)),
        F("not failed", True, _not_failed),
    ],
    "p380-torch-tensorrt-dynamo-adjacency-partitioner-supported-unsupported-nodes.log": [
        F("no diagnostics (unsupported nodes run in PyTorch)", 0, lambda r: len(r.build.diagnostics)),
        F("not failed", True, _not_failed),
    ],
    "p381-deepstream-60-sgie-int8-engine-deserialized-implicit-engine-info-two-layers.log": [
        F("facts.engine_path", "/opt/nvidia/deepstream/deepstream-6.0/samples/configs/deepstream-app/../../models/Secondary_CarMake/resnet18.caffemodel_b16_gpu0_int8.engine"),
        F("engine_id", "resnet18.caffemodel_b16_gpu0_int8"),
        F("facts.network_inputs", 1),
        F("facts.network_outputs", 1),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("not failed", True, _not_failed),
    ],
    "p382-deepstream-yolo-implicit-engine-info-three-layers-yolo-outputs.log": [
        F("facts.network_inputs", 1),
        F("facts.network_outputs", 2),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p383-tensorrtx-jetson-nano-python-memusage-deserialize-bingding-warm-up.log": [
        F("memory.engine_bytes", 19 * MiB),
        F("memory.peak_gpu_bytes", 1798 * MiB),
        F("memory.cpu_peak_bytes", 684 * MiB),
        F("memory.context_bytes", 36 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("not failed", True, _not_failed),
    ],
    "p384-tensorrtx-xavier-nx-trtexec-profile-rows-without-header-unnamed-layers.log": [
        F("profile rows", 6, lambda r: len(r.profile)),
        F("first row", (64.10, 5.83, None, 0.2), lambda r: (r.profile[0].time_ms, r.profile[0].avg_ms, r.profile[0].median_ms, r.profile[0].time_pct)),
        F("first row's layer", "(Unnamed Layer* 50) [Convolution] + (Unnamed Layer* 51) [ElementWise] + (Unnamed Layer* 52) [Activation]",
          lambda r: r.profile[0].layer),
        F("last row", (91.20, 8.29, None, 0.3), lambda r: (r.profile[-1].time_ms, r.profile[-1].avg_ms, r.profile[-1].median_ms, r.profile[-1].time_pct)),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p385-jetson-xavier-nx-trtexec-8001-onnx-parser-header-x3d-memusage.log": [
        F("trt_version", "8.0.1"),  # TensorRT version: 8001
        F("model", "X3D_M_custom_untrained"),
        F("memory.peak_gpu_bytes", 5635 * MiB),
        F("memory.cpu_peak_bytes", 372 * MiB),
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
    ],
    "p386-trtllm-010-dev-container-runner-failed-file-not-found-traceback-cut.log": [
        F("facts.trtllm_version", "0.10.0.dev2024042300"),
        F("warnings ([TRT-LLM] [W])", 1, n_diag("warning")),
        F("errors (the runner's failure line, the traceback cut before its exception)", 2, n_diag("error")),
        F("the runner's failure", True, has_diag("error", "FileNotFoundError(2, 'No such file or directory')")),
        F("status", "failed"),
    ],
}


# Round T (p387-p399): collected after round S's fixes, taken as plain searches returned them (an onnx2trt
# plugin-not-found assertion behind a bracket-stamp INT64 warning, a Polygraphy comparison's four [E] lines,
# mmdet2trt's 'Warning:' lines and a plugin's glibc assertion, a Jetson Nano Python runtime killed after its
# memory snapshots, TensorRT-LLM 0.8 run.py frames without a header, INT8 calibration with missing scales, an
# executeV2 failure inside the calibrator, a legacy cask 'Unsupported SM' with UNKNOWN-severity timing, FastDeploy's
# forwarding logger, a TensorRT 10 convolution builder assertion, DeepStream 5 on a TX2 ending in a segfault,
# jetson-inference with TensorRT 5 failing to open a caffemodel, verbose ONNX-parser lines); figures written from
# reading each log before the parser was run on any of them.
BLIND_T: dict[str, list[F]] = {
    "p387-onnx2trt-trt8x-int64-bracket-stamp-random-normal-like-plugin-not-found.log": [
        F("warnings (the INT64 line behind its bracket stamp)", 1, n_diag("warning")),
        F("its source", 1, n_diag("warning", source="onnx2trt_utils.cpp:368")),
        F("errors (the importer assertion, its '[8]' line joined)", 1, n_diag("error")),
        F("importer assertion", 1, n_diag("error", code="8", source="builtin_op_importers.cpp:4788")),
        F("facts.plugin_not_found", True),
        F("model", "vocoder_24k_3"),
        F("status", "failed"),
    ],
    "p388-polygraphy-vit-fp16-histogram-tail-four-failed-lines-runtime-command.log": [
        F("errors (the four [E] lines)", 4, n_diag("error")),
        F("tolerance failure", True, has_diag("error", "Difference exceeds tolerance")),
        F("mismatched outputs", True, has_diag("error", "Mismatched outputs: ['1265']")),
        F("accuracy summary", True, has_diag("error", "Pass Rate: 0.0%")),
        F("model", "vit_pytorch_opset_9"),  # the Command: of the last [E] line
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p389-mmdet2trt-backticked-unsupported-method-warnings-amirstan-plugin-assertion-aborted.log": [
        F("warnings (3 'Warning:' lines)", 3, n_diag("warning")),
        F("distinct warnings (new_zeros, new_tensor twice)", 2, lambda r: len([d for d in r.build.diagnostics if d.severity == "warning"])),
        F("errors (the glibc assertion + Aborted)", 2, n_diag("error")),
        F("assertion source", 1, n_diag("error", source="repeatDimsPlugin.cpp:144")),
        F("its condition", True, has_diag("error", "nbInputs == 1")),
        F("Aborted is an error", True, has_diag("error", "Aborted")),
        F("status", "failed"),
    ],
    "p390-tensorrtx-retinaface-nano-python-info-memusage-snapshot-181-mb-killed.log": [
        F("memory.engine_bytes", 181 * MiB),  # TensorRT's "MB" are MiB
        F("memory.peak_gpu_bytes", 3210 * MiB),  # ExecutionContext creation end
        F("memory.cpu_peak_bytes", 852 * MiB),
        F("Killed is an error", 1, n_diag("error")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p391-qwen-trtllm-08-run-py-frames-without-header-runtimeerror-mpisize-assertion.log": [
        F("errors (the RuntimeError; frames are not errors)", 1, n_diag("error")),
        F("RuntimeError", 1, n_diag("error", code="RuntimeError")),
        F("its assertion", True, has_diag("error", "Assertion failed: mpiSize == tp * pp")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p392-python-logger-bert-embedding-int8-calibrated-batches-missing-scale-input-ids.log": [
        F("warnings (lazy loading + 2 missing scales)", 3, n_diag("warning")),
        F("quantization_missing", ["input_ids", "attention_mask"]),
        F("precisions", ["int8"]),  # the calibration ran
        F("phase_times_ms.calibration", 6223.6),  # Calibration completed in 6.2236 seconds
        F("errors", 0, n_diag("error")),
        F("not failed", True, _not_failed),
    ],
    "p393-mtcnn-facenet-trt-legacy-cask-utils-unsupported-sm-unknown-severity-timing-aborting.log": [
        F("errors (the cask assertion + the INTERNAL_ERROR; Aborting... is not another)", 2, n_diag("error")),
        F("both at caskUtils.cpp:80 (the second's location on its own line)", 2, n_diag("error", source="caskUtils.cpp:80")),
        F("its message", True, has_diag("error", "Unsupported SM")),
        F("fastest tactics", [("6", 0.039936)], _fastest),
        F("warnings (UNKNOWN: lines are verbose output)", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p394-fastdeploy-windows-trt-backend-logger-cask-klib-size-error-code-2-indented-reason.log": [
        F("errors (4 [ERROR] lines, the indented reason joined)", 4, n_diag("error")),
        F("forwarded Error Code 2", 1, n_diag("error", code="2", category="Internal Error", source="builder.cpp:137")),
        F("its assertion", True, has_diag("error", "validateCaskKLibSize(buffer.size)")),
        F("the indented reason joined", True, has_diag("error", "Failed to call createInferBuilder()")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p395-vits-python-logger-verbose-computing-costs-conv-base-builder-is-consistent-error-code-2.log": [
        F("errors", 1, n_diag("error")),
        F("Error Code 2 at its source", 1, n_diag("error", code="2", category="Internal Error", source="convBaseBuilder.cpp:200")),
        F("its message", True, has_diag("error", "Cask convolution isConsistent check failed")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p396-python-trt101-int8-calibrate-engine-executev2-nullptr-attention-mask-error-code-3-and-2.log": [
        F("errors (the two [E] lines; the bare 'Failed building engine' is the application's commentary, as in p365)", 2,
          n_diag("error")),
        F("executeV2 API Usage Error", 1, n_diag("error", code="3", category="API Usage Error", source="IExecutionContext::executeV2")),
        F("calibrator assertion", 1, n_diag("error", code="2", category="Internal Error", source="calibrator.cpp:1223")),
        F("its tensor", True, has_diag("error", 'Tensor "attention_mask" is bound to nullptr')),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p397-deepstream-5-tx2-tlt-yolov3-uff-batch-tile-plugin-unsupported-gst-error-segfault.log": [
        F("warnings (the deprecated-parameter 'Warning:')", 1, n_diag("warning")),
        F("errors (ERROR: [TRT]:, 3 bare ERROR:, the gst ERROR, the segfault)", 6, n_diag("error")),
        F("UffParser error", True, has_diag("error", "Unsupported operation _BatchTilePlugin_TRT")),
        F("gst ERROR source", 1, n_diag("error", source="nvdsinfer_context_impl.cpp:1735")),
        F("the segfault is a crash", 1, n_diag("error", category="crash")),
        F("status", "failed"),
    ],
    "p398-jetson-inference-trt506-detectnet-console-caffe-parser-could-not-open-file.log": [
        F("trt_version", "5.0.6"),
        F("precisions", ["fp16"]),  # selecting fastest native precision for GPU:  FP16
        F("model", "snapshot_iter_38600"),
        F("errors (2 CaffeParser, failed to parse, failed to load)", 4, n_diag("error")),  # as in p311
        F("caffe parser error", True, has_diag("error", "CaffeParser: Could not open file")),
        F("status", "failed"),
    ],
    "p399-onnx-parser-verbose-parsing-node-shape-registering-layer-tensor-gptj.log": [
        F("no diagnostics (verbose parser lines)", 0, lambda r: len(r.build.diagnostics)),
        F("warnings", 0, n_diag("warning")),
        F("status", "unknown"),
    ],
}


# Round U (p400-p414): collected after round T's fixes, taken as plain searches returned them (jetson-voice's
# builder summary ending in FAILED_ALLOCATION and a cut traceback, TensorRT 7's unprefixed safeRuntime.cpp allocation
# errors and a yolo-tensorrt deserialization ending in a glibc assertion, a tensorrtx INT8 build on an Orin, plans
# refused for another GPU under vLLM and TensorRT-LLM 0.8, FastMOT's Python logging with a CRITICAL line and a
# traceback without its exception, a Triton model that needs a GPU with a wrapped backend table, PaddleOCR's
# ultra_infer forwarding logger and an out-of-memory build, a Polygraphy traceback, TF-TRT engine-cache warnings,
# DeepStream 5 under gstd, jetson-inference's empty engine cache, TensorRT's runtime messages with no prefix on a
# TX2); figures written from reading each log before the parser was run on any of them.
BLIND_U: dict[str, list[F]] = {
    "p400-jetson-voice-python-trt-builder-configuration-fp16-failed-allocation-bad-alloc-traceback-cut.log": [
        F("errors (FAILED_ALLOCATION + the traceback cut before its exception)", 2, n_diag("error")),
        F("FAILED_ALLOCATION kind", 1, n_diag("error", category="FAILED_ALLOCATION")),
        F("its message", True, has_diag("error", "std::bad_alloc")),
        F("traceback at its innermost frame", 1, n_diag("error", source="nlp.py:18")),
        F("model", "distilbert_intent"),  # - model     .../distilbert_intent.onnx
        F("precisions", ["fp16"]),  # - precision fp16
        F("build_time_ms", 161718.5652256012),  # built engine in 161.7185652256012 seconds
        F("status", "failed"),
    ],
    "p401-yolo-tensorrt-trt7-safe-runtime-cuda-error-allocate-oom-nine-repeats-timereformat-warnings.log": [
        F("errors (9 Cuda Error in allocate, one message repeated)", 9, n_diag("error")),
        F("at their source, code 2", 9, n_diag("error", code="2", source="safeRuntime.cpp:25")),
        F("warnings (getBestTactic once, timeReformat 8 times)", 9, n_diag("warning")),
        F("distinct warnings", 2, lambda r: len([d for d in r.build.diagnostics if d.severity == "warning"])),
        F("the getBestTactic warning", True, has_diag("warning", "getBestTactic: (Unnamed Layer* 1) [ElementWise]")),
        F("engine_id", "yolov3-kHALF-batch64"),  # File does not exist : ../configs/yolov3-kHALF-batch64.engine
        F("status", "failed"),
    ],
    "p402-yolo-tensorrt-trt7-length-in-header-invalid-state-config-m-engine-assertion-aborted.log": [
        F("errors (3 TRT + the glibc assertion + Aborted)", 5, n_diag("error")),
        F("serialization error", 1, n_diag("error", code="0", category="Serialization Error", source="coreReadArchive.cpp:55")),
        F("its message", True, has_diag("error", "Length in header does not match remaining archive length")),
        F("INVALID_STATE kind", 1, n_diag("error", category="INVALID_STATE")),
        F("INVALID_CONFIG kind", 1, n_diag("error", category="INVALID_CONFIG")),
        F("glibc assertion source", 1, n_diag("error", source="yolo.cpp:100")),
        F("status", "failed"),
    ],
    "p403-tensorrtx-retinaface-orin-int8-calib-unknown-embedded-map-base-at-assertion-aborted.log": [
        F("warnings (implicit batch deprecated, unknown embedded device)", 2, n_diag("warning")),
        F("errors ([E] 1:, the glibc assertion, Aborted)", 3, n_diag("error")),
        F("the [E] line's code", 1, n_diag("error", code="1")),
        F("its message", True, has_diag("error", "Unexpected exception _Map_base::at")),
        F("glibc assertion source", 1, n_diag("error", source="retina_r50.cpp:251")),
        F("model", "retinaface"),  # Loading weights: ../retinaface.wts
        F("precisions", ["int8"]),  # reading calib cache: r50_int8calib.table
        F("status", "failed"),
    ],
    "p404-cosyvoice-vllm-info-trt-161-mib-compute-90-vs-89-error-code-2-rank0-traceback-cut.log": [
        F("memory.engine_bytes", 161 * MiB),
        F("errors (2 [TRT] [E] + the [rank0] traceback cut after its first frame)", 3, n_diag("error")),
        F("the plan refused (code 6)", 1, n_diag("error", code="6")),
        F("Error Code 2 at its source", 1, n_diag("error", code="2", category="Internal Error", source="engine.cpp:1312")),
        F("facts.expected_compute_capability", "9.0"),
        F("facts.found_compute_capability", "8.9"),
        F("warnings (vLLM's advice naming an out-of-memory error is information)", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p405-llama-index-trtllm-backticked-compute-80-vs-89-engine-cpp-1148-assertionerror.log": [
        F("errors (2 [TRT] [E] + the AssertionError)", 3, n_diag("error")),
        F("AssertionError at its innermost frame", 1, n_diag("error", code="AssertionError", source="generation.py:176")),
        F("the plan refused (code 6)", 1, n_diag("error", code="6")),
        F("Error Code 2 at its source", 1, n_diag("error", code="2", category="Internal Error", source="engine.cpp:1148")),
        F("facts.expected_compute_capability", "8.0"),
        F("facts.found_compute_capability", "8.9"),
        F("status", "failed"),
    ],
    "p406-fastmot-python-logging-trt72-at-most-one-dimension-critical-parse-traceback-cut.log": [
        F("errors ([TensorRT] ERROR, [CRITICAL], [   ERROR], the traceback cut before its exception)", 4, n_diag("error")),
        F("TensorRT's error", True, has_diag("error", "at most one dimension may be inferred")),
        F("the CRITICAL line", True, has_diag("error", "Failed to parse the ONNX file")),
        F("the parser's assertion", True, has_diag("error", "Assertion failed: dims.nbDims == 4 || dims.nbDims == 5")),
        F("traceback at its innermost frame", 1, n_diag("error", source="inference.py:63")),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p407-triton-glog-failed-load-ocr-tensorrt-backend-only-gpu-db-loaded-wrapped-backend-table.log": [
        F("errors (the E line)", 1, n_diag("error")),
        F("its source", 1, n_diag("error", source="model_lifecycle.cc:597")),
        F("its message", True, has_diag("error", "TensorRT backend supports only GPU device")),
        F("ocr failed", True, _failed("ocr")),
        F("db ready", True, _ready("db")),
        F("triton.backends", ["onnxruntime"]),  # the backend table's one complete row, wrapped over 3 lines
        F("status", "failed"),
    ],
    "p408-paddleocr-ultra-infer-log-forwarded-error-code-3-destroying-runtime-paren-line-fp16.log": [
        F("errors (the forwarded Error Code 3, its ')' line joined)", 1, n_diag("error")),
        F("Error Code 3 at TensorRT's own source (ultra_infer's ::log is a logger callback)", 1,
          n_diag("error", code="3", category="API Usage Error", source="runtime.cpp:346")),
        F("its message", True, has_diag("error", "Destroying a runtime before destroying deserialized engines")),
        F("warnings", 0, n_diag("warning")),
        F("precisions", ["fp16"]),  # Inference backend config: precision='fp16' (the tensorrt backend)
    ],
    "p409-paddleocr-python-trt-oom-resize-physical-insufficient-workspace-error-code-4-traceback-cut.log": [
        F("errors (3 [TRT] [E] + the traceback cut before its exception)", 4, n_diag("error")),
        F("OutOfMemory at its source", 1, n_diag("error", code="2", category="OutOfMemory", source="virtualMemoryBuffer.cpp:140")),
        F("code 4 errors", 2, n_diag("error", code="4")),
        F("Error Code 4 at its source", 1, n_diag("error", code="4", category="Internal Error", source="optimizer.cpp:3867")),
        F("insufficient workspace", True, has_diag("error", "due to insufficient workspace")),
        F("traceback at its innermost frame", 1, n_diag("error", source="main.py:10")),
        F("status", "failed"),
    ],
    "p410-polygraphy-verbose-onnxrt-input-metadata-traceback-cut-execute-runner.log": [
        F("errors (the traceback cut before its exception)", 1, n_diag("error")),
        F("at its innermost frame", 1, n_diag("error", source="comparator.py:142")),
        F("no other diagnostics ([V] is verbose)", 1, lambda r: len(r.build.diagnostics)),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p411-tf-trt-op-requires-container-does-not-exist-trtengineop-cache-info-glog.log": [
        F("warnings (the two W OP_REQUIRES lines)", 2, n_diag("warning")),
        F("their message", True, has_diag("warning", "Container TF-TRT does not exist")),
        F("errors (OP_REQUIRES failed is logged as a warning; INFO lines are information)", 0, n_diag("error")),
        F("not failed", True, _not_failed),
    ],
    "p412-deepstream-gstd-xavier-nx-warn-deprecated-trt7-version-tag-invalid-state-deserialize-failed.log": [
        F("errors (3 ERROR: [TRT]: + DeepStream's ERROR:)", 4, n_diag("error")),
        F("serialization error", 1, n_diag("error", code="0", category="Serialization Error", source="coreReadArchive.cpp:38")),
        F("INVALID_STATE kind", 1, n_diag("error", category="INVALID_STATE")),
        F("INVALID_CONFIG kind", 1, n_diag("error", category="INVALID_CONFIG")),
        F("warnings (Warn: deprecated + the gst WARN)", 2, n_diag("warning")),
        F("the deprecation warning", True, has_diag("warning", "'threshold' parameter has been deprecated")),
        F("engine_id", "resnet10.caffemodel_b4_fp16"),
        F("status", "failed"),
    ],
    "p413-jetson-inference-trt713-invalid-engine-cache-size-zero-detectnet-exception.log": [
        F("the empty cache file is an error", True, has_diag("error", "invalid engine cache file size (0 bytes)")),
        F("detectNet's failure", True, has_diag("error", "detectNet -- failed to initialize")),
        F("the Exception", 1, n_diag("error", code="Exception")),
        F("its message", True, has_diag("error", "detectNet failed to load network")),
        F("engine_id", "snapshot_iter_24000.caffemodel.1.1.7103.GPU.FP16"),
        F("warnings", 0, n_diag("warning")),
        F("status", "failed"),
    ],
    "p414-yolov8-tensorrt-cpp-tx2-unprefixed-memusage-loaded-13-mib-deserialization-microseconds.log": [
        F("memory.engine_bytes", 13 * MiB),
        F("phase_times_ms.engine_deserialize", 2294.905),  # Deserialization required 2294905 microseconds
        F("memory.peak_gpu_bytes", 7602 * MiB),
        F("memory.cpu_peak_bytes", 725 * MiB),
        F("model", "yolov8n_seg"),  # --model yolov8n_seg.onnx
        F("no diagnostics", 0, lambda r: len(r.build.diagnostics)),
        F("not failed", True, _not_failed),
    ],
}
