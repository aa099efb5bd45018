"""Seeded faults against a whole pipeline on a private embedded stack, checked against ground truth (issue 16).

Two ``trtlens streams`` workers, the sink and the collector run on a broker and
store of the run's own (they get frozen; the session's shared stack never is). A
seeded load with ground truth enters at a steady pace: one partition's events
published by the test, the other partitions' events written to JSON-lines files
that ``trtlens collect`` follows (``support/chaos_collect.py``). Malformed
records of four kinds are injected into the events topic, and malformed lines of
four kinds are among the files' lines. A seeded schedule then, in a seeded order
with seeded pauses: SIGKILLs the sink, the collector and a streams worker
(seeded choice) several times each (a replacement starts at once: same group,
same checkpoints and spool), freezes the broker (SIGSTOP) and the store for
seconds each, and thaws them (SIGCONT). Afterwards:

* **the store equals the ground truth**: every window's requests, errors and
  cold starts; one trace per request, by id; and every family (traces, metrics,
  alerts, builds) holds exactly the output topics' keys, each once, as its last
  record;
* **every malformed record is in the DLQ** at its partition and offset, with its code;
  every malformed line at its file and byte offset, with its code and reason, and no
  other line of the files (re-reads after a collector kill may repeat a dead letter:
  counted, same source and offset).

:func:`run_faults` returns a :class:`FaultResult` (``problems()`` empty = exact,
``summary()`` one line). ``support/soak.py`` runs the same pipeline for a bounded
time and samples memory and lag.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from collections import Counter
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

from support.chaos_collect import (  # noqa: E402
    CollectorRun,
    FileLoad,
    file_dlq_problems,
    split_by_partition,
    start_thread,
)
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
    malformed: list[tuple[int, int, str]]  # injected into the events topic: (partition, offset, code)
    file_events: int = 0                   # of ``events``, those that entered through the collector's files
    file_malformed: int = 0
    actions: list[str] = field(default_factory=list)
    window_problems: list[str] = field(default_factory=list)
    trace_problems: list[str] = field(default_factory=list)
    store_problems: list[str] = field(default_factory=list)
    dlq_problems: list[str] = field(default_factory=list)
    alert_problems: list[str] = field(default_factory=list)
    health_alerts: list[str] = field(default_factory=list)  # pipeline-health alerts seen: "rule:state"
    dlq_repeats: int = 0                   # collector dead letters repeated by re-reads after its kills
    resumed: list[int] = field(default_factory=list)  # offsets the collector's replacements resumed files at
    sizes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def problems(self) -> list[str]:
        return (self.window_problems + self.trace_problems + self.alert_problems + self.store_problems
                + self.dlq_problems)

    def summary(self) -> str:
        kills = Counter(a.removesuffix("_kill") for a in self.actions if a.endswith("_kill"))
        freezes = ",".join(a for a in self.actions if "freeze" in a)
        state = "exact" if not self.problems() else f"{len(self.problems())} problems"
        return (f"faults seed={self.seed} requests={self.requests} events={self.events} "
                f"via_collector={self.file_events} malformed={len(self.malformed) + self.file_malformed}"
                f"(topic={len(self.malformed)},files={self.file_malformed}) "
                f"kills={','.join(f'{k}:{n}' for k, n in sorted(kills.items()))} "
                f"collect_resumes_mid_file={sum(o > 0 for o in self.resumed)}/{len(self.resumed)} dlq_repeats={self.dlq_repeats} "
                f"freezes={freezes} health_alerts={','.join(self.health_alerts) or '-'} store={'/'.join(f'{k}={v}' for k, v in self.sizes.items())} result={state} "
                f"seconds={self.seconds:.0f}")


class Pipeline:
    """Two streams workers, a sink and (with ``load``) a collector, each restartable; logs under ``log_dir``."""

    def __init__(self, settings, log_dir: Path, *, load: FileLoad | None = None, work_dir: Path | None = None,
                 idle_timeout_ms: int = 2500) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.options = StreamsOptions(window_ms=WINDOW_MS, grace_ms=GRACE_MS, idle_timeout_ms=idle_timeout_ms,
                                      sample_rate=1.0, rules=ALERT_RULES)
        self.killed: list[ManagedProcess] = []
        self.streams = [self._start_streams(f"streams{i}") for i in range(2)]
        self.sinks: list[ManagedProcess] = []
        self.start_sink()
        self.collector = CollectorRun(settings, load, work_dir, log_dir) if load is not None else None

    def _start_streams(self, name: str) -> ManagedProcess:
        proc = streams_process(self.settings, self.options, self.log_dir)
        return ManagedProcess(name, proc.args, log_dir=self.log_dir, env=proc._env).start()

    def kill_streams(self, i: int) -> ManagedProcess:
        """SIGKILL streams worker ``i`` and start its replacement (same app id: it takes partitions over)."""
        self.streams[i].kill()
        self.killed.append(self.streams[i])
        self.streams[i] = self._start_streams(f"streams{i}r{len(self.killed)}")
        return self.streams[i]

    def start_sink(self) -> ManagedProcess:
        sink = sink_process(self.settings, self.log_dir, name=f"sink{len(self.sinks)}", chunk_docs=200,
                            backoff_initial_ms=200, backoff_max_ms=2000)
        self.sinks.append(sink.start())
        return sink

    @property
    def sink(self) -> ManagedProcess:
        return self.sinks[-1]

    def live(self) -> list[ManagedProcess]:
        return [*self.streams, self.sink, *([self.collector.current] if self.collector else [])]

    def stop(self) -> None:
        if self.collector is not None:
            self.collector.stop()
        for p in [*self.sinks, *self.streams]:
            p.stop(timeout_s=15)


def pipeline_settings(base, *, store_timeout_s: float | None = 3.0):
    """Topics and indices of the run's own. The faults run sets a short store timeout (a frozen store is noticed
    in seconds, and the sink backs off); the soak keeps the default (``None``): under a loaded store a 200-document
    bulk of metrics took longer than 3 s, every attempt timed out and was sent again, and the sink fell behind for
    as long as the load lasted."""
    if store_timeout_s is not None:
        base = base.model_copy(update={"elasticsearch": base.elasticsearch.model_copy(
            update={"request_timeout_s": store_timeout_s})})
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


# the collector's restart gap (a new Python process: several seconds on a loaded machine) must stay below
# the idle timeout: otherwise the collector-fed partitions turn idle while their input is still coming
IDLE_TIMEOUT_MS = 15_000


def run_faults(base, state, tmp_path: Path, *, seed: int, sink_kills: int = 3, collect_kills: int = 3,
               streams_kills: int = 2, malformed: int = 10_000, file_malformed: int = 2_000, requests: int = 9000,
               events_per_s: float = 500) -> FaultResult:
    """See the module doc. ``state`` is the private stack's :class:`StackState` (its PIDs get frozen).
    ``malformed`` counts all malformed records; ``file_malformed`` of them are lines in the collector's files."""
    from trtlens.es import es_client

    started = time.monotonic()
    rnd = random.Random(seed)
    settings = pipeline_settings(base)
    cfg = load_config(seed=seed, rate_rps=requests / 12, duration_s=12, window_ms=WINDOW_MS,
                      faults=FaultSpec(duplicate_rate=0.02, out_of_order_rate=0.02, grace_ms=GRACE_MS))
    events, truths = generate_events(cfg)
    partitions = settings.topics.partitions
    expected = Expected.build(events, truths, partitions=partitions, window_ms=WINDOW_MS, grace_ms=GRACE_MS)
    # all partitions but one (seeded) enter through the collector's files, one file per partition
    direct, by_file = split_by_partition(events, partitions, set(rnd.sample(range(partitions), partitions - 1)))
    load = FileLoad.plan(tmp_path / "service-logs", by_file, file_malformed, random.Random(seed + 2))
    result = FaultResult(seed=seed, requests=len(expected.requests), events=len(events), malformed=[],
                         file_events=load.events, file_malformed=len(load.malformed))
    log_dir = tmp_path / "logs"
    pipe = Pipeline(settings, log_dir, load=load, work_dir=tmp_path / "collect", idle_timeout_ms=IDLE_TIMEOUT_MS)
    es = es_client(settings.elasticsearch, request_timeout=60)
    errors: list[BaseException] = []
    injected: list[tuple[int, int, str]] = []
    try:
        head = 0.03
        n_head = int(len(direct) * head)
        publish(settings, direct[:n_head], tmp_path / "spool-head")
        load.write(0.0, head, 0, errors)
        wait_alive(lambda: read_output_topics(settings, ("traces",))["traces"], procs=pipe.live(), timeout_s=180,
                   what="the pipeline to come up")
        traffic_s = len(events) * (1 - head) / events_per_s

        def traffic() -> None:
            try:
                publish(settings, direct[n_head:], tmp_path / "spool",
                        pace_events_per_s=max(1.0, (len(direct) - n_head) / traffic_s))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [start_thread(traffic), start_thread(load.write, head, 1.0, traffic_s, errors),
                   start_thread(_inject, settings, malformed - file_malformed, traffic_s, random.Random(seed + 1),
                                injected, errors)]
        actions = [*(["sink_kill"] * sink_kills), *(["collect_kill"] * collect_kills),
                   *(["streams_kill"] * streams_kills), "broker_freeze", "store_freeze"]
        rnd.shuffle(actions)
        for action in actions:
            time.sleep(rnd.uniform(1.0, max(1.5, traffic_s / (len(actions) + 1))))
            if action == "sink_kill":
                pipe.sink.kill()  # SIGKILL: fetched records uncommitted, in-flight bulks lost
                pipe.start_sink()
            elif action == "collect_kill":
                pipe.collector.kill_and_restart()
            elif action == "streams_kill":
                new = pipe.kill_streams(rnd.randrange(len(pipe.streams)))
                wait_alive(lambda: "rebalance=assigned" in new.log_tail(1_000_000), procs=pipe.live(), timeout_s=180,
                           interval_s=0.5, what=f"{new.name} to take partitions over")
            else:
                seconds = rnd.uniform(3.0, 6.0)
                pid = state.kafka.pid if action == "broker_freeze" else state.elasticsearch.pid
                _freeze(pid, seconds, pipe.live())
                action = f"{action}={seconds:.1f}s"
            result.actions.append(action)
        for t in threads:
            t.join(600)
        if errors:
            raise errors[0]
        result.malformed = sorted(injected)
        wait_alive(lambda: streams_finished(settings, expected), procs=pipe.live(), timeout_s=600, interval_s=2.0,
                   what="streams to emit every expected window and trace")
        try:
            result.sizes = wait_alive(lambda: store_matches_topics(es, settings), procs=pipe.live(), timeout_s=300,
                                      interval_s=2.0, what="the store to hold exactly what streams produced")
        except TimeoutError as exc:
            result.store_problems.append(str(exc).splitlines()[0])
        check_store(result, es, settings, expected)
        check_dlq(result, settings, load)
        result.resumed = pipe.collector.resumed_offsets()
    finally:
        pipe.stop()
        es.close()
    result.seconds = time.monotonic() - started
    return result


