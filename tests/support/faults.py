"""Seeded faults against a whole pipeline on a private embedded stack, checked against ground truth (issue 16).

Two ``trtlens streams`` workers and the sink run on a broker and store of the
run's own (they get frozen; the session's shared stack never is). A seeded load
with ground truth is published at a steady pace while malformed records of four
kinds are injected. A seeded schedule then, in a seeded order with seeded
pauses: SIGKILLs the sink (a replacement starts at once, same group) several
times, freezes the broker (SIGSTOP) and the store for seconds each, and thaws
them (SIGCONT). Afterwards:

* **the store equals the ground truth**: every window's requests, errors and
  cold starts; one trace per request, by id; and every family (traces, metrics,
  alerts, builds) holds exactly the output topics' keys, each once, as its last
  record;
* **every malformed record is in the DLQ** at its partition and offset, with its code.

:func:`run_faults` returns a :class:`FaultResult` (``problems()`` empty = exact,
``summary()`` one line). :func:`soak` runs the same pipeline for a bounded time
and samples memory and lag.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from e2e_helpers import (  # noqa: E402
    Expected,
    StreamsOptions,
    e2e_settings,
    generate_events,
    load_config,
    publish,
    read_output_topics,
    sink_process,
    store_docs,
    store_matches_topics,
    streams_finished,
    streams_process,
    wait_alive,
)

from trtlens.producers.load.config import FaultSpec  # noqa: E402
from trtlens.stack.processes import ManagedProcess  # noqa: E402

from support.takeover import MALFORMED_KINDS  # noqa: E402

WINDOW_MS = 1000
GRACE_MS = 500
# alerts in the store too: one rule that fires at once per scope, one that flips with the load's errors
ALERT_RULES = [
    {"kind": "p99_above", "id": "p99_chaos", "threshold_ms": 0.5, "fire_after": 1, "resolve_after": 1},
    {"kind": "error_rate_above", "id": "errors_chaos", "threshold": 0.02, "fire_after": 1, "resolve_after": 1,
     "min_requests": 5},
]


@dataclass
class FaultResult:
    seed: int
    requests: int
    events: int
    malformed: list[tuple[int, int, str]]
    actions: list[str] = field(default_factory=list)
    window_problems: list[str] = field(default_factory=list)
    trace_problems: list[str] = field(default_factory=list)
    store_problems: list[str] = field(default_factory=list)
    dlq_problems: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def problems(self) -> list[str]:
        return self.window_problems + self.trace_problems + self.store_problems + self.dlq_problems

    def summary(self) -> str:
        kills = sum(a.startswith("sink_kill") for a in self.actions)
        freezes = ",".join(a for a in self.actions if "freeze" in a)
        state = "exact" if not self.problems() else f"{len(self.problems())} problems"
        return (f"faults seed={self.seed} requests={self.requests} events={self.events} "
                f"malformed={len(self.malformed)} sink_kills={kills} freezes={freezes} "
                f"store={'/'.join(f'{k}={v}' for k, v in self.sizes.items())} result={state} "
                f"seconds={self.seconds:.0f}")


class Pipeline:
    """Two streams workers and a sink (restartable) on ``settings``; logs under ``log_dir``."""

    def __init__(self, settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        options = StreamsOptions(window_ms=WINDOW_MS, grace_ms=GRACE_MS, idle_timeout_ms=2500, sample_rate=1.0,
                                 rules=ALERT_RULES)
        self.streams = []
        for i in range(2):
            proc = streams_process(settings, options, log_dir)
            self.streams.append(ManagedProcess(f"streams{i}", proc.args, log_dir=log_dir, env=proc._env).start())
        self.sinks: list[ManagedProcess] = []
        self.start_sink()

    def start_sink(self) -> ManagedProcess:
        sink = sink_process(self.settings, self.log_dir, name=f"sink{len(self.sinks)}", chunk_docs=200,
                            backoff_initial_ms=200, backoff_max_ms=2000)
        self.sinks.append(sink.start())
        return sink

    @property
    def sink(self) -> ManagedProcess:
        return self.sinks[-1]

    def live(self) -> list[ManagedProcess]:
        return [*self.streams, self.sink]

    def stop(self) -> None:
        for p in [*self.sinks, *self.streams]:
            p.stop(timeout_s=15)


def _settings(base):
    # a short store timeout: a frozen store is noticed in seconds, and the sink backs off
    base = base.model_copy(update={"elasticsearch": base.elasticsearch.model_copy(update={"request_timeout_s": 3.0})})
    return e2e_settings(base)


def _inject(settings, n: int, duration_s: float, rnd: random.Random, out: list, errors: list) -> None:
    """``n`` malformed records over ``duration_s``, in bursts; (partition, offset, code) of each once acknowledged."""
    from kafka import KafkaProducer

    try:
        producer = KafkaProducer(**settings.kafka.kafka_python_kwargs(), acks="all", linger_ms=20,
                                 retries=2_147_483_647, delivery_timeout_ms=300_000, request_timeout_ms=10_000)
        futures = []
        bursts = 20
        for b in range(bursts):
            time.sleep(duration_s / bursts * rnd.uniform(0.5, 1.5))
            for i in range(b * n // bursts, (b + 1) * n // bursts):
                code, make = MALFORMED_KINDS[i % len(MALFORMED_KINDS)]
                fut = producer.send(settings.topics.events, make(i), key=b"bad-%d" % i,
                                    partition=rnd.randrange(settings.topics.partitions))
                futures.append((fut, code))
        producer.flush(300)
        for fut, code in futures:
            md = fut.get(60)
            out.append((md.partition, md.offset, code))
        producer.close()
    except BaseException as exc:  # noqa: BLE001 - reported by the caller
        errors.append(exc)


def _freeze(pid: int, seconds: float, procs: list[ManagedProcess]) -> None:
    os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:  # the freeze's length is the fault, not a wait for a condition
            dead = [p.name for p in procs if not p.running]
            assert not dead, f"died while {pid} was frozen: {dead}"
            time.sleep(0.2)
    finally:
        os.kill(pid, signal.SIGCONT)


def run_faults(base, state, tmp_path: Path, *, seed: int, sink_kills: int = 3, malformed: int = 10_000,
               requests: int = 6000, events_per_s: float = 900) -> FaultResult:
    """See the module doc. ``state`` is the private stack's :class:`StackState` (its PIDs get frozen)."""
    from trtlens.es import es_client

    started = time.monotonic()
    rnd = random.Random(seed)
    settings = _settings(base)
    cfg = load_config(seed=seed, rate_rps=requests / 12, duration_s=12, window_ms=WINDOW_MS,
                      faults=FaultSpec(duplicate_rate=0.02, out_of_order_rate=0.02, grace_ms=GRACE_MS))
    events, truths = generate_events(cfg)
    expected = Expected.build(events, truths, partitions=settings.topics.partitions, window_ms=WINDOW_MS,
                              grace_ms=GRACE_MS)
    result = FaultResult(seed=seed, requests=len(expected.requests), events=len(events), malformed=[])
    log_dir = tmp_path / "logs"
    pipe = Pipeline(settings, log_dir)
    es = es_client(settings.elasticsearch, request_timeout=60)
    errors: list[BaseException] = []
    injected: list[tuple[int, int, str]] = []
    try:
        head = 300
        publish(settings, events[:head], tmp_path / "spool-head")
        wait_alive(lambda: read_output_topics(settings, ("traces",))["traces"], procs=pipe.live(), timeout_s=120,
                   what="the pipeline to come up")
        traffic_s = (len(events) - head) / events_per_s

        def traffic() -> None:
            try:
                publish(settings, events[head:], tmp_path / "spool", pace_events_per_s=events_per_s)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=traffic, daemon=True),
                   threading.Thread(target=_inject, args=(settings, malformed, traffic_s, random.Random(seed + 1),
                                                          injected, errors), daemon=True)]
        for t in threads:
            t.start()
        actions = [*(["sink_kill"] * sink_kills), "broker_freeze", "store_freeze"]
        rnd.shuffle(actions)
        for action in actions:
            time.sleep(rnd.uniform(1.0, max(1.5, traffic_s / (len(actions) + 1))))
            if action == "sink_kill":
                pipe.sink.kill()  # SIGKILL: fetched records uncommitted, in-flight bulks lost
                pipe.start_sink()
                result.actions.append("sink_kill")
            else:
                seconds = rnd.uniform(3.0, 6.0)
                pid = state.kafka.pid if action == "broker_freeze" else state.elasticsearch.pid
                _freeze(pid, seconds, pipe.live())
                result.actions.append(f"{action}={seconds:.1f}s")
        for t in threads:
            t.join(600)
        if errors:
            raise errors[0]
        result.malformed = sorted(injected)
        wait_alive(lambda: streams_finished(settings, expected), procs=pipe.live(), timeout_s=300, interval_s=2.0,
                   what="streams to emit every expected window and trace")
        try:
            result.sizes = wait_alive(lambda: store_matches_topics(es, settings), procs=pipe.live(), timeout_s=300,
                                      interval_s=2.0, what="the store to hold exactly what streams produced")
        except TimeoutError as exc:
            result.store_problems.append(str(exc).splitlines()[0])
        _check_store(result, es, settings, expected)
        _check_dlq(result, settings)
    finally:
        pipe.stop()
        es.close()
    result.seconds = time.monotonic() - started
    return result


