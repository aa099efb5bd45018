"""``trtlens bench pipeline``: the whole pipeline at increasing rates, next to ceilings taken in the same run.

1. Starts a private embedded stack (free ports, temporary state dir).
2. Ceilings on that stack: raw kafka-python produce (the Publisher's record
   shape: JSON arrays of ``batch_max_events`` events, and one event per
   record), raw aiokafka consume of the same records (no decoding), and direct
   ``elasticsearch.helpers.bulk`` of sink-shaped documents (same templates,
   chunks of 2,000). Scratch topics and indices are deleted afterwards.
3. Starts ``trtlens streams`` and ``trtlens sink`` as child processes (tail
   sampling at ``--sample-rate`` keeps the stored volume within the embedded
   store's memory) and warms them up.
4. Per rate: a traffic process publishes the load generator's events paced to
   event time = wall time (``ts_ms`` = when it is due; Publisher defaults), for
   ``--duration-s``. Mixed into that traffic, every ``--probe-ms`` a *probe*
   request (3 events, marked cold start so tail sampling always keeps its
   trace) takes the same path to the store.

Latency (event time → indexed) is measured on the probes: the bench polls the
store every ``--poll-ms`` for probe traces (a term + range query), and a probe
first seen by a poll was indexed between the previous poll's request and this
poll's response; the midpoint is taken (resolution ± half that span, printed).
osmem makes documents searchable at once; on real Elasticsearch add the refresh
interval. Probe events are handed to the Publisher when due (at most 5 ms
early), so its linger and any producer lag count as latency.

The store's own latency is shown beside it: per step, the sink's bulk requests (how many, how many
over 0.5 s and 1 s, seconds in all), read from its ``trtlens_sink_bulk_duration_seconds``
histogram; a bulk that stalls delays every probe indexed in it.

Throughput: *scheduled* events/s = events / their event-time span (a cold
start completes up to a few seconds after the last arrival, so this is a bit
below the offered rate); *end-to-end* events/s = events published / (first
send → last probe indexed). A pipeline that keeps up shows end-to-end ≈
scheduled; one that falls behind shows less, and growing latency. Peak RSS is
sampled during each step (children included).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROBE_MODEL = "bench-probe"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pipeline",
        help="end-to-end events/s and event→document latency at increasing rates, with produce/consume/bulk ceilings",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rates", default="2000,5000,10000", help="offered events/s, comma list (default 2000,5000,10000)")
    p.add_argument("--duration-s", type=float, default=20.0, help="seconds of traffic per rate (default 20)")
    p.add_argument("--sample-rate", type=float, default=0.05, help="streams tail-sampling rate (default 0.05)")
    p.add_argument("--probe-ms", type=int, default=20, help="one probe request every N ms of event time (default 20)")
    p.add_argument("--poll-ms", type=int, default=100, help="store poll interval for probes (default 100)")
    p.add_argument("--partitions", type=int, default=3, help="partitions per topic (default 3)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log-dir", type=Path, help="child logs (default: a temp dir, printed)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (progress still on stderr)")
    p.set_defaults(func=cmd_bench_pipeline)


def _log(msg: str) -> None:
    print(f"bench pipeline: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- traffic (child process)


def _probe_events(tag: str, i: int, ts_ms: int) -> list[dict[str, Any]]:
    rid = f"probe-{tag}-{i}"
    base = {"request_id": rid, "worker_id": f"probe-{tag}", "host": "bench", "model": PROBE_MODEL,
            "model_version": "v1", "backend": "synthetic", "level": "info", "ts_ms": ts_ms}
    return [
        {**base, "event_id": rid + "-0", "event": "request_received", "batch_size": 1},
        {**base, "event_id": rid + "-1", "event": "inference_complete", "latency_ms": 1.0, "cold_start": True},
        {**base, "event_id": rid + "-2", "event": "request_complete", "total_ms": 1.0, "status": "ok", "cold_start": True},
    ]


def _load_config(tag: str, events_per_s: float, duration_s: float, start_ms: int, seed: int):
    from trtlens.producers.load.config import LoadConfig

    # ~3 events per request (received, inference|error, complete; +2 on the rare cold start)
    return LoadConfig(seed=seed, rate_rps=events_per_s / 3.0, duration_s=duration_s, start_ms=start_ms, run_tag=tag)


def probe_plan(tag: str, events_per_s: float, duration_s: float, start_ms: int, probe_ms: int, seed: int) -> list[int]:
    """Probe event times: from the first event to just after the last one (a cold start's completion
    comes up to a few seconds after the last arrival), so the last probe is the last thing sent."""
    from trtlens.producers.load.core import generate

    end_ms = max(generate(_load_config(tag, events_per_s, duration_s, start_ms, seed)).ground_truth["end_ms"],
                 start_ms + int(duration_s * 1000))
    return list(range(start_ms, end_ms + probe_ms, probe_ms))


def traffic_main(env: dict[str, str], tag: str, events_per_s: float, duration_s: float, start_ms: int,
                 probe_ts: list[int], seed: int, spool_dir: str, out_path: str) -> None:
    """Publish load-generator events + probes paced to event time (runs in its own process)."""
    import os

    os.environ.update(env)
    from trtlens.producers.load.core import generate
    from trtlens.producers.publisher import Publisher
    from trtlens.settings import load_settings

    settings = load_settings()
    run = generate(_load_config(tag, events_per_s, duration_s, start_ms, seed))
    cfg = settings.producer.model_copy(update={"spool_dir": Path(spool_dir), "spool_name": tag})
    sent = probes = 0
    max_behind_ms = 0
    chunk: list[dict] = []
    with Publisher(settings, cfg) as pub:
        t_first = None

        def due(ts: int) -> None:  # hand over what is due (in chunks), then wait until ts is due
            nonlocal chunk, sent, t_first, max_behind_ms
            now = time.time() * 1000
            if ts <= now + 5 and len(chunk) < 2000:
                return
            if chunk:
                pub.publish_dicts(chunk)
                sent += len(chunk)
                if t_first is None:
                    t_first = time.time()
                max_behind_ms = max(max_behind_ms, int(now - chunk[0]["ts_ms"]))
                chunk = []
            if ts > now + 5:
                time.sleep((ts - now) / 1000)

        pi = 0
        for ev in run.events:
            ts = ev["ts_ms"]
            while pi < len(probe_ts) and probe_ts[pi] <= ts:
                due(probe_ts[pi])
                chunk.extend(_probe_events(tag, pi, probe_ts[pi]))
                pi += 1
                probes += 1
            due(ts)
            chunk.append(ev)
        for pi in range(pi, len(probe_ts)):
            due(probe_ts[pi])
            chunk.extend(_probe_events(tag, pi, probe_ts[pi]))
            probes += 1
        if chunk:
            pub.publish_dicts(chunk)
            sent += len(chunk)
        t_last = time.time()
        delivered = pub.flush(120)
        counters = dict(pub.counters)
    Path(out_path).write_text(json.dumps({
        "events": sent, "probes": probes, "t_first": t_first or t_last, "t_last": t_last, "delivered": delivered,
        "max_behind_ms": max_behind_ms, "counters": counters,
    }))


# ---------------------------------------------------------------- measuring


@dataclass
class ProbeWatch:
    """Polls the store for probe traces of one step; records when each was first seen."""

    es: Any
    alias: str
    tag: str
    start_ms: int
    probe_ms: int
    count: int
    seen_ms: dict[int, float] = field(default_factory=dict)  # probe index → estimated indexed time (epoch ms)
    spans_ms: list[float] = field(default_factory=list)
    _prev_send: float | None = None

    def poll(self) -> None:
        lowest = next((i for i in range(self.count) if i not in self.seen_ms), self.count)
        if lowest >= self.count:
            return
        send = time.time() * 1000
        try:
            resp = self.es.search(
                index=self.alias, size=2000, _source=["request_id", "end_ts_ms"], ignore_unavailable=True,
                query={"bool": {"filter": [{"term": {"model": PROBE_MODEL}},
                                           {"range": {"end_ts_ms": {"gte": self.start_ms + lowest * self.probe_ms}}}]}},
            )
        except Exception as exc:  # the alias appears with the first document
            if "index_not_found" not in str(exc):
                raise
            resp = {"hits": {"hits": []}}
        recv = time.time() * 1000
        prefix = f"probe-{self.tag}-"
        new = 0
        for hit in resp["hits"]["hits"]:
            rid = hit["_source"]["request_id"]
            if not rid.startswith(prefix):
                continue
            i = int(rid[len(prefix):])
            if i not in self.seen_ms:
                lo = self._prev_send if self._prev_send is not None else send
                self.seen_ms[i] = (lo + recv) / 2
                new += 1
        if new:
            self.spans_ms.append(recv - (self._prev_send if self._prev_send is not None else send))
        self._prev_send = send

    @property
    def done(self) -> bool:
        return len(self.seen_ms) >= self.count

    def latencies_ms(self) -> list[float]:
        return sorted(self.seen_ms[i] - (self.start_ms + i * self.probe_ms) for i in self.seen_ms)


def _quantile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


class RssSampler:
    def __init__(self, pids: dict[str, int]) -> None:
        import psutil

        self._procs = {}
        for name, pid in pids.items():
            try:
                self._procs[name] = psutil.Process(pid)
            except psutil.Error:
                pass
        self.peak_bytes: dict[str, int] = dict.fromkeys(pids, 0)

    def sample(self) -> None:
        import psutil

        for name, proc in self._procs.items():
            try:
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            except psutil.Error:
                continue
            self.peak_bytes[name] = max(self.peak_bytes[name], rss)

    def peak_mb(self) -> dict[str, float]:
        return {k: round(v / 1e6, 1) for k, v in self.peak_bytes.items()}


# ---------------------------------------------------------------- the run


def cmd_bench_pipeline(args: argparse.Namespace) -> int:
    from trtlens.settings import load_settings
    from trtlens.stack import apply_to_settings, start_stack, stop_stack

    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="trtlens-bench-pipeline-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    _log(f"child logs in {log_dir}")
    base = load_settings(args.config, stack={"kafka_port": 0, "es_port": 0, "state_dir": log_dir / "stack"})
    base = base.model_copy(update={"topics": base.topics.model_copy(update={"partitions": args.partitions})})
    _log("starting a private embedded stack ...")
    state = start_stack(base, detached=False)
    try:
        settings = apply_to_settings(base, state)
        result = _run(settings, state, rates, args, log_dir)
    finally:
        stop_stack(base)
    if args.json:
        print(json.dumps(result))
    else:
        _print(result)
    return 0


def _run(settings, state, rates: list[float], args, log_dir: Path) -> dict:
    from trtlens.bench.ceilings import measure_ceilings
    from trtlens.es import es_client
    from trtlens.kafka import ensure_topics
    from trtlens.stack.processes import ManagedProcess, connection_env
    from trtlens.producers.load.config import LoadConfig
    from trtlens.producers.load.core import generate

    sample = list(generate(LoadConfig(seed=args.seed, rate_rps=6_700, duration_s=10, start_ms=1_795_300_000_000)).events)
    ceilings = measure_ceilings(settings, sample, log=_log)
    del sample

    ensure_topics(settings.kafka, settings.topics)
    env = connection_env(settings)
    streams_env = {**env, "TRTLENS_STREAMS__TRACES__SAMPLE_RATE": str(args.sample_rate)}
    streams = ManagedProcess("streams", ["streams"], log_dir=log_dir, env=streams_env).start()
    sink_port_file = log_dir / "sink.port"
    sink = ManagedProcess("sink", ["sink"], log_dir=log_dir, env={**env, "TRTLENS_OBS__PORT_FILE": str(sink_port_file)}).start()
    store_view = SinkBulkView(sink_port_file)
    es = es_client(settings.elasticsearch, request_timeout=30)
    pids = {"streams": streams.pid, "sink": sink.pid, "broker": state.kafka.pid, "store": state.elasticsearch.pid}
    steps: list[dict] = []
    overall = dict.fromkeys([*pids, "load"], 0.0)
    try:
        _log("warming up streams and sink (Faust start, group joins) ...")
        warm = _step(settings, es, pids, [streams, sink], 300.0, 3.0, args, log_dir, "warm", timeout_s=180)
        _log(f"warm-up done: first probe after {warm['first_probe_after_s']:.1f}s")
        for i, rate in enumerate(rates):
            _log(f"rate {rate:,.0f} events/s for {args.duration_s:.0f}s ...")
            before = store_view.read()
            step = _step(settings, es, pids, [streams, sink], rate, args.duration_s, args, log_dir, f"r{i}",
                         timeout_s=args.duration_s + 90)
            step["sink_bulks"] = bulk_step(before, store_view.read())
            steps.append(step)
            for k, v in step["peak_rss_mb"].items():
                overall[k] = max(overall[k], v)
            _log(f"  sent {step['sent_events_per_s']:,.0f} ev/s, end to end {step['events_per_s']:,.0f} ev/s, "
                 f"latency P50 {step['e2e_latency_p50_ms']} ms P99 {step['e2e_latency_p99_ms']} ms, "
                 f"probes {step['probes_seen']}/{step['probes']}")
            if b := step["sink_bulks"]:
                _log(f"  the store as the sink saw it: {b['bulks']} bulks, {b['over_1s']} took over 1 s, "
                     f"{b['seconds']:.1f} s in bulks in all")
            if not step["drained"]:
                _log("  the pipeline did not drain this rate in time: higher rates skipped")
                break
    finally:
        sink.stop()
        streams.stop()
        es.close()
    drained = [s for s in steps if s["drained"]] or steps
    best = max(drained, key=lambda s: s["events_per_s"]) if drained else {}
    return {
        "events_per_s": best.get("events_per_s"),
        "e2e_latency_p50_ms": best.get("e2e_latency_p50_ms"),
        "e2e_latency_p99_ms": best.get("e2e_latency_p99_ms"),
        "best_rate_offered": best.get("offered_events_per_s"),
        "peak_rss_mb": overall,
        "ceilings": ceilings,
        "steps": steps,
        "settings": {"duration_s": args.duration_s, "sample_rate": args.sample_rate, "probe_ms": args.probe_ms,
                     "poll_ms": args.poll_ms, "partitions": settings.topics.partitions},
        "method": "latency = probe trace first seen in the store (midpoint of the poll span) - probe event time; "
                  "events_per_s = events published / (first send -> last probe indexed)",
        "machine": _machine(),
    }


class SinkBulkView:
    """The sink child's ``trtlens_sink_bulk_duration_seconds`` histogram, read from its /metrics.

    It separates the store's latency from the pipeline's: a bulk that takes seconds delays every
    probe indexed in it, whatever the stages upstream did.
    """

    def __init__(self, port_file: Path) -> None:
        self.port_file = port_file

    def read(self) -> dict[str, float] | None:
        import urllib.request

        try:
            port = int(self.port_file.read_text().strip())
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                return parse_bulk_histogram(resp.read().decode())
        except (OSError, ValueError):
            return None  # no listener (yet): the step is reported without the store's share


def parse_bulk_histogram(exposition: str) -> dict[str, float]:
    """``{le: cumulative count, "sum": seconds}`` of the bulk duration histogram in a Prometheus text exposition."""
    out: dict[str, float] = {}
    for line in exposition.splitlines():
        if line.startswith('trtlens_sink_bulk_duration_seconds_bucket{le="'):
            le, _, value = line[len('trtlens_sink_bulk_duration_seconds_bucket{le="'):].partition('"} ')
            out[le] = float(value)
        elif line.startswith("trtlens_sink_bulk_duration_seconds_sum "):
            out["sum"] = float(line.split()[1])
    return out


def bulk_step(before: dict[str, float] | None, after: dict[str, float] | None) -> dict | None:
    """Bulks of one step (after - before): how many, how many over 0.5 and 1 s, seconds in all."""
    if not after or "+Inf" not in after:
        return None
    before = before or {}

    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    n = delta("+Inf")
    return {"bulks": int(n), "over_0_5s": int(n - delta("0.5")), "over_1s": int(n - delta("1.0")),
            "seconds": round(delta("sum"), 2)}


def _machine() -> dict:
    """What the figures were measured on: CPUs and the load average other work put on them."""
    load_1m, load_5m, _ = os.getloadavg()
    return {"cpus": os.cpu_count(), "load_avg_1m": round(load_1m, 2), "load_avg_5m": round(load_5m, 2)}


def _step(settings, es, pids, procs, rate: float, duration_s: float, args, log_dir: Path, tag: str, *,
          timeout_s: float) -> dict:
    import multiprocessing

    from trtlens.stack.processes import connection_env

    probe_ms = args.probe_ms if tag != "warm" else 100
    start_ms = int(time.time() * 1000) + 3000  # the traffic process starts and plans before its first event is due
    out_path = log_dir / f"traffic-{tag}.json"
    ctx = multiprocessing.get_context("spawn")
    probes = probe_plan(f"b{tag}", rate, duration_s, start_ms, probe_ms, args.seed)
    traffic = ctx.Process(target=traffic_main, args=(connection_env(settings), f"b{tag}", rate, duration_s, start_ms,
                                                     probes, args.seed, str(log_dir / "spool"), str(out_path)))
    traffic.start()
    n_probes = len(probes)
    watch = ProbeWatch(es, settings.indices.traces, f"b{tag}", start_ms, probe_ms, n_probes)
    rss = RssSampler({**pids, "load": traffic.pid})
    docs_before = _count(es, settings.indices.traces)
    deadline = time.monotonic() + timeout_s
    last_progress = time.monotonic()
    while time.monotonic() < deadline:
        for proc in procs:
            if not proc.running:
                raise SystemExit(f"trtlens: error: {proc.name} exited with {proc.returncode}; log {proc.log_path}:\n{proc.log_tail()}")
        t_poll = time.monotonic()
        watch.poll()
        rss.sample()
        if watch.done and not traffic.is_alive():
            break
        if time.monotonic() - last_progress >= 5:
            last_progress = time.monotonic()
            _log(f"  [{tag}] probes indexed {len(watch.seen_ms)}/{n_probes}")
        time.sleep(max(0.0, args.poll_ms / 1000 - (time.monotonic() - t_poll)))
    traffic.join(timeout=max(1.0, deadline - time.monotonic()))
    if traffic.is_alive():
        traffic.terminate()
        traffic.join(5)
    sent = json.loads(out_path.read_text()) if out_path.exists() else None
    if sent is None:
        raise SystemExit(f"trtlens: error: the traffic process of step {tag} exited with {traffic.exitcode} and no report")
    lat = watch.latencies_ms()
    last_seen_s = max(watch.seen_ms.values()) / 1000 if watch.seen_ms else None
    span = (last_seen_s - sent["t_first"]) if last_seen_s else None
    docs_after = _count(es, settings.indices.traces)
    return {
        "tag": tag,
        "offered_events_per_s": rate,
        "events": sent["events"],
        # over the whole schedule, cold-start completions after the last arrival included: what "keeping up" means
        "scheduled_events_per_s": round(sent["events"] / max(1e-9, (probes[-1] - start_ms) / 1000)),
        "sent_events_per_s": round(sent["events"] / max(1e-9, sent["t_last"] - sent["t_first"])),
        "events_per_s": round(sent["events"] / span) if span and watch.done else 0,
        "e2e_latency_p50_ms": _round(_quantile(lat, 0.50)),
        "e2e_latency_p99_ms": _round(_quantile(lat, 0.99)),
        "e2e_latency_max_ms": _round(lat[-1] if lat else None),
        "poll_span_ms_mean": _round(sum(watch.spans_ms) / len(watch.spans_ms) if watch.spans_ms else None),
        "probes": n_probes,
        "probes_seen": len(watch.seen_ms),
        "drained": watch.done,
        "first_probe_after_s": (min(watch.seen_ms.values()) / 1000 - start_ms / 1000) if watch.seen_ms else None,
        "producer_max_behind_ms": sent["max_behind_ms"],
        "traces_stored": docs_after - docs_before,
        "peak_rss_mb": rss.peak_mb(),
    }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _count(es, alias: str) -> int:
    try:
        return int(es.count(index=alias, ignore_unavailable=True, allow_no_indices=True)["count"])
    except Exception:
        return 0


def _print(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 120))
    m = r["machine"]
    table = Table(title=f"trtlens bench pipeline: embedded stack, {m['cpus']} CPUs, load average {m['load_avg_5m']} (5 min) at the end")
    for col in ("offered ev/s", "scheduled ev/s", "sent ev/s", "end-to-end ev/s", "latency P50 ms", "P99 ms",
                "max ms", "probes seen", "traces stored"):
        table.add_column(col, justify="right")
    for s in r["steps"]:
        table.add_row(
            f"{s['offered_events_per_s']:,.0f}", f"{s['scheduled_events_per_s']:,}", f"{s['sent_events_per_s']:,}",
            f"{s['events_per_s']:,}" if s["drained"] else "did not drain",
            str(s["e2e_latency_p50_ms"]), str(s["e2e_latency_p99_ms"]), str(s["e2e_latency_max_ms"]),
            f"{s['probes_seen']}/{s['probes']}", f"{s['traces_stored']:,}",
        )
    console.print(table)
    for s in r["steps"]:
        if b := s.get("sink_bulks"):
            console.print(f"{s['offered_events_per_s']:,.0f} ev/s: the store as the sink saw it: {b['bulks']} bulk "
                          f"requests, {b['over_0_5s']} over 0.5 s, {b['over_1s']} over 1 s, {b['seconds']:.1f} s in all "
                          "(a bulk that stalls delays every probe in it)")
    rss = Table(title="peak RSS per process, MB (children included)")
    procs = list(r["peak_rss_mb"])
    rss.add_column("offered ev/s", justify="right")
    for p in procs:
        rss.add_column(p, justify="right")
    for s in r["steps"]:
        rss.add_row(f"{s['offered_events_per_s']:,.0f}", *[f"{s['peak_rss_mb'].get(p, 0):,.0f}" for p in procs])
    console.print(rss)
    c = r["ceilings"]
    console.print(
        f"ceilings (same run, same stack): kafka-python produce {c['produce_batched_events_per_s']:,} ev/s in 500-event "
        f"records, {c['produce_single_events_per_s']:,} ev/s one per record; aiokafka consume "
        f"{c['consume_batched_events_per_s']:,} / {c['consume_single_events_per_s']:,} ev/s; "
        f"helpers.bulk {c['bulk_docs_per_s']:,} docs/s"
    )
    spans = [s["poll_span_ms_mean"] for s in r["steps"] if s["poll_span_ms_mean"]]
    console.print(
        f"best: {r['events_per_s']} events/s end to end, P99 {r['e2e_latency_p99_ms']} ms. Method: {r['method']}; "
        f"latency resolution ± {max(spans) / 2 if spans else 0:.0f} ms (half the mean poll span)."
    )
