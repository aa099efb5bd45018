"""``trtlens bench streams``: app events/s next to a raw-consumer ceiling, in one run.

1. start a private embedded stack (free ports, temporary state dir);
2. generate load with the producers' load generator (seeded) and publish it
   with the Publisher (batched records, the wire format every producer uses);
3. **ceiling**: a raw aiokafka consumer reads and decodes (orjson + the same
   validation) every record of the events topic;
4. **app**: one ``trtlens streams`` worker process (all stages on, supervised
   by :class:`~trtlens.stack.processes.ManagedProcess`) consumes the same
   records. It is timed from its counters, not its log: the clock starts when
   its ``/readyz`` first answers 200 (partitions assigned, tables recovered:
   records start to flow, as the ceiling's clock starts before its first
   fetch) and stops at the first scrape of ``/metrics`` (every
   ``SCRAPE_INTERVAL_S``) whose ``trtlens_streams_events_total`` reaches the
   published events. CPU seconds are the process's own (psutil) over the same
   span, peak RSS its ``VmHWM``.

``--ingress collect`` (issue 13, one event per record) then times the re-batching ingress stage and a
worker behind it on the same records, one after the other: a ``trtlens collect --kafka-topic`` process
reads the events topic (as records of ``--events-per-record`` events, as other shippers write them) and
publishes them re-batched into a topic of its own (the publisher's batches: ``producer.batch_max_events``
events per record), timed from the first event it takes to the scrape whose
``trtlens_publisher_events_published_total`` reaches every event (its CPU-seconds over the same span);
then a second worker (its own app id and topics) reads that topic, timed like the first. The stages run
one after the other so that each figure is the stage's own, not the slower one's; together they show
what a deployment needs per event (collector + worker CPU) and per stage.

``--compare-attribution`` (issue 11's cost check) then times further workers on the
same published records, alternating ``TRTLENS_STREAMS__METRICS__ATTRIBUTION=false``
and ``true`` for ``--rounds`` rounds (each worker with its own app id, partials and
output topics, so each reads the input from the start and nothing else), and
reports CPU-µs per event of each configuration (the median over its rounds, and
the least: other load only ever adds CPU time through contention) and their
ratios: what tail attribution + exemplars add to the worker's CPU per event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from trtlens.settings import Settings, load_settings

SCRAPE_INTERVAL_S = 0.1  # resolution of the end time (and ~1 ms of the worker's CPU per scrape)


@dataclass
class BenchResult:
    events: int
    records: int
    events_per_s: float
    ceiling_events_per_s: float
    ratio: float
    peak_rss_mb: float
    app_seconds: float
    ceiling_seconds: float
    publish_events_per_s: float
    partitions: int
    events_per_record: int
    load_average: tuple[float, float, float]
    worker_cpu_s: float
    events_per_cpu_s: float
    breakdown: str
    attribution_cost: dict | None = None
    """``--compare-attribution``: per configuration its runs and median CPU-µs per event, and the ratio."""
    before: dict | None = None
    """The same figures of a worker of another installation (``--before-pythonpath``), measured first."""
    ingress: dict | None = None
    """``--ingress collect``: the re-batching collector's and the worker-behind-it's figures."""

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class WorkerRun:
    """One streams worker timed over the published records."""

    label: str
    app_seconds: float
    cpu_s: float
    events: int
    peak_rss_mb: float
    breakdown: str
    load_average: tuple[float, float, float]

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_s / self.events * 1e6

    def to_json(self) -> dict:
        return {**asdict(self), "cpu_us_per_event": round(self.cpu_us_per_event, 3)}


async def _ceiling(settings: Settings, expected_events: int, timeout_s: float) -> tuple[float, int]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from trtlens.streams.decode.core import decode

    consumer = AIOKafkaConsumer(
        **settings.kafka.aiokafka_kwargs(), enable_auto_commit=False, auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(settings.topics.events, p) for p in range(settings.topics.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        events = records = 0
        t0 = time.perf_counter()
        deadline = t0 + timeout_s
        while events < expected_events and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for msgs in batch.values():
                for msg in msgs:
                    records += 1
                    events += len(decode(msg.value).events)
        return time.perf_counter() - t0, records
    finally:
        await consumer.stop()


def run_bench(*, requests: int, partitions: int, seed: int, timeout_s: float, events_per_record: int = 500,
              compare_rounds: int = 0, before_pythonpath: str | None = None, ingress: str = "none",
              log=print) -> BenchResult:
    from trtlens.producers.load.config import FaultSpec, LoadConfig
    from trtlens.producers.load.core import generate
    from trtlens.producers.load.runner import publish_run
    from trtlens.stack import apply_to_settings, start_stack, stop_stack

    with tempfile.TemporaryDirectory(prefix="trtlens-bench-streams-") as tmp:
        base = load_settings(
            stack={"kafka_port": 0, "es_port": 0, "state_dir": tmp},
            topics={"partitions": partitions},
            streams={"app_id": f"bench-streams-{os.getpid()}"},
        )
        state = start_stack(base, detached=False)
        try:
            settings = apply_to_settings(base, state)
            duration_s = 60.0
            run = generate(LoadConfig(
                seed=seed, rate_rps=requests / duration_s, duration_s=duration_s, start_ms=1_700_000_000_000,
                faults=FaultSpec(duplicate_rate=0.01, out_of_order_rate=0.01, incomplete_rate=0.005),
            ))
            publisher = settings.producer.model_copy(update={"spool_name": "bench", "batch_max_events": events_per_record})
            stats = publish_run(run, settings, publisher_config=publisher)
            events = stats.events
            log(f"published events={events} records={stats.counters.get('records_sent')} "
                f"events_per_s={stats.events_per_s:,.0f}")
            ceiling_s, records = asyncio.run(_ceiling(settings, events, timeout_s))
            log(f"ceiling raw aiokafka+decode: {events / ceiling_s:,.0f} events/s ({records} records)")

            ceiling = events / ceiling_s
            before = None
            if before_pythonpath:
                b = _time_worker(settings, Path(tmp), events, timeout_s, label="before",
                                 extra_env={"PYTHONPATH": before_pythonpath,
                                            "TRTLENS_STREAMS__APP_ID": settings.streams.app_id + "-before"})
                eps = events / b.app_seconds
                before = {"events_per_s": eps, "ratio": eps / ceiling if ceiling else 0.0,
                          "events_per_cpu_s": events / max(1e-3, b.cpu_s), **b.to_json()}
                log(f"before (PYTHONPATH={before_pythonpath}): {eps:,.0f} events/s, "
                    f"{before['events_per_cpu_s']:,.0f} events per CPU-second")
            main = _time_worker(settings, Path(tmp), events, timeout_s, label="all stages")
            behind = None
            if ingress == "collect":
                behind = _ingress_collect(settings, Path(tmp), events, timeout_s, log)
            cost = None
            if compare_rounds:
                cost = _attribution_cost(settings, Path(tmp), events, timeout_s, compare_rounds, log)
            return BenchResult(
                events=events, records=records, events_per_s=events / main.app_seconds, ceiling_events_per_s=ceiling,
                ratio=events / main.app_seconds / ceiling if ceiling else 0.0, peak_rss_mb=main.peak_rss_mb,
                app_seconds=main.app_seconds, ceiling_seconds=ceiling_s, publish_events_per_s=stats.events_per_s,
                partitions=partitions, events_per_record=events_per_record, load_average=os.getloadavg(),
                worker_cpu_s=main.cpu_s, events_per_cpu_s=events / max(1e-3, main.cpu_s),
                breakdown=main.breakdown, attribution_cost=cost, before=before, ingress=behind,
            )
        finally:
            stop_stack(base)


def _time_worker(settings: Settings, log_dir: Path, events: int, timeout_s: float, *, label: str,
                 extra_env: dict[str, str] | None = None) -> WorkerRun:
    """Start one ``trtlens streams`` worker, time it from its first ``/readyz`` 200 to the scrape that counts
    every event, and stop it."""
    from trtlens.stack.processes import ManagedProcess, connection_env, wait_for

    env = {**connection_env(settings), "TRTLENS_STREAMS__APP_ID": settings.streams.app_id, **(extra_env or {})}
    name = "streams-" + "".join(c if c.isalnum() else "-" for c in label)
    worker = ManagedProcess(name, ["streams"], log_dir=log_dir, env=env).start()
    try:
        deadline = time.monotonic() + timeout_s
        worker.wait_obs(timeout_s)
        wait_for(lambda: _alive(worker) and worker.ready(), timeout_s=max(1.0, deadline - time.monotonic()),
                 interval_s=0.02, what="the streams worker to be ready")
        start_t, cpu_start = time.perf_counter(), worker.cpu_seconds()
        done = None
        while done is None and time.monotonic() < deadline:
            time.sleep(SCRAPE_INTERVAL_S)
            _alive(worker)
            scrape = worker.metrics()
            if scrape.value("trtlens_streams_events_total") >= events:
                done, end_t, cpu_end = scrape, time.perf_counter(), worker.cpu_seconds()
        if done is None:
            raise RuntimeError(f"the streams worker did not finish within {timeout_s:.0f}s: {worker.log_tail()}")
        return WorkerRun(label=label, app_seconds=max(1e-3, end_t - start_t), cpu_s=cpu_end - cpu_start,
                         events=events, peak_rss_mb=worker.rss_high_water_bytes() / 2**20,
                         breakdown=_breakdown(done), load_average=os.getloadavg())
    finally:
        worker.stop()


def _own_topics(settings: Settings, tag: str, names: tuple[str, ...]) -> Settings:
    """``settings`` with the named topics (and the app id) of its own, created on the broker."""
    from trtlens.kafka import ensure_topics

    topics = settings.topics.model_copy(update={name: f"{tag}.{name}" for name in names})
    ensure_topics(settings.kafka, topics)
    return settings.model_copy(update={"topics": topics, "streams": settings.streams.model_copy(update={"app_id": tag})})


OUTPUT_TOPICS = ("events_dlq", "traces", "metrics", "alerts", "builds", "layers", "findings", "metrics_partials")


def _ingress_collect(settings: Settings, log_dir: Path, events: int, timeout_s: float, log) -> dict:
    """``trtlens collect`` re-batching the events topic into a topic of its own, then a worker behind it."""
    from trtlens.stack.processes import ManagedProcess, connection_env, wait_for

    behind = _own_topics(settings, f"{settings.streams.app_id}-ingress", ("events", *OUTPUT_TOPICS))
    env = {**connection_env(behind), "TRTLENS_COLLECT__KAFKA__GROUP_ID": behind.streams.app_id + "-collect",
           "TRTLENS_PRODUCER__SPOOL_NAME": behind.streams.app_id}
    collector = ManagedProcess("collect-ingress", ["collect", "--kafka-topic", settings.topics.events],
                               log_dir=log_dir, env=env).start()
    try:
        deadline = time.monotonic() + timeout_s
        collector.wait_obs(timeout_s)
        first = last = None
        while last is None and time.monotonic() < deadline:
            time.sleep(SCRAPE_INTERVAL_S / 2 if first is None else SCRAPE_INTERVAL_S)
            if not collector.running:
                raise RuntimeError(f"the collector exited with {collector.returncode}: {collector.log_tail()}")
            scrape = collector.metrics()
            if first is None and scrape.value("trtlens_collect_events_total", source="kafka") > 0:
                # from its first event: the group join before it is the broker's, not the stage's
                first = (time.perf_counter(), collector.cpu_seconds(),
                         scrape.value("trtlens_publisher_events_published_total"))
            if scrape.value("trtlens_publisher_events_published_total") >= events:
                last = (time.perf_counter(), collector.cpu_seconds(), scrape)
        if first is None or last is None:
            raise RuntimeError(f"the collector did not re-batch {events} events within {timeout_s:.0f}s: "
                               f"{collector.log_tail()}")
        wait_for(lambda: collector.metrics().value("trtlens_collect_invalid_total", source="kafka") == 0,
                 timeout_s=1.0, what="no record dead-lettered by the collector")
        counted = events - first[2]
        seconds, cpu_s = max(1e-3, last[0] - first[0]), last[1] - first[1]
        records = last[2].value("trtlens_publisher_records_sent_total")
        rss_mb = collector.rss_high_water_bytes() / 2**20
    finally:
        collector.stop()
    c = {"events_per_s": counted / seconds, "events_per_cpu_s": counted / max(1e-3, cpu_s), "seconds": seconds,
         "cpu_s": cpu_s, "records_out": records, "peak_rss_mb": rss_mb, "load_average": os.getloadavg()}
    log(f"ingress (trtlens collect, re-batching): {c['events_per_s']:,.0f} events/s, {c['events_per_cpu_s']:,.0f} "
        f"events per CPU-second, {events} events into {records:.0f} records")
    w = _time_worker(behind, log_dir, events, timeout_s, label="behind-ingress")
    worker = {"events_per_s": events / w.app_seconds, "events_per_cpu_s": events / max(1e-3, w.cpu_s), **w.to_json()}
    log(f"worker behind the ingress: {worker['events_per_s']:,.0f} events/s, {worker['events_per_cpu_s']:,.0f} "
        f"events per CPU-second; peak RSS {w.peak_rss_mb:.0f} MB")
    pair_us = (cpu_s / counted + w.cpu_s / events) * 1e6
    return {"collector": c, "worker": worker, "pair_cpu_us_per_event": pair_us,
            "pair_events_per_cpu_s": 1e6 / pair_us if pair_us else 0.0}


def compare_order(rounds: int, first: str = "off", second: str = "on") -> list[tuple[str, str]]:
    """``(off, on), (on, off), (off, on), ...``: a drift of the machine's speed over the run hits both alike."""
    return [(first, second) if r % 2 == 0 else (second, first) for r in range(rounds)]


