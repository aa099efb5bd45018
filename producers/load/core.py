"""Synthetic traffic with known ground truth. Pure and deterministic: no I/O, clock injected.

``generate(config)`` draws every request up front with numpy (arrival, model
version, latency, cold start, error, faults), computes the ground truth from
those raw values, and returns a :class:`LoadRun` whose ``events`` iterator
builds the event dicts lazily **in send order**.

Send order follows event time (``ts_ms``), as a live fleet would publish,
except for the injected faults:

* **duplicate** – one event of the request is sent twice (same ``event_id``);
* **out of order** – one event is held back by up to ``grace_ms / 2`` of event
  time, so later events overtake it but it is still within the grace period;
* **late** – ``request_complete`` is held back until event time passes
  ``window end + grace_ms + late_by_ms`` of its window;
* **incomplete** – ``request_complete`` is never sent (the request is not in
  any window of the ground truth).

Per request (all keyed by ``request_id``): ``request_received``; on a cold
start ``engine_load_start`` + ``engine_load_complete`` (carrying the
``request_id`` that triggered them); ``inference_complete`` (cold_start and
engine_load_ms on cold starts) or, on failure, ``error``; then
``request_complete`` (``total_ms``, ``status``, ``cold_start``). Each version has a
synthetic engine (``identity.synthetic_engine_id``): engine loads carry its id,
runtime versions, device and precision, request events its id. ``total_ms`` =
queue wait + engine load + inference (``compute_ms``) + ``overhead_ms``. Workers send a
``gpu_sample`` every ``gpu_sample_interval_ms`` (keyed by ``worker_id``).

A version with a ``rebuild`` (``config.RebuildSpec``) has two engines, each with
a build report (``engine_build``, keyed by ``engine_id``; the first built a day
before the run, the rebuild ten minutes before its roll-out, both sent before
any request that uses them): requests that arrive from ``at_fraction`` of the
run on are served by the rebuilt engine, whose inference takes
``compute_factor`` times as long (drawn as for the first engine, then scaled).

Which contract types it emits, and which not and why, is declared in
:data:`GENERATED` / :data:`NOT_GENERATED` (a test checks they cover the event
registry).

Ground truth: a request counts in the window of its ``request_complete.ts_ms``
(:data:`COUNTED`, the type that feeds the request windows);
latency = ``total_ms``; percentiles use the lower nearest rank
(index ``ceil(q*n) - 1`` of the sorted values).
"""

from __future__ import annotations

import hashlib
import heapq
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trtlens.producers.load.config import LoadConfig
from trtlens.producers.worker.identity import synthetic_engine_id
from trtlens.schemas.events import (
    EngineBuild,
    EngineLoadComplete,
    EngineLoadStart,
    EngineRuntime,
    ErrorEvent,
    EventBase,
    GpuSample,
    InferenceComplete,
    LayerProfile,
    RequestComplete,
    RequestReceived,
)
from trtlens.schemas.roles import event_name

GENERATED: tuple[type[EventBase], ...] = (
    RequestReceived, EngineLoadStart, EngineLoadComplete, InferenceComplete, ErrorEvent, RequestComplete, GpuSample,
    EngineBuild,
)
"""The event types this generator emits (their dicts are built below, field by field; ``engine_build`` only for
versions with a ``rebuild``)."""
NOT_GENERATED: dict[type[EventBase], str] = {
    LayerProfile: "per-layer profiles come from trtexec profiles (producers/trtlog) and profiled worker requests "
                  "(producers/worker), not from synthetic request traffic",
    EngineRuntime: "the streams app derives it from engine_load_complete (rerouted by engine_id); producers never send it",
}
"""The registry's other types, each with the reason. A type added to ``schemas/events.py`` goes in one of
the two (``tests/unit/schemas/test_event_types.py`` checks they cover the registry)."""
COUNTED: type[EventBase] = RequestComplete
"""The event a request is counted by in the ground truth (its window is this event's ``ts_ms``): the type
whose spec feeds the request windows (``WindowMeasure.REQUESTS``; the same test checks it)."""

