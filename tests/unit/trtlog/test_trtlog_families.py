"""Line families without a real sample among the logs: quantization scales, plugin
kernels per node, and the wrappers and wordings the public logs taught the parser,
in forms those logs do not show."""

from __future__ import annotations

import pytest

from trtlens.producers.trtlog import classify, parse_log
from trtlens.producers.trtlog.parse import split_glued


@pytest.mark.parametrize(
    ("raw", "family", "severity", "text"),
    [
        ("0:00:04.043230373  9789     0x2d12ae40 WARN                 nvinfer gstnvinfer.cpp:635:gst_nvinfer_logger:<primary_gie> msg",
         "gstreamer", "warning", "msg"),
        ("0:00:00.1 1 0x1 ERROR nvinfer gstnvinfer.cpp:1:f: msg", "gstreamer", "error", "msg"),
        ("E onnxruntime: [2024-09-20 12:15:43   ERROR] msg [tensorrt_execution_provider.h:88 onnxruntime::TensorrtLogger::log]",
         "onnxruntime", "error", "msg"),
        ("2025-05-14 15:30:20.64 [W:onnxruntime:Default, tensorrt_execution_provider.h:77 log] msg", "onnxruntime", "warning", "msg"),
        ("[2022-11-08 06:01:58 WARNING] msg", "onnx2trt", "warning", "msg"),
        ("[2022-11-08 06:01:58    BUG] msg", "onnx2trt", "error", "msg"),
        ("> [05/24/2022-12:48:34] [I] TensorRT version: 8.2.4", "trtexec", "info", "TensorRT version: 8.2.4"),
        ("08/06/2022-13:26:57] [TRT] [E] 1: msg", "python", "error", "1: msg"),
        ("**[07/02/2026-03:47:09] [E] [TRT] msg**", "trtexec", "error", "msg"),  # markdown bold around the line
        ("*[TRT] [W] msg", "python", "warning", "msg"),  # italic opened, closed on a later line
        ("* [W] a bullet, not emphasis", "bare", "warning", "a bullet, not emphasis"),  # a list item around a log line
        ("* E0530 23:11:46.299486 1 logging.cc:43] **msg**", "triton", "error", "msg"),  # ... and a bold message after the prefix
        ("* a bullet of prose", "plain", None, "* a bullet of prose"),  # no prefix after the bullet: the line stays as it is
        ("- 131 weights are affected by this issue: Detected subnormal FP16 values.", "plain", None,
         "- 131 weights are affected by this issue: Detected subnormal FP16 values."),
    ],
)  # fmt: skip
def test_wrapper_families(raw: str, family: str, severity: str | None, text: str) -> None:
    line = classify(raw)
    assert (line.family, line.severity, line.text) == (family, severity, text)


def test_quantization_lines_give_scales_and_ranges() -> None:
    b = parse_log(
        [
            "[Quantization] Activations of Gemm_4 quantized to INT8, scale=0.023",
            "[V] [TRT] [Quantization] Weights of Conv_7 quantized to INT8, scale: 0.0041",
            "[Quantization] tensor input_1: dynamic range [-2.5, 2.5]",
            "[Quantization] attn_out quantized to FP8, scale = 0.5",
            "[Quantization] Activations of dead quantized to INT8, scale=0",
            "[Quantization] nothing to name here",
            "[V] [TRT] Setting dynamic range for /conv1/Conv_output_0 to [-1.25,1.25]",
        ],
        now_ms=0,
    ).build
    assert b.quantization_scales == {"Gemm_4": 0.023, "Conv_7.weight": 0.0041, "attn_out": 0.5, "dead": 0.0}
    assert b.calibration["Gemm_4"] == pytest.approx(0.023 * 127) and b.calibration["attn_out"] == pytest.approx(0.5 * 448)
    assert b.calibration["input_1"] == 2.5 and b.calibration["/conv1/Conv_output_0"] == 1.25
    assert b.calibration_info.zero_ranges == ["dead"]
    assert set(b.precisions) == {"int8", "fp8"}


def test_missing_int8_scales_are_listed_and_stay_warnings() -> None:
    b = parse_log(
        ["[TRT] [W] Missing scale and zero-point for tensor (Unnamed Layer* 686) [Shuffle]_output, expect fall back to non-int8 "
         "implementation for any layer consuming or producing given tensor"],
        now_ms=0,
    ).build  # fmt: skip
    assert b.quantization_missing == ["(Unnamed Layer* 686) [Shuffle]_output"]
    assert [d.severity for d in b.diagnostics] == ["warning"] and "int8" in b.precisions


def test_plugin_kernel_per_node() -> None:
    b = parse_log(
        [
            "[Plugin] Using kernel efficient_attention for node Attention_5",
            "[I] [TRT] [Plugin] Using kernel 'fmha_v2_flash' for node 'Attention_9'.",
            "[Plugin] Using plugin CustomLayerNorm for layer LayerNorm_3",
        ],
        now_ms=0,
    ).build
    assert b.plugin_kernels == {"Attention_5": "efficient_attention", "Attention_9": "fmha_v2_flash", "LayerNorm_3": "CustomLayerNorm"}
    assert b.diagnostics == []


def test_the_seed_article_lines_all_land() -> None:
    b = parse_log(
        [
            "[Fusion] Conv_1 Bias_2 ReLU_3 -> fused_conv_bias_relu",
            "[Quantization] Activations of Gemm_4 quantized to INT8, scale=0.023",
            "[Plugin] Using kernel efficient_attention for node Attention_5",
            "[Memory] Estimated peak GPU memory usage: 1.8 GB",
            "[Fallback] MultiHeadAttn not supported, using generic subgraph",
        ],
        now_ms=0,
    )
    assert r_unparsed(b) == 0
    build = b.build
    assert [f.result for f in build.fusions] == ["fused_conv_bias_relu"] and build.quantization_scales == {"Gemm_4": 0.023}
    assert build.plugin_kernels == {"Attention_5": "efficient_attention"} and build.plugin_fallbacks == ["MultiHeadAttn"]
    assert build.memory.peak_gpu_bytes == round(1.8 * (1 << 30))


def r_unparsed(result) -> int:  # noqa: ANN001 - a ParseResult
    return result.stats.unparsed


def test_runtime_wordings_beyond_the_public_logs() -> None:
    b = parse_log(
        [
            "[TRT] [E] 1: [runtime.cpp::parsePlan::314] Error Code 1: Serialization (Serialization assertion plan->header.magicTag "
            "== rt::kPLAN_MAGIC_TAG failed.)",
            "[TRT] [E] 6: The engine plan file is generated on an incompatible device, expecting compute 8.6 got compute 7.5, please rebuild.",
            "[TRT] [E] IPluginRegistry::getCreator: Error Code 4: API Usage Error (Cannot find plugin: EfficientNMS_X, version: 1, namespace:.)",
            "OSError: libnvinfer.so.8: cannot open shared object file: No such file or directory",
            "./build.sh: line 12: 40211 Killed                  trtexec --onnx=big.onnx",
            "terminate called after throwing an instance of 'std::runtime_error'",
            "[TensorRT-LLM][INFO] [MemUsageChange] Allocated 12.50 GB for max tokens in paged KV cache (81920).",
            "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB",
        ],
        now_ms=0,
    ).build  # fmt: skip
    assert b.facts["expected_compute_capability"] == "8.6" and b.facts["found_compute_capability"] == "7.5"
    assert b.plugin_fallbacks == ["EfficientNMS_X"] and b.facts["plugin_not_found"] is True
    assert b.facts["missing_library"] == "libnvinfer.so.8"
    crashes = [d for d in b.diagnostics if d.category == "crash"]
    assert [d.code for d in crashes] == [None, None]  # a crash's kind is no error code, it stays in the message
    assert sorted(d.message for d in crashes) == [
        "./build.sh: line 12: 40211 Killed                  trtexec --onnx=big.onnx",
        "terminate called after throwing an instance of 'std::runtime_error'",
    ]
    assert b.facts["kv_cache_bytes"] == round(12.5 * (1 << 30)) and b.facts["kv_cache_tokens"] == 81920
    assert b.memory.requested_bytes == 20 << 20
    assert b.status == "failed"


