"""``trtlens bench collect``: file-follow and HTTP-ingest events/s next to ceilings measured in the same run.

Against one broker (a private embedded stack unless ``--bootstrap``), on the same N load-generator events:

1. **file ceiling**: read the JSON-lines file in 1 MiB chunks, split lines, ``orjson.loads`` each,
   ``Publisher.publish_dicts``, flush: read + parse + publish with no collector logic;
2. **file follow**: ``trtlens collect``'s file source on that file (follower, mapping, validation,
   DLQ checks, commit-after-ack checkpoints) until every event is acknowledged and checkpointed; once
   with ``validate_events=full`` (default) and once with ``envelope``; each also as events per CPU-second
   of this process (every thread: follower, mapping, publisher, kafka-python's sender; the broker is
   another process) — the "per core" figure — and its CPU-seconds over wall seconds (near 1: the run is
   CPU-bound on one core; well below 1: it waits, for the broker's acks or for a CPU the machine's other
   work holds);
   plus the collector's own work alone (a counting stand-in for the publisher), per CPU-second of
   this process: what one core does before the publisher and broker take their share;
3. **HTTP ceiling**: an aiohttp handler that reads the body, splits, parses and publishes (no auth,
   no validation, no ack wait), fed by the same client;
4. **HTTP ingest**: ``POST /v1/events`` of the collector (bounded bodies, auth check, mapping,
   validation, answer after the broker's ack), ``--http-body-events`` lines per request,
   ``--http-concurrency`` requests in flight.

Client, collector and broker share this machine's CPUs (the client's cost is in both HTTP figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collect", help="collector file-follow and HTTP-ingest events/s vs read+parse+publish ceilings")
    p.add_argument("--bootstrap", help="use this Kafka (host:port) instead of starting an embedded stack")
    p.add_argument("--events", type=int, default=300_000, help="events in the file (default 300000)")
    p.add_argument("--http-events", type=int, default=100_000, help="events pushed over HTTP (default 100000)")
    p.add_argument("--http-body-events", type=int, default=2000, help="NDJSON lines per request (default 2000)")
    p.add_argument("--http-concurrency", type=int, default=4, help="requests in flight (default 4)")
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--json", action="store_true", help="one JSON object: file/http events_per_s, ceilings, ratios")
    p.set_defaults(func=cmd_bench_collect)


def _events(n: int) -> list[dict]:
    from trtlens.producers.load.config import FaultSpec, LoadConfig
    from trtlens.producers.load.core import generate

    rate = 10_000.0
    run = generate(LoadConfig(seed=3, rate_rps=rate, duration_s=max(1.0, n / 3.0 / rate), start_ms=1_700_000_000_000,
                              faults=FaultSpec(), gpu_sample_interval_ms=0))
    out = []
    for e in run.events:
        out.append(e)
        if len(out) >= n:
            break
    return out


def file_ceiling(settings, path: Path) -> dict:
    import orjson

    from trtlens.producers.publisher import Publisher

    with Publisher(settings, settings.producer.model_copy(update={"spool_name": "bench-ceiling"})) as pub:
        t0 = time.perf_counter()
        c0 = time.process_time()
        n = 0
        rest = b""
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                data = rest + chunk
                cut = data.rfind(b"\n") + 1
                rest = data[cut:]
                batch = [orjson.loads(line) for line in data[:cut].split(b"\n") if line]
                pub.publish_dicts(batch)
                n += len(batch)
        delivered = pub.flush(120)
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0
    return {"events": n, "seconds": dt, "events_per_s": n / dt, "cpu_seconds": cpu,
            "events_per_cpu_s": n / cpu if cpu else 0.0, "cpu_over_wall": cpu / dt, "delivered": delivered}


def file_follow(settings, path: Path, checkpoint_dir: Path, want: int, validate: str = "full") -> dict:
    from trtlens.producers.collect.commit import Committer
    from trtlens.producers.collect.config import FilesConfig
    from trtlens.producers.collect.filesource import FileSource
    from trtlens.producers.collect.intake import Intake
    from trtlens.producers.collect.mapping import Mapper
    from trtlens.producers.collect.config import MappingConfig
    from trtlens.producers.publisher import Publisher

    with Publisher(settings, settings.producer.model_copy(update={"spool_name": "bench-follow"})) as pub:
        committer = Committer(pub, interval_ms=1000)
        intake = Intake(pub, committer, Mapper(MappingConfig(), worker_id="bench", validate=validate))
        source = FileSource(FilesConfig(paths=[str(path)]), intake, checkpoint_dir)
        t0 = time.perf_counter()
        c0 = time.process_time()
        source.follower.scan()
        last_commit = t0
        while intake.counts[("file", "events")] + intake.counts[("file", "invalid")] < want:
            if source.poll_once() == 0:
                break
            if time.perf_counter() - last_commit >= 1.0:
                committer.commit_now()
                last_commit = time.perf_counter()
        committed = committer.commit_now()
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0
        source.follower.close()
    n = intake.counts[("file", "events")]
    return {"events": n, "invalid": intake.counts[("file", "invalid")], "seconds": dt, "events_per_s": n / dt,
            "cpu_seconds": cpu, "events_per_cpu_s": n / cpu if cpu else 0.0, "cpu_over_wall": cpu / dt,
            "delivered": committed, "checkpoint_writes": source.store.writes}


class _CountingPublisher:
    """Stands in for the publisher to time the collector's own per-event work (no broker, no batching)."""

    def __init__(self) -> None:
        self.events = 0

    def publish_dicts(self, events) -> None:
        self.events += len(events)

    def publish_dead_letter(self, doc, key=None) -> None:
        pass

    def flush(self, timeout_s: float) -> bool:
        return True