def check_store(result: FaultResult, es, settings, expected: Expected) -> None:
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
    from trtlens.streams.health.core import DLQ_RULE, LAG_RULE, SINK_RULE

    # pipeline-health alerts are over wall-clock windows (lag, dead letters per second, a stalled sink): which
    # fire depends on the machine's timing, not on the load, so they are reported, not compared
    health = {LAG_RULE, DLQ_RULE, SINK_RULE}
    docs = store_docs(es, settings.indices.alerts)
    result.health_alerts = sorted(f"{h['_source']['rule_id']}:{h['_source']['state']}" for h in docs
                                  if h["_source"]["rule_id"] in health)
    alerts = {h["_id"] for h in docs if h["_source"]["rule_id"] not in health}
    want = expected_alerts(expected)
    if alerts != want:
        result.alert_problems.append(f"alerts: missing {sorted(want - alerts)}, extra {sorted(alerts - want)}")
    ids = [h["_id"] for h in store_docs(es, settings.indices.traces)]
    if sorted(ids) != sorted(expected.requests):
        missing, extra = set(expected.requests) - set(ids), set(ids) - set(expected.requests)
        result.trace_problems.append(f"traces: {len(ids)} stored, {len(missing)} missing, {len(extra)} extra, "
                                     f"{len(ids) - len(set(ids))} twice")