def test_names_only_layer_block_ends_at_the_next_prefixed_line() -> None:
    b = parse_log(
        ["[I] Layers:", "conv1 + relu1", "fc", "", "Bindings:", "input", "output", "[I] Starting inference", "not a layer"], now_ms=0
    ).build
    assert [x.name for x in b.layers] == ["conv1 + relu1", "fc"] and b.facts["bindings"] == "input,output"


def test_glued_paste_is_split_but_glued_timestamps_are_not() -> None:
    glued = (
        "[10/09/2022-20:22:20] [TRT] [W] Weights [name=a.weight] had the following issues when converted to FP16: "
        "[10/09/2022-20:22:20] [TRT] [W] - Subnormal FP16 values detected. "
        "[10/09/2022-20:22:20] [TRT] [W] Weights [name=b.weight] had the following issues when converted to FP16: "
        "[10/09/2022-20:22:20] [TRT] [W] - Subnormal FP16 values detected."
    )
    stacked = "[07/29/2021-19:44:10] [07/29/2021-19:44:10] [W] [TRT] Default DLA is enabled but layer x is not supported on DLA, falling back to GPU."
    r = parse_log([glued, stacked], now_ms=0)
    assert r.build.fp16_affected_weights == ["a.weight", "b.weight"] and [d.name for d in r.build.dla_fallbacks] == ["x"]
    assert r.stats.lines == 2


def test_build_wordings_of_other_versions() -> None:
    r = parse_log(
        [
            "[V] [TRT] Layer: Conv_0 + Relu_1 Host Persistent: 1696 Device Persistent: 0 Scratch Memory: 0",
            "[TensorRT] VERBOSE: Layer: conv1 Weights: 9408 HostPersistent: 0 DevicePersistent: 0",
            "[11/10/2023-06:30:40] [TRT-LLM] [I] Total time of building all 1 engines: 00:01:23",
            "0:01:02.123456789  1234 0x55d0 INFO nvinfer gstnvinfer.cpp:646:gst_nvinfer_logger:<primary_gie> NvDsInferContext[UID 1]: "
            "Info from NvDsInferContextImpl::buildModel() <nvdsinfer_context_impl.cpp:2034> [UID = 1]: serialize cuda engine to file: "
            "/opt/models/model_b1_gpu0_fp16.engine successfully",
        ],
        now_ms=0,
    )  # fmt: skip
    b = r.build
    assert [x.name for x in b.layers] == ["Conv_0 + Relu_1", "conv1"] and b.build_time_ms == 83000
    assert b.engine_id == "model_b1_gpu0_fp16" and b.status == "ok" and b.diagnostics == []


def test_fusion_and_precision_wordings_of_other_versions() -> None:
    b = parse_log(
        [
            "[TensorRT] VERBOSE: Fusing convolution weights from conv1 with scale bn_conv1",
            "[V] [TRT] QuantizeDoubleInputNodes: fusing (DequantizeLinear_7 and DequantizeLinear_9) into Conv_10",
            "[I] Precision: FP32+FP16 (obey precision constraints)",
            "[11/10/2023-06:30:40] [TRT-LLM] [I] Build phase peak memory: 32.45 MB, children: 0.00 MB",
            "[11/10/2023-06:30:41] [TRT-LLM] [I] Serializing engine to ./llama/rank0.engine...",
        ],
        now_ms=0,
    ).build
    assert [f.layers for f in b.fusions] == [["conv1", "bn_conv1"], ["(DequantizeLinear_7 and DequantizeLinear_9)", "Conv_10"]]
    assert b.fusions[1].kind == "QuantizeDoubleInputNodes" and b.precisions == ["fp16"]
    assert b.memory.cpu_peak_bytes == round(32.45 * (1 << 20)) and b.engine_id == "rank0"


@pytest.mark.parametrize(
    ("line", "facts"),
    [
        # p22 has the real libcudart line (Triton's TensorFlow backend); the others are the forms TensorRT,
        # nvidia-smi and Windows loaders print, without a real sample among the logs
        ("[W] [TRT] TensorRT was linked against cuDNN 8.2.1 but loaded cuDNN 8.0.5",
         {"cudnn_version": "8.0.5", "cudnn_linked_version": "8.2.1"}),
        ("| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4     |", {"cuda_version": "12.4"}),
        ("Successfully opened dynamic library cudart64_110.dll", {"cuda_version": "11.0"}),
        ("[I] CUDA runtime version: 12.4.1", {"cuda_version": "12.4.1"}),
        ("loaded libcudnn.so.8.9.2", {"cudnn_version": "8.9.2"}),
        ("[I] [TRT] [MemUsageChange] Init cuDNN: CPU +113, GPU +46, now: CPU 633, GPU 642 (MiB)", {}),
    ],
)  # fmt: skip
def test_cuda_and_cudnn_versions(line: str, facts: dict) -> None:
    got = parse_log([line], now_ms=0).build.facts
    assert {k: v for k, v in got.items() if k.startswith(("cuda", "cudnn"))} == facts


@pytest.mark.parametrize(
    ("lines", "joined"),
    [
        # indented under a message of any tool (Polygraphy's hints), not only TensorRT's
        (["[W] Calibration uses random data.", "    This could hurt accuracy."], True),
        # a message left unfinished: a trailing ':' or a dangling word, or a bracket left open
        (["WARNING: could not load plugins from:", "/opt/plugins/libfoo.so"], True),
        (["[E] Failed to build the engine for", "Conv_12 on DLA."], True),
        (["[E] Error Code 3: API Usage Error (Parameter check failed, dimension is 10.", ")"], True),
        # a line that cannot start a message: lower case mid-sentence after an unended sentence
        (["ERROR: the engine was built with a different", "version of TensorRT"], True),
        # a finished sentence followed by an application's own line is two things
        (["[W] Lazy loading is off.", "Loading model weights"], False),
        (["ERROR: [TRT]: 1: Unexpected exception _Map_base::at", "Building engine failed"], False),
        (["WARNING: ONNX model has a newer ir_version.", " ----- Parsing of ONNX model is Done ---- "], False),
    ],
)  # fmt: skip
def test_continuation_is_read_from_the_lines_shape(lines: list[str], joined: bool) -> None:
    diags = parse_log(lines).build.diagnostics
    assert (len(diags) == 1 and lines[1].strip() in diags[0].message) is joined