def file_logic_only(path: Path, checkpoint_dir: Path, validate: str) -> dict:
    """Follower + mapping + validation + checkpoints on one core, publishing to a counter."""
    from trtlens.producers.collect.commit import Committer
    from trtlens.producers.collect.config import FilesConfig, MappingConfig
    from trtlens.producers.collect.filesource import FileSource
    from trtlens.producers.collect.intake import Intake
    from trtlens.producers.collect.mapping import Mapper

    pub = _CountingPublisher()
    committer = Committer(pub)
    source = FileSource(FilesConfig(paths=[str(path)]), Intake(pub, committer, Mapper(MappingConfig(), worker_id="b",
                                                                                       validate=validate)),
                        checkpoint_dir)
    source.follower.scan()
    t0 = time.process_time()
    while source.poll_once():
        committer.commit_now()
    cpu = time.process_time() - t0
    source.follower.close()
    return {"events": pub.events, "cpu_seconds": cpu, "events_per_cpu_s": pub.events / cpu if cpu else 0.0}


async def _push(url: str, bodies: list[bytes], concurrency: int) -> float:
    import aiohttp

    queue = list(reversed(bodies))
    async with aiohttp.ClientSession() as session:
        async def worker() -> None:
            while queue:
                body = queue.pop()
                async with session.post(url, data=body, headers={"Content-Type": "application/x-ndjson"}) as r:
                    if r.status != 200:
                        raise RuntimeError(f"bench push got {r.status}: {await r.text()}")
                    await r.read()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0


def http_ceiling(settings, bodies: list[bytes], n: int, concurrency: int) -> dict:
    import orjson
    from aiohttp import web

    from trtlens.producers.publisher import Publisher

    async def main(pub) -> float:
        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            pub.publish_dicts([orjson.loads(line) for line in body.split(b"\n") if line])
            return web.Response(text="ok")

        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/raw", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            dt = await _push(f"http://127.0.0.1:{port}/raw", bodies, concurrency)
            t1 = time.perf_counter()
            await asyncio.to_thread(pub.flush, 120)
            return dt + (time.perf_counter() - t1)
        finally:
            await runner.cleanup()

    with Publisher(settings, settings.producer.model_copy(update={"spool_name": "bench-http-ceiling"})) as pub:
        dt = asyncio.run(main(pub))
    return {"events": n, "seconds": dt, "events_per_s": n / dt}


def http_ingest(settings, bodies: list[bytes], n: int, concurrency: int) -> dict:
    from trtlens.producers.collect.commit import Committer
    from trtlens.producers.collect.config import HttpConfig, MappingConfig
    from trtlens.producers.collect.httpsource import HttpSource
    from trtlens.producers.collect.intake import Intake
    from trtlens.producers.collect.mapping import Mapper
    from trtlens.producers.publisher import Publisher

    async def main(pub) -> tuple[float, Intake]:
        committer = Committer(pub, interval_ms=50)
        committer.start()
        intake = Intake(pub, committer, Mapper(MappingConfig(), worker_id="bench"))
        http = HttpSource(HttpConfig(enabled=True, port=0, max_body_bytes=64 << 20), intake)
        port = await http.start()
        try:
            return await _push(f"http://127.0.0.1:{port}/v1/events", bodies, concurrency), intake
        finally:
            await http.stop()
            committer.stop()

    with Publisher(settings, settings.producer.model_copy(update={"spool_name": "bench-http"})) as pub:
        dt, intake = asyncio.run(main(pub))
    got = intake.counts[("http", "events")]
    return {"events": got, "seconds": dt, "events_per_s": got / dt, "delivered": got == n}


