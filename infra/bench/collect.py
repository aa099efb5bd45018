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
   ``--http-concurrency`` requests in flight;
5. with ``--rounds N`` (more than 1) or ``--before-pythonpath DIR``: N rounds, each the file ceiling and
   then child processes (``collect_child.py``) that follow the same file, both validations, and time the
   logic alone: one of the current installation ("after") and, with ``DIR``, one of the trtlens installed
   there ("before"), in alternating order; medians over the rounds. Before and after are thus timed by the
   same code, on the same file, against the same broker, under the same load.

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
    p.add_argument("--rounds", type=_rounds, default=1,
                   help="rounds of ceiling + file follow in child processes, medians reported (1 to 20; default 1: "
                   "none unless --before-pythonpath)")
    p.add_argument("--before-pythonpath", metavar="DIR",
                   help="each round also follows the file with the trtlens installed in DIR (pip install --target DIR "
                   "<older checkout>), alternating with the current one, for before/after figures from one run")
    p.add_argument("--json", action="store_true", help="one JSON object: file/http events_per_s, ceilings, ratios")
    p.set_defaults(func=cmd_bench_collect)


def _rounds(text: str) -> int:
    n = int(text)
    if not 1 <= n <= 20:
        raise argparse.ArgumentTypeError(f"{n}: give 1 to 20 rounds")
    return n


def round_order(rounds: int, before: bool) -> list[list[str]]:
    """Which installations each round runs, in order: before and after alternate who goes first."""
    if not before:
        return [["after"] for _ in range(rounds)]
    from trtlens.bench.streams import compare_order

    return [list(pair) for pair in compare_order(rounds, "before", "after")]


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


def run_child(settings, path: Path, events: int, workdir: Path, pythonpath: str | None) -> dict:
    """``collect_child.py`` in a new interpreter (``PYTHONPATH=pythonpath`` when given): its JSON result."""
    import subprocess

    workdir.mkdir(parents=True)
    spec = {"bootstrap": settings.kafka.bootstrap_servers, "topics": settings.topics.model_dump(),
            "spool_dir": str(workdir / "spool"), "path": str(path), "events": events, "workdir": str(workdir)}
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    source = (Path(__file__).with_name("collect_child.py")).read_text()
    proc = subprocess.run([sys.executable, "-c", source, json.dumps(spec)], env=env, cwd=workdir,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"bench child ({pythonpath or 'current'}) exited {proc.returncode}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare_rounds(settings, path: Path, events: int, work: Path, rounds: int, before: str | None, say) -> dict:
    """``rounds`` rounds of the file ceiling and child runs (before/after alternating): per round, and medians."""
    import statistics

    out: list[dict] = []
    for r, order in enumerate(round_order(rounds, before is not None)):
        fc = file_ceiling(settings, path)
        row = {"round": r + 1, "ceiling_events_per_cpu_s": round(fc["events_per_cpu_s"], 1),
               "ceiling_events_per_s": round(fc["events_per_s"], 1)}
        for name in order:
            say(f"round {r + 1}/{rounds}: {name} ...")
            got = run_child(settings, path, events, work / f"round{r + 1}-{name}", before if name == "before" else None)
            for validate, f in got["follow"].items():
                if f["events"] != events or not f["delivered"]:
                    raise RuntimeError(f"round {r + 1} {name} {validate}: {f['events']} of {events} events, "
                                       f"committed={f['delivered']}")
            row[name] = {"full_events_per_cpu_s": round(got["follow"]["full"]["events_per_cpu_s"], 1),
                         "envelope_events_per_cpu_s": round(got["follow"]["envelope"]["events_per_cpu_s"], 1),
                         "full_events_per_s": round(got["follow"]["full"]["events_per_s"], 1),
                         "full_cpu_over_wall": round(got["follow"]["full"]["cpu_over_wall"], 2),
                         "logic_full_per_cpu_s": round(got["logic_per_cpu_s"]["full"], 1),
                         "logic_envelope_per_cpu_s": round(got["logic_per_cpu_s"]["envelope"], 1)}
        row["load_average_1m"] = round(os.getloadavg()[0], 2)
        out.append(row)
    median: dict = {"ceiling_events_per_cpu_s": round(statistics.median(x["ceiling_events_per_cpu_s"] for x in out), 1)}
    for name in ("before", "after"):
        if name in out[0]:
            median[name] = {k: round(statistics.median(x[name][k] for x in out), 2 if "over" in k else 1)
                            for k in out[0][name]}
    if "before" in median:
        median["after_over_before_full"] = round(median["after"]["full_events_per_cpu_s"]
                                                 / median["before"]["full_events_per_cpu_s"], 3)
    return {"rounds": out, "median": median, "before_pythonpath": before}


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
    import numpy  # noqa: F401  (the publisher imports it lazily, once per process: not a per-event cost)
    import orjson

    from trtlens.bench.collect_child import file_follow, file_logic_only
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
        compared = None
        if args.rounds > 1 or args.before_pythonpath:
            compared = compare_rounds(settings, path, args.events, Path(tmp.name) / "rounds", args.rounds,
                                      args.before_pythonpath, say)
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
    if compared is not None:
        result["compare"] = compared
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
        if compared is not None:
            _print_compare(compared)
    return 0 if ff["delivered"] and fe["delivered"] and fc["delivered"] and hi["delivered"] else 1


def _print_compare(c: dict) -> None:
    """The rounds, one line per installation, then the medians (file follow events per CPU-second of the process)."""
    print(f"rounds (child processes; before = {c['before_pythonpath'] or '-'}), events per CPU-second of the process:")
    for row in c["rounds"]:
        parts = [f"round {row['round']}: ceiling {row['ceiling_events_per_cpu_s']:,.0f}"]
        for name in ("before", "after"):
            if name in row:
                x = row[name]
                parts.append(f"{name} full {x['full_events_per_cpu_s']:,.0f} "
                             f"envelope {x['envelope_events_per_cpu_s']:,.0f} "
                             f"logic {x['logic_full_per_cpu_s']:,.0f}/{x['logic_envelope_per_cpu_s']:,.0f}")
        print("  " + " | ".join(parts) + f" | load {row['load_average_1m']:.2f}")
    m = c["median"]
    line = f"median: ceiling {m['ceiling_events_per_cpu_s']:,.0f}"
    for name in ("before", "after"):
        if name in m:
            line += (f" | {name} full {m[name]['full_events_per_cpu_s']:,.0f} "
                     f"envelope {m[name]['envelope_events_per_cpu_s']:,.0f}")
    if "after_over_before_full" in m:
        line += f" | after / before (full) x{m['after_over_before_full']:.2f}"
    print(line)