@pytest.mark.parametrize(
    ("raw", "family", "severity", "text"),
    [
        ("(deepstream-app:6565): GLib-GObject-WARNING **: 07:46:40.227: value \"TRUE\" is invalid", "glib", "warning",
         "value \"TRUE\" is invalid"),
        ("2020-02-18 04:06:43.967669: I tensorflow/platform/dso_loader.cc:44] Successfully opened libnvinfer.so.6", "triton",
         "info", "Successfully opened libnvinfer.so.6"),
        ("TensorRT: WARNING 'dynamic=True' model requires max batch size", "plain_severity", "warning",
         "'dynamic=True' model requires max batch size"),
    ],
)  # fmt: skip
def test_round_f_wrapper_families(raw: str, family: str, severity: str, text: str) -> None:
    line = classify(raw)
    assert (line.family, line.severity, line.text) == (family, severity, text)


def test_round_f_line_families_give_errors_tactics_and_versions() -> None:
    b = parse_log(
        [
            "--------------- Timing conv3/Conv2D(1)",
            "Tactic -9018593586369639207 time 10.8774",
            "Tactic 2 scratch requested: 301989888, available: 16777216",
            "IExecutionContext::setInputShape: Error Code 3: API Usage Error (Parameter check failed,",
            "  condition: engineDims.d[i] == dims.d[i].)",
            "[ErrorCode:ShapeInferenceNotRegistered] Non-zero status code returned. Status Message: TensorRT EP failed.",
            "The engine plan file is incompatible with this version of TensorRT, expecting 5.0.6.3got -21.0, please rebuild.",
            "ERROR: ERROR: app: /src/yolo.cpp:522: void f(): Assertion `e != nullptr' failed.",
            "2       0x7f32dd0e6c8a /usr/local/tensorrt/lib/libnvinfer.so.9(+0x37fbf) [0x7f32dd086fbf]",
        ]
    ).build
    assert [(t.tactic, t.time_ms, t.skipped) for t in b.tactic_timings] == [("-9018593586369639207", 10.8774, False), ("2", None, True)]
    errors = [d for d in b.diagnostics if d.severity == "error"]
    assert [d.source for d in errors] == ["IExecutionContext::setInputShape", None, None, "yolo.cpp:522"]
    assert "engineDims" in errors[0].message and b.facts["expected_trt_version"] == "5.0.6.3"
    assert b.trt_version == "9"  # the soname gives the major when nothing else does


def test_glued_messages_split_with_two_timestamps() -> None:
    raw = "[10/25/2021-15:32:01] [E] [TRT] file.cpp (140) - Assertion Error in execute: 0 (x == 1) [10/25/2021-15:32:01] [E] Engine creation failed"
    assert len([d for d in parse_log([raw]).build.diagnostics if d.severity == "error"]) == 2


def test_round_h_families_in_forms_the_logs_do_not_show() -> None:
    b = parse_log(
        [
            "2024-01-01 10:00:00.1 [E:onnxruntime:sess, inference_session.cc:1532 Initialize] own error",  # ORT's own call site
            "2024-01-01 10:00:00.2 [W:onnxruntime:Default, tensorrt_execution_provider.h:83 log] forwarded",  # a logger callback
            "0:00:01.0 7 0x1 ERROR nvinfer gstnvinfer.cpp:640:gst_nvinfer_start:<gie> start failed",  # gst's own call site
            "I0120 08:28:09.1 2049 model_lifecycle.cc:473] \"loading: detector:3\"",  # quoted Triton message
            "E0120 08:28:09.2 2049 model_lifecycle.cc:654] \"failed to load 'detector' version 3: x\"",
            "I0120 08:28:09.3 2049 model_lifecycle.cc:789] \"failed to load 'detector'\"",
            "exporter: building INT8 engine as a.engine",
            "Paddle: Platform does not support FP16 mode",  # negated: not a precision
            "loaded TensorRT v8.6.1 runtime",
            "[TensorRT-LLM] TensorRT-LLM version: 0.14.0.dev2024092400[10/07/2024-01:02:03] [TRT-LLM] [I] x",
        ],
        now_ms=1,
    ).build
    sources = sorted((d.severity, d.source or "-", d.message) for d in b.diagnostics)
    assert sources == [("error", "gstnvinfer.cpp:640", "start failed"), ("error", "inference_session.cc:1532", "own error"),
                       ("error", "model_lifecycle.cc:654", "failed to load 'detector' version 3: x"),  # Triton's own call site
                       ("warning", "-", "forwarded")]  # fmt: skip
    assert b.triton is not None and b.triton.models_loading == ["detector:3"] and b.triton.models_failed == ["detector:3"]
    assert b.precisions == ["int8"]
    assert (b.trt_version, b.facts["trtllm_version"]) == ("8.6.1", "0.14.0.dev2024092400")


@pytest.mark.parametrize(
    ("msg", "source"),
    [
        ("Assertion failed: x (/app/cpp/tllmRuntime.cpp:74)", "tllmRuntime.cpp:74"),
        ("Warning from Impl::build() <nvdsinfer_context_impl.cpp:1889> [UID = 1]: x", "nvdsinfer_context_impl.cpp:1889"),
        ("Assertion failed: e, file C:\\src\\infer.cpp, line 9", "infer.cpp:9"),
        ("register: D:\\a\\_work\\1\\s\\ep_info.cc:98 onnxruntime::F [ONNXRuntimeError] : 1 : FAIL", "ep_info.cc:98"),
        ("yolo: /src/yolo.cpp:522: void f(): Assertion `e' failed.", "yolo.cpp:522"),
        ("kernel.cu(120) - Cuda Error in run: 700", "kernel.cu:120"),
        ("see [plugin.cpp::enqueue::31] for details", "plugin.cpp:31"),
        ("failed\\n at other.cpp:3", None),  # only the first line of an escaped multi-line message
        ("model yolov8s.onnx_b1_gpu0_fp32.engine open error", None),
        ("version 8.6.1 at 12:30:01", None),
    ],
)  # fmt: skip
def test_a_message_names_its_source_in_any_form(msg: str, source: str | None) -> None:
    from trtlens.producers.trtlog.extract_diag import locate_source

    assert locate_source(msg) == source


def test_glued_glog_messages_split_even_without_a_blank() -> None:
    t = "I0102 10:00:00.000001 7 model_lifecycle.cc:849] "
    b = parse_log([f"{t}successfully loaded 'a' version 2{t.replace('I0102', 'E0102')}failed to load 'b' version 1: boom"], now_ms=1)
    assert [m.split(":")[0] for m in b.build.triton.models_ready] == ["a"]
    assert [d.severity for d in b.build.diagnostics] == ["error"]
    # a stamp alone, without a glog message shape after it, is no second message
    assert split_glued(f"{t}retrying the load of 'c' that failed at I0102 10:00:00.000001, once more") == [
        f"{t}retrying the load of 'c' that failed at I0102 10:00:00.000001, once more"
    ]


def test_an_unavailable_model_in_triton_s_table_is_one_error() -> None:
    row = "| yolo    | 1       | UNAVAILABLE: Internal: unable to create TensorRT engine |"
    alone = parse_log(["I0110 21:30:54.920681 60 server.cc:592]", row, "| other   | 1       | READY |"], now_ms=1).build
    assert [(d.severity, d.message) for d in alone.diagnostics] == [("error", row.rstrip(" |"))]  # without the row's closing padding
    assert alone.status == "failed"
    logged = "E0110 21:30:50.000001 60 model_lifecycle.cc:596] failed to load 'yolo' version 1: Internal: unable to create TensorRT engine"
    both = parse_log([logged, "I0110 21:30:54.920681 60 server.cc:592]", row], now_ms=1).build
    assert [d.severity for d in both.diagnostics] == ["error"]  # the table repeats the logged failure: not a second one


