"""Junk never makes the parser raise; classifier and format variants beyond the samples."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trtlens.producers.trtlog import classify, parse_log

DATA = Path(__file__).resolve().parents[2] / "data" / "trt-logs"
SAMPLES = {p.name: p.read_text(encoding="utf-8").splitlines() for p in sorted([*DATA.glob("*.log"), *DATA.glob("public/*.log")])}
ALL_LINES = [line for lines in SAMPLES.values() for line in lines]
PREFIXES = ["", "[07/02/2026-03:47:09] [V] [TRT] ", "[TRT] [E] ", "[W] ", "[!] ", "ERROR: [TRT]: ", "[TRT]    ",
            "[TensorRT] VERBOSE: ", "I0829 03:48:40.853740 1161 x.cc:1] ", "[TRT-LLM] [I] ", "&&&& FAILED "]  # fmt: skip

noise_line = st.one_of(
    st.text(max_size=200),
    st.sampled_from(ALL_LINES),
    st.builds(lambda p, s: p + s, st.sampled_from(PREFIXES), st.text(max_size=80)),
    st.builds(lambda s, i, j: s[:i] + s[j:], st.sampled_from(ALL_LINES), st.integers(0, 200), st.integers(0, 200)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(noise_line, max_size=60))
def test_random_line_noise_never_raises(lines: list[str]) -> None:
    result = parse_log(lines, source="noise.log", now_ms=0)
    assert result.stats.lines <= len("\n".join(lines).split("\n"))
    assert result.build.unparsed_lines == result.stats.unparsed >= 0
    result.build.model_dump_json()  # serialisable


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(SAMPLES)), st.integers(0, 10_000), st.integers(0, 10_000))
def test_truncation_and_splicing_never_raise(name: str, cut: int, start: int) -> None:
    text = "\n".join(SAMPLES[name])
    for variant in (text[: cut % (len(text) + 1)], text[start % (len(text) + 1) :], text.replace("\n", "\r\n")):
        result = parse_log(variant.split("\n"), source=name, now_ms=0)
        result.build.model_dump_json()


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_binary_garbage(blob: bytes) -> None:
    parse_log([blob], now_ms=0).build.model_dump_json()


def test_crlf_ansi_tabs_and_unicode_are_tolerated() -> None:
    lines = [
        "\x1b[33m[07/02/2026-03:47:09] [W] [TRT]\tConvReluFusion: Fusing  conv1 with relu1\x1b[0m\r",
        "[07/02/2026-03:47:09] [I] [TRT] [MemUsageStats] Peak memory usage of TRT CPU/GPU memory allocators: CPU 1 MiB, GPU 26 MiB\r",
        "[TRT] [V] ConvReluFusion: Fusing 层_1 with ReLU_ü\r",
    ]
    b = parse_log(lines, now_ms=0).build
    assert [f.layers for f in b.fusions] == [["conv1", "relu1"], ["层_1", "ReLU_ü"]]
    assert b.memory.peak_gpu_bytes == 26 << 20


@pytest.mark.parametrize(
    ("raw", "family", "severity", "text"),
    [
        ("[07/02/2026-03:47:09] [V] [TRT] Running: X", "trtexec", "debug", "Running: X"),
        ("[06/26/2023-14:33:11] [TRT] [E] 6: msg", "python", "error", "6: msg"),
        ("[TRT] [W] msg", "python", "warning", "msg"),
        ("[TensorRT] VERBOSE: msg", "legacy", "debug", "msg"),
        ("[TensorRT] INTERNAL ERROR: msg", "legacy", "error", "msg"),
        ("[W] msg", "bare", "warning", "msg"),
        ("[!] msg", "bare", "error", "msg"),
        ("ERROR: [TRT]: 2: msg", "deepstream", "error", "2: msg"),
        ("[TRT]    msg", "jetson", None, "msg"),
        ("WARNING: [Torch-TensorRT TorchScript Conversion Context] - msg", "torch_tensorrt", "warning", "msg"),
        ("DEBUG: [Torch-TensorRT] - msg", "torch_tensorrt", "debug", "msg"),
        ("INFO:torch_tensorrt.dynamo.conversion._TRTInterpreter:msg", "torch_tensorrt", "info", "msg"),
        ("[11/10/2023-06:30:40] [TRT-LLM] [E] msg", "trtllm", "error", "msg"),
        ("[TensorRT-LLM][WARNING] msg", "trtllm", "warning", "msg"),
        ("E0829 03:48:40.853740 1161 logging.cc:43] 1: [a.cpp::f::40] Error Code 1: x", "triton", "error", "1: [a.cpp::f::40] Error Code 1: x"),
        ("&&&& PASSED TensorRT.trtexec [TensorRT v8601] # trtexec", "status", None, "&&&& PASSED TensorRT.trtexec [TensorRT v8601] # trtexec"),
        ("plain words", "plain", None, "plain words"),
    ],
)
def test_classifier_families(raw: str, family: str, severity: str | None, text: str) -> None:
    line = classify(raw)
    assert (line.family, line.severity, line.text) == (family, severity, text)


def test_format_variants_not_in_the_samples() -> None:
    lines = [
        "[I] [TRT] Total Activation Memory: 8228864 bytes",
        "[I] [TRT] Total Weights Memory: 103529216 bytes",
        "[I] [TRT] Engine generation completed in 10.6392 seconds.",
        "[I] Engine built in 11.5 sec.",
        "[V] [TRT] Engine Layer Information:",
        "Name: conv.weight + /conv/Conv, LayerType: CaskConvolution, Inputs: [ { Name: x_q, Location: Device, Dimensions: [1,3,640,960], "
        "Format/Datatype: Row major Int8 format }], Outputs: [ { Name: y, Location: Device, Dimensions: [1,32,320,480], "
        "Format/Datatype: Thirty-two wide channel vectorized row major Int8 format }], ParameterType: Convolution, TacticValue: 0x00000000000003ea",
        "Name: /head/MatMul, LayerType: gemm, Inputs: [ { Name: a, Dimensions: [1,8], Format/Datatype: Channel major FP16 format where",
        "channel % 8 == 0 }], Outputs: [ { Name: b, Dimensions: [1,8], Format/Datatype: Row major linear FP32 }], TacticName: cublas, StreamId: 0",
        "[I] Host Latency",
        "[I] min: 1.64058 ms (end to end 1.66368 ms)",
        "[I] mean: 1.66069 ms (end to end 3.00909 ms)",
        "[I] percentile: 1.67065 ms at 99% (end to end 3.03931 ms at 99%)",
        "[I] throughput: 0 qps",
        "[I] GPU Compute",
        "[I] percentile: 1.5 ms at 99%",
        "[W] [TRT] Default DLA is enabled but layer (Unnamed Layer* 3) [Shuffle] is not supported on DLA, falling back to GPU.",
        "[V] [TRT] No importer registered for op: CustomLayerNorm. Attempting to import as plugin.",
        "[W] [TRT] Weights [name=Conv_0.weight] had the following issues when converted to FP16:",
        "[W] [TRT]  - Subnormal FP16 values detected. ",
        "[I]                Layer   Time (ms)   Avg. Time (ms)   Time %",
        "[I]              conv1+relu       10.0           0.1000     80.0",
        "[I]                  fc 1          2.5           0.0250     20.0",
        "[I]                Total       12.5           0.1250    100.0",
        "[Profile] attention_qkv_proj took 0.87 ms",
    ]
    r = parse_log(lines, now_ms=0)
    b = r.build
    assert b.memory.activation_bytes == 8228864 and b.memory.weights_bytes == 103529216
    assert b.build_time_ms == 11500 and b.phase_times_ms["engine_generation"] == pytest.approx(10639.2)
    conv, gemm = b.layers
    assert (conv.precision, conv.tactic, conv.output_precisions) == ("int8", "0x00000000000003ea", ["int8"])
    assert (gemm.precision, gemm.input_precisions, gemm.output_precisions) == ("fp16", ["fp16"], ["fp32"])  # wrapped line joined
    assert b.perf.latency.p99_ms == 1.67065 and b.perf.end_to_end.mean_ms == 3.00909 and b.perf.gpu_compute.p99_ms == 1.5
    assert b.dla_fallbacks[0].name == "(Unnamed Layer* 3) [Shuffle]"
    assert b.plugin_fallbacks == ["CustomLayerNorm"]
    assert b.fp16_weight_warnings == {"subnormal": 1} and b.fp16_affected_weights == ["Conv_0.weight"]
    assert [(p.layer, p.time_pct) for p in r.profile] == [("conv1+relu", 80.0), ("fc 1", 20.0)]
    assert b.profile.total_ms == 12.5


def test_export_profile_and_times_json() -> None:
    profile = '[{ "count" : 10 }, { "name" : "conv", "timeMs" : 3.0, "averageMs" : 0.3, "medianMs" : 0.3, "percentage" : 75.0 },' \
              ' { "name" : "fc", "timeMs" : 1.0, "averageMs" : 0.1, "medianMs" : 0.1, "percentage" : 25.0 }]'  # fmt: skip
    r = parse_log(profile.splitlines(), now_ms=0)
    assert r.stats.document == "exportProfile" and [p.layer for p in r.profile] == ["conv", "fc"]
    assert r.build.profile.iterations == 10 and r.build.profile.total_ms == 4.0
    times = "[" + ",".join(f'{{"startEnqMs": 0, "latencyMs": {v}, "computeMs": {v / 2}}}' for v in range(1, 101)) + "]"
    t = parse_log([times], now_ms=0)
    assert t.stats.document == "exportTimes"
    assert (t.build.perf.latency.p99_ms, t.build.perf.latency.median_ms, t.build.perf.gpu_compute.max_ms) == (99, 50, 50)


def test_unreadable_path_is_an_input_error(tmp_path: Path) -> None:
    from trtlens.errors import TrtlensError

    with pytest.raises(TrtlensError):
        parse_log(tmp_path / "missing.log")
