"""When P99 jumps, say why — end to end against ground truth.

One run of the real pipeline (load generator → Publisher → ``trtlens streams`` →
``trtlens sink`` → store) through three phases in event time, each a load
scenario with one known cause in ``resnet50/v2`` (``producers/load/scenarios.py``),
``v1`` healthy throughout:

1. ``cold-start-storm``: 4% of v2's requests pay a ~900 ms engine load;
2. ``slow-compute``: v2 computes 6x slower than v1;
3. ``overload``: v2's requests wait in a queue (median 120 ms);
4. ``engine-rebuild``: v2 is served by engine ``b1`` (fusion rate 40%), then, from
   halfway through the phase, by its rebuild ``b2`` (20%), which computes 8x slower;
   the load generator publishes both build reports.

Build reports for the engines of phases 1-3 (two real TensorRT logs, published
with the engines' ids, through the streams build stage) are in the store too.

The tests read the store and check that every v2 window's P99 tail attribution
names the injected cause, with the shares recounted here from the raw events
(exactly, with the documented bucket rule) and close to the generator's exact
tail, and names the engines that served it; that every exemplar of every window
is a stored trace; that both alerts (the cold-start storm, the rebuild) carry
their explanation; and that ``trtlens explain`` says the same thing, naming the
rebuilt engine, the one it replaced and their fusion rates. The ``trtlens explain``
process runs twice (the latest alert as text, one window as JSON); the other
windows are diagnosed in-process by the same functions it calls (``gather`` →
``diagnose`` → ``render``), which saves a Python start-up each.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from e2e_helpers import StreamsOptions, e2e_settings, generate_events, load_config, publish, sink_process, store_docs, streams_process, wait_alive

from trtlens.producers.load.scenarios import SCENARIOS
from trtlens.producers.worker.identity import synthetic_engine_id
from trtlens.stack.processes import connection_env

WINDOW_MS = 2000
GRACE_MS = 500
PHASE_S = {"cold-start-storm": 6, "slow-compute": 6, "overload": 6, "engine-rebuild": 8}
PHASES = tuple(PHASE_S)
RULE = {"id": "v2_p99_above_80ms", "kind": "p99_above", "scope": "model_version", "model": "resnet50",
        "model_version": "v2", "threshold_ms": 80.0, "fire_after": 2, "resolve_after": 2}
LOGS = Path(__file__).resolve().parents[1] / "data" / "trt-logs"
GAMMA_LN = math.log(1.01 / 0.99)


def _bucket(ms: float) -> int:
    return math.ceil(math.log(ms) / GAMMA_LN) >> 2


def _build_events(start_ms: int) -> list[dict]:
    """v1's engine from a well-fused build log, v2's from a poorly fused one; ids = the load generator's."""
    from trtlens.producers.trtlog.parse import parse_log

    out = []
    for version, log in (("v1", "02-trtexec-trt1016-verbose-fusion-tactics.log"), ("v2", "36-trt7-python-verbose-binaryfusion-tactics.log")):
        build = parse_log(LOGS / log, engine_id=synthetic_engine_id("resnet50", version), now_ms=start_ms).build
        # the log's own dates would be its ts_ms: months away from the traffic's event time, they would move the
        # partition's watermark past every window (build reports tell the time like any event)
        out.append(build.model_copy(update={"model": "resnet50", "model_version": version, "ts_ms": start_ms})
                   .model_dump(mode="json"))
    return out