def test_a_traceback_cut_before_its_header_is_still_one_exception_at_its_innermost_frame() -> None:
    b = parse_log(
        [
            "    self._build_model()",
            '  File "/x/llm.py", line 975, in _build_model',
            "    self._executor = create(",
            "                     ^^^^^^",
            '  File "/x/proxy.py", line 332, in _start',
            "    raise RuntimeError(",
            "RuntimeError: Executor worker returned error",
        ],
        now_ms=1,
    ).build
    assert [(d.severity, d.code, d.source, d.message) for d in b.diagnostics] == [
        ("error", "RuntimeError", "proxy.py:332", "Executor worker returned error")
    ]
    # a line that only mentions a file and line is no frame
    assert parse_log(['File "a.py", line 3 was edited'], now_ms=1).build.diagnostics == []


@pytest.mark.parametrize(
    ("raw", "source"),
    [
        ("Internal Error: MyelinCheckException: host_instr.cpp:2806: CHECK(0) failed. ", "host_instr.cpp:2806"),
        ("Fatal Error: out of device memory", None),
        ("ModelImporter.cpp:682: Failed to parse ONNX model from file: resnet50.onnx", "ModelImporter.cpp:682"),
        ("C:\\src\\onnx\\ModelImporter.cpp:720: Could not open file x.onnx", "ModelImporter.cpp:720"),
    ],
)  # fmt: skip
def test_unprefixed_lines_that_say_they_are_errors(raw: str, source: str | None) -> None:
    assert [(d.severity, d.source) for d in parse_log([raw], now_ms=1).build.diagnostics] == [("error", source)]


@pytest.mark.parametrize(
    "raw",
    ["ModelImporter.cpp:103: Parsing node: [Conv]", "Internal error counts: 0", "Two Errors: none of them here"],
)
def test_lookalikes_of_unprefixed_errors_stay_plain(raw: str) -> None:
    assert parse_log([raw], now_ms=1).build.diagnostics == []


def test_a_message_wrapped_after_a_blank_goes_on_and_a_finished_one_does_not() -> None:
    wrapped = parse_log(["[E] Accuracy Summary | a vs. b | Passed: 0/1 iterations | Pass ", "Rate: 0.0%"], now_ms=1).build
    assert [d.message for d in wrapped.diagnostics] == ["Accuracy Summary | a vs. b | Passed: 0/1 iterations | Pass\nRate: 0.0%"]
    ended = parse_log(["[E] Engine set up failed. ", "Loading the next model"], now_ms=1).build
    assert [d.message for d in ended.diagnostics] == ["Engine set up failed."]
    padded = parse_log(["[W] a column padded to the terminal      ", "Next line"], now_ms=1).build
    assert [d.message for d in padded.diagnostics] == ["a column padded to the terminal"]


def test_a_status_cell_the_table_wrapped_goes_on_in_the_next_rows_but_not_into_frame_rows() -> None:
    rows = [
        "| llm   | 1       | UNAVAILABLE: Internal: CUDA runtime error in f(): operation no |",
        "|       |         | t supported (/app/cpp/runtime/bufferManager.cpp:170)            |",
        "|       |         | 1       0x7f981281e045 /opt/backends/libtriton_x.so(+0x36045)   |",
    ]
    (d,) = parse_log(rows, now_ms=1).build.diagnostics
    assert d.message.endswith("operation not supported (/app/cpp/runtime/bufferManager.cpp:170)")  # cut mid-word: no separator
    assert d.source == "bufferManager.cpp:170"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[TRT]   coreReadArchive.cpp (38) - Serialization Error in verifyHeader: 0 (Version tag does not match)", True),
        ("[TRT]   INVALID_CONFIG: Deserialize the cuda engine failed.", True),
        ("[TRT]   device GPU, failed to create CUDA engine", True),
        ("[TRT]    detectNet -- failed to initialize.", True),
        ("[TRT]    loading network plan from engine cache... model.engine", False),
        ("[TRT]    UNSUPPORTED_STATE: this is no error by itself", False),
    ],
)  # fmt: skip
def test_a_severity_less_trt_line_is_an_error_when_its_wording_says_so(text: str, error: bool) -> None:
    b = parse_log([text], now_ms=1).build
    assert [d.severity for d in b.diagnostics] == (["error"] if error else [])


def test_terminate_takes_its_source_from_the_what_line() -> None:
    (d,) = parse_log(["terminate called after throwing an instance of 'std::runtime_error'",
                      "  what():  [FT][ERROR] CUDA runtime error: out of memory /src/utils/allocator.h:220"], now_ms=1).build.diagnostics
    assert (d.category, d.source) == ("crash", "allocator.h:220")


def test_tensorflow_names_the_device_and_jetson_inference_summarises_the_engine() -> None:
    tf = "2020-02-27 15:01:23.577518: I gpu_device.cc:1241] Created TensorFlow device (/job:localhost/replica:0/task:0/device:GPU:0 " \
         "with 10777 MB memory) -> physical GPU (device: 0, name: TITAN V, pci bus id: 0000:08:00.0, compute capability: 7.0)"
    b = parse_log([tf], now_ms=1).build
    assert (b.facts["device"], b.facts["compute_capability"]) == ("TITAN V", "7.0")
    summary = ["[TRT]       -- layers       28", "[TRT]       -- deviceMemory 4415488", "                -- in/out  INPUT",
               "                -- in/out  OUTPUT", "                -- in/out  OUTPUT"]
    j = parse_log(summary, now_ms=1).build
    assert (j.layers_after, j.memory.context_bytes, j.facts["network_inputs"], j.facts["network_outputs"]) == (28, 4415488, 1, 2)
    said = parse_log(["[TRT] Detected 2 inputs and 1 output network tensors.", *summary], now_ms=1).build
    assert (said.facts["network_inputs"], said.facts["network_outputs"]) == (2, 1)  # the build's own count wins


@pytest.mark.parametrize(
    ("raw", "family", "text"),
    [
        ("root@host:/ws/backend# I1106 12:36:07.335524 3487 pinned_memory_manager.cc:241] Pinned memory pool", "triton",
         "Pinned memory pool"),
        ("user@box:~/x$ [03/15/2022-09:42:36] [E] [TRT] 4: msg", "trtexec", "4: msg"),
        ("ERROR: ../nvdsinfer/nvdsinfer_func_utils.cpp:33 [TRT]: INVALID_STATE: std::exception", "deepstream",
         "INVALID_STATE: std::exception"),
        ("root@host:/ws# ls -l", "plain", "root@host:/ws# ls -l"),  # a prompt before anything but a stamp stays
    ],
)  # fmt: skip
def test_round_k_prompt_and_wrapper_call_site_are_peeled(raw: str, family: str, text: str) -> None:
    line = classify(raw)
    assert (line.family, line.text) == (family, text)