# the wire names, from the models (a dict below cannot name a type the contract does not have)
_RECEIVED, _LOAD_START, _LOAD_DONE = event_name(RequestReceived), event_name(EngineLoadStart), event_name(EngineLoadComplete)
_INFERENCE, _ERROR, _GPU = event_name(InferenceComplete), event_name(ErrorEvent), event_name(GpuSample)
_BUILD = event_name(EngineBuild)
_COMPLETE = event_name(COUNTED)

QUANTILES = (("p50_ms", 0.50), ("p95_ms", 0.95), ("p99_ms", 0.99))

SYNTHETIC_RUNTIME = {"tensorrt": "10.3.0", "cuda": "12.4", "cudnn": "9.1.0"}
"""What the synthetic engines claim to run on (the load generator runs no inference)."""
SYNTHETIC_DEVICE = "synthetic GPU"
SYNTHETIC_CAPABILITY = "8.9"


def nearest_rank(sorted_values: list[float] | np.ndarray, q: float) -> float:
    """Lower nearest-rank quantile: the value at index ``ceil(q*n) - 1``."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("no values")
    return float(sorted_values[max(0, math.ceil(q * n) - 1)])


@dataclass
class LoadRun:
    """Events in send order (dicts in the JSON form of the event contract) and the ground truth."""

    config: LoadConfig
    start_ms: int
    run_tag: str
    ground_truth: dict[str, Any]
    events: Iterator[dict[str, Any]] = field(repr=False)
    expected_events: int = 0
    """Number of event dicts ``events`` yields (duplicates included)."""


@dataclass
class _Plan:
    """Every request of the run, one numpy array per attribute."""

    t0: np.ndarray            # int64 arrival (event time, ms)
    version: np.ndarray       # int index into the flat version list
    worker: np.ndarray        # int
    load_ms: np.ndarray       # float, 0 where warm
    queue_ms: np.ndarray      # float, 0 where the version has no queueing
    infer_ms: np.ndarray      # float
    total_ms: np.ndarray      # float (rounded to µs), the request_complete.total_ms
    t_done: np.ndarray        # int64 request_complete.ts_ms
    cold: np.ndarray          # bool
    error: np.ndarray         # bool
    incomplete: np.ndarray    # bool
    late: np.ndarray          # bool
    ooo: np.ndarray           # bool
    ooo_delay: np.ndarray     # int64
    dup: np.ndarray           # bool
    dup_pick: np.ndarray      # int (which event of the request is duplicated)
    ooo_pick: np.ndarray      # int
    rebuilt: np.ndarray       # bool: served by its version's rebuilt engine


def _flat_versions(config: LoadConfig) -> list[tuple[str, Any]]:
    return [(m.name, v) for m in config.models for v in m.versions]


def _plan(config: LoadConfig, start_ms: int) -> _Plan:
    rng = np.random.default_rng(config.seed)
    n = max(1, int(round(config.rate_rps * config.duration_s)))
    versions = _flat_versions(config)
    gaps = rng.exponential(1000.0 / config.rate_rps, n)
    offsets = np.cumsum(gaps) - gaps[0]
    t0 = start_ms + np.minimum(offsets, config.duration_s * 1000 - 1).astype(np.int64)
    weights = np.array([v.weight for _, v in versions], dtype=float)
    version = rng.choice(len(versions), size=n, p=weights / weights.sum())
    mu = np.log([v.latency_median_ms for _, v in versions])[version]
    sigma = np.array([v.latency_sigma for _, v in versions])[version]
    infer = rng.lognormal(mu, sigma)
    cold = rng.random(n) < np.array([v.cold_start_prob for _, v in versions])[version]
    load_mu = np.log([v.engine_load_median_ms for _, v in versions])[version]
    load = np.where(cold, np.round(rng.lognormal(load_mu, 0.2), 3), 0.0)
    error = rng.random(n) < np.array([v.error_rate for _, v in versions])[version]
    infer = np.round(infer, 3)
    rebuild_at = np.array([start_ms + v.rebuild.at_fraction * config.duration_s * 1000 if v.rebuild else np.inf
                           for _, v in versions])[version]
    rebuilt = t0 >= rebuild_at
    factor = np.array([v.rebuild.compute_factor if v.rebuild else 1.0 for _, v in versions])[version]
    infer = np.where(rebuilt, np.round(infer * factor, 3), infer)  # scaled after the draw: the others stay as they were
    queue_median = np.array([v.queue_median_ms for _, v in versions])[version]
    queue_sigma = np.array([v.queue_sigma for _, v in versions])[version]
    qrng = np.random.default_rng([config.seed, 1])  # its own stream: the other draws stay what they were
    queue = np.where(queue_median > 0, np.round(qrng.lognormal(np.log(np.maximum(queue_median, 1e-9)), queue_sigma), 3), 0.0)
    total = np.round(queue + load + infer + config.overhead_ms, 3)
    t_done = t0 + np.floor(total).astype(np.int64)
    f = config.faults
    incomplete = rng.random(n) < f.incomplete_rate
    late = ~incomplete & (rng.random(n) < f.late_rate)
    # a late event needs later traffic to be late against: none can be late after the last arrival
    late_send = t_done - t_done % config.window_ms + config.window_ms + f.grace_ms + f.late_by_ms
    late &= late_send < t0[-1]
    ooo = rng.random(n) < f.out_of_order_rate
    ooo_delay = rng.integers(1, max(2, f.grace_ms // 2 + 1), n)
    dup = rng.random(n) < f.duplicate_rate
    dup_pick = rng.integers(0, 1 << 30, n)
    ooo_pick = rng.integers(0, 1 << 30, n)
    worker = rng.integers(0, config.workers, n)
    return _Plan(t0, version, worker, load, queue, infer, total, t_done, cold, error, incomplete, late,
                 ooo, ooo_delay, dup, dup_pick, ooo_pick, rebuilt)


def _events_per_request(plan: _Plan) -> np.ndarray:
    """Events each request sends, duplicates excluded."""
    n = 3 + 2 * plan.cold.astype(np.int64)  # received, inference|error, complete, (+ 2 load events)
    return n - plan.incomplete.astype(np.int64)


def _gpu_schedule(config: LoadConfig, start_ms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ts_ms, worker, memory_used_bytes) of every gpu_sample, sorted by ts then worker."""
    if config.gpu_sample_interval_ms == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    k = int(config.duration_s * 1000 // config.gpu_sample_interval_ms) + 1
    ts = start_ms + np.arange(k, dtype=np.int64) * config.gpu_sample_interval_ms
    ts_all = np.repeat(ts, config.workers)
    worker = np.tile(np.arange(config.workers), k)
    base = config.gpu_memory_total_bytes * (0.30 + 0.05 * (worker % 4))
    elapsed_s = (ts_all - start_ms) / 1000.0
    used = base + config.gpu_memory_growth_bytes_per_s * elapsed_s + (ts_all // 7 + worker * 13) % 97 * 1_000_000
    used = np.minimum(used, config.gpu_memory_total_bytes).astype(np.int64)
    return ts_all, worker, used


def _ground_truth(config: LoadConfig, plan: _Plan, start_ms: int, run_tag: str) -> dict[str, Any]:
    versions = _flat_versions(config)
    engine_ids = _engine_ids(config)
    w = config.window_ms
    done = ~plan.incomplete
    idx = np.nonzero(done)[0]
    win = plan.t_done[idx] - plan.t_done[idx] % w
    ver = plan.version[idx]
    lat = plan.total_ms[idx]
    order = np.lexsort((lat, win, ver))
    idx, win, ver, lat = idx[order], win[order], ver[order], lat[order]
    windows: list[dict[str, Any]] = []
    if len(idx):
        change = np.nonzero((np.diff(win) != 0) | (np.diff(ver) != 0))[0] + 1
        bounds = np.concatenate(([0], change, [len(idx)]))
        for a, b in zip(bounds[:-1], bounds[1:]):
            model, spec = versions[int(ver[a])]
            values = lat[a:b]
            members = idx[a:b]
            row: dict[str, Any] = {
                "model": model,
                "model_version": spec.name,
                "window_start_ms": int(win[a]),
                "window_ms": w,
                "requests": int(b - a),
                "errors": int(plan.error[members].sum()),
                "cold_starts": int(plan.cold[members].sum()),
                "late": int(plan.late[members].sum()),
                "latency_sum_ms": round(float(values.sum()), 3),
                "max_ms": float(values[-1]),
            }
            for name, q in QUANTILES:
                row[name] = nearest_rank(values, q)
            row["tail_p99"] = _tail_truth(plan, members, row["p99_ms"], config.overhead_ms)
            row["engines"] = sorted({engine_ids[int(ver[a])][int(r)] for r in np.unique(plan.rebuilt[members])})
            if config.ground_truth_latencies:
                row["latencies_ms_sorted"] = values.tolist()
            windows.append(row)
    windows.sort(key=lambda r: (r["window_start_ms"], r["model"], r["model_version"]))
    per_request = _events_per_request(plan)
    builds = _builds(config, start_ms)
    unique_events = int(per_request.sum()) + len(builds)
    gpu_ts, gpu_worker, gpu_used = _gpu_schedule(config, start_ms)
    gpu_windows = []
    if len(gpu_ts):
        gwin = gpu_ts - gpu_ts % w
        for wk in range(config.workers):
            for ws in np.unique(gwin[gpu_worker == wk]):
                sel = (gpu_worker == wk) & (gwin == ws)
                gpu_windows.append({"worker_id": _worker_id(run_tag, wk), "window_start_ms": int(ws),
                                    "samples": int(sel.sum()), "memory_used_max_bytes": int(gpu_used[sel].max())})
    return {
        "seed": config.seed,
        "run_tag": run_tag,
        "window_ms": w,
        "start_ms": start_ms,
        "end_ms": int(plan.t_done.max()) if len(plan.t_done) else start_ms,
        "rate_rps": config.rate_rps,
        "duration_s": config.duration_s,
        "grace_ms": config.faults.grace_ms,
        "requests": int(len(plan.t0)),
        "complete_requests": int(done.sum()),
        "events": unique_events + len(gpu_ts),
        "events_sent": unique_events + int(plan.dup.sum()) + len(gpu_ts),
        "gpu_samples": len(gpu_ts),
        "builds": [{k: b[k] for k in ("engine_id", "model", "model_version", "ts_ms")}
                   | {"build": b["facts"]["synthetic_build"], "fusion_rate": b["fusion_rate"]} for b in builds],
        "faults": {
            "duplicates": int(plan.dup.sum()),
            "late": int(plan.late.sum()),
            "out_of_order": int(plan.ooo.sum()),
            "incomplete": int(plan.incomplete.sum()),
        },
        "windows": windows,
        "gpu_windows": gpu_windows,
    }


TAIL_STAGES = ("queue", "engine_load", "h2d", "compute", "d2h", "other")


def _tail_truth(plan: _Plan, members: np.ndarray, p99_ms: float, overhead_ms: float) -> dict[str, Any]:
    """The exact P99 tail of a window (requests with ``total_ms >= p99``): its cold-start share and the share
    each stage dominated (the largest of queue, engine load, compute = inference, other = overhead). An
    errored request reports no breakdown, so all of it is ``other``, as streams attributes it."""
    sel = members[plan.total_ms[members] >= p99_ms]
    n = len(sel)
    err = plan.error[sel]
    parts = np.stack([plan.queue_ms[sel], plan.load_ms[sel], np.zeros(n), plan.infer_ms[sel], np.zeros(n),
                      np.maximum(0.0, plan.total_ms[sel] - plan.queue_ms[sel] - plan.load_ms[sel] - plan.infer_ms[sel])])
    parts[:, err] = 0.0
    parts[5, err] = plan.total_ms[sel][err]
    dominant = np.argmax(parts, axis=0)  # ties go to the earlier stage, as streams decides them
    return {
        "count": int(n),
        "cold_start_share": float(plan.cold[sel].mean()) if n else 0.0,
        "dominant_stage_share": {s: float((dominant == i).mean()) if n else 0.0 for i, s in enumerate(TAIL_STAGES)},
    }


def _engine_ids(config: LoadConfig) -> list[tuple[str, str]]:
    """Per flat version: (engine id before a rebuild, engine id after it) — the same id twice without one."""
    out = []
    for m, spec in _flat_versions(config):
        r = spec.rebuild
        if r is None:
            eid = synthetic_engine_id(m, spec.name)
            out.append((eid, eid))
        else:
            out.append((synthetic_engine_id(m, spec.name, r.build_before), synthetic_engine_id(m, spec.name, r.build_after)))
    return out


BUILD_LAYERS_PER_FUSION = 2


def _builds(config: LoadConfig, start_ms: int) -> list[dict[str, Any]]:
    """The ``engine_build`` events of the versions with a rebuild (both builds), oldest first, with their
    ``fusion_rate`` (a key the event does not have: the caller drops it before sending).

    Each build fuses ``round(fusion_rate × layers)`` pairs ``conv<i> + relu<i>`` (one layer fused away per
    pair), so the grey-box fusion rate of the report is that share and the rebuild's diff against the
    first build lists the pairs it no longer fuses."""
    out: list[dict[str, Any]] = []
    run_ms = config.duration_s * 1000
    for (m, spec), (before, after) in zip(_flat_versions(config), _engine_ids(config)):
        r = spec.rebuild
        if r is None:
            continue
        at_ms = start_ms + int(r.at_fraction * run_ms)
        for build, eid, rate, ts in ((r.build_before, before, r.fusion_rate_before, start_ms - 86_400_000),
                                     (r.build_after, after, r.fusion_rate_after, at_ms - 600_000)):
            k = round(rate * r.layers)
            out.append({
                "event_id": f"build-{eid}", "event": _BUILD, "ts_ms": ts, "worker_id": f"builder-{eid}",
                "host": "loadgen", "model": m, "model_version": spec.name, "backend": "synthetic", "level": "info",
                "engine_id": eid, "source": f"synthetic://{m}/{spec.name}#{build}",
                "trt_version": SYNTHETIC_RUNTIME["tensorrt"], "precisions": [spec.precision], "status": "ok",
                "build_time_ms": 60_000.0, "layers_before": r.layers, "layers_after": r.layers - k,
                "fusions": [{"kind": "ConvActFusion", "layers": [f"conv{i}", f"relu{i}"], "result": f"conv{i} + relu{i}"}
                            for i in range(k)],
                "facts": {"cuda_version": SYNTHETIC_RUNTIME["cuda"], "cudnn_version": SYNTHETIC_RUNTIME["cudnn"],
                          "synthetic_build": build},
                "fusion_rate": k / r.layers,
            })
    out.sort(key=lambda b: b["ts_ms"])
    return out


def _worker_id(run_tag: str, k: int) -> str:
    return f"load-{run_tag}-w{k}"


def default_run_tag(seed: int, start_ms: int) -> str:
    return hashlib.blake2b(f"{seed}:{start_ms}".encode(), digest_size=4).hexdigest()


def _iter_events(config: LoadConfig, plan: _Plan, start_ms: int, run_tag: str) -> Iterator[dict[str, Any]]:
    versions = _flat_versions(config)
    late_extra = config.window_ms + config.faults.grace_ms + config.faults.late_by_ms
    window_ms = config.window_ms
    batch = config.batch_size
    workers = [_worker_id(run_tag, k) for k in range(config.workers)]
    engines = _engine_ids(config)
    gpu_ts, gpu_worker, gpu_used = (a.tolist() for a in _gpu_schedule(config, start_ms))
    gpu_total = config.gpu_memory_total_bytes
    n_gpu = len(gpu_ts)
    gi = 0

    def gpu_event(g: int) -> dict[str, Any]:
        return {"event_id": f"{run_tag}-g{g:x}", "event": _GPU, "ts_ms": gpu_ts[g],
                "worker_id": workers[gpu_worker[g]], "host": "loadgen", "backend": "synthetic", "level": "info",
                "gpu_index": 0, "utilization_pct": float(40 + (g * 7919) % 55), "memory_used_bytes": gpu_used[g],
                "memory_total_bytes": gpu_total}

    heap: list[tuple[int, int, dict[str, Any]]] = []
    push, pop = heapq.heappush, heapq.heappop
    seq = 0
    for b in _builds(config, start_ms):  # before every request (a build is older than its traffic)
        b.pop("fusion_rate")
        seq += 1
        push(heap, (min(b["ts_ms"], start_ms - 1), seq, b))
    arrays = (plan.t0, plan.version, plan.worker, plan.load_ms, plan.queue_ms, plan.infer_ms, plan.total_ms, plan.t_done,
              plan.cold, plan.error, plan.incomplete, plan.late, plan.ooo, plan.ooo_delay, plan.dup, plan.dup_pick,
              plan.ooo_pick, plan.rebuilt)

    def rows() -> Iterator[tuple]:  # python scalars, a chunk at a time (bounded memory)
        for lo in range(0, len(plan.t0), 65_536):
            yield from zip(*(a[lo : lo + 65_536].tolist() for a in arrays))

    for i, (t0, v, wk, load, queue, infer, total, t_done, cold, err, incomplete, late, ooo, ooo_delay, dup, dup_pick,
            ooo_pick, rebuilt) in enumerate(rows()):
        while gi < n_gpu and gpu_ts[gi] <= t0:
            seq += 1
            push(heap, (gpu_ts[gi], seq, gpu_event(gi)))
            gi += 1
        while heap and heap[0][0] <= t0:
            yield pop(heap)[2]
        model, spec = versions[v]
        rid = f"{run_tag}-r{i:x}"
        base = {"request_id": rid, "worker_id": workers[wk], "host": "loadgen", "model": model,
                "model_version": spec.name, "backend": "synthetic"}
        evs: list[dict[str, Any]] = [
            {"event_id": rid + "-0", "event": _RECEIVED, "ts_ms": t0, **base, "level": "info",
             "batch_size": batch}
        ]
        t_started = t0 + int(queue)
        t_loaded = t_started + int(load)
        eid = engines[v][rebuilt]
        if cold:
            ident = {"engine_id": eid, "runtime_versions": SYNTHETIC_RUNTIME, "device_name": SYNTHETIC_DEVICE,
                     "compute_capability": SYNTHETIC_CAPABILITY, "precision": spec.precision}
            path = f"synthetic://{model}/{spec.name}" + (f"#{_build_name(spec, rebuilt)}" if spec.rebuild else "")
            evs.append({"event_id": rid + "-l0", "event": _LOAD_START, "ts_ms": t_started, **base, "level": "info",
                        "engine_path": path, **ident})
            evs.append({"event_id": rid + "-l1", "event": _LOAD_DONE, "ts_ms": t_loaded, **base,
                        "level": "info", "engine_path": path, "duration_ms": load,
                        "status": "ok", "cache_hit": False, **ident})
        if err:
            evs.append({"event_id": rid + "-e", "event": _ERROR, "ts_ms": t_done, **base, "level": "error",
                        "error_type": "SyntheticInferenceError", "message": "injected by the load generator",
                        "stage": "compute"})
        else:
            inf = {"event_id": rid + "-1", "event": _INFERENCE, "ts_ms": min(t_done, t_loaded + int(infer)),
                   **base, "level": "info", "latency_ms": infer, "queue_ms": queue, "compute_ms": infer,
                   "batch_size": batch, "precision": spec.precision, "cold_start": cold, "engine_id": eid}
            if cold:
                inf["engine_load_ms"] = load
            evs.append(inf)
        if not incomplete:
            evs.append({"event_id": rid + "-2", "event": _COMPLETE, "ts_ms": t_done, **base, "level": "info",
                        "total_ms": total, "status": "error" if err else "ok", "cold_start": cold,
                        "batch_size": batch, "engine_id": eid})
        ooo_k = ooo_pick % len(evs) if ooo else -1
        dup_k = dup_pick % len(evs) if dup else -1
        for k, e in enumerate(evs):
            send_at = e["ts_ms"]
            if k == ooo_k:
                send_at += ooo_delay
            if late and e["event"] == _COMPLETE:
                send_at = t_done - t_done % window_ms + late_extra
            seq += 1
            push(heap, (send_at, seq, e))
            if k == dup_k:
                seq += 1
                push(heap, (send_at + 1, seq, e))
    while gi < n_gpu:
        seq += 1
        push(heap, (gpu_ts[gi], seq, gpu_event(gi)))
        gi += 1
    while heap:
        yield pop(heap)[2]


def _build_name(spec: Any, rebuilt: bool) -> str:
    return spec.rebuild.build_after if rebuilt else spec.rebuild.build_before


def generate(config: LoadConfig, *, clock_ms: Callable[[], int] | None = None) -> LoadRun:
    """Plan the run, compute its ground truth, and return the lazy event stream."""
    if config.start_ms is not None:
        start_ms = config.start_ms
    else:
        start_ms = (clock_ms or (lambda: int(time.time() * 1000)))()
    run_tag = config.run_tag or default_run_tag(config.seed, start_ms)
    plan = _plan(config, start_ms)
    truth = _ground_truth(config, plan, start_ms, run_tag)
    return LoadRun(
        config=config,
        start_ms=start_ms,
        run_tag=run_tag,
        ground_truth=truth,
        events=_iter_events(config, plan, start_ms, run_tag),
        expected_events=truth["events_sent"],
    )


def summarise(events: Iterator[dict[str, Any]] | list[dict[str, Any]], window_ms: int,
              *, latencies: bool = False) -> list[dict[str, Any]]:
    """Windows computed back from an event stream (deduplicated by ``event_id``).

    An independent path to the ground truth: tests compare it with
    ``ground_truth["windows"]`` of the run that produced the events (or with
    what a consumer read back from Kafka).
    """
    seen: set[str] = set()
    groups: dict[tuple[str, str, int], list[tuple[float, bool, bool]]] = {}
    for e in events:
        if e["event_id"] in seen:
            continue
        seen.add(e["event_id"])
        if e["event"] != _COMPLETE:
            continue
        ts = e["ts_ms"]
        key = (e["model"], e["model_version"], ts - ts % window_ms)
        groups.setdefault(key, []).append((e["total_ms"], e.get("status") == "error", bool(e.get("cold_start"))))
    out = []
    for (model, version, start), rows in sorted(groups.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])):
        values = sorted(r[0] for r in rows)
        row: dict[str, Any] = {
            "model": model, "model_version": version, "window_start_ms": start, "window_ms": window_ms,
            "requests": len(rows), "errors": sum(r[1] for r in rows), "cold_starts": sum(r[2] for r in rows),
        }
        for name, q in QUANTILES:
            row[name] = nearest_rank(values, q)
        if latencies:
            row["latencies_ms_sorted"] = values
        out.append(row)
    return out
