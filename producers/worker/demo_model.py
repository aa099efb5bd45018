"""The demo model: a small CNN written with ``onnx.helper``, deterministic weights, no download.

Three Conv-BN-ReLU blocks (3→16→32→64 channels) with max pooling, global
average pooling and a linear classifier over 10 classes, softmax output.
Input ``input`` float32 ``[N, 3, 64, 64]`` (dynamic batch), output ``probs``
``[N, 10]``. Generated on first use into ``<cache>/demo-cnn-<version>.onnx``
(``$XDG_CACHE_HOME/trtlens/models`` or ``~/.cache/trtlens/models``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

DEMO_NAME = "demo-cnn"
DEMO_VERSION = "v1"
INPUT_SHAPE = (3, 64, 64)
CLASSES = 10
_CHANNELS = (3, 16, 32, 64)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trtlens" / "models"


def build_demo_model(seed: int = 0):
    """The demo CNN as an ``onnx.ModelProto`` (same seed → byte-identical model)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def init(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    x = "input"
    for i, (cin, cout) in enumerate(zip(_CHANNELS[:-1], _CHANNELS[1:])):
        w = init(f"conv{i}.w", rng.normal(0, np.sqrt(2.0 / (cin * 9)), (cout, cin, 3, 3)))
        b = init(f"conv{i}.b", np.zeros(cout))
        nodes.append(helper.make_node("Conv", [x, w, b], [f"conv{i}"], name=f"conv{i}", kernel_shape=[3, 3],
                                      pads=[1, 1, 1, 1]))
        scale = init(f"bn{i}.scale", rng.uniform(0.8, 1.2, cout))
        bias = init(f"bn{i}.bias", rng.normal(0, 0.05, cout))
        mean = init(f"bn{i}.mean", rng.normal(0, 0.05, cout))
        var = init(f"bn{i}.var", rng.uniform(0.9, 1.1, cout))
        nodes.append(helper.make_node("BatchNormalization", [f"conv{i}", scale, bias, mean, var], [f"bn{i}"],
                                      name=f"bn{i}", epsilon=1e-5))
        nodes.append(helper.make_node("Relu", [f"bn{i}"], [f"relu{i}"], name=f"relu{i}"))
        if i < len(_CHANNELS) - 2:
            nodes.append(helper.make_node("MaxPool", [f"relu{i}"], [f"pool{i}"], name=f"pool{i}",
                                          kernel_shape=[2, 2], strides=[2, 2]))
            x = f"pool{i}"
        else:
            x = f"relu{i}"
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1))
    fc_w = init("fc.w", rng.normal(0, np.sqrt(1.0 / _CHANNELS[-1]), (CLASSES, _CHANNELS[-1])))
    fc_b = init("fc.b", np.zeros(CLASSES))
    nodes.append(helper.make_node("Gemm", ["flat", fc_w, fc_b], ["logits"], name="fc", transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1))
    graph = helper.make_graph(
        nodes,
        DEMO_NAME,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *INPUT_SHAPE])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", CLASSES])],
        initializer=inits,
    )
    model = helper.make_model(graph, producer_name="trtlens", opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by older ONNX Runtime / TensorRT parsers too
    onnx.checker.check_model(model)
    return model


def demo_model_path(cache_dir: Path | None = None) -> Path:
    """Path of the demo model, generating it on first use (atomic write, safe across processes)."""
    import onnx

    directory = Path(cache_dir) if cache_dir else default_cache_dir()
    path = directory / f"{DEMO_NAME}-{DEMO_VERSION}.onnx"
    if path.is_file():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{path.name}.{os.getpid()}.tmp"
    onnx.save(build_demo_model(), str(tmp))
    tmp.replace(path)
    return path