def test_round_k_unprefixed_lines_are_diagnostics_by_what_they_say() -> None:
    lines = [
        "Error Code 1: Serialization (Serialization assertion safeVersionRead == safeSerializationVersion failed.)",
        "onnx2trt_utils.cpp:366: Your ONNX model has been generated with INT64 weights, while TensorRT does not natively support INT64.",
        '[8] Assertion failed: (outDims.nbDims == 1) && "The scales input must be 1D."',
        "Failed to load trt file.Segmentation fault (core dumped)",
    ]
    got = [(d.severity, d.code, d.source, d.category) for d in parse_log(lines, now_ms=1).build.diagnostics]
    assert got == [
        ("error", "1", None, "Serialization"),
        ("warning", None, "onnx2trt_utils.cpp:366", None),
        ("error", "8", None, None),
        ("error", None, None, "crash"),
    ]
    ds = parse_log(["ERROR: ../nvdsinfer/nvdsinfer_func_utils.cpp:33 [TRT]: ../rtSafe/coreReadArchive.cpp (38) - "
                    "Serialization Error in verifyHeader: 0 (Version tag does not match)"], now_ms=1).build.diagnostics
    assert [(d.source, d.category) for d in ds] == [("coreReadArchive.cpp:38", "Serialization Error")]


@pytest.mark.parametrize(
    "raw",
    ["Error Codes are listed in the manual", "The build went fine. Aborted runs: 0", "Saved to out.Aborted",
     "ModelImporter.cpp:103: Parsing node: [Conv]"],
)
def test_round_k_lookalikes_stay_plain(raw: str) -> None:
    assert parse_log([raw], now_ms=1).build.diagnostics == []


def test_round_l_a_forwarding_wrapper_gives_way_to_the_forwarded_severity() -> None:
    fwd = classify("2019-09-14 01:19:53.08 [W:onnxruntime:test, tensorrt_execution_provider.h:28 log] [2019-09-14 01:19:53   ERROR] msg")
    assert (fwd.family, fwd.severity, fwd.text) == ("onnxruntime", "error", "msg")
    # a wrapper that is the message's own call site keeps its severity (onnxruntime's graph.cc is not a logger)
    own = classify("2024-01-01 10:00:00.1 [W:onnxruntime:, graph.cc:2422 CleanUnusedInitializers] [2024-01-01 10:00:00 ERROR] msg")
    assert own.severity == "warning"


def test_round_l_unprefixed_lines_and_wordings() -> None:
    lines = [
        'EP Error C:\\ort\\core\\session\\provider_bridge_ort.cc:1193 onnxruntime::ProviderLibrary::Get [ONNXRuntimeError] : 1 : '
        'FAIL : LoadLibrary failed with error 126 "" when trying to load "C:\\env\\onnxruntime\\capi\\onnxruntime_providers_cuda.dll"',
        " when using ['TensorrtExecutionProvider']",
        "Falling back to ['CPUExecutionProvider'] and retrying.",
        "2022-03-01 09:00:00.000001: E tensorflow/compiler/tf2tensorrt/utils/trt_logger.cc:42] DefaultLogger INVALID_CONFIG: bad",
        "[libprotobuf ERROR ####\\src\\google\\protobuf\\text_format.cc:309] Error parsing text-format",
    ]
    b = parse_log(lines, now_ms=1).build
    got = [(d.severity, d.source, d.category) for d in b.diagnostics]
    assert got == [("error", "provider_bridge_ort.cc:1193", None), ("error", None, "INVALID_CONFIG"), ("error", "text_format.cc:309", None)]
    assert "when using" in b.diagnostics[0].message and "Falling back" not in b.diagnostics[0].message
    assert b.facts["missing_library"] == "onnxruntime_providers_cuda.dll"
    assert parse_log(["I0101 00:00:00.000001 7 metrics.cc:184] found 1 CUDA visible device"], now_ms=1).build.facts["gpu_count"] == 1


@pytest.mark.parametrize(
    ("lines", "precisions", "model"),
    [
        (["Building INT8 quantized model...", "Building engine..."], ["int8"], None),
        (["python3 export.py \\", "    --model ./nets/resnet.onnx \\", "    --precision=int8 --engine ./r.plan"], ["int8"], "resnet"),
        (["Building FP16 model is not supported on this GPU"], [], None),  # a negated sentence says nothing
        (["    --precision fp32 \\"], [], None),  # FP32 is the baseline
    ],
)  # fmt: skip
def test_round_l_a_precision_a_tool_builds_in_or_a_flag_names(lines: list[str], precisions: list[str], model: str | None) -> None:
    b = parse_log(lines, now_ms=1).build
    assert (b.precisions, b.model) == (precisions, model)


def test_round_l_a_torch_tensorrt_warning_goes_on_to_a_blank_line_but_an_error_does_not() -> None:
    warning = [
        "WARNING: [Torch-TensorRT] - For input x, found user specified input dtype as Int32, however it was inferred to be Float",
        "The compiler is going to use the user setting Int32",
        "If you do indeed see errors at runtime either:",
        "- Remove the dtype spec for x",
        "",
        "Compiled the model",
    ]
    [w] = parse_log(warning, now_ms=1).build.diagnostics
    assert w.message.endswith("- Remove the dtype spec for x") and "Compiled" not in w.message
    error = ["ERROR: [Torch-TensorRT] - Requested amount of GPU memory could not be allocated.", "torch.Size([1, 3, 64, 64])"]
    [e] = parse_log(error, now_ms=1).build.diagnostics
    assert "torch.Size" not in e.message


@pytest.mark.parametrize(
    "raw",
    ["EP Errors are retried twice", "found 2 CUDA visible devicesX", "Building FP16 model is not supported"],
)
def test_round_l_lookalikes(raw: str) -> None:
    b = parse_log([raw], now_ms=1).build
    assert (b.diagnostics, b.precisions, b.facts.get("gpu_count")) == ([], [], None)


@pytest.mark.parametrize(
    ("raw", "family", "severity", "text"),
    [
        ("web_app_1  | [07/02/2026-03:47:09] [W] [TRT] msg", "trtexec", "warning", "msg"),  # compose v1's service column
        ("triton-2 | W0625 13:46:36.561751 1 f.cc:7] msg", "triton", "warning", "msg"),
        ('0:00:00.1 1 0x1 <span style="color:red"><b>ERROR</b></span> nvinfer gstnvinfer.cpp:1:f:&lt;x&gt; msg',
         "gstreamer", "error", "msg"),  # a terminal's colours pasted as HTML
        ("| tensorrt_llm | 1 | READY |", "plain", None, "| tensorrt_llm | 1 | READY |"),  # a table row is no service column
        ("x &lt; y", "plain", None, "x &lt; y"),  # entities stay unless the line had colour tags
    ],
)  # fmt: skip
def test_round_m_compose_column_and_html_colours_are_peeled(raw: str, family: str, severity: str | None, text: str) -> None:
    line = classify(raw)
    assert (line.family, line.severity, line.text) == (family, severity, text)


def test_round_m_an_onnxruntime_prefix_wrapped_by_the_terminal_is_one_line() -> None:
    lines = ["2024-01-01 00:00:00.1 [E:onnxruntime:, inference_session.cc:9 ", "Session::Init::", "<lambda_1>::operator ()] boom"]
    [d] = parse_log(lines, now_ms=1).build.diagnostics
    assert (d.severity, d.message, d.source) == ("error", "boom", "inference_session.cc:9")
    # ... but a bracket left open before a blank line is not joined across it
    assert parse_log(["2024-01-01 00:00:00.1 [E:onnxruntime:, x.cc:9 ", "", "y"], now_ms=1).build.diagnostics == []


