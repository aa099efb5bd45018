"""Layer names → original layers and op types (the names the real logs print)."""

from __future__ import annotations

import pytest

from trtlens.greybox.engine import build_view, fusion_groups
from trtlens.greybox.names import entry_kind, fusion_kind_types, op_type, parts, walk
from trtlens.schemas.events import EngineBuild, Fusion


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Conv_0", "Conv"), ("Gemm_2128", "Gemm"), ("Conv-4", "Conv"), ("ReLU-5", "Relu"), ("MatMul-12", "MatMul"),
        ("p2o.BatchNormalization.37", "BatchNormalization"), ("/features/features.0/Conv", "Conv"),
        ("/avgpool/AveragePool", "Pool"), ("(Unnamed Layer* 7) [Scale]", "Scale"), ("(Unnamed Layer* 0) [Convolution]", "Conv"),
        ("(Unnamed Layer* 4179) [Fully Connected]", "Gemm"), ("node_conv2d_1", "Conv"), ("node_max_pool2d", "Pool"),
        ("vgg0_relu10_fwd", "Relu"), ("vgg0_dense0_relu_fwd", "Relu"), ("inception_4c/relu_3x3_reduce", "Relu"),
        ("node_of_gpu_0/res_conv1_bn_1", "BatchNormalization"), ("reshape_before_MatMul-9", "Reshape"),
        ("reshape_after_MatMul-12", "Reshape"), ("gemm1.bias", "Constant"), ("ONNXTRT_ShapeShuffle_7", "Shuffle"),
        ("shuffle_netv2/shufflenet_stage_2/shufflenet_unit1_11/conv2d_bn__re_lu_32/conv2d_32/Conv2D", "Conv"),
        ("h:0123456789ab:Conv", "Conv"), ("***:Relu", "Relu"), ("h:0123456789ab", None),
        ("prob", None), ("inception_4c/3x3_reduce", None), ("371", None),
    ],
)  # fmt: skip
def test_op_type(name: str, expected: str | None) -> None:
    assert op_type(name) == expected


@pytest.mark.parametrize(
    ("name", "kind", "layers"),
    [
        ("node_conv2d + node_relu", "layer", ["node_conv2d", "node_relu"]),
        ("PWN(node_linear_1 + node_relu_2)", "layer", ["node_linear_1", "node_relu_2"]),
        ("Conv_616 + PWN(PWN(Sigmoid_617), Mul_618)", "layer", ["Conv_616", "Sigmoid_617", "Mul_618"]),
        ("(Unnamed Layer* 0) [Convolution] + (Unnamed Layer* 1) [Scale]", "layer", ["(Unnamed Layer* 0) [Convolution]", "(Unnamed Layer* 1) [Scale]"]),
        ("{ForeignNode[318...Transpose_2125 + Flatten_2127]}", "foreign", ["318", "Transpose_2125", "Flatten_2127"]),
        ("node_linear_1_2_myl11_1", "myelin", ["node_linear_1_2"]),
        ("__myl_CastReshCast_myl16_1", "myelin", []),
        ("Reformatting CopyNode for Input Tensor 0 to node_conv2d + node_relu", "reformat", []),
        ("Conv-4 + ReLU-5.weight", "layer", ["Conv-4", "ReLU-5"]),
        ("Conv_0 + (Unn", "layer", ["Conv_0 + (Unn"]),  # cut off inside a bracket: not split
    ],
)  # fmt: skip
def test_parts_and_kind(name: str, kind: str, layers: list[str]) -> None:
    assert entry_kind(name) == kind and parts(name) == layers


def test_walk_keeps_the_structure_tensorrt_added() -> None:
    up = lambda s: s.upper()  # noqa: E731
    assert walk("PWN(a + b)", up) == "PWN(A + B)"
    assert walk("Reformatting CopyNode for Input Tensor 0 to x + y", up) == "Reformatting CopyNode for Input Tensor 0 to X + Y"
    assert walk("{ForeignNode[a...b + c]}", up) == "{ForeignNode[A...B + C]}"
    assert walk("node_linear_myl8_1", up) == "NODE_LINEAR_myl8_1" and walk("__mye26_0_myl8_0", up) == "__mye26_0_myl8_0"
    assert walk("Conv-4 + ReLU-5.weight", up) == "CONV-4 + RELU-5.weight"


@pytest.mark.parametrize(
    ("kind", "count", "types"),
    [("ConvReluFusion", 2, ["Conv", "Relu"]), ("ConstShuffleFusion", 2, ["Constant", "Shuffle"]), ("EltReluFusion", 2, ["ElementWise", "Relu"]),
     ("LogSoftmaxTopKFusion", 2, ["LogSoftmax", "TopK"]), ("BinaryFusion", 2, None), ("ConvReluFusion", 3, None), (None, 2, None)],
)  # fmt: skip
def test_fusion_kind_names_the_types(kind: str | None, count: int, types: list[str] | None) -> None:
    assert fusion_kind_types(kind, count) == types


def test_fusion_lines_fused_further_form_one_group_and_a_partial_view() -> None:
    report = EngineBuild(event_id="e", ts_ms=1, worker_id="w", engine_id="x", fusions=[
        Fusion(kind="ConvScaleFusion", layers=["conv", "bn"], result="conv + bn"),
        Fusion(kind="ConvReluFusion", layers=["conv + bn", "relu"], result="conv + bn + relu"),
        Fusion(kind="ConvReluFusion", layers=["conv2", "relu2"], result="conv2 + relu2"),
    ], removed_layers=["/pool/AveragePool"])  # fmt: skip
    assert fusion_groups(report) == [["conv", "bn", "relu"], ["conv2", "relu2"]]
    view = build_view(report)
    assert view is not None and view.source == "fusions" and not view.complete
    assert [e.types for e in view.entries] == [("Conv", "Scale", "Relu"), ("Conv", "Relu")]
    assert view.removed == (("/pool/AveragePool", "Pool"),)
