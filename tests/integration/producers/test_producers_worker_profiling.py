"""ONNX Runtime's own per-node profiling on the real demo model, published through the real broker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trtlens.kafka import partition_for_key
from trtlens.producers.publisher import Publisher
from trtlens.producers.worker.backends import OnnxRuntimeBackend
from trtlens.producers.instrument.profiling import profile_sampled
from trtlens.producers.worker.core import InferenceWorker
from trtlens.producers.worker.demo_model import INPUT_SHAPE, demo_model_path
from trtlens.producers.worker.identity import engine_id

from prodtest_helpers import read_topic

# what ONNX Runtime runs of the demo CNN: Conv+BN+ReLU fused into one Conv per block (its graph optimiser),
# pools, the head; names as its optimised graph gives them
HEAVY_OPS = {"Conv", "MaxPool", "Gemm"}


def test_profiled_requests_report_every_node_onnx_runtime_ran(tmp_path):
    path = demo_model_path(tmp_path / "models")
    backend = OnnxRuntimeBackend(path)
    backend.load()
    batch = np.random.default_rng(0).standard_normal((2, *INPUT_SHAPE), dtype=np.float32)
    plain = backend.infer(batch)
    assert plain.layers == ()
    first = backend.infer(batch, profile=True)
    second = backend.infer(batch, profile=True)  # a fresh profiling session each time: not empty the second time
    for t in (first, second):
        ops = {layer.layer_type for layer in t.layers}
        assert HEAVY_OPS <= ops, ops
        assert all(layer.time_ms >= 0 for layer in t.layers)
        assert sum(layer.time_ms for layer in t.layers) <= t.compute_ms * 1.05 + 0.05  # the nodes ran inside the run
    assert [layer.layer for layer in first.layers] == [layer.layer for layer in second.layers]
    profile_dir = backend._profile_dir
    backend.unload()
    assert profile_dir is not None and not any(Path(profile_dir).iterdir())  # every trace file read and removed


def test_the_worker_publishes_layer_profiles_keyed_by_engine_id(isolated, spool_config, tmp_path):
    path = demo_model_path(tmp_path / "models")
    eid = engine_id(path)
    share = 0.3
    requests = [f"req-{i}" for i in range(30)]
    profiled = [r for r in requests if profile_sampled(r, share)]
    assert 0 < len(profiled) < len(requests)
    with Publisher(isolated, spool_config) as pub:
        worker = InferenceWorker(OnnxRuntimeBackend(path), pub.publish, model="demo-cnn", model_version="v1",
                                 worker_id="w-prof", profile_share=share)
        batch = np.random.default_rng(0).standard_normal((1, *INPUT_SHAPE), dtype=np.float32)
        for rid in requests:
            worker.handle(rid, batch)
        assert pub.flush(20)

    def enough(landed):
        return sum(1 for _, _, e in landed.events if e["event"] == "layer_profile") >= len(profiled) * 5

    landed = read_topic(isolated, isolated.topics.events, until=enough)
    layer_rows = [(e, p) for p, _, e in landed.events if e["event"] == "layer_profile"]
    loads = [e for _, _, e in landed.events if e["event"] == "engine_load_complete"]
    assert loads and loads[0]["engine_id"] == eid and loads[0]["runtime_versions"]["provider"] == "CPUExecutionProvider"
    assert {e["request_id"] for e, _ in layer_rows} == set(profiled)  # exactly the sampled requests
    assert {p for _, p in layer_rows} == {partition_for_key(eid, isolated.topics.partitions)}
    for rid in profiled:
        rows = [e for e, _ in layer_rows if e["request_id"] == rid]
        assert all(e["engine_id"] == eid and e["iterations"] == 1 for e in rows)
        assert sum(e["time_pct"] for e in rows) == pytest.approx(100.0, abs=0.05)
        assert HEAVY_OPS <= {e["layer_type"] for e in rows}
    assert worker.stats.profiled == len(profiled)