@pytest.mark.parametrize(
    ("raw", "parts"),
    [
        ("100%|" + "#" * 60 + "| 5/5 [00:01<00:00,  4.10it/s][07/02/2026-03:47:09] [I] [TRT] msg", 2),
        ("Loading: 50%|" + "#" * 60 + "| 1/2 [00:09<00:09,  9.10s/it]2026-01-18 23:02:11,243 WARNING msg", 2),
        ("Loading: 100%|" + "#" * 60 + "| 2/2 [00:09<00:00,  4.10s/it]", 1),  # a bar that ends its line stays whole
    ],
)
def test_round_m_a_progress_bar_glued_to_the_next_message_is_split(raw: str, parts: int) -> None:
    assert len(split_glued(raw)) == parts


def test_round_m_unprefixed_and_wrapped_errors() -> None:
    trt7 = parse_log([r"[TensorRT] ERROR: C:\src\x\conv.cpp (12) - Cuda Error in nvinfer1::rt::f: -1 (msg)"], now_ms=1).build
    assert [(d.code, d.source) for d in trt7.diagnostics] == [("-1", "conv.cpp:12")]
    jetson = parse_log([r"[TRT] D:\b\y.cpp (3) - Cudnn Error in a::b: 8 (z)"], now_ms=1).build
    assert [(d.severity, d.source) for d in jetson.diagnostics] == [("error", "y.cpp:3")]
    java = parse_log(['Exception in thread "main" java.lang.IllegalStateException: engine gone'], now_ms=1).build
    assert [(d.code, d.message) for d in java.diagnostics] == [("java.lang.IllegalStateException", "engine gone")]
    # an exception line is never the previous message's continuation, and the location its message names is its source
    apart = parse_log(["[TensorRT-LLM][ERROR] Assertion failed: x", "Error: init: failed (/src/a.cpp:5)"], now_ms=1).build
    assert [(d.code, d.source) for d in apart.diagnostics] == [(None, None), ("Error", "a.cpp:5")]
    # ... and one broken at its end goes on, its source on the wrapped line
    [wrapped] = parse_log(["RuntimeError: [x] : 6 : ", "FAIL : y.cc:12 z"], now_ms=1).build.diagnostics
    assert (wrapped.code, wrapped.source, wrapped.message) == ("RuntimeError", "y.cc:12", "[x] : 6 :\nFAIL : y.cc:12 z")


def test_round_m_wordings() -> None:
    kv = parse_log(["[TensorRT-LLM][INFO] Using 1024 total tokens in paged KV cache, and 8 blocks per sequence"], now_ms=1).build
    assert kv.facts["kv_cache_tokens"] == 1024
    perf = parse_log(["Latency: min = 1 ms, max 3 ms, mean 2 ms, median 2 ms, percentile(99%) 3 ms Total Host Walltime: 3.5 s"],
                     now_ms=1).build.perf
    assert perf is not None and perf.latency is not None
    assert (perf.latency.mean_ms, perf.latency.p99_ms, perf.host_walltime_ms) == (2.0, 3.0, 3500.0)
    assert parse_log(["ERROR: TensorRT model exported with a different version than 8.6.1"], now_ms=1).build.trt_version == "8.6.1"
    assert parse_log(['    model = YOLO("weights/best.onnx")'], now_ms=1).build.model == "best"


@pytest.mark.parametrize("raw", ["a different version than 2.0 was found", 'print("x.onnx is missing")'])
def test_round_m_lookalikes(raw: str) -> None:
    b = parse_log([raw], now_ms=1).build
    assert (b.trt_version, b.model) == (None, None)


@pytest.mark.parametrize(
    ("raw", "family", "severity", "text"),
    [
        ("[GIE]  building CUDA engine", "jetson", None, "building CUDA engine"),  # TensorRT 2-3's old name for its tag
        ("E] Error[10]: msg", "bare", "error", "Error[10]: msg"),  # a paste that cut the stamp off just after the severity's letter
        ("2021-04-13 17:49:54,157:WARNING:tensorflow:msg", "pylog", "warning", "msg"),  # asctime:levelname:name:message
    ],
)
def test_round_n_prefixes(raw: str, family: str, severity: str | None, text: str) -> None:
    line = classify(raw)
    assert (line.family, line.severity, line.text) == (family, severity, text)


def test_round_n_unprefixed_failures() -> None:
    app = parse_log(["[GIE]  failed to build CUDA engine", "failed to load networks/x.caffemodel", "tool -- failed to initialize.",
                     "console:   failed to initialize tool"], now_ms=1).build
    assert [d.severity for d in app.diagnostics] == ["error"] * 4
    check = parse_log(["nvrtc_compile.cpp:940: CHECK(false) failed. NVRTC Compilation failure"], now_ms=1).build
    assert [(d.severity, d.source) for d in check.diagnostics] == [("error", "nvrtc_compile.cpp:940")]
    # a capitalised "Failed to ..." of an application's own, and prose that mentions a failure, are not errors by themselves
    for raw in ["Failed to create the engine", "the run failed to load nothing, retrying", "parseModel: Failed to open x"]:
        assert parse_log([raw], now_ms=1).build.diagnostics == [], raw


def test_round_n_wordings() -> None:
    scratch = parse_log(["[TRT] [E] IBuilder::buildSerializedNetwork: Error Code 4: Internal Error (plugin node x requires "
                         "2048 bytes of scratch space, but only 1024 is available.)"], now_ms=1).build
    assert scratch.memory.requested_bytes == 2048
    caffe = parse_log(["loading networks/alexnet.prototxt networks/bvlc_alexnet.caffemodel"], now_ms=1).build
    assert caffe.model == "bvlc_alexnet"  # a Caffe model is named by its weights, not its network description
    assert parse_log(["caffemodel=./yolov3_608.caffemodel;"], now_ms=1).build.model == "yolov3_608"
    ort = parse_log(["OrtSessionOptionsAppendExecutionProvider_Tensorrt: Failed to load shared library"], now_ms=1).build
    assert [d.severity for d in ort.diagnostics] == ["error"]  # onnxruntime's C API naming itself before its failure


def test_round_o_unprefixed_trt7_source_error() -> None:
    # TensorRT 7's source-located error with no tag or severity, with or without a blank before its "(" and its code
    for raw, source in [("coreReadArchive.h(271) - Serialization Error in readExternal:0(Type mismatch)", "coreReadArchive.h:271"),
                        ("cudnnBuilder2.cpp (1508) - Misc Error in buildEngine: -1 (Could not find tensor x.)", "cudnnBuilder2.cpp:1508")]:
        diags = parse_log([raw], now_ms=1).build.diagnostics
        assert [(d.severity, d.source) for d in diags] == [("error", source)], raw
    # a line that only names a source location and an error's kind, without the "in f: code" that TensorRT 7 prints, is not one
    assert parse_log(["notes.h(3) - Error handling, see below"], now_ms=1).build.diagnostics == []


