"""Layer profiles, build documents and build ↔ runtime findings through the real broker, app and store.

Events go to the events topic; a real ``trtlens streams`` worker aggregates them; the sink (in
process) indexes its outputs into the embedded store. The expected document ids are computed here
from their definition, not read from the code that makes them.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from trtlens.settings import IndexSettings

from support.streams_harness import Worker, publish, streams_settings, wait_for

T0 = 1_700_000_000_000  # a multiple of the 10 s window
WINDOW_MS = 10_000
BUILD_1, BUILD_2, REBUILD_1 = T0 - 3_600_000, T0 - 1_800_000, T0 - 600_000


def build(engine: str, at: int, version: str, *, trt: str = "10.3.0") -> dict:
    return {"event": "engine_build", "event_id": f"build-{engine}-{at}", "ts_ms": at, "worker_id": "ci",
            "engine_id": engine, "model": "resnet", "model_version": version, "status": "ok", "trt_version": trt,
            "layers_before": 3, "layers_after": 2, "precisions": ["fp16"],
            "fusions": [{"kind": "ConvReluFusion", "layers": ["conv1", "relu1"], "result": "conv1 + relu1"}],
            "layers": [{"name": "conv1 + relu1", "layer_type": "CaskConvolution", "precision": "fp16"},
                       {"name": "fc", "layer_type": "Gemm", "precision": "fp16"}]}


def profiles(engine: str) -> tuple[list[dict], dict[tuple[int, str], list[float]]]:
    """Profiled requests of ``engine`` in two windows; conv1 and relu1 run apart (the fusion split)."""
    events, truth = [], {}
    for i in range(40):
        ts = T0 + 500 * i  # 0..19.5 s: two windows
        ws = ts - ts % WINDOW_MS
        for layer, ms in (("conv1", 1.0 + (i % 7) * 0.25), ("relu1", 0.2), ("fc", 0.5)):
            events.append({"event": "layer_profile", "event_id": f"r{i}:layer:{layer}", "ts_ms": ts,
                           "request_id": f"r{i}", "worker_id": "gpu-7", "model": "resnet", "model_version": "v2",
                           "backend": "tensorrt", "engine_id": engine, "layer": layer, "time_ms": ms, "avg_ms": ms,
                           "iterations": 1})
            truth.setdefault((ws, layer), []).append(ms)
    return events, truth


def layer_id(engine: str, ws: int, layer: str) -> str:
    return f"{engine}:{ws}:{WINDOW_MS}:{hashlib.sha256(layer.encode()).hexdigest()[:16]}"


def search(es, index: str, **kw) -> dict[str, dict]:
    es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    resp = es.search(index=index, size=500, ignore_unavailable=True, allow_no_indices=True, **kw)
    return {h["_id"]: h["_source"] for h in resp["hits"]["hits"]}


@pytest.fixture
def es(stack_settings):
    from trtlens.es import es_client

    client = es_client(stack_settings.elasticsearch)
    yield client
    client.close()


async def test_layer_build_and_finding_documents_land_with_their_ids(stack_settings, es, tmp_path):
    import asyncio

    from trtlens.sinks.sink import ElasticsearchSink

    settings = streams_settings(stack_settings, metrics={"window_ms": WINDOW_MS, "grace_ms": 2_000})
    tag = settings.streams.app_id.removesuffix("-app")
    ix = IndexSettings(**{f: f"{tag}-{f}" for f in ("traces", "metrics", "alerts", "builds", "layers", "findings")})
    settings = settings.model_copy(update={"indices": ix, "sink": settings.sink.model_copy(
        update={"group_id": f"{tag}-sink", "fetch_max_wait_ms": 50})})
    worker = Worker(settings, tmp_path / "worker.log")
    sink = ElasticsearchSink(settings)
    task = asyncio.create_task(sink.run())

    async def landed(index: str, n: int, what: str) -> dict[str, dict]:
        for _ in range(240):
            docs = search(es, index)
            if len(docs) >= n:
                return docs
            if not worker.alive():
                raise AssertionError(f"streams worker died:\n{worker.log()[-3000:]}")
            await asyncio.sleep(0.5)
        raise AssertionError(f"timed out waiting for {n} {what} in {index} (have {len(search(es, index))})\n"
                             f"{worker.log()[-2000:]}")

    try:
        # three builds of one model, one at a time so each finds its predecessor indexed
        for n, ev in enumerate([build("eng-1", BUILD_1, "v1"), build("eng-2", BUILD_2, "v2"),
                                build("eng-1", REBUILD_1, "v1")], start=1):
            publish(settings, [ev])
            builds = await landed(ix.builds, n, "build documents")
        rows, truth = profiles("eng-2")
        load = {"event": "engine_load_complete", "event_id": "load-gpu-7", "ts_ms": T0, "worker_id": "gpu-7",
                "model": "resnet", "model_version": "v2", "engine_path": "/models/resnet-v2.plan", "duration_ms": 850.0,
                "engine_id": "eng-2", "runtime_versions": {"tensorrt": "10.0.1", "cuda": "12.4"}}
        publish(settings, rows + [load])
        layers = await landed(ix.layers, len(truth), "layer documents")
        findings = await landed(ix.findings, 2, "findings")
        alerts = await landed(ix.alerts, 2, "alerts")
    finally:
        sink.request_stop()
        await asyncio.wait_for(task, timeout=60)
        worker.stop()

    # one document per build, the rebuild of eng-1 did not overwrite the first
    assert set(builds) == {f"eng-1:{BUILD_1}", f"eng-2:{BUILD_2}", f"eng-1:{REBUILD_1}"}
    first, second, rebuild = builds[f"eng-1:{BUILD_1}"], builds[f"eng-2:{BUILD_2}"], builds[f"eng-1:{REBUILD_1}"]
    assert first["model"] == "resnet" and first["model_version"] == "v1" and first["diff_prev"] is None
    assert first["versions"] == {"tensorrt": "10.3.0"} and first["fallback_count"] == 0
    assert second["diff_prev"]["prev_engine_id"] == "eng-1" and second["diff_prev"]["prev_built_at_ms"] == BUILD_1
    assert rebuild["diff_prev"]["prev_engine_id"] == "eng-2" and rebuild["diff_prev"]["prev_built_at_ms"] == BUILD_2
    assert second["@timestamp"].startswith("2023-11-14T21:")  # BUILD_2 in ISO UTC
    # the stored diff is queryable by model and time
    hits = search(es, ix.builds, query={"bool": {"filter": [
        {"term": {"model": "resnet"}}, {"term": {"diff_prev.prev_engine_id": "eng-2"}}]}})
    assert set(hits) == {f"eng-1:{REBUILD_1}"}

    # layer documents: one per window × engine × layer, ids from their definition, figures from the input
    assert set(layers) == {layer_id("eng-2", ws, layer) for ws, layer in truth}
    for (ws, layer), values in truth.items():
        d = layers[layer_id("eng-2", ws, layer)]
        window_total = sum(sum(v) for (w, _), v in truth.items() if w == ws)
        assert d["count"] == len(values) and d["engine_id"] == "eng-2" and d["model_version"] == "v2"
        assert d["window_start_ms"] == ws and d["window_end_ms"] == ws + WINDOW_MS and d["layer"] == layer
        assert d["mean_ms"] == pytest.approx(sum(values) / len(values), rel=1e-6)
        assert d["p99_ms"] == pytest.approx(sorted(values)[-1], rel=0.02)
        assert d["share"] == pytest.approx(sum(values) / window_total, abs=1e-5)

    # findings: the fusion the build made runs split; the worker runs another TensorRT than the build's
    kinds = {f["kind"]: f for f in findings.values()}
    assert set(kinds) == {"split_fusion", "version_mismatch"}
    assert set(kinds["split_fusion"]["layers"]) >= {"conv1", "relu1"} and kinds["split_fusion"]["ref_ms"] == BUILD_2
    vm = kinds["version_mismatch"]
    assert vm["worker_id"] == "gpu-7" and vm["value"] == "10.0.1" and vm["expected"] == "10.3.0"
    assert {a["rule_id"] for a in alerts.values()} == {"build_runtime.split_fusion", "build_runtime.version_mismatch"}
    assert f"build_runtime.version_mismatch:gpu-7:{BUILD_2}:firing" in alerts


def test_a_build_older_than_the_state_log_survives_a_worker_kill(stack_settings, tmp_path):
    """The build's own segment leaves the state log's horizon; after SIGKILL the restarted worker still knows
    the build (pinned state key) and checks an engine load against it."""
    from support.streams_harness import latest_docs

    settings = streams_settings(stack_settings, metrics={"window_ms": WINDOW_MS, "grace_ms": 2_000})
    publish(settings, [build("eng-9", T0 - 7_200_000, "v9")])
    rows, truth = profiles("eng-9")  # 20 s of rows on the engine's partition; then 60 s more moves its watermark
    later = [{**r, "event_id": r["event_id"] + ":late", "ts_ms": r["ts_ms"] + 60_000, "request_id": r["request_id"] + "b"}
             for r in rows]
    first = Worker(settings, tmp_path / "first.log")
    try:
        publish(settings, rows)  # one group with the build: its segment ...
        wait_for(lambda: len(latest_docs(settings, settings.topics.layers)) >= len(truth), 90,
                 "the first layer windows", [first])
        publish(settings, later)  # ... falls out of the horizon with this group (60 s of event time later)
        wait_for(lambda: len(latest_docs(settings, settings.topics.layers)) >= 2 * len(truth), 90,
                 "layer windows before the kill", [first])
    finally:
        first.kill()
    second = Worker(settings, tmp_path / "second.log")
    try:
        load = {"event": "engine_load_complete", "event_id": "load-after-kill", "ts_ms": T0 + 81_000,
                "worker_id": "gpu-9", "model": "resnet", "model_version": "v9", "engine_path": "/m.plan",
                "duration_ms": 700.0, "engine_id": "eng-9", "runtime_versions": {"tensorrt": "8.6.1"}}
        publish(settings, [load])
        findings = wait_for(lambda: {k: v for k, v in latest_docs(settings, settings.topics.findings).items()
                                     if v["kind"] == "version_mismatch"}, 90, "the version mismatch after the restart",
                            [second])
    finally:
        second.stop()
    (f,) = findings.values()
    assert f["engine_id"] == "eng-9" and f["value"] == "8.6.1" and f["expected"] == "10.3.0"
    assert f["ref_ms"] == T0 - 7_200_000
    recovered = [line for line in second.log().splitlines() if "recovered segments=" in line and "records=0 " not in line]
    assert recovered  # the restarted worker rebuilt the engine's partition from its state
