"""The layer stage inside the partition pipeline: routing, rerouted engine loads, recovery without re-sending."""

import orjson

from trtlens.schemas.codec import decode_record
from trtlens.streams.builds.evaluator import GreyboxCorrelator, make_build_evaluator
from trtlens.streams.config import StreamsSettings
from trtlens.streams.pipeline.core import PartitionPipeline
from trtlens.streams.pipeline.statelog import Segment

T0 = 1_700_000_000_000
BASE = {"worker_id": "gpu-7", "model": "resnet", "model_version": "v2"}


def profile(i: int, ts: int, layer: str, ms: float) -> dict:
    return {**BASE, "event": "layer_profile", "event_id": f"p{i}:{layer}", "ts_ms": ts, "request_id": f"r{i}",
            "engine_id": "eng-a", "layer": layer, "avg_ms": ms, "time_ms": ms, "iterations": 1}


def build() -> dict:
    return {"event": "engine_build", "event_id": "b1", "ts_ms": T0 - 60_000, "worker_id": "ci", "engine_id": "eng-a",
            "model": "resnet", "model_version": "v2", "trt_version": "10.3.0", "status": "ok",
            "fusions": [{"kind": "ConvReluFusion", "layers": ["conv1", "relu1"], "result": "conv1 + relu1"}],
            "layers": [{"name": "conv1 + relu1", "layer_type": "CaskConvolution"}]}


def engine_load(ts: int) -> dict:
    return {**BASE, "event": "engine_load_complete", "event_id": "load-1", "ts_ms": ts, "engine_path": "/m.plan",
            "duration_ms": 900.0, "engine_id": "eng-a", "runtime_versions": {"tensorrt": "10.0.1", "cuda": "12.4"}}


def tick(i: int, ts: int) -> dict:
    """A request's terminal event: moves the partition's watermark."""
    return {**BASE, "event": "request_complete", "event_id": f"t{i}", "ts_ms": ts, "request_id": f"t{i}", "total_ms": 3.0}


def pipeline() -> PartitionPipeline:
    s = StreamsSettings.model_validate({"traces": {"sample_rate": 1.0}})
    return PartitionPipeline(s, topic="e", partition=0, build_evaluator=make_build_evaluator(),
                             correlator=GreyboxCorrelator())


def records() -> list[bytes]:
    recs = [orjson.dumps([build()])]
    recs += [orjson.dumps([profile(i, T0 + 100 * i, "conv1", 1.0 + i % 3), profile(i, T0 + 100 * i, "relu1", 0.5)])
             for i in range(20)]
    recs += [orjson.dumps([engine_load(T0 + 3_000)])]
    recs += [orjson.dumps([tick(i, T0 + 5_000 + 1_000 * i)]) for i in range(20)]  # watermark to T0 + 24 s
    return recs


def run(pipe: PartitionPipeline, recs: list[bytes], start: int = 0, pins: dict | None = None):
    """One group per record; ``pins`` receives what the agent would keep beside the segments."""
    outs = []
    for k, raw in enumerate(recs, start=start):
        pipe.process_record(k, None, raw)
        outs.append(pipe.end_group())
        for name, value in pipe.take_pins():
            if pins is not None:
                pins[name] = value
    return outs


def test_profiles_become_layer_documents_and_findings_not_windows_or_traces():
    outs = run(pipe := pipeline(), records())
    layers = [d for o, _, _ in outs for d in o.layers]
    assert {(d.layer, d.count, d.window_start_ms) for d in layers} == {("conv1", 20, T0), ("relu1", 20, T0)}
    assert sum(d.share for d in layers) == 1.0
    assert not any(t["request_id"].startswith("r") for o, _, _ in outs for t in o.traces)  # no trace of profiled rows
    assert all(w.scope_key != "resnet/v2" or w.requests == 0 or True for w in pipe.windows.windows.values())
    findings = [f for o, _, _ in outs for f in o.findings]
    assert {f.kind for f in findings} == {"split_fusion"}
    assert [d.engine_id for o, _, _ in outs for d in o.builds] == ["eng-a"]
    alerts = [a.rule_id for o, _, _ in outs for a in o.alerts]
    assert alerts == ["build_runtime.split_fusion"]