@pytest.fixture(scope="module")
def run(stack_settings, tmp_path_factory):
    from trtlens.es import es_client

    tmp = tmp_path_factory.mktemp("e2e-explain")
    settings = e2e_settings(stack_settings)
    options = StreamsOptions(window_ms=WINDOW_MS, grace_ms=GRACE_MS, idle_timeout_ms=2500, sample_rate=0.05, rules=[RULE])
    configs, start = [], None
    for i, name in enumerate(PHASES):
        cfg = load_config(seed=40 + i, rate_rps=600, duration_s=PHASE_S[name], window_ms=WINDOW_MS,
                          models=SCENARIOS[name][1], gpu_sample_interval_ms=0, workers=2,
                          **({"start_ms": start} if start else {}))
        configs.append(cfg)
        start = (cfg.start_ms or 0) + PHASE_S[name] * 1000 + WINDOW_MS  # the next phase starts on a later window
    events, truths = generate_events(*configs)
    builds = _build_events(configs[0].start_ms)

    streams = streams_process(settings, options, tmp).start()
    sink = sink_process(settings, tmp).start()
    procs = [streams, sink]
    es = es_client(settings.elasticsearch, request_timeout=60)
    want = {(w["model"] + "/" + w["model_version"], w["window_start_ms"]): w["requests"] for t in truths for w in t["windows"]}
    n_builds = len(builds) + sum(len(t["builds"]) for t in truths)  # the real logs' and the rebuild phase's
    try:
        publish(settings, builds + events, tmp / "spool")

        def done():
            metrics = [h["_source"] for h in store_docs(es, settings.indices.metrics)]
            got = {(m["scope_key"], m["window_start_ms"]): m["requests"] for m in metrics
                   if m["scope"] == "model_version" and m["final"]}
            return metrics if got == want and len(store_docs(es, settings.indices.builds)) == n_builds else None

        metrics = wait_alive(done, procs=procs, timeout_s=120, interval_s=1.0, what="every window (with all its requests) and every build in the store")
        # exemplars' traces are sent before their window is final; let the sink catch up on them
        wanted = {r for m in metrics for r in m.get("exemplars", [])}
        wait_alive(lambda: wanted <= {h["_id"] for h in store_docs(es, settings.indices.traces)}, procs=procs,
                   timeout_s=60, interval_s=1.0, what="every exemplar's trace in the store")
        yield {
            "settings": settings, "es": es, "events": events, "truths": truths, "configs": configs,
            "metrics": [h["_source"] for h in store_docs(es, settings.indices.metrics)],
            "traces": {h["_id"]: h["_source"] for h in store_docs(es, settings.indices.traces)},
            "alerts": [h["_source"] for h in store_docs(es, settings.indices.alerts)],
            "env": {**connection_env(settings)},
        }
    finally:
        for proc in procs:
            proc.stop(timeout_s=10)
        es.close()


def _phase_of(run, window_start_ms: int) -> str:
    for name, cfg in zip(PHASES, run["configs"]):
        if cfg.start_ms - WINDOW_MS < window_start_ms <= cfg.start_ms + PHASE_S[name] * 1000:
            return name
    raise AssertionError(f"window {window_start_ms} is in no phase")


def _raw_requests(events):
    inf = {e["request_id"]: e for e in events if e["event"] == "inference_complete"}
    out = defaultdict(list)
    for e in events:
        if e["event"] == "request_complete":
            i = inf.get(e["request_id"], {})
            parts = [i.get(k) or 0.0 for k in ("queue_ms", "engine_load_ms", "h2d_ms", "compute_ms", "d2h_ms")]
            parts.append(max(0.0, e["total_ms"] - sum(parts)))
            dom = ("queue", "engine_load", "h2d", "compute", "d2h", "other")[parts.index(max(parts))]
            out[(e["model_version"], e["ts_ms"] - e["ts_ms"] % WINDOW_MS)].append((e["total_ms"], e["cold_start"], dom))
    return out