def cmd_bench_collect(args: argparse.Namespace) -> int:
    import orjson

    from trtlens.bench.produce import _settings
    from trtlens.settings import load_settings
    from trtlens.stack import free_port, start_stack, stop_stack

    tmp = tempfile.TemporaryDirectory(prefix="trtlens-bench-collect-")
    own = None
    say = (lambda msg: None) if args.json else (lambda msg: print(f"bench collect: {msg}", file=sys.stderr, flush=True))
    try:
        bootstrap = args.bootstrap
        if not bootstrap:
            own = load_settings(stack={"kafka_port": free_port(), "es_port": 0, "state_dir": tmp.name + "/stack"})
            say("starting a private embedded stack ...")
            bootstrap = start_stack(own).bootstrap_servers
        settings = _settings(bootstrap, args.partitions, tmp.name + "/spool")
        events = _events(max(args.events, args.http_events))
        path = Path(tmp.name) / "app.jsonl"
        path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events[: args.events]))
        say(f"{args.events} events, {path.stat().st_size} bytes; file ceiling ...")
        fc = file_ceiling(settings, path)
        say("file follow ...")
        ff = file_follow(settings, path, Path(tmp.name) / "cp", args.events)
        say("file follow, validate_events=envelope ...")
        fe = file_follow(settings, path, Path(tmp.name) / "cp-envelope", args.events, validate="envelope")
        say("collector logic alone (no broker) ...")
        lf = file_logic_only(path, Path(tmp.name) / "cp-logic", "full")
        le = file_logic_only(path, Path(tmp.name) / "cp-logic-env", "envelope")
        http_events = events[: args.http_events]
        step = args.http_body_events
        bodies = [b"".join(orjson.dumps(e) + b"\n" for e in http_events[i:i + step])
                  for i in range(0, len(http_events), step)]
        say("HTTP ceiling ...")
        hc = http_ceiling(settings, bodies, len(http_events), args.http_concurrency)
        say("HTTP ingest ...")
        hi = http_ingest(settings, bodies, len(http_events), args.http_concurrency)
    finally:
        if own is not None:
            stop_stack(own)
        tmp.cleanup()

    def r(d: dict) -> dict:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in d.items()}

    result = {
        "file": {**r(ff), "ceiling_events_per_s": round(fc["events_per_s"], 1),
                 "ratio": round(ff["events_per_s"] / fc["events_per_s"], 4),
                 "cpu_ratio": round(ff["events_per_cpu_s"] / fc["events_per_cpu_s"], 4)},
        "file_envelope": {**r(fe), "ceiling_events_per_s": round(fc["events_per_s"], 1),
                          "ratio": round(fe["events_per_s"] / fc["events_per_s"], 4),
                          "cpu_ratio": round(fe["events_per_cpu_s"] / fc["events_per_cpu_s"], 4)},
        "file_ceiling": r(fc),
        "file_logic_per_cpu_s": {"full": round(lf["events_per_cpu_s"], 1), "envelope": round(le["events_per_cpu_s"], 1)},
        "http": {**r(hi), "ceiling_events_per_s": round(hc["events_per_s"], 1),
                 "ratio": round(hi["events_per_s"] / hc["events_per_s"], 4)},
        "http_ceiling": r(hc),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "broker": "own embedded stack" if own is not None else bootstrap,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"file ceiling (read+parse+publish): {fc['events_per_s']:>10,.0f} events/s")
        print(f"  per CPU-s of this process      : {fc['events_per_cpu_s']:>10,.0f} events "
              f"(CPU-s / wall-s {fc['cpu_over_wall']:.2f})")
        print(f"file follow (collector)          : {ff['events_per_s']:>10,.0f} events/s "
              f"({result['file']['ratio']:.1%} of ceiling; committed={ff['delivered']}, "
              f"checkpoint writes={ff['checkpoint_writes']})")
        print(f"  per CPU-s of this process      : {ff['events_per_cpu_s']:>10,.0f} events "
              f"({result['file']['cpu_ratio']:.1%} of the ceiling's; CPU-s / wall-s {ff['cpu_over_wall']:.2f})")
        print(f"file follow (validate=envelope)  : {fe['events_per_s']:>10,.0f} events/s "
              f"({result['file_envelope']['ratio']:.1%} of ceiling)")
        print(f"  per CPU-s of this process      : {fe['events_per_cpu_s']:>10,.0f} events "
              f"({result['file_envelope']['cpu_ratio']:.1%} of the ceiling's; CPU-s / wall-s {fe['cpu_over_wall']:.2f})")
        print(f"collector logic alone, per CPU-s : {lf['events_per_cpu_s']:>10,.0f} events (full), "
              f"{le['events_per_cpu_s']:,.0f} (envelope); no broker, no publisher")
        print(f"HTTP ceiling (read+parse+publish): {hc['events_per_s']:>10,.0f} events/s")
        print(f"HTTP ingest (collector, acked)   : {hi['events_per_s']:>10,.0f} events/s "
              f"({result['http']['ratio']:.1%} of ceiling)")
        print(f"load average (1 min) at the end  : {result['load_average_1m']:.2f} on {os.cpu_count()} CPUs")
    return 0 if ff["delivered"] and fe["delivered"] and fc["delivered"] and hi["delivered"] else 1