def expected_alerts(expected: Expected, rules: list[dict] = ALERT_RULES) -> set[str]:
    """The alert ids (``rule:scope_key:window_start_ms:state``) the rules produce over the exact windows, in window
    order per scope, with the hysteresis of ``streams/alerts/core.py`` (a window under ``min_requests`` neither
    breaches nor clears)."""
    by_scope: dict[str, list] = {}
    for (scope, start), w in expected.windows.items():
        if w.requests:
            by_scope.setdefault(scope, []).append((start, w))
    ids = set()
    for rule in rules:
        threshold = rule.get("threshold_ms", rule.get("threshold"))
        for scope, rows in by_scope.items():
            firing, breaching, clean = False, 0, 0
            for start, w in sorted(rows, key=lambda r: r[0]):
                if w.requests < rule.get("min_requests", 1):
                    continue
                value = w.p99() if rule["kind"] == "p99_above" else w.errors / w.requests
                breaching, clean = (breaching + 1, 0) if value > threshold else (0, clean + 1)
                if not firing and breaching >= rule["fire_after"]:
                    firing = True
                    ids.add(f"{rule['id']}:{scope}:{start}:firing")
                elif firing and clean >= rule["resolve_after"]:
                    firing = False
                    ids.add(f"{rule['id']}:{scope}:{start}:resolved")
    return ids


def check_dlq(result: FaultResult, settings, load: FileLoad | None = None) -> None:
    from support.streams_harness import read_topic

    docs = [orjson.loads(value) for _, value, _, _ in read_topic(settings, settings.topics.events_dlq)]
    at = {(d.get("partition"), d.get("offset")): d["code"] for d in docs if d.get("stage") != "collect"}
    for p, o, code in result.malformed:
        got = at.get((p, o))
        if got != code:
            result.dlq_problems.append(f"malformed record {p}:{o} ({code}) dead-lettered as {got}")
    if load is not None:
        problems, result.dlq_repeats = file_dlq_problems(load, docs)
        result.dlq_problems += problems
    if len(result.dlq_problems) > 20:
        result.dlq_problems = [*result.dlq_problems[:20], f"... {len(result.dlq_problems) - 20} more"]