def test_every_v2_window_names_the_injected_cause_with_the_right_shares(run):
    raw = _raw_requests(run["events"])
    truth = {(w["model_version"], w["window_start_ms"]): w for t in run["truths"] for w in t["windows"]}
    v2 = [m for m in run["metrics"] if m["scope"] == "model_version" and m["model_version"] == "v2" and m["final"]]
    assert len(v2) >= 3 * len(PHASES) - 1
    for m in v2:
        phase = _phase_of(run, m["window_start_ms"])
        stage = SCENARIOS[phase][0]
        t = m["attribution"]["p99"]
        shares = t["dominant_stage_share"]
        assert max(shares, key=shares.get) == stage, (phase, m["window_start_ms"], t)
        # exactly the shares of the requests in buckets at or above the P99's, recounted from the raw events
        tail = [r for r in raw[("v2", m["window_start_ms"])] if _bucket(r[0]) >= _bucket(t["threshold_ms"])]
        assert t["count"] == len(tail), (m["window_start_ms"], t)
        assert t["cold_start_share"] == pytest.approx(sum(r[1] for r in tail) / len(tail), abs=1e-6)
        assert shares[stage] == pytest.approx(sum(r[2] == stage for r in tail) / len(tail), abs=1e-6)
        # and close to the generator's exact tail (requests >= P99; the store's holds whole buckets)
        gt = truth[("v2", m["window_start_ms"])]["tail_p99"]
        assert shares[stage] == pytest.approx(gt["dominant_stage_share"][stage], abs=0.25)
        if phase == "cold-start-storm":
            assert t["cold_start_share"] > 0.6 and t["stage_mean_ms_tail"]["engine_load"] > 400
        assert m["engines"] == truth[("v2", m["window_start_ms"])]["engines"]


def test_every_exemplar_is_a_stored_trace(run):
    windows = [m for m in run["metrics"] if m["scope"] == "model_version" and m["final"]]
    ids = [r for m in windows for r in m["exemplars"]]
    assert len(ids) >= 5 * len(windows) - 5 and len(ids) == len(set(ids))
    missing = [r for r in ids if r not in run["traces"]]
    assert not missing, f"{len(missing)} exemplars have no stored trace, e.g. {missing[:3]}"
    # the slowest request of each window is its first exemplar
    for m in windows[:5]:
        first = run["traces"][m["exemplars"][0]]
        assert first["stages"]["total_ms"] == pytest.approx(m["latency_ms"]["max"], rel=1e-9)
        assert first["engine_id"] in m["engines"]


def _rebuild(run):
    """(first engine, rebuilt engine, event time of the roll-out) of the engine-rebuild phase's v2."""
    cfg = run["configs"][PHASES.index("engine-rebuild")]
    spec = cfg.models[0].versions[1].rebuild
    return (synthetic_engine_id("resnet50", "v2", spec.build_before), synthetic_engine_id("resnet50", "v2", spec.build_after),
            cfg.start_ms + int(spec.at_fraction * PHASE_S["engine-rebuild"] * 1000))


def _firing(run):
    return sorted((a for a in run["alerts"] if a["state"] == "firing" and a["rule_id"] == RULE["id"]),
                  key=lambda a: a["window_start_ms"])


def test_the_alerts_explain_themselves(run):
    cold, rebuilt = _firing(run)  # the cold-start storm fires (and stays firing through phases 2-3), the rebuild again
    assert "cold starts" in cold["explanation"] and cold["explanation"] in cold["message"]
    assert cold["attribution"]["cold_start_share"] > 0.6 and len(cold["exemplars"]) == 5
    assert cold["exemplar_query"].startswith("request_id:(") and all(r in run["traces"] for r in cold["exemplars"])
    assert _phase_of(run, cold["window_start_ms"]) == "cold-start-storm"
    b1, b2, rollout = _rebuild(run)
    resolved = [a for a in run["alerts"] if a["state"] == "resolved" and a["rule_id"] == RULE["id"]]
    assert [_phase_of(run, a["window_start_ms"]) for a in resolved] == ["engine-rebuild"]  # b1's clean windows
    assert resolved[0]["window_start_ms"] < rollout <= rebuilt["window_start_ms"]
    assert rebuilt["engines"] == [b2] and f"engine {b2}" in rebuilt["explanation"]
    assert "dominated by compute" in rebuilt["explanation"] and rebuilt["attribution"]["dominant_stage_share"]["compute"] == 1.0
    assert all(r in run["traces"] for r in rebuilt["exemplars"]) and len(rebuilt["exemplars"]) == 5


