"""Repeated kill-and-takeover of streams workers under load, checked record by record (issue 9).

Two ``trtlens streams`` workers (one app id) consume a seeded load published in
event-time order (``--realtime``) while malformed records of four kinds are
injected at seeded times. Each cycle SIGKILLs one worker (seeded choice) and
starts its replacement at once; the next cycle waits until the replacement
holds partitions again, then a seeded pause. One more takeover follows once the
input has ended (its new owner gets no record, only recovered state, and must
still declare its partitions idle so the last windows close). Afterwards:

* **every input offset applied exactly once**: the state-log changelog holds, per
  partition, segments whose offsets continue one another with no overlap and no
  hole, covering every record of the partition;
* **every malformed record dead-lettered**, at its partition and offset;
* **every window exact** against the load's ground truth (requests, errors,
  cold starts; P50/P99 within the sketch's 1 %), and **every trace present**.

``run_takeovers`` returns a :class:`TakeoverResult`; ``problems()`` lists what
differs (empty = exact). The short version runs in ``make test``, the long one in
``make chaos``.
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from support.streams_harness import Worker, latest_docs, read_topic, streams_settings, wait_for
from trtlens.streams.pipeline.statelog import Segment

T0 = 1_700_000_000_000
WINDOW_MS = 2_000
MALFORMED_KINDS = (
    ("invalid_json", lambda i: b"not json %d" % i),
    ("not_an_event", lambda i: b"%d" % i),  # a JSON number
    ("invalid_event", lambda i: b'{"event":"request_complete","event_id":"bad-%d"}' % i),
    ("unknown_event_type", lambda i: b'{"event":"teleport","event_id":"unk-%d","ts_ms":1}' % i),
)


@dataclass
class TakeoverResult:
    cycles: int
    seed: int
    requests: int
    input_records: dict[int, int]  # partition → records in the events topic
    malformed: list[tuple[int, int, str]]  # (partition, offset, expected DLQ code)
    window_problems: list[str] = field(default_factory=list)
    offset_problems: list[str] = field(default_factory=list)
    dlq_problems: list[str] = field(default_factory=list)
    trace_problems: list[str] = field(default_factory=list)
    gap_lines: list[str] = field(default_factory=list)  # what the workers' gap checks logged
    seconds: float = 0.0
    log_tails: list[str] = field(default_factory=list)  # rebalance/idle/gap lines, to read when problems occur
    diagnosis: list[str] = field(default_factory=list)  # for wrong windows: what the merge stage was sent, in order

    def problems(self) -> list[str]:
        return self.window_problems + self.offset_problems + self.dlq_problems + self.trace_problems

    def explain(self, limit: int = 20) -> str:
        """The first problems, then what the workers logged about rebalances, idleness and gaps."""
        return "\n".join([*self.problems()[:limit], "--- what the merge stage was sent for the first wrong window:",
                          *self.diagnosis[:80], "--- worker log lines (last 40):", *self.log_tails[-40:]])

    def summary(self) -> str:
        state = "exact" if not self.problems() else f"{len(self.problems())} problems"
        return (f"takeover cycles={self.cycles} seed={self.seed} requests={self.requests} "
                f"records={sum(self.input_records.values())} malformed={len(self.malformed)} "
                f"gap_rereads={len(self.gap_lines)} result={state} seconds={self.seconds:.0f}")


def _load(seed: int, duration_s: float):
    from trtlens.producers.load.config import FaultSpec, LoadConfig
    from trtlens.producers.load.core import generate

    cfg = LoadConfig(seed=seed, rate_rps=600, duration_s=duration_s, window_ms=WINDOW_MS, start_ms=T0, workers=3,
                     faults=FaultSpec(duplicate_rate=0.01, grace_ms=1000))
    return cfg, generate(cfg)


def run_takeovers(base, tmp_path: Path, *, cycles: int, seed: int, malformed: int = 100, speed: float = 2.0,
                  cycle_s: float = 5.0, events_per_record: int | None = None) -> TakeoverResult:
    """``events_per_record``: the load's records as the publisher batches them (None: its default, 500); 1 = one
    JSON event per record, the shape most producers send (issue 13)."""
    from kafka import KafkaProducer

    from trtlens.producers.load.runner import publish_run

    started = time.monotonic()
    rnd = random.Random(seed)
    settings = streams_settings(base, idle_timeout_ms=3000, commit_interval_s=0.5,
                                metrics={"window_ms": WINDOW_MS, "grace_ms": 1000, "late_retention_ms": 4000},
                                traces={"sample_rate": 1.0})
    wall_s = cycles * cycle_s + 4
    cfg, run = _load(seed, wall_s * speed)
    gt = run.ground_truth
    logs = tmp_path / "workers"
    logs.mkdir(parents=True, exist_ok=True)
    workers: list[Worker] = []

    def start() -> Worker:
        w = Worker(settings, logs / f"worker{len(workers)}.log")
        workers.append(w)
        return w

    live = [start(), start()]
    injected: list[tuple[int, int, str]] = []
    errors: list[BaseException] = []

    def publish() -> None:
        try:
            publisher = None
            if events_per_record is not None:
                publisher = settings.producer.model_copy(
                    update={"spool_name": "takeover", "batch_max_events": events_per_record})
            stats = publish_run(run, settings, publisher_config=publisher, realtime=True, speed=speed)
            if not stats.delivered:
                errors.append(AssertionError(f"load not delivered: {stats.to_json()}"))
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    def inject() -> None:
        try:
            producer = KafkaProducer(**settings.kafka.kafka_python_kwargs())
            for i in range(malformed):
                time.sleep(wall_s / malformed * rnd.uniform(0.5, 1.5))
                code, make = MALFORMED_KINDS[i % len(MALFORMED_KINDS)]
                md = producer.send(settings.topics.events, make(i), key=b"bad-%d" % i,
                                   partition=rnd.randrange(settings.topics.partitions)).get(30)
                injected.append((md.partition, md.offset, code))
            producer.close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    try:
        wait_for(lambda: all("rebalance=assigned" in w.log() for w in live), 60, "both workers assigned", live)
        threads = [threading.Thread(target=publish, daemon=True), threading.Thread(target=inject, daemon=True)]
        for t in threads:
            t.start()
        done = 0
        while done < cycles:
            victim = rnd.randrange(2)
            live[victim].kill()
            live[victim] = start()
            done += 1
            wait_for(lambda: "rebalance=assigned" in live[victim].log(), 60, f"cycle {done}: replacement assigned", live)
            time.sleep(rnd.uniform(0.3, 1.5))
        for t in threads:
            t.join(timeout=wall_s * 3)
        if errors:
            raise errors[0]
        victim = rnd.randrange(2)  # the late takeover: the input has ended
        live[victim].kill()
        live[victim] = start()
        wait_for(lambda: "rebalance=assigned" in live[victim].log(), 60, "late takeover: replacement assigned", live)
        result = TakeoverResult(cycles=done, seed=seed, requests=gt["requests"], input_records={},
                                malformed=sorted(injected))
        _check(result, settings, gt, live)
        if result.diagnosis:
            (tmp_path / "diagnosis.txt").write_text("\n".join(result.diagnosis) + "\n")
    finally:
        for w in workers:
            w.stop()
    result.gap_lines = [line for w in workers for line in w.log().splitlines() if "gap=" in line]
    watched = re.compile(r"rebalance=|idle|gap=|recovered|merge_")
    result.log_tails = [f"{w.log_path.stem}: {line}" for w in workers for line in w.log().splitlines()
                        if watched.search(line)]
    result.seconds = time.monotonic() - started
    return result


def _window_key(w: dict) -> str:
    return f"model_version:{w['model']}/{w['model_version']}:{w['window_start_ms']}:{w['window_ms']}"


def _window_problems(docs: dict, gt: dict) -> list[str]:
    out = []
    for w in gt["windows"]:
        d = docs.get(_window_key(w))
        if d is None:
            out.append(f"window {_window_key(w)} missing")
            continue
        got = (d["final"], d["requests"], d["errors"], d["cold_starts"], d["late_events"])
        want = (True, w["requests"], w["errors"], w["cold_starts"], 0)
        if got != want:
            out.append(f"window {_window_key(w)} (final, requests, errors, cold, late) {got} != {want}")
        for q in ("p50", "p99"):
            if abs(d["latency_ms"][q] - w[f"{q}_ms"]) > 0.01 * w[f"{q}_ms"]:
                out.append(f"window {_window_key(w)} {q} {d['latency_ms'][q]} vs {w[f'{q}_ms']}")
    return out


def _check(result: TakeoverResult, settings, gt: dict, live: list[Worker]) -> None:
    def windows():
        return {k: v for k, v in latest_docs(settings, settings.topics.metrics).items() if v["scope"] == "model_version"}

    # wait for the windows to settle on the ground truth (or time out and report what differs)
    try:
        wait_for(lambda: not _window_problems(windows(), gt), 120, "windows equal to the ground truth", live)
    except AssertionError:
        pass
    result.window_problems = _window_problems(windows(), gt)
    if result.window_problems:
        result.diagnosis = _diagnose_window(settings, result.window_problems[0])

    records = read_topic(settings, settings.topics.events)
    ends: dict[int, int] = {}
    for _, _, p, o in records:
        ends[p] = max(ends.get(p, -1), o + 1)
    result.input_records = {p: sum(1 for r in records if r[2] == p) for p in sorted(ends)}
    result.offset_problems = _offset_problems(settings, ends)

    dlq = [orjson.loads(v) for _, v, _, _ in read_topic(settings, settings.topics.events_dlq)]
    at = {(d["partition"], d["offset"]): d["code"] for d in dlq}
    result.dlq_problems = [f"malformed record {p}:{o} ({code}) not dead-lettered"
                           for p, o, code in result.malformed if (p, o) not in at]
    result.dlq_problems += [f"malformed record {p}:{o} dead-lettered as {at[(p, o)]}, not {code}"
                            for p, o, code in result.malformed if (p, o) in at and at[(p, o)] != code]

    traces = latest_docs(settings, settings.topics.traces)
    if len(traces) != gt["requests"]:
        result.trace_problems.append(f"traces {len(traces)} != requests {gt['requests']}")


def _diagnose_window(settings, problem: str) -> list[str]:
    """For a wrong window: every metric record of it, and the partials topic records of its scope around it (its
    partials by source partition and source offset, and the watermark heartbeats between), in offset order."""
    m = re.search(r"window (model_version:(\S+?):(\d+):(\d+))", problem)
    if not m:
        return []
    key, scope_key, ws = m.group(1), m.group(2), int(m.group(3))
    out = [f"metrics records of {key} (partition:offset final requests errors cold):"]
    for k, v, p, o in read_topic(settings, settings.topics.metrics):
        if k is not None and k.decode() == key:
            d = orjson.loads(v)
            out.append(f"  {p}:{o} final={d['final']} requests={d['requests']} errors={d['errors']} cold={d['cold_starts']}")
    records = [(p, o, orjson.loads(v)) for k, v, p, o in read_topic(settings, settings.topics.metrics_partials)]
    mine = [(p, o) for p, o, d in records
            if d.get("type") == "partial" and d.get("scope_key") == scope_key and d.get("scope") == "model_version"
            and d.get("window_start_ms") == ws]
    if not mine:
        return [*out, "  no partial of this window in the partials topic"]
    mp = mine[0][0]
    lo, hi = min(o for _, o in mine), max(o for _, o in mine)
    out.append(f"partials partition {mp}, offsets {lo}-{hi} (+ the heartbeats up to 300 after): "
               "offset partial(source partition, source offset, requests, closed) | watermark(source, ms, idle)")
    close = ws + int(m.group(4))
    for p, o, d in sorted(records, key=lambda r: r[1]):
        if p != mp or o < lo or o > hi + 300:
            continue
        if d.get("type") == "partial" and d.get("scope_key") == scope_key and d.get("window_start_ms") == ws:
            out.append(f"  {o} partial(p{d['partition']}, {d['offset']}, {d['requests']}, {d['closed']})")
        elif d.get("type") == "watermark":
            out.append(f"  {o} watermark(p{d['partition']}, {d['watermark_ms'] - close:+d} ms past end, "
                       f"idle={d.get('idle', False)})")
    return out


def _offset_problems(settings, ends: dict[int, int]) -> list[str]:
    """The state log's segments, in changelog order, must cover each partition's offsets exactly once."""
    changelog = f"{settings.streams.app_id}-state-changelog"
    covered: dict[int, list[int]] = {}
    problems = []
    for key, value, _, _ in read_topic(settings, changelog):
        if value is None or not re.match(rb"^\d{5}:\d{20}$", key or b""):
            continue
        partition = int(key[:5])
        offsets = Segment.decode(key, value).offsets  # the format's own reader (segments are compressed)
        seen = covered.setdefault(partition, [])
        if seen and offsets[0] != seen[-1] + 1:
            kind = "applied twice" if offsets[0] <= seen[-1] else "never applied"
            problems.append(f"partition {partition}: offsets {seen[-1] + 1}..{offsets[0] - 1} {kind}"
                            if kind == "never applied" else
                            f"partition {partition}: offsets {offsets[0]}..{seen[-1]} {kind}")
        seen.extend(offsets)
    for partition, end in sorted(ends.items()):
        seen = covered.get(partition, [])
        if sorted(set(seen)) != list(range(end)):
            missing = sorted(set(range(end)) - set(seen))
            if missing:
                problems.append(f"partition {partition}: {len(missing)} offsets never applied, first {missing[:5]}")
        if len(seen) != len(set(seen)):
            problems.append(f"partition {partition}: {len(seen) - len(set(seen))} offsets applied more than once")
    return problems
