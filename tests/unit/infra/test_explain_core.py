"""trtlens explain's diagnosis (pure): causes ranked with evidence, baseline, other versions, timelines, build diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtlens.explain import ExplainError, parse_time
from trtlens.explain.core import diagnose, render, timeline

STAGES = ("queue", "engine_load", "h2d", "compute", "d2h", "other")
LOGS = Path(__file__).resolve().parents[2] / "data" / "trt-logs"


def tail(cold, dom, tail_means, body_means, thr):
    z = {s: 0.0 for s in STAGES}
    return {"threshold_ms": thr, "count": 10, "cold_start_share": cold, "dominant_stage_share": {**z, **dom},
            "stage_mean_ms_tail": {**z, **tail_means}, "stage_mean_ms_body": {**z, **body_means}, "delta_prev": None}


def window(version, ws, p99, t, engines, exemplars=()):
    return {"scope": "model_version", "scope_key": f"m/{version}", "model": "m", "model_version": version,
            "window_start_ms": ws, "window_ms": 10_000, "requests": 1000, "cold_start_rate": 0.01,
            "latency_ms": {"p99": p99, "p95": p99 / 2}, "attribution": {"p99": t, "p95": t}, "engines": engines,
            "exemplars": list(exemplars)}


def build(engine_id, version, log):
    from trtlens.greybox.config import BuildRules
    from trtlens.greybox.core import evaluate_build
    from trtlens.producers.trtlog.parse import parse_log

    ev = parse_log(LOGS / log, engine_id=engine_id).build.model_copy(update={"model": "m", "model_version": version})
    return evaluate_build(ev, BuildRules()).model_dump(mode="json")


def test_the_diagnosis_ranks_causes_and_compares_with_baseline_other_versions_and_builds():
    cold = tail(0.8, {"engine_load": 0.8, "compute": 0.2}, {"engine_load": 1400.0, "compute": 9.0}, {"compute": 8.0}, 1755.0)
    healthy = tail(0.0, {"compute": 1.0}, {"compute": 20.0}, {"compute": 8.0}, 25.0)
    w = window("v2", 100_000, 1755.0, cold, ["e2"], exemplars=["r1", "r2"])
    prev = [window("v2", 100_000 - 10_000 * i, 300.0 + i, healthy, ["e2"]) for i in range(1, 4)]
    other = window("v1", 100_000, 25.0, healthy, ["e1"])
    traces = [{"request_id": "r1", "cold_start": True, "worker_id": "w", "engine_id": "e2", "status": "ok",
               "stages": {"queue_ms": 1.0, "engine_load_ms": 1700.0, "compute_ms": 9.0, "total_ms": 1712.0}}]
    builds = {"e2": build("e2", "v2", "36-trt7-python-verbose-binaryfusion-tactics.log"),
              "e1": build("e1", "v1", "02-trtexec-trt1016-verbose-fusion-tactics.log")}
    alert = {"rule_id": "p99", "rule_kind": "p99_above", "state": "firing", "value": 1755.0, "threshold": 1000.0,
             "explanation": "x", "exemplar_query": 'request_id:("r1" OR "r2")', "url": None}
    d = diagnose(w, alert=alert, previous=prev, others=[other], traces=traces, builds=builds)
    assert [c["cause"] for c in d["causes"]][:2] == ["cold_start", "stage:compute"]
    assert d["causes"][0]["evidence"][1] == "v1: P99 25.0 ms, this cause in 0% of its tail, engine load mean 0.0 ms there"
    assert d["change"]["baseline_p99_ms"] == 302.0 and d["change"]["ratio_to_baseline"] == pytest.approx(1755 / 302)
    assert d["change"]["previous_p99_ms"] == 301.0
    assert d["missing_exemplars"] == ["r2"]
    [diff] = d["build_diffs"]
    assert (diff["old_engine_id"], diff["new_engine_id"], diff["against"], diff["against_version"]) == (
        "e1", "e2", "other_version", "v1")
    assert diff["fusion_rate"]["new"] < diff["fusion_rate"]["old"]
    assert d["causes"][-1]["cause"] == "build:fusion_rate"
    text = render(d)
    for words in ("m/v2", "1. 80% of the tail were cold starts, engine load mean 1.4 s", "baseline P99 302 ms",
                  "v1: P99 25.0 ms", "Build diff e1 (v1) -> e2", "r1  1.7 s  cold", "engine_load +1.0:1.7 s",
                  "not (yet) in the store: r2", 'Open them: request_id:("r1" OR "r2")'):
        assert words in text, words


def test_an_engine_the_previous_windows_ran_and_this_one_does_not_is_a_rebuild_worded_by_the_build_diff():
    slow = tail(0.0, {"compute": 1.0}, {"compute": 64.0}, {"compute": 50.0}, 120.0)
    healthy = tail(0.0, {"compute": 1.0}, {"compute": 15.0}, {"compute": 8.0}, 17.0)
    w = window("v2", 100_000, 127.0, slow, ["e3"])
    prev = [window("v2", 90_000, 133.0, slow, ["e2", "e3"]), window("v2", 80_000, 17.0, healthy, ["e2"])]
    builds = {"e2": build("e2", "v2", "02-trtexec-trt1016-verbose-fusion-tactics.log"),
              "e3": build("e3", "v2", "36-trt7-python-verbose-binaryfusion-tactics.log")}
    d = diagnose(w, alert=None, previous=prev, others=[], traces=[], builds=builds)
    assert [c["cause"] for c in d["causes"]] == ["stage:compute", "build:fusion_rate"]
    rebuilt = d["causes"][1]
    assert (rebuilt["engine_id"], rebuilt["replaced_engine_id"]) == ("e3", "e2")
    assert rebuilt["text"].startswith("engine e3 replaced e2, which served the previous windows (P99 17.0 ms in the "
                                      "last one it served alone), and fuses ")
    [diff] = d["build_diffs"]
    assert (diff["against"], diff["against_version"], diff["old_engine_id"], diff["new_engine_id"]) == (
        "previous_engine", "v2", "e2", "e3")
    assert diff["fusion_rate"]["new"] < diff["fusion_rate"]["old"]
    assert "Build diff e2 (v2, previous windows) -> e3:" in render(d) and "newly unfused: " in render(d)
    # the same change without build reports is still named, and says what it lacks
    d = diagnose(w, alert=None, previous=prev, others=[], traces=[], builds={})
    assert d["causes"][-1]["cause"] == "engine_change" and d["build_diffs"] == []
    assert d["causes"][-1]["evidence"][1:] == ["no build report of both engines to compare"]
    assert "- no build report of both engines to compare" in render(d)
    # an engine that keeps serving is no change
    d = diagnose(w, alert=None, previous=[window("v2", 90_000, 127.0, slow, ["e3"])], others=[], traces=[], builds=builds)
    assert [c["cause"] for c in d["causes"]] == ["stage:compute"]


def test_timeline_orders_stages_and_puts_the_rest_in_other():
    t = timeline({"request_id": "r", "stages": {"queue_ms": 2.0, "compute_ms": 5.0, "total_ms": 10.0}})
    assert [(s["stage"], s["start_ms"], s["duration_ms"]) for s in t["stages"]] == [
        ("queue", 0.0, 2.0), ("compute", 2.0, 5.0), ("other", 7.0, 3.0)]


def test_without_attribution_there_is_no_cause_but_still_a_diagnosis():
    w = window("v1", 0, 50.0, None, [])
    w["attribution"] = None
    d = diagnose(w, alert=None, previous=[], others=[], traces=[], builds={})
    assert d["causes"] == [] and "none found" in render(d)


def test_time_parsing():
    assert parse_time("1767226200000") == 1767226200000
    assert parse_time("2026-01-01T00:10:00Z") == 1767226200000
    assert parse_time("2026-01-01T00:10:00") == 1767226200000
    with pytest.raises(ExplainError, match="ISO 8601"):
        parse_time("yesterday")