def _attribution_cost(settings: Settings, log_dir: Path, events: int, timeout_s: float, rounds: int, log) -> dict:
    """Workers with attribution + exemplars off and on, alternating (off, on, on, off, ...: a drift in the
    machine's speed hits both alike), each on the same input with topics and an app id of its own."""
    runs: dict[str, list[WorkerRun]] = {"off": [], "on": []}
    for r, pair in enumerate(compare_order(rounds)):
        for mode in pair:
            s = _own_topics(settings, f"{settings.streams.app_id}-{mode}{r}", OUTPUT_TOPICS)
            run = _time_worker(s, log_dir, events, timeout_s, label=f"attribution-{mode}-{r}",
                               extra_env={"TRTLENS_STREAMS__METRICS__ATTRIBUTION": "true" if mode == "on" else "false"})
            runs[mode].append(run)
            log(f"attribution={mode} round={r}: {run.cpu_us_per_event:.2f} CPU-us/event "
                f"({run.cpu_s:.2f} CPU-s, {events / run.app_seconds:,.0f} events/s, load average "
                + " ".join(f"{x:.2f}" for x in run.load_average) + ")")
    med = {mode: statistics.median(r.cpu_us_per_event for r in rs) for mode, rs in runs.items()}
    low = {mode: min(r.cpu_us_per_event for r in rs) for mode, rs in runs.items()}
    return {"rounds": rounds, "cpu_us_per_event_off": round(med["off"], 3), "cpu_us_per_event_on": round(med["on"], 3),
            "ratio_on_off": round(med["on"] / med["off"], 4) if med["off"] else None,
            # other load on the machine only ever adds CPU time (contention): the least of each is the steadier figure
            "min_cpu_us_per_event_off": round(low["off"], 3), "min_cpu_us_per_event_on": round(low["on"], 3),
            "min_ratio_on_off": round(low["on"] / low["off"], 4) if low["off"] else None,
            "runs": {mode: [r.to_json() for r in rs] for mode, rs in runs.items()}}