def test_round_p_families() -> None:
    # a glibc assertion whose opening quote a paste took for its inline code's start; the closing backtick kept
    raw = "`loadtrt: engine.cpp:868: bool f(): Assertion size >= bsize && \"Mismatch of sizes.\"' failed.`"
    diags = parse_log([raw], now_ms=1).build.diagnostics
    assert [(d.severity, d.source) for d in diags] == [("error", "engine.cpp:868")]
    # a line that mentions an assertion but is no glibc assert() message stays plain
    assert parse_log(["notes.cpp:3: see the Assertion section, it failed before"], now_ms=1).build.diagnostics == []
    assert parse_log(["[05/05/2024-09:10:33] [TRT-LLM] [I] Set tokens_per_block to 128."], now_ms=1).build.facts["tokens_per_block"] == 128
    deser = "[TRT] [I] [MemUsageChange] TensorRT-managed allocation in engine deserialization: CPU +0, GPU +61, now: CPU 0, GPU 61 (MiB)"
    assert parse_log([deser], now_ms=1).build.memory.engine_bytes == 61 << 20
    # a printed engine size stays the engine's size: the deserialization's device share does not replace it
    assert parse_log(["[I] Loaded engine size: 60 MiB", deser], now_ms=1).build.memory.engine_bytes == 60 << 20
    assert parse_log(["Loading weights of yolov4 complete"], now_ms=1).build.model == "yolov4"
    assert parse_log(["Loading x.onnx from file", "Loading weights of yolov4 complete"], now_ms=1).build.model == "x"


def test_round_q_families() -> None:
    # a logger that closes each field with a pipe, no blanks: a prefix with its severity
    raw = "\t|yolov5|error|[TensorRT] 1: [pluginV2Runner.cpp::load::292] Error Code 1: Serialization (x)"
    diags = parse_log([raw], now_ms=1).build.diagnostics
    assert [(d.severity, d.code, d.source) for d in diags] == [("error", "1", "pluginV2Runner.cpp:292")]
    assert parse_log(["\t|yolov5|info|[TensorRT] Loaded engine size: 18 MB"], now_ms=1).build.diagnostics == []
    # a Markdown table row (it ends with its pipe) stays a row, never a prefix
    assert parse_log(["|yolov5|error|failed|"], now_ms=1).build.diagnostics == []
    # a failed check printing its reason on the next line keeps it; a check that says more on its own line does not
    check = "RuntimeError: [Error thrown at core/runtime/TRTEngine.cpp:132] Expected (a == b) to be true but got false"
    diags = parse_log([check, "Could not find a TensorRT engine binding for output named output_0"], now_ms=1).build.diagnostics
    assert [(d.code, d.source) for d in diags] == [("RuntimeError", "TRTEngine.cpp:132")] and "output_0" in diags[0].message
    assert "Next" not in parse_log(["RuntimeError: broken", "Next step"], now_ms=1).build.diagnostics[0].message
    # TensorRT 7's assertion with its location alone on the next line
    diags = parse_log(["[07/29/2021-22:38:57] [F] [TRT] Assertion failed: !empty()", "../builder/intInterval.cpp:20"], now_ms=1).build.diagnostics
    assert [(d.severity, d.source) for d in diags] == [("error", "intInterval.cpp:20")]
    # TensorRT 7's unprefixed parameter check and an application's assert macro naming file and line in words
    diags = parse_log(["Parameter check failed at: runtime.cpp::deserializeCudaEngine::30, condition: (blob) != nullptr"], now_ms=1).build.diagnostics
    assert [(d.severity, d.source) for d in diags] == [("error", "runtime.cpp:30")]
    diags = parse_log(["Assertion fail in file 'trtNet.cpp' line 146: _engine is null"], now_ms=1).build.diagnostics
    assert [(d.severity, d.source) for d in diags] == [("error", "trtNet.cpp:146")]
    # Python's warnings module, its source line indented under it
    warn = "/opt/conda/lib/python3.8/site-packages/torch/nn/functional.py:718: UserWarning: Named tensors are experimental."
    diags = parse_log([warn, "  return torch.max_pool2d(input)"], now_ms=1).build.diagnostics
    assert [(d.severity, d.source) for d in diags] == [("warning", "functional.py:718")]
    assert parse_log(["see functional.py:718: it explains the Warning: below"], now_ms=1).build.diagnostics == []
    # TensorRT 8.2-8.4's placement list
    layers = parse_log(["[TRT] [I] [GpuLayer] Gemm_794 + Relu_795", "[TRT] [I] [DlaLayer] {ForeignNode[a...b]}"], now_ms=1).build.layers
    assert [(x.name, x.device) for x in layers] == [("Gemm_794 + Relu_795", "GPU"), ("{ForeignNode[a...b]}", "DLA")]
    # tensorrtx's weights file names the model; a quoted engine path loses its quotes
    assert parse_log(["Loading weights: ./DBNet2.wts"], now_ms=1).build.model == "DBNet2"
    facts = parse_log(["[Detector] Loading TensorRT engine from '/w/yolov5s.engine'"], now_ms=1).build.facts
    assert facts["engine_path"] == "/w/yolov5s.engine"
    # the shell's crash report in a Chinese locale
    for crash in ("已放弃", "段错误 (核心已转储)"):
        assert [d.category for d in parse_log([crash], now_ms=1).build.diagnostics] == ["crash"], crash


def test_round_r_families() -> None:
    # TensorRT 10's scratch allocation at context creation
    assert parse_log(["[TRT] Allocated device scratch memory of size 254820864"], now_ms=1).build.memory.scratch_bytes == 254820864
    # a thread's uncaught exception: one error with its exception line, the header itself where that was cut off
    frames = ["Traceback (most recent call last):", '  File "/x/threading.py", line 1016, in _bootstrap_inner', "    self.run()"]
    whole = parse_log(["Exception in thread Thread-4 (loop):", *frames, "RuntimeError: boom"], now_ms=1).build.diagnostics
    assert [(d.code, d.source, d.message) for d in whole] == [("RuntimeError", "threading.py:1016", "boom")]
    cut = parse_log(["Exception in thread Thread-4 (loop):", *frames], now_ms=1).build.diagnostics
    assert [(d.severity, d.source, d.message) for d in cut] == [("error", "threading.py:1016", "Exception in thread Thread-4 (loop)")]
    # gdb stopping on a signal is a crash
    for line in ('Thread 10 "trtexec" received signal SIGSEGV, Segmentation fault.', "Program received signal SIGABRT, Aborted."):
        assert [d.category for d in parse_log([line], now_ms=1).build.diagnostics] == ["crash"], line
    # a logger's empty field after the severity, and an application's label before TensorRT's API name
    diags = parse_log(["[ERROR] [] TensorRT error: IExecutionContext::enqueueV3: Error Code 1: Cask (x)"], now_ms=1).build.diagnostics
    assert [(d.severity, d.code, d.category, d.source) for d in diags] == [("error", "1", "Cask", "IExecutionContext::enqueueV3")]
    # a plan built for another GPU, refused without a severity, and a coded message glued to its full stop
    glued = "The engine plan file is generated on an incompatible device, expecting compute 8.6 got compute 7.5, please rebuild." \
        "4: [runtime.cpp::deserializeCudaEngine::50] Error Code 4: Internal Error (Engine deserialization failed.)"
    diags = parse_log([glued], now_ms=1).build.diagnostics
    assert [(d.severity, d.code, d.source) for d in diags] == [("error", None, None), ("error", "4", "runtime.cpp:50")]
    diags = parse_log(["6: The engine plan file is generated on an incompatible device, expecting compute 6.1 got compute 8.6"], now_ms=1).build.diagnostics
    assert [(d.severity, d.code) for d in diags] == [("error", "6")]
    assert split_glued("A sentence that ends. 4: see runtime.cpp::f::50 for Error Code 4: it is not TensorRT's bracket") == [
        "A sentence that ends. 4: see runtime.cpp::f::50 for Error Code 4: it is not TensorRT's bracket"
    ]
    # a command the shell continues over lines, read whole where its last line ends it (or a blank line breaks it)
    b = parse_log(["trtexec \\", ">   --onnx=./m.onnx \\", ">   --saveEngine=./m.engine \\", ">   --fp16", "", "[I] Throughput: 1 qps"], now_ms=1).build
    assert (b.model, b.precisions, b.facts["engine_path"]) == ("m", ["fp16"], "./m.engine")
    assert b.facts["command"] == "trtexec --onnx=./m.onnx --saveEngine=./m.engine --fp16"
    b = parse_log(["$ trtllm-build --checkpoint_dir ./c \\", "    --gemm_plugin auto \\", ""], now_ms=1).build
    assert b.facts["command"] == "trtllm-build --checkpoint_dir ./c --gemm_plugin auto"
    # Triton: a backend taking a model, and a backend's configuration printed as JSON on its next line
    t = parse_log(["I0511 01:22:36.776234 1 tensorrt.cc:5423] TRITONBACKEND_ModelInitialize: test_tensorrt (version 1)"], now_ms=1)
    assert t.build.triton.models_loading == ["test_tensorrt:1"]
    t = parse_log(["I1015 06:48:46.881615 46 tensorflow.cc:2209] backend configuration:", "{}"], now_ms=1)
    assert t.stats.unparsed == 0
    t = parse_log(["I1015 06:48:46.881615 46 tensorflow.cc:2209] backend configuration:", "some prose"], now_ms=1)
    assert t.stats.unparsed == 1
    # PyTorch's advice under a CUDA error goes on that error
    err = "2024-10-24 10:30:19,131 - ignite - ERROR - Current run is terminating due to exception: CUDA error: an illegal memory access"
    advice = ["CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.",
              "For debugging consider passing CUDA_LAUNCH_BLOCKING=1"]
    diags = parse_log([err, *advice], now_ms=1).build.diagnostics
    assert len(diags) == 1 and "CUDA_LAUNCH_BLOCKING=1" in diags[0].message


