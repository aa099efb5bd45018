"""Load generator core: deterministic, valid events, ground truth equal to what it sends, faults as declared."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from trtlens.producers.load.config import FaultSpec, LoadConfig, ModelSpec, VersionSpec
from trtlens.producers.load.core import generate, nearest_rank, summarise
from trtlens.schemas.events import EVENT_ADAPTER

START = 1_700_000_000_000
TRUTH_KEYS = ("model", "model_version", "window_start_ms", "window_ms", "requests", "errors", "cold_starts",
              "p50_ms", "p95_ms", "p99_ms", "latencies_ms_sorted")


def _config(**over) -> LoadConfig:
    base = dict(seed=7, rate_rps=400, duration_s=25, start_ms=START, window_ms=5000, ground_truth_latencies=True,
                faults=FaultSpec(duplicate_rate=0.03, out_of_order_rate=0.05, late_rate=0.02, incomplete_rate=0.02,
                                 grace_ms=2000, late_by_ms=500))
    base.update(over)
    return LoadConfig(**base)


@pytest.fixture(scope="module")
def run_and_events():
    run = generate(_config())
    return run, list(run.events)


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([1.0], 0.99, 1.0), ([1, 2, 3, 4], 0.5, 2), ([1, 2, 3, 4], 0.75, 3), ([1, 2, 3, 4], 0.99, 4),
    (list(range(1, 101)), 0.95, 95), (list(range(1, 101)), 0.99, 99), (list(range(1, 101)), 0.991, 100),
])
def test_nearest_rank_is_the_lower_definition(values, q, expected):
    assert nearest_rank(values, q) == expected


def test_same_seed_same_run_other_seed_other_run():
    a, b, c = generate(_config()), generate(_config()), generate(_config(seed=8))
    events_a = list(a.events)
    assert events_a == list(b.events) and a.ground_truth == b.ground_truth
    assert [e["event_id"] for e in events_a] != [e["event_id"] for e in c.events]


def test_clock_is_injected_when_start_is_not_given():
    run = generate(_config(start_ms=None), clock_ms=lambda: START + 123)
    assert run.start_ms == START + 123 and run.ground_truth["start_ms"] == START + 123


def test_every_event_is_valid_against_the_contract(run_and_events):
    run, events = run_and_events
    assert len(events) == run.expected_events == run.ground_truth["events_sent"]
    for e in events:
        EVENT_ADAPTER.validate_python(e)


def test_ground_truth_windows_equal_the_sent_events(run_and_events):
    run, events = run_and_events
    truth = [{k: w[k] for k in TRUTH_KEYS} for w in run.ground_truth["windows"]]
    assert summarise(events, 5000, latencies=True) == truth
    assert sum(w["requests"] for w in truth) == run.ground_truth["complete_requests"]


def test_fault_counts_match_the_stream(run_and_events):
    run, events = run_and_events
    gt = run.ground_truth
    ids = Counter(e["event_id"] for e in events)
    assert sum(n - 1 for n in ids.values()) == gt["faults"]["duplicates"] > 0
    assert len(ids) == gt["events"]
    by_request = defaultdict(set)
    for e in events:
        if "request_id" in e:
            by_request[e["request_id"]].add(e["event"])
    assert sum("request_complete" not in kinds for kinds in by_request.values()) == gt["faults"]["incomplete"] > 0
    # late: request_complete sent after event time passed its window end + grace
    watermark, late, regressions, seen = 0, 0, 0, set()
    for e in events:
        if e["event"] == "request_complete" and e["event_id"] not in seen:
            seen.add(e["event_id"])
            end = e["ts_ms"] - e["ts_ms"] % 5000 + 5000
            if watermark > end + 2000:
                late += 1
        if e["ts_ms"] < watermark:
            regressions += 1
        watermark = max(watermark, e["ts_ms"])
    assert late == gt["faults"]["late"] > 0
    assert regressions >= gt["faults"]["out_of_order"] > 0
    assert sum(w["late"] for w in gt["windows"]) == gt["faults"]["late"]


def test_no_faults_means_event_time_order_and_complete_requests():
    run = generate(_config(faults=FaultSpec()))
    events = list(run.events)
    assert [e["ts_ms"] for e in events] == sorted(e["ts_ms"] for e in events)
    assert run.ground_truth["faults"] == {"duplicates": 0, "late": 0, "out_of_order": 0, "incomplete": 0}
    assert run.ground_truth["complete_requests"] == run.ground_truth["requests"]


def test_cold_starts_carry_the_flag_and_the_engine_load():
    cfg = _config(models=[ModelSpec(name="m", versions=[VersionSpec(name="v", cold_start_prob=0.2, error_rate=0.0)])],
                  faults=FaultSpec())
    events = list(generate(cfg).events)
    per_request = defaultdict(list)
    for e in events:
        if "request_id" in e:
            per_request[e["request_id"]].append(e)
    cold = 0
    for evs in per_request.values():
        kinds = [e["event"] for e in evs]
        done = evs[-1]
        if done["cold_start"]:
            cold += 1
            assert kinds == ["request_received", "engine_load_start", "engine_load_complete", "inference_complete",
                             "request_complete"]
            inf = evs[3]
            assert inf["cold_start"] is True and inf["engine_load_ms"] == evs[2]["duration_ms"] > 0
            assert done["total_ms"] >= inf["engine_load_ms"] + inf["latency_ms"]
        else:
            assert kinds == ["request_received", "inference_complete", "request_complete"]
            assert evs[1]["cold_start"] is False and "engine_load_ms" not in evs[1]
    assert cold > 0


def test_errors_end_with_an_error_event_and_a_terminal_event():
    cfg = _config(models=[ModelSpec(name="m", versions=[VersionSpec(name="v", error_rate=0.3, cold_start_prob=0)])],
                  faults=FaultSpec())
    run = generate(cfg)
    per_request = defaultdict(list)
    for e in run.events:
        if "request_id" in e:
            per_request[e["request_id"]].append(e["event"])
    errors = [k for k in per_request.values() if "error" in k]
    assert errors and all(k == ["request_received", "error", "request_complete"] for k in errors)
    assert sum(w["errors"] for w in run.ground_truth["windows"]) == len(errors)


def test_rate_and_duration_set_event_time_span():
    run = generate(_config(rate_rps=1000, duration_s=3, faults=FaultSpec(), gpu_sample_interval_ms=0))
    events = list(run.events)
    received = [e for e in events if e["event"] == "request_received"]
    assert len(received) == 3000
    assert START <= min(e["ts_ms"] for e in received) and max(e["ts_ms"] for e in received) < START + 3000


@pytest.mark.parametrize(("values", "message"), [
    ({"rate_rps": 0}, "rate_rps"),
    ({"faults": {"late_rate": 2}}, "late_rate"),
    ({"models": [{"name": "m", "versions": [{"name": "v"}, {"name": "v"}]}]}, "listed twice"),
    ({"models": [{"name": "m", "versions": []}]}, "versions"),
    ({"nonsense": 1}, "nonsense"),
])
def test_invalid_load_config_names_the_key(values, message):
    with pytest.raises(ValueError, match=message):
        LoadConfig(**values)


def test_a_rebuilt_engine_serves_from_its_roll_out_computes_slower_and_both_builds_are_reported():
    from trtlens.greybox.core import fusion_rate
    from trtlens.producers.load.config import RebuildSpec
    from trtlens.producers.worker.identity import synthetic_engine_id
    from trtlens.schemas.events import EngineBuild

    start = 1_767_226_200_000
    rebuild = RebuildSpec(at_fraction=0.4, compute_factor=8.0, fusion_rate_before=0.4, fusion_rate_after=0.2)
    models = [ModelSpec(name="m", versions=[VersionSpec(name="v1", cold_start_prob=0.05),
                                            VersionSpec(name="v2", cold_start_prob=0.05, rebuild=rebuild)])]
    plain = [ModelSpec(name="m", versions=[VersionSpec(name="v1", cold_start_prob=0.05),
                                           VersionSpec(name="v2", cold_start_prob=0.05)])]
    cfg = dict(seed=5, rate_rps=300, duration_s=10, start_ms=start, window_ms=2000, gpu_sample_interval_ms=0)
    run = generate(LoadConfig(**cfg, models=models))
    events = list(run.events)
    assert len(events) == run.expected_events == run.ground_truth["events_sent"]
    before, after = synthetic_engine_id("m", "v2", "b1"), synthetic_engine_id("m", "v2", "b2")
    # both build reports first (older than any request), with the fusion rates asked for
    builds = [EngineBuild.model_validate(e) for e in events[:2]]
    assert [b.engine_id for b in builds] == [before, after] and events[2]["event"] == "request_received"
    assert [fusion_rate(b) for b in builds] == [0.4, 0.2]
    assert builds[0].ts_ms < builds[1].ts_ms < start and all(b.model_version == "v2" for b in builds)
    assert [(b["engine_id"], b["fusion_rate"]) for b in run.ground_truth["builds"]] == [(before, 0.4), (after, 0.2)]
    # every request event of v2 names the engine that served it: the first before 40% of the run, the rebuild after
    switch = start + 4000
    received = {e["request_id"]: e["ts_ms"] for e in events if e["event"] == "request_received"}
    engines = [e for e in events if e.get("engine_id") and e["event"] != "engine_build"]
    for e in engines:
        if e["model_version"] == "v2":
            assert e["engine_id"] == (after if received[e["request_id"]] >= switch else before), e
        else:
            assert e["engine_id"] == synthetic_engine_id("m", "v1")
    assert any(e["event"] == "engine_load_complete" and e["engine_id"] == after for e in engines)
    # the rebuilt engine's inference is the same draw, 8x; nothing else moved
    same = {e["request_id"]: e for e in generate(LoadConfig(**cfg, models=plain)).events if e["event"] == "inference_complete"}
    for e in events:
        if e["event"] == "inference_complete":
            factor = 8.0 if e["engine_id"] == after else 1.0
            assert e["compute_ms"] == pytest.approx(same[e["request_id"]]["compute_ms"] * factor, abs=0.002)
    rows = {(w["model_version"], w["window_start_ms"]): w for w in run.ground_truth["windows"]}
    assert rows[("v2", start)]["engines"] == [before] and rows[("v2", start + 6000)]["engines"] == [after]
    assert rows[("v1", start + 6000)]["engines"] == [synthetic_engine_id("m", "v1")]
    assert rows[("v2", start + 6000)]["p99_ms"] > 4 * rows[("v2", start)]["p99_ms"]
