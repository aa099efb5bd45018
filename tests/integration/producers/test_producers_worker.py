"""The worker (ONNX Runtime, demo model) serving requests into the real broker; the CLI end to end."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np

from trtlens.cli import main
from trtlens.kafka import partition_for_key
from trtlens.producers.publisher import Publisher
from trtlens.producers.worker.backends import OnnxRuntimeBackend
from trtlens.producers.worker.core import InferenceWorker
from trtlens.producers.worker.demo_model import INPUT_SHAPE, demo_model_path

from prodtest_helpers import read_topic

WARM = ["request_received", "inference_complete", "request_complete"]
COLD = ["request_received", "engine_load_start", "engine_load_complete", "inference_complete", "request_complete"]
FAILED = ["request_received", "error", "request_complete"]


def test_worker_serves_requests_with_exact_event_sequences_and_cold_starts(isolated, spool_config, tmp_path):
    idle = {"s": 0.0}
    backend = OnnxRuntimeBackend(demo_model_path(tmp_path / "models"))
    with Publisher(isolated, spool_config) as pub:
        worker = InferenceWorker(backend, pub.publish, model="demo-cnn", model_version="v1", worker_id="w-int",
                                 idle_unload_s=60.0, perf_s=lambda: idle["s"])
        batch = np.random.default_rng(0).standard_normal((2, *INPUT_SHAPE), dtype=np.float32)
        expected = {}
        for i in range(12):
            if i == 8:
                idle["s"] += 61.0  # idle past the unload threshold: the next request is cold again
            worker.handle(f"req-{i}", batch)
            expected[f"req-{i}"] = COLD if i in (0, 8) else WARM
        worker.error_rate = 1.0
        worker.handle("req-fail", batch)
        expected["req-fail"] = FAILED
        assert pub.flush(20)
    total = sum(len(v) for v in expected.values())
    landed = read_topic(isolated, isolated.topics.events, until=lambda l: len(l.events) >= total)
    per_request = defaultdict(list)
    for p, offset, e in sorted(landed.events, key=lambda x: (x[0], x[1])):
        assert p == partition_for_key(e["request_id"], isolated.topics.partitions)
        per_request[e["request_id"]].append(e)
    assert {rid: [e["event"] for e in evs] for rid, evs in per_request.items()} == expected
    for rid, evs in per_request.items():
        done = evs[-1]
        assert done["cold_start"] is (rid in ("req-0", "req-8"))
        assert done["status"] == ("error" if rid == "req-fail" else "ok")
        assert {e["worker_id"] for e in evs} == {"w-int"} and {e["backend"] for e in evs} == {"onnxruntime"}
        if expected[rid] == COLD:
            assert evs[3]["cold_start"] and evs[3]["engine_load_ms"] == evs[2]["duration_ms"] > 0
        if rid != "req-fail":
            assert evs[-2]["batch_size"] == 2 and evs[-2]["compute_ms"] > 0
    assert worker.stats.cold_starts == 2 and worker.stats.unloads == 1


def test_worker_cli_runs_the_demo_model(isolated, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRTLENS_KAFKA__BOOTSTRAP_SERVERS", isolated.kafka.bootstrap_servers)
    monkeypatch.setenv("TRTLENS_TOPICS__EVENTS", isolated.topics.events)
    monkeypatch.setenv("TRTLENS_PRODUCER__SPOOL_DIR", str(tmp_path / "spool"))
    rc = main(["worker", "--rps", "40", "--duration-s", "1", "--cache-dir", str(tmp_path / "models"),
               "--worker-id", "cli-w", "--json", "--gpu-sample-interval-s", "1"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["requests"] == 40 and summary["cold_starts"] == 1 and summary["errors"] == 0
    assert summary["gpu_samples"] == 0  # no NVML on this host: skipped quietly
    n = summary["publisher"]["published"]
    landed = read_topic(isolated, isolated.topics.events, until=lambda l: len(l.events) >= n)
    layer_rows = sum(e["event"] == "layer_profile" for _, _, e in landed.events)
    # 3 per request, the engine load pair, and one layer_profile per node of the requests profiled (default 1%)
    assert n == 40 * 3 + 2 + layer_rows and (layer_rows > 0) == (summary["profiled"] > 0)
    assert sum(e["event"] == "request_complete" for _, _, e in landed.events) == 40


def test_worker_cli_samples_at_the_source_keeping_cold_starts_and_errors(isolated, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRTLENS_KAFKA__BOOTSTRAP_SERVERS", isolated.kafka.bootstrap_servers)
    monkeypatch.setenv("TRTLENS_TOPICS__EVENTS", isolated.topics.events)
    monkeypatch.setenv("TRTLENS_PRODUCER__SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("TRTLENS_WORKER__PROFILE_SHARE", "0")
    monkeypatch.setenv("TRTLENS_WORKER__SAMPLING__RATE", "0.5")  # the flag below overrides it
    rc = main(["worker", "--rps", "40", "--duration-s", "1", "--cache-dir", str(tmp_path / "models"),
               "--worker-id", "cli-s", "--json", "--error-rate", "0.2", "--seed", "3", "--sample-rate", "0"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    kept = summary["kept_requests"]
    assert summary["requests"] == 40 and 0 < summary["errors"] < 40 and summary["cold_starts"] == 1
    assert kept + summary["sampled_out_requests"] == 40 and summary["errors"] <= kept <= summary["errors"] + 1
    n = summary["publisher"]["published"]
    landed = read_topic(isolated, isolated.topics.events, until=lambda l: len(l.events) >= n)
    done = [e for _, _, e in landed.events if e["event"] == "request_complete"]
    assert len(done) == kept and all(e["status"] == "error" or e["cold_start"] for e in done)
    assert sum(e["status"] == "error" for e in done) == summary["errors"]  # every failure kept, only those + cold
    assert sum(e["cold_start"] for e in done) == 1


def test_worker_keeps_serving_through_a_frozen_broker(private_stack, spool_config, tmp_path):
    """SIGSTOP the (private) broker mid-run: requests keep being served, every event arrives once, in order."""
    import os
    import signal
    import time

    from trtlens.stack import apply_to_settings

    base, start = private_stack
    state = start()
    settings = apply_to_settings(base, state)
    cfg = spool_config.model_copy(update={"unreachable_after_ms": 400, "publish_budget_ms": 50})
    backend = OnnxRuntimeBackend(demo_model_path(tmp_path / "models"))
    batch = np.zeros((1, *INPUT_SHAPE), np.float32)
    with Publisher(settings, cfg) as pub:
        worker = InferenceWorker(backend, pub.publish, model="demo-cnn", model_version="v1", worker_id="w-out")
        for i in range(20):
            worker.handle(f"a-{i}", batch)
        os.kill(state.kafka.pid, signal.SIGSTOP)
        try:
            # the requests go on while the broker is frozen (how long a publish call may take then is
            # publish_budget_ms; `trtlens bench produce` measures it, no timing is asserted here)
            i, deadline = 0, time.monotonic() + 15
            while (not pub.spooling or i < 40) and time.monotonic() < deadline:
                worker.handle(f"b-{i}", batch)
                i += 1
                time.sleep(0.01)
            assert i >= 40 and pub.spooling and pub.counters["spooled"] > 0
        finally:
            os.kill(state.kafka.pid, signal.SIGCONT)
        for j in range(20):
            worker.handle(f"c-{j}", batch)
        assert pub.flush(60), pub.counters
        counters = pub.counters
    served = worker.stats.requests
    total = served * 3 + 2
    assert counters["published"] == counters["submitted"] == total and counters["failed"] == counters["dropped"] == 0
    landed = read_topic(settings, settings.topics.events, until=lambda l: len(l.events) >= total)
    ids = [e["event_id"] for _, _, e in landed.events]
    assert len(ids) == len(set(ids)) == total
    per_request = defaultdict(list)
    for p, offset, e in sorted(landed.events, key=lambda x: (x[0], x[1])):
        per_request[e["request_id"]].append(e["event"])
    assert len(per_request) == served
    assert all(kinds in (WARM, COLD) for kinds in per_request.values())
    assert per_request["a-0"] == COLD
