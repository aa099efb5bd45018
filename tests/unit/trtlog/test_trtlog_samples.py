"""Every real log in tests/data/trt-logs (copied from ../shared/trt-logs with its README)
is one case here, with the figures its README says a parser should get out of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from trtlens.producers.trtlog import ParseResult, parse_log
from trtlens.schemas.events import EngineBuild

DATA = Path(__file__).resolve().parents[2] / "data" / "trt-logs"


def _errors(b: EngineBuild, code: str | None = None, category: str | None = None) -> int:
    return sum(
        d.count
        for d in b.diagnostics
        if d.severity == "error" and (code is None or d.code == code) and (category is None or d.category == category)
    )


def check_02(r: ParseResult) -> None:
    b = r.build
    kinds = [f.kind for f in b.fusions]
    assert len(b.fusions) == 6
    assert kinds.count("ConstShuffleFusion") == 2 and kinds.count("ConvReluFusion") == 2
    assert "EltReluFusion" in kinds and "LogSoftmaxTopKFusion" in kinds
    assert b.fusions[2].layers == ["node_conv2d", "node_relu"] and b.fusions[2].result == "node_conv2d + node_relu"
    assert b.removed_layers == ["ONNXTRT_ShapeShuffle_7"]
    assert (b.layers_before, b.layers_after, b.facts["layer_count_steps"]) == (24, 13, "24->17->13")
    assert len(b.tactic_timings) == 5 and all(t.tactic.startswith("0x") for t in b.tactic_timings)
    assert b.tactic_timings[0].tactic == "0xf067e6205da31c2e" and b.tactic_timings[0].time_ms == pytest.approx(0.00840102)
    assert b.tactic_timings[4].name.startswith("sm70_xmma_fprop_implicit_gemm") and b.tactic_timings[4].layer == "node_conv2d + node_relu"
    assert b.tactic_timings[0].runner == "CaskConvolution[0x80000009]"
    assert b.phase_times_ms["graph_optimization"] == pytest.approx(0.94121)
    assert r.stats.unparsed == 0 and r.stats.families == {"trtexec": 58}


def check_04(r: ParseResult) -> None:
    b = r.build
    assert len(r.profile) == 16
    assert b.profile.iterations == 20079 and b.profile.total_ms == pytest.approx(1468.17)
    assert b.profile.avg_ms == pytest.approx(0.0731) and b.profile.median_ms == pytest.approx(0.0686)
    first, top = r.profile[0], max(r.profile, key=lambda p: p.time_pct)
    assert first.layer == "Reformatting CopyNode for Input Tensor 0 to node_conv2d + node_relu"
    assert (first.time_ms, first.avg_ms, first.median_ms, first.time_pct) == (137.84, 0.0069, 0.0061, 9.4)
    assert top.layer == "node_linear_myl8_1" and top.time_pct == 13.2
    assert r.profile[8].layer == "PWN(node_linear_1 + node_relu_2)"
    assert sum(p.time_ms for p in r.profile) == pytest.approx(1468.17, abs=0.05)
    assert b.facts["aux_streams"] == 2 and b.trt_version == "10.16.0" and b.status == "ok"
    assert b.engine_id == "model-trained" and b.memory.engine_bytes == 6 << 20
    assert any("auxiliary streams" in d.message for d in b.diagnostics if d.severity == "warning")
    assert all(p.engine_id == "model-trained" for p in r.profile)


def check_05(r: ParseResult) -> None:
    p = r.build.perf
    assert p.throughput_qps == 18392
    assert (p.latency.mean_ms, p.latency.median_ms) == (0.0431899, 0.0386963)
    assert (p.latency.p90_ms, p.latency.p95_ms, p.latency.p99_ms) == (0.0480957, 0.0548096, 0.144043)
    assert (p.latency.min_ms, p.latency.max_ms) == (0.0334473, 0.882324)
    assert p.gpu_compute.p99_ms == 0.0952148 and p.enqueue.p99_ms == 0.0578613
    assert p.h2d.mean_ms == 0.00441713 and p.d2h.p95_ms == 0.00720215
    assert p.gpu_compute_cov_pct == 62.0202 and p.enqueue_bound is True
    assert p.host_walltime_ms == pytest.approx(3000.05) and p.gpu_compute_total_ms == pytest.approx(1844.86)
    warnings = [d.message for d in r.build.diagnostics if d.severity == "warning"]
    assert len(warnings) == 2 and any("coefficient of variance" in w for w in warnings)
    assert r.build.status == "ok" and r.build.model == "model-trained"


def check_07(r: ParseResult) -> None:
    b = r.build
    assert len(r.profile) == 4
    assert b.profile.iterations == 4932 and b.profile.total_ms == 5469.61
    assert (b.profile.avg_ms, b.profile.median_ms) == (1.1090, 1.1033)
    node = r.profile[1]
    assert node.layer == "{ForeignNode[conv1/7x7_s2...loss3/classifier]}" and node.time_pct == 93.1
    assert (node.time_ms, node.avg_ms, node.median_ms) == (5089.98, 1.0320, 1.0321)
    assert r.profile[2].layer == "Reformatting CopyNode for Input Tensor 0 to prob"


def check_10(r: ParseResult) -> None:
    b = r.build
    info = b.calibration_info
    assert (info.trt_version, info.calibrator, info.tensors) == ("8.4.1", "EntropyCalibration2", 16)
    assert len(b.calibration) == 16
    assert b.calibration["input"] / 127 == pytest.approx(0.0208, abs=1e-4)
    assert b.calibration["input"] == pytest.approx(2.6406, abs=1e-3)
    assert info.zero_ranges == ["(Unnamed Layer* 64) [Shuffle]_output", "366"]
    assert b.calibration["(Unnamed Layer* 64) [Shuffle]_output"] == 0.0
    assert "int8" in b.precisions and r.stats.unparsed == 1  # the poster's trailing "..."


def check_12(r: ParseResult) -> None:
    b = r.build
    (serial,) = [d for d in b.diagnostics if d.code == "1"]
    assert serial.category == "Serialization" and serial.source == "IRuntime::deserializeCudaEngine"
    assert b.facts["runtime_serialization_version"] == 237 and b.facts["engine_serialization_version"] == 239
    assert any(d.message.startswith("Could not deserialize engine") for d in b.diagnostics)
    assert b.status == "failed" and b.engine_id == "yolox_l"
    assert r.stats.families["bare"] == 3


def check_14(r: ParseResult) -> None:
    b = r.build
    codes = {d.code: d for d in b.diagnostics if d.severity == "error"}
    assert "8.5.1.7" in codes["6"].message and "8.5.3.1" in codes["6"].message
    assert codes["4"].category == "Internal Error" and codes["4"].source == "runtime.cpp:66"
    assert codes["AttributeError"].source == "common.py:398"
    assert "create_execution_context" in codes["AttributeError"].message
    assert (b.facts["expected_trt_version"], b.facts["found_trt_version"]) == ("8.5.1.7", "8.5.3.1")
    assert b.status == "failed" and b.memory.engine_bytes == 15 << 20
    assert "discord" not in codes["4"].message  # the application's own line is not a continuation


def check_17(r: ParseResult) -> None:
    b = r.build
    assert _errors(b, code="2", category="OutOfMemory") == 3
    assert any(d.code == "2" and d.message == "" for d in b.diagnostics)
    assert b.memory.requested_bytes == 24793579520
    assert any("Engine building failed" in d.message for d in b.diagnostics)
    assert (b.facts["network_inputs"], b.facts["network_outputs"]) == (49, 41)
    assert b.status == "failed" and r.stats.families["trtllm"] == 2


def check_20(r: ParseResult) -> None:
    b = r.build
    assert r.stats.families["deepstream"] == 4
    assert _errors(b, code="2", category="OutOfMemory") == 2
    assert b.memory.requested_bytes == 4294967296
    (skipped,) = [t for t in b.tactic_timings if t.skipped]
    assert skipped.tactic == "0x0000000000000004"
    skip_warning = next(d for d in b.diagnostics if d.message.startswith("Skipping tactic 3"))
    assert "setMemoryPoolLimit" in skip_warning.message  # wrapped continuation joined


def check_24(r: ParseResult) -> None:
    t = r.build.triton
    assert r.stats.families["triton"] == 12
    assert t.backends == ["pytorch", "tensorrt"] and t.backend_api_version == "1.15"
    assert t.models_loading == ["vehiclemakenet:1", "vehicletypenet:1", "trafficcamnet:1", "peopleNet:1", "ssd:1"]
    assert t.pinned_pool_bytes == 268435456 and t.cuda_pool_bytes == {"0": 67108864}


def check_27(r: ParseResult) -> None:
    t = r.build.triton
    assert len(t.metric_families) == 3 and set(t.metric_families.values()) == {"counter"}
    assert len(t.metrics) == 12
    by = {(m.name, m.labels["model"]): m.value for m in t.metrics}
    assert by[("nv_inference_request_success", "ensemble")] == 59
    assert by[("nv_inference_count", "tensorrt_llm")] == 0
    assert t.idle_models == ["tensorrt_llm"]
    assert r.stats.unparsed == 0


def check_29(r: ParseResult) -> None:
    b = r.build
    assert r.stats.document == "exportLayerInfo" and len(b.layers) == 9
    types = [layer.layer_type for layer in b.layers]
    assert types.count("CaskConvolution") == 2 and types.count("CaskPooling") == 2
    assert types.count("gemm") == 1 and types.count("kgen") == 4
    conv = b.layers[0]
    assert conv.name == "node_conv2d + node_relu" and conv.tactic == "0xb0bf940d5e0f9f45" and conv.precision == "fp32"
    assert conv.tactic_name.startswith("sm80_xmma_fprop_implicit_gemm")
    last = b.layers[-1]
    assert (last.input_precisions, last.output_precisions) == (["int32"], ["int64"])
    assert b.facts["bindings"] == "x,y,z"


def check_31(r: ParseResult) -> None:
    layers = {layer.name: layer for layer in r.build.layers}
    assert len(layers) == 7
    assert layers["Conv_0"].precision == "int8" and layers["Conv_0"].tactic == "1025026069226666066"
    foreign = next(v for k, v in layers.items() if k.startswith("{ForeignNode["))
    assert foreign.layer_type == "Myelin" and foreign.precision == "fp16"
    assert layers["Gemm_2128"].precision == "fp16" and layers["Gemm_2128"].tactic == "-1838109259315759592"
    first = layers["Reformatting CopyNode for Input Tensor 0 to Conv_0"]
    assert (first.precision, first.input_precisions, first.output_precisions) == ("fp32", ["fp32"], ["int8"])
    assert layers["(Unnamed Layer* 4183) [Shuffle]"].precision == "fp32"
    assert r.stats.unparsed == 0


def check_32(r: ParseResult) -> None:
    p = r.build.perf
    assert p.throughput_qps == 716.632
    assert (p.latency.mean_ms, p.latency.median_ms, p.latency.p99_ms) == (1.38629, 1.38037, 1.55853)
    assert p.latency.p90_ms is None and p.latency.p95_ms is None
    assert p.h2d.mean_ms == 0 and p.d2h.p99_ms == 0
    assert p.gpu_compute_cov_pct == 2.10486


def check_35(r: ParseResult) -> None:
    b = r.build
    assert r.stats.families == {"jetson": 19}
    assert len(b.fusions) == 9 and {f.kind for f in b.fusions} == {"ConvReluFusion"}
    assert b.fusions[0].layers == ["inception_4c/3x3_reduce", "inception_4c/relu_3x3_reduce"]


def check_36(r: ParseResult) -> None:
    b = r.build
    assert r.stats.families == {"legacy": 18}
    assert len(b.fusions) == 5 and {f.kind for f in b.fusions} == {"BinaryFusion"}
    assert b.layers_after == 29
    assert b.phase_times_ms["graph_optimization"] == pytest.approx(19.0949)
    timed = [t for t in b.tactic_timings if t.time_ms is not None and not t.fastest]
    assert [(t.tactic, t.time_ms) for t in timed] == [("1002", 0.059008), ("0", 0.015424)]
    fastest = [t for t in b.tactic_timings if t.fastest]
    assert fastest[0].tactic == "0" and fastest[0].time_ms == 0.015424 and fastest[0].runner == "Reformat"
    assert fastest[1].name == "volta_scudnn_128x128_relu_medium_nn_v1" and fastest[1].layer == "vgg0_conv0_fwd + vgg0_relu0_fwd"


def check_40(r: ParseResult) -> None:
    w = r.build.fp16_weight_warnings
    assert w == {"subnormal": 131, "below_min_subnormal": 46, "fp32_overflow": 1}
    assert sum(w.values()) == 178
    assert r.stats.families == {"bare": 6}


def check_43(r: ParseResult) -> None:
    b = r.build
    assert b.trt_version == "8.0.3" and b.status == "failed"
    importer = next(d for d in b.diagnostics if "importFallbackPluginImporter" in d.message)
    assert importer.code == "8" and importer.source == "builtin_op_importers.cpp:4643"
    assert "Plugin not found" in importer.message  # the un-prefixed continuation line
    messages = [d.message for d in b.diagnostics]
    assert "Failed to parse onnx file" in messages and "Engine set up failed" in messages
    assert b.plugin_fallbacks and b.facts["plugin_not_found"] is True
    assert b.facts["command"].startswith("trtexec --onnx=") and "fp16" in b.precisions
    assert b.engine_id == "faster_rcnn_resnet50_v1_800x133_trt"


def check_47(r: ParseResult) -> None:
    b = r.build
    assert len(b.dla_fallbacks) == 9
    types = [d.layer_type for d in b.dla_fallbacks]
    assert types.count("CONSTANT") == 5 and types.count("SHUFFLE") == 4
    assert b.dla_fallbacks[1].name == "(Unnamed Layer* 277) [Shuffle]" and b.dla_fallbacks[1].device == "GPU"
    assert b.facts["dla_core"] == "0" and b.engine_id == "truck-detect"


CASES: dict[str, Callable[[ParseResult], None]] = {
    "02-trtexec-trt1016-verbose-fusion-tactics.log": check_02,
    "04-trtexec-trt1016-dumpprofile-layer-table.log": check_04,
    "05-trtexec-trt1016-perf-summary-p90-p95-p99.log": check_05,
    "07-trtexec-trt852-orin-dumpprofile-foreignnode.log": check_07,
    "10-int8-calibration-cache-trt8401-segformer.log": check_10,
    "12-deserialize-version-tag-trt10-polygraphy.log": check_12,
    "14-engine-plan-incompatible-trt85-python-traceback.log": check_14,
    "17-oom-trtllm-build-llama2-13b.log": check_17,
    "20-oom-deepstream-nvinfer-prefix.log": check_20,
    "24-triton-startup-tensorrt-backend-init.log": check_24,
    "27-triton-metrics-tensorrt-llm-prometheus.log": check_27,
    "29-trtexec-trt1016-exportLayerInfo.json.log": check_29,
    "31-engine-layer-info-trt82-int8-mixed-precision-swin.log": check_31,
    "32-trtexec-trt8x-perf-summary-p99-only-yolov7.log": check_32,
    "35-jetson-inference-trt-prefix-convrelufusion-orin.log": check_35,
    "36-trt7-python-verbose-binaryfusion-tactics.log": check_36,
    "40-fp16-weight-conversion-warnings-trt861-polygraphy.log": check_40,
    "43-trtexec-trt803-onnx-parse-failed-plugin-not-found.log": check_43,
    "47-dla-unsupported-switching-to-gpu-trt86-orin.log": check_47,
}


def test_every_sample_has_a_case() -> None:
    assert sorted(p.name for p in DATA.glob("*.log")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_sample(name: str) -> None:
    result = parse_log(DATA / name, now_ms=1_700_000_000_000)
    CASES[name](result)
    assert result.build.event == "engine_build" and result.build.routing_key == result.build.engine_id
    assert result.stats.lines > 0 and result.stats.truncated == {}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sample_is_deterministic_and_line_input_matches(name: str) -> None:
    a = parse_log(DATA / name, now_ms=1)
    b = parse_log((DATA / name).read_text().splitlines(), source=str(DATA / name), now_ms=1)
    assert a.build.event_id == parse_log(DATA / name, now_ms=1).build.event_id
    assert a.build.model_dump(exclude={"worker_id"}) == b.build.model_dump(exclude={"worker_id"}) or a.stats.document != "text"