def _check_store(result: FaultResult, es, settings, expected: Expected) -> None:
    windows = {(d["_source"]["scope_key"], d["_source"]["window_start_ms"]): d["_source"]
               for d in store_docs(es, settings.indices.metrics)
               if d["_source"]["scope"] == "model_version" and d["_source"]["final"]}
    for key, w in sorted(expected.windows.items()):
        got = windows.get(key)
        if got is None:
            result.window_problems.append(f"window {key} missing from the store")
            continue
        have = (got["requests"], got["errors"], got["cold_starts"], got["late_events"])
        want = (w.requests, w.errors, w.cold_starts, w.late)
        if have != want:
            result.window_problems.append(f"window {key} (requests, errors, cold, late) {have} != {want}")
    ids = [h["_id"] for h in store_docs(es, settings.indices.traces)]
    if sorted(ids) != sorted(expected.requests):
        missing, extra = set(expected.requests) - set(ids), set(ids) - set(expected.requests)
        result.trace_problems.append(f"traces: {len(ids)} stored, {len(missing)} missing, {len(extra)} extra, "
                                     f"{len(ids) - len(set(ids))} twice")


def _check_dlq(result: FaultResult, settings) -> None:
    from support.streams_harness import read_topic

    at = {}
    for _, value, _, _ in read_topic(settings, settings.topics.events_dlq):
        d = orjson.loads(value)
        at[(d.get("partition"), d.get("offset"))] = d["code"]
    for p, o, code in result.malformed:
        got = at.get((p, o))
        if got != code:
            result.dlq_problems.append(f"malformed record {p}:{o} ({code}) dead-lettered as {got}")
    if len(result.dlq_problems) > 20:
        result.dlq_problems = [*result.dlq_problems[:20], f"... {len(result.dlq_problems) - 20} more"]