def _explain(run, *args):
    env = {**os.environ, **run["env"]}
    res = subprocess.run([sys.executable, "-m", "trtlens", "explain", *args], env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_trtlens_explain_on_the_latest_alert_names_the_rebuilt_engine_and_its_fusion_rate(run):
    b1, b2, _ = _rebuild(run)
    out = _explain(run)  # no arguments: the latest firing alert, the rebuild's
    assert out.startswith("resnet50/v2")
    causes = out.split("Causes, ranked:")[1].split("\n\n")[0]
    assert "1. 100% of the tail dominated by compute" in causes
    assert f"engine {b2} replaced {b1}, which served the previous windows" in causes
    assert "and fuses 20% of layers vs 40%" in causes and "24 newly unfused: conv24 + relu24" in causes
    assert f"Build diff {b1} (v2, previous windows) -> {b2}:" in out and "fusion rate 40% -> 20%" in out
    assert "v1: P99" in out and "Exemplar traces" in out


def _diagnosis(run, at_ms: int) -> dict:
    """What ``trtlens explain --model resnet50 --version v2 --at AT --json`` prints, in-process."""
    from trtlens.explain import gather
    from trtlens.explain.core import diagnose

    docs = gather(run["es"], run["settings"].indices, model="resnet50", model_version="v2", at_ms=at_ms)
    return json.loads(json.dumps(diagnose(docs["window"], alert=docs["alert"], previous=docs["previous"],
                                          others=docs["others"], traces=docs["traces"], builds=docs["builds"])))


def test_explain_at_the_cold_start_alert_names_cold_starts(run):
    from trtlens.explain.core import render

    cold = _firing(run)[0]
    out = render(_diagnosis(run, cold["window_start_ms"]))
    assert out.startswith("resnet50/v2") and f"alert {RULE['id']} firing" in out
    assert "1. " in out and "cold starts" in out.split("Causes, ranked:")[1].splitlines()[1]
    assert "Exemplar traces" in out and "engine_load +" in out
    assert "v1: P99" in out  # the other version, same window


def test_explain_names_compute_and_queue_and_the_build_diff(run):
    for phase, cause in (("slow-compute", "stage:compute"), ("overload", "stage:queue")):
        cfg = run["configs"][PHASES.index(phase)]
        d = _diagnosis(run, cfg.start_ms + 3 * WINDOW_MS // 2)
        assert d["causes"][0]["cause"] == cause, d["causes"]
        assert [o["model_version"] for o in d["other_versions"]] == ["v1"]
        assert len(d["exemplars"]) == 5 and not d["missing_exemplars"]
        assert all(ex["stages"] for ex in d["exemplars"])
        [diff] = d["build_diffs"]  # v2's engine served every earlier window: no engine change, one diff (against v1)
        assert diff["against_version"] == "v1" and diff["fusion_rate"]["new"] < diff["fusion_rate"]["old"]
        assert any(c["cause"] == "build:fusion_rate" for c in d["causes"])
        assert d["change"]["baseline_windows"] >= 1


def test_trtlens_explain_json_after_the_rebuild_names_the_build_diff_against_the_replaced_engine(run):
    b1, b2, rollout = _rebuild(run)
    d = json.loads(_explain(run, "--model", "resnet50", "--version", "v2", "--at", str(rollout + 3 * WINDOW_MS // 2), "--json"))
    assert d["causes"][0]["cause"] == "stage:compute" and d["engines"] == [b2]
    [rebuilt] = [c for c in d["causes"] if c.get("replaced_engine_id")]
    assert (rebuilt["cause"], rebuilt["engine_id"], rebuilt["replaced_engine_id"]) == ("build:fusion_rate", b2, b1)
    [diff] = [x for x in d["build_diffs"] if x["against"] == "previous_engine"]
    assert (diff["old_engine_id"], diff["new_engine_id"], diff["fusion_rate"]) == (b1, b2, {"old": 0.4, "new": 0.2})
    assert len(diff["newly_unfused"]) == 24
    # the rebuilt engine computes 8x: its tail's compute mean against v1's, same window
    [v1] = d["other_versions"]
    assert d["attribution"]["p99"]["stage_mean_ms_tail"]["compute"] > 4 * v1["tail_stage_mean_ms"]["compute"]
    assert d["change"]["ratio_to_baseline"] is not None and not d["missing_exemplars"]