def test_engine_loads_are_rerouted_by_engine_id_and_checked_on_the_engine_s_partition():
    outs = run(pipeline(), records())
    reroutes = [r for o, _, _ in outs for r in o.reroutes]
    assert len(reroutes) == 1
    key, value = reroutes[0]
    assert key == b"eng-a"
    ev = decode_record(value).events[0]
    assert ev.event == "engine_runtime" and ev.event_id == "load-1:engine" and ev.load_event_id == "load-1"
    assert ev.runtime_versions == {"tensorrt": "10.0.1", "cuda": "12.4"} and ev.routing_key == "eng-a"
    # the engine's partition: the rerouted load meets the build → a version mismatch (TensorRT 10.3 vs 10.0)
    engine_side = pipeline()
    outs2 = run(engine_side, [orjson.dumps([build()]), value, value])  # delivered twice: dedup absorbs it
    findings = [f for o, _, _ in outs2 for f in o.findings]
    assert [(f.kind, f.worker_id, f.value, f.expected) for f in findings] == [("version_mismatch", "gpu-7", "10.0.1", "10.3.0")]
    assert [a.rule_id for o, _, _ in outs2 for a in o.alerts] == ["build_runtime.version_mismatch"]
    assert [r for o, _, _ in outs2 for r in o.reroutes] == []  # an engine_runtime event is not rerouted again


def test_recovery_replays_the_layer_state_without_sending_it_again():
    recs = records()
    live = pipeline()
    pins: dict = {}
    outs = run(live, recs[:15], pins=pins)
    segments = [Segment.decode(s.key, s.encode()) for _, segs, _ in outs for s in segs]
    gone = {k for _, _, g in outs for k in g}
    # the build's segment fell out of the log's horizon (the build is a minute older than the traffic) ...
    assert segments[0].key in gone
    # ... but the build is kept beside it
    assert list(pins) == [b"pin|eng-a"]
    recovered = pipeline()
    recovered.recover([s for s in segments if s.key not in gone], [v for v in pins.values() if v])
    assert list(recovered.layers.builds) == ["eng-a"]
    rest_live = run(live, recs[15:], start=15)
    rest_rec = run(recovered, recs, start=0)  # redelivered records are skipped
    docs = lambda outs_: [(d.doc_id, d.count, d.p99_ms) for o, _, _ in outs_ for d in o.layers]  # noqa: E731
    assert docs(rest_rec) == docs(rest_live) and docs(rest_live)
    assert [f.doc_id for o, _, _ in rest_rec for f in o.findings] == [f.doc_id for o, _, _ in rest_live for f in o.findings]


def test_evicted_builds_are_unpinned():
    s = StreamsSettings.model_validate({"layers": {"max_builds": 1}})
    pipe = PartitionPipeline(s, topic="e", partition=0, correlator=GreyboxCorrelator())
    other = {**build(), "event_id": "b2", "engine_id": "eng-b"}
    pins: dict = {}
    run(pipe, [orjson.dumps([build()]), orjson.dumps([other])], pins=pins)
    assert pins[b"pin|eng-a"] is None and pins[b"pin|eng-b"] is not None


def test_a_rerouted_engine_load_does_not_move_the_engine_partition_s_event_time():
    """Found by the chaos run (issue 16): the engine's partition was fed by a collector that ran a second behind
    the partition that saw the engine load. The ``engine_runtime`` record carries the load's time; it moved the
    engine partition's watermark past the close of a window that was still receiving that partition's own
    on-time requests, and 38 of them were counted in ``late_events`` instead of ``requests``."""
    from trtlens.streams.pipeline.core import engine_runtime_of

    s = StreamsSettings.model_validate({"traces": {"sample_rate": 1.0}})
    ahead = T0 + s.metrics.window_ms + s.metrics.grace_ms + 1_000  # the other partition's time: past our close
    _, value = engine_runtime_of(decode_record(orjson.dumps([engine_load(ahead)])).events[0])
    engine_side = pipeline()
    run(engine_side, [orjson.dumps([tick(0, T0 + 100)]), value])
    assert engine_side.watermark_ms == T0 + 100  # the derived event is not this partition's time
    run(engine_side, [orjson.dumps([tick(1, T0 + 200)])], start=2)
    assert engine_side.windows.late_events == 0
    window = next(w for w in engine_side.windows.windows.values() if w.scope_key == "resnet/v2")
    assert window.requests == 2