# ------------------------------------------------------------------ soak


def soak(base, tmp_path: Path, *, minutes: float, seed: int, sample_s: float = 30.0, events_per_s: float = 600,
         report=print) -> dict:
    """The same pipeline under steady load for ``minutes``; one line per sample of RSS and consumer lag, then
    the store checked against the ground truth. Returns the samples and the final check."""
    from trtlens.es import es_client

    settings = _settings(base)
    duration_s = minutes * 60
    requests = int(duration_s * events_per_s / 3.6)
    cfg = load_config(seed=seed, rate_rps=max(1.0, requests / duration_s), duration_s=duration_s,
                      window_ms=WINDOW_MS, faults=FaultSpec(duplicate_rate=0.01, grace_ms=GRACE_MS))
    events, truths = generate_events(cfg)
    expected = Expected.build(events, truths, partitions=settings.topics.partitions, window_ms=WINDOW_MS,
                              grace_ms=GRACE_MS)
    pipe = Pipeline(settings, tmp_path / "logs")
    es = es_client(settings.elasticsearch, request_timeout=60)
    samples: list[dict] = []
    errors: list[BaseException] = []
    t0 = time.monotonic()

    def traffic() -> None:
        try:
            publish(settings, events, tmp_path / "spool", pace_events_per_s=events_per_s)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    try:
        thread = threading.Thread(target=traffic, daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(sample_s)
            row = {"t_s": round(time.monotonic() - t0)}
            for p in pipe.live():
                row[f"{p.name}_rss_mb"] = round(p.sample_rss() / 2**20)
            lag = 0.0
            for p in pipe.streams:
                try:
                    lag += p.metrics().value("trtlens_streams_consumer_lag_records")
                except Exception:  # noqa: BLE001 - a worker mid-rebalance: lag unknown this sample
                    pass
            row["streams_lag_records"] = int(lag)
            samples.append(row)
            report("soak " + " ".join(f"{k}={v}" for k, v in row.items()))
        if errors:
            raise errors[0]
        wait_alive(lambda: streams_finished(settings, expected), procs=pipe.live(), timeout_s=600, interval_s=5.0,
                   what="streams to finish")
        sizes = wait_alive(lambda: store_matches_topics(es, settings), procs=pipe.live(), timeout_s=600,
                           interval_s=5.0, what="the store to match the topics")
        result = FaultResult(seed=seed, requests=len(expected.requests), events=len(events), malformed=[], sizes=sizes)
        _check_store(result, es, settings, expected)
    finally:
        pipe.stop()
        es.close()
    return {"samples": samples, "problems": result.problems(), "sizes": sizes}
