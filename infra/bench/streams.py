"""``trtlens bench streams``: app events/s next to a raw-consumer ceiling, in one run.

1. start a private embedded stack (free ports, temporary state dir);
2. generate load with the producers' load generator (seeded) and publish it
   with the Publisher (batched records, the wire format every producer uses);
3. **ceiling**: a raw aiokafka consumer reads and decodes (orjson + the same
   validation) every record of the events topic;
4. **app**: one ``trtlens streams`` worker process (all stages on) consumes
   the same records; its events/s is taken from its progress log lines
   (first group to last event), and its peak RSS from ``VmHWM``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from trtlens.settings import Settings, load_settings

PROGRESS = re.compile(r"streams_progress t=([0-9.]+) records=(\d+) events=(\d+)[^\n]*")
RECOVERED = re.compile(r"partition=\d+ recovered")


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
    worker_cpu_s: float
    events_per_cpu_s: float
    breakdown: str

    def to_json(self) -> dict:
        return asdict(self)


def _settings_env(settings: Settings) -> dict[str, str]:
    env = {"TRTLENS_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers}
    for name, value in settings.topics.model_dump().items():
        env[f"TRTLENS_TOPICS__{name.upper()}"] = str(value)
    s = settings.streams
    env["TRTLENS_STREAMS__APP_ID"] = s.app_id
    env["TRTLENS_STREAMS__LOG_EVERY_S"] = "0.05"
    return env


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


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_bench(*, requests: int, partitions: int, seed: int, timeout_s: float, log=print) -> BenchResult:
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
        worker = None
        try:
            settings = apply_to_settings(base, state)
            duration_s = 60.0
            run = generate(LoadConfig(
                seed=seed, rate_rps=requests / duration_s, duration_s=duration_s, start_ms=1_700_000_000_000,
                faults=FaultSpec(duplicate_rate=0.01, out_of_order_rate=0.01, incomplete_rate=0.005),
            ))
            stats = publish_run(run, settings)
            events = stats.events
            log(f"published events={events} records={stats.counters.get('records_sent')} "
                f"events_per_s={stats.events_per_s:,.0f}")
            ceiling_s, records = asyncio.run(_ceiling(settings, events, timeout_s))
            log(f"ceiling raw aiokafka+decode: {events / ceiling_s:,.0f} events/s ({records} records)")

            log_path = Path(tmp) / "worker.log"
            env = {**os.environ, **_settings_env(settings)}
            with open(log_path, "w") as out:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "trtlens", "--log-level", "INFO", "streams"],
                    stdout=out, stderr=subprocess.STDOUT, env=env,
                )
            start_t = end_t = None
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                time.sleep(0.2)
                if worker.poll() is not None:
                    raise RuntimeError(f"streams worker exited with {worker.returncode}: {log_path.read_text()[-2000:]}")
                text = log_path.read_text(errors="replace")
                if start_t is None and RECOVERED.search(text):
                    line = next(l for l in text.splitlines() if RECOVERED.search(l))
                    start_t = _line_time(line)
                    cpu_start = _cpu_s(worker.pid)
                done = [m for m in PROGRESS.finditer(text) if int(m.group(3)) >= events]
                if done:
                    end_t = float(done[0].group(1))
                    cpu_end = _cpu_s(worker.pid)
                    breakdown = done[0].group(0)
                    break
            if start_t is None or end_t is None:
                raise RuntimeError(f"the streams worker did not finish within {timeout_s:.0f}s: {log_path.read_text()[-2000:]}")
            rss = _peak_rss_mb(worker.pid)
            app_s = max(1e-3, end_t - start_t)
            eps, ceiling = events / app_s, events / ceiling_s
            return BenchResult(
                events=events, records=records, events_per_s=eps, ceiling_events_per_s=ceiling,
                ratio=eps / ceiling if ceiling else 0.0, peak_rss_mb=rss, app_seconds=app_s,
                ceiling_seconds=ceiling_s, publish_events_per_s=stats.events_per_s, partitions=partitions,
                worker_cpu_s=cpu_end - cpu_start, events_per_cpu_s=events / max(1e-3, cpu_end - cpu_start),
                breakdown=breakdown,
            )
        finally:
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
            stop_stack(base)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (from /proc; 0 where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _line_time(line: str) -> float:
    """Epoch seconds of a Faust log line ``[YYYY-mm-dd HH:MM:SS,mmm] ...`` (local time)."""
    m = re.search(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\]", line)
    if not m:
        m2 = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})", line)
        if not m2:
            raise RuntimeError(f"no timestamp in {line!r}")
        m = m2
    return time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000


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
    p.add_argument("--timeout-s", type=float, default=300.0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    result = run_bench(requests=args.requests, partitions=args.partitions, seed=args.seed, timeout_s=args.timeout_s, log=log)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"app (1 worker, all stages): {result.events_per_s:>12,.0f} events/s  ({result.events} events in {result.app_seconds:.2f}s)")
        print(f"ceiling (raw aiokafka + decode): {result.ceiling_events_per_s:>7,.0f} events/s")
        print(f"ratio: {result.ratio:.2f}   peak RSS of the worker: {result.peak_rss_mb:.0f} MB")
        print(f"worker CPU: {result.worker_cpu_s:.2f}s = {result.events_per_cpu_s:,.0f} events per CPU-second "
              "(independent of other load on the machine)")
        print(f"last progress line: {result.breakdown}")
    return 0