def _alive(worker) -> bool:
    if not worker.running:
        raise RuntimeError(f"streams worker exited with {worker.returncode}: {worker.log_tail()}")
    return True


def _breakdown(s) -> str:
    """Where the worker's time went, from its counters (the fields its progress log line has)."""
    stages = " ".join(f"{stage}_s={s.value('trtlens_streams_group_stage_seconds_total', stage=stage):.2f}"
                      for stage in ("core", "send", "flush", "persist"))
    return (f"records={s.value('trtlens_streams_records_total'):.0f} events={s.value('trtlens_streams_events_total'):.0f} "
            f"partitions={s.value('trtlens_streams_assigned_partitions'):.0f} "
            f"groups={s.value('trtlens_streams_group_duration_seconds_count'):.0f} {stages}")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "streams",
        help="events/s of the streams app (all stages) vs a raw aiokafka consumer decoding the same records",
        description="Starts its own embedded stack on free ports, publishes seeded load, measures the raw consumer "
        "ceiling and one `trtlens streams` worker, prints both, their ratio and the worker's peak RSS.",
    )
    p.add_argument("--requests", type=int, default=100_000, help="requests to generate (~4.5 events each; default 100000)")
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--events-per-record", type=_events_per_record, default=500, metavar="N",
                   help="events per Kafka record as published (1 = one JSON event per record, what most producers "
                   "send; 500 = trtlens's own producers; default 500)")
    p.add_argument("--compare-attribution", action="store_true",
                   help="then time workers with tail attribution + exemplars off and on (alternating, same input) "
                   "and print CPU-us per event of each and their ratio")
    p.add_argument("--rounds", type=_rounds, default=2, help="with --compare-attribution: workers per configuration (default 2)")
    p.add_argument("--timeout-s", type=float, default=300.0)
    p.add_argument("--before-pythonpath", metavar="DIR",
                   help="first run a worker of the trtlens installed in DIR (pip install --target DIR <older checkout>) "
                   "through the same records, for before/after figures from one run")
    p.add_argument("--ingress", choices=["none", "collect"], default="none",
                   help="collect: then time the re-batching ingress (`trtlens collect --kafka-topic` on the events "
                   "topic into a topic of its own) and a worker behind it, one after the other (default none)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)


def _events_per_record(text: str) -> int:
    n = int(text)
    if not 1 <= n <= 10_000:
        raise argparse.ArgumentTypeError(f"{n}: give 1 to 10000 events per record")
    return n


def _rounds(text: str) -> int:
    n = int(text)
    if not 1 <= n <= 20:
        raise argparse.ArgumentTypeError(f"{n}: give 1 to 20 rounds")
    return n


def _run(args: argparse.Namespace) -> int:
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    result = run_bench(requests=args.requests, partitions=args.partitions, seed=args.seed, timeout_s=args.timeout_s,
                       events_per_record=args.events_per_record,
                       compare_rounds=args.rounds if args.compare_attribution else 0,
                       before_pythonpath=args.before_pythonpath, ingress=args.ingress, log=log)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"app (1 worker, all stages): {result.events_per_s:>12,.0f} events/s  ({result.events} events in {result.app_seconds:.2f}s)")
        print(f"ceiling (raw aiokafka + decode): {result.ceiling_events_per_s:>7,.0f} events/s")
        print(f"events per record: {result.events_per_record}   load average: "
              + " ".join(f"{x:.2f}" for x in result.load_average))
        print(f"ratio: {result.ratio:.2f}   peak RSS of the worker: {result.peak_rss_mb:.0f} MB")
        print(f"worker CPU: {result.worker_cpu_s:.2f}s = {result.events_per_cpu_s:,.0f} events per CPU-second "
              "(independent of other load on the machine)")
        print(f"worker counters at the end: {result.breakdown}")
        if result.before is not None:
            b = result.before
            print(f"before ({args.before_pythonpath}): {b['events_per_s']:,.0f} events/s (ratio {b['ratio']:.2f}), "
                  f"{b['events_per_cpu_s']:,.0f} events per CPU-second; peak RSS {b['peak_rss_mb']:.0f} MB; "
                  f"{b['breakdown']}")
        g = result.ingress
        if g:
            c, w = g["collector"], g["worker"]
            print(f"ingress `trtlens collect` re-batching: {c['events_per_s']:,.0f} events/s, "
                  f"{c['events_per_cpu_s']:,.0f} events per CPU-second (into {c['records_out']:.0f} records)")
            print(f"worker behind it: {w['events_per_s']:,.0f} events/s (ratio to the ceiling "
                  f"{w['events_per_s'] / result.ceiling_events_per_s:.2f}), {w['events_per_cpu_s']:,.0f} events per "
                  f"CPU-second; peak RSS {w['peak_rss_mb']:.0f} MB")
            print(f"collector + worker: {g['pair_cpu_us_per_event']:.1f} CPU-us per event "
                  f"({g['pair_events_per_cpu_s']:,.0f} events per CPU-second of the two)")
        c = result.attribution_cost
        if c:
            print(f"attribution + exemplars ({c['rounds']} workers each, same input), CPU-us per event: median off "
                  f"{c['cpu_us_per_event_off']:.2f} / on {c['cpu_us_per_event_on']:.2f} = x{c['ratio_on_off']:.3f} "
                  f"({(c['ratio_on_off'] - 1) * 100:+.1f}%); least off {c['min_cpu_us_per_event_off']:.2f} / on "
                  f"{c['min_cpu_us_per_event_on']:.2f} = x{c['min_ratio_on_off']:.3f} "
                  f"({(c['min_ratio_on_off'] - 1) * 100:+.1f}%)")
    return 0