def test_round_s_families() -> None:
    # trtexec 8.0 prints the release as the library's integer
    assert parse_log(["[06/21/2021-13:57:04] [I] TensorRT version: 8001"], now_ms=1).build.trt_version == "8.0.1"
    # a builder script saying which flag it sets names the precision; the code line that sets it does not
    assert parse_log(["Setting BuilderFlag.FP16", "Setting BuilderFlag.INT8"], now_ms=1).build.precisions == ["fp16", "int8"]
    assert parse_log(["    config.set_flag(trt.BuilderFlag.FP16)"], now_ms=1).build.precisions == []
    # DeepStream's engine info table: rows counted under their header only
    table = ["INFO: [Implicit Engine Info]: layers num: 2", "0   INPUT  kFLOAT input_1         3x224x224",
             "1   OUTPUT kFLOAT predictions/Softmax 20x1x1", ""]
    assert parse_log(table, now_ms=1).build.facts.get("network_inputs") == 1
    assert "network_inputs" not in parse_log(table[1:], now_ms=1).build.facts
    # an application reporting the exception its step died of
    diags = parse_log(["Runner failed with exception: FileNotFoundError(2, 'No such file or directory')"], now_ms=1).build.diagnostics
    assert [d.severity for d in diags] == ["error"]
    assert parse_log(["The runner failed with exceptional speed"], now_ms=1).build.diagnostics == []
    # a Python traceback the log ends inside is one error at its innermost frame; bare frames (TorchScript's) are not
    frames = ['  File "./export.py", line 308, in <module>', "    main(args)", '  File "./export.py", line 109, in __init__']
    cut = parse_log(["Traceback (most recent call last):", *frames], now_ms=1).build
    assert [(d.severity, d.source) for d in cut.diagnostics] == [("error", "export.py:109")] and cut.status == "failed"
    assert parse_log(frames, now_ms=1).build.diagnostics == []
    # trtexec's --dumpProfile rows pasted without their header
    rows = ["[06/21/2021-13:57:04] [I]     (Unnamed Layer* 50) [Convolution] + (Unnamed Layer* 52) [Activation]       64.10             5.83      0.2",
            "[06/21/2021-13:57:04] [I]                     (Unnamed Layer* 53) [Convolution]       63.91             5.81      0.2"]
    r = parse_log(rows, now_ms=1)
    assert [(p.layer, p.time_ms, p.avg_ms, p.time_pct) for p in r.profile] == [
        ("(Unnamed Layer* 50) [Convolution] + (Unnamed Layer* 52) [Activation]", 64.10, 5.83, 0.2),
        ("(Unnamed Layer* 53) [Convolution]", 63.91, 5.81, 0.2),
    ]
    # ... only where the figures read as a row: an average above the total or a share above 100% is not one
    for line in ("[06/21/2021-13:57:04] [I] conv1 [Convolution] 1.0 2.0 0.2", "[06/21/2021-13:57:04] [I] conv1 [Convolution] 9.0 2.0 150"):
        assert parse_log([line], now_ms=1).profile == [], line


def test_round_u_forms_the_logs_do_not_show() -> None:
    # a glog line names its own call site unless the file is a logger's (Triton's TensorRT backend forwards through logging.cc)
    diags = parse_log(["E0526 16:43:07.4 1 model_lifecycle.cc:597] failed to load 'ocr'",
                       "E0526 16:43:07.5 1 logging.cc:43] [TRT] forwarded", "E0526 16:43:07.6 1 trt_logger.cc:41] also"],
                      now_ms=1).build.diagnostics  # fmt: skip
    assert [(d.source, d.message) for d in diags] == [("model_lifecycle.cc:597", "failed to load 'ocr'"), (None, "forwarded"),
                                                      (None, "also")]  # fmt: skip
    # torch.distributed's "[rank0]:" in front of a traceback keeps the frames' indentation: one error at the innermost frame
    cut = parse_log(["[rank0]: Traceback (most recent call last):", '[rank0]:   File "/app/server.py", line 22, in <module>',
                     "[rank0]:     main()", '[rank0]:   File "/app/engine.py", line 7, in main'], now_ms=1).build  # fmt: skip
    assert [(d.severity, d.source) for d in cut.diagnostics] == [("error", "engine.py:7")]
    # "[rank]" without a number is not that prefix
    assert parse_log(["[rank]: Traceback (most recent call last):"], now_ms=1).build.diagnostics == []
    # a title-case "Warn:" is a warning; the word inside a sentence is not
    assert [d.severity for d in parse_log(["Warn: 'threshold' parameter has been deprecated."], now_ms=1).build.diagnostics] == ["warning"]
    assert parse_log(["We Warn: nothing"], now_ms=1).build.diagnostics == []
    # a Triton backend table whose path column wraps the library's name still names the backend, its continuation nothing
    rows = ["| onnxruntime | /opt/tritonserver/backends/onnxruntime/libtriton | {\"cmdline\":{\"auto-complete-config\":\"true\",\"min-c |",
            "|             | _onnxruntime.so                                  | ompute-capability\":\"6.000000\"} |"]
    triton = parse_log(["I0526 16:43:07.458305 1 server.cc:590] ", *rows], now_ms=1).build.triton
    assert triton is not None and triton.backends == ["onnxruntime"]
    # jetson-inference's unmarked "[TRT]    invalid engine cache file size (0 bytes)" is an error
    diags = parse_log(["[TRT]    invalid engine cache file size (0 bytes)  networks/x.engine"], now_ms=1).build.diagnostics
    assert [d.severity for d in diags] == ["error"]
