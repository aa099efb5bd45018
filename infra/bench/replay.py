"""``trtlens bench replay``: events/s of ``trtlens replay`` next to a read + gunzip + parse ceiling, in one run.

1. start a private embedded stack (free ports, temporary state dir);
2. write the load generator's events (seeded) into ``--files`` ``.jsonl.gz``
   files (``--strip-ids``: without ``event_id``, so replay derives every id);
3. for each job count (1 and ``--jobs``): the **ceiling** reads every line of the
   same files in that many processes (gunzip + ``orjson.loads``, nothing else),
   then ``trtlens replay --jobs N`` runs as a child process against the stack;
   ``--before-pythonpath DIR`` also runs the replay of another installation (an
   older checkout installed with ``pip install --target DIR``) with one job, in
   the same run, for before/after figures.

A replay's events/s divide the events by the seconds its own summary reports
(first file opened → every event acknowledged by the broker; the interpreter's
start-up is left out, worker processes' start-up is in). Every event must be
published and acknowledged, or the bench fails. CPU seconds are the replay's
and its workers' (``RUSAGE_CHILDREN``, start-up included), so events per
CPU-second depend little on other load on the machine; the broker's CPU is not
in them. The ceiling's CPU seconds are its processes' own, so the CPU ratio
(replay events per CPU-second ÷ the ceiling's) is the figure to compare on a
shared machine, where wall-clock ceilings swing with the neighbours' load.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

CHUNK_LINES = 5_000  # lines written to one file before the next file gets the next chunk


def write_files(directory: Path, *, requests: int, files: int, seed: int, strip_ids: bool) -> tuple[list[Path], int]:
    from trtlens.producers.load.config import LoadConfig
    from trtlens.producers.load.core import generate

    duration_s = 60.0
    run = generate(LoadConfig(seed=seed, rate_rps=requests / duration_s, duration_s=duration_s,
                              start_ms=1_700_000_000_000))
    paths = [directory / f"history-{i}.jsonl.gz" for i in range(files)]
    outs = [gzip.open(p, "wb", compresslevel=6) for p in paths]
    n, chunk = 0, []
    try:
        for event in run.events:
            if strip_ids:
                event.pop("event_id", None)
            chunk.append(orjson.dumps(event))
            if len(chunk) == CHUNK_LINES:
                outs[(n // CHUNK_LINES) % files].write(b"\n".join(chunk) + b"\n")
                n, chunk = n + len(chunk), []
        if chunk:
            outs[(n // CHUNK_LINES) % files].write(b"\n".join(chunk) + b"\n")
            n += len(chunk)
    finally:
        for f in outs:
            f.close()
    return paths, n


def _parse_file(path: str) -> tuple[int, float]:
    """Lines of ``path`` (each parsed) and the CPU seconds it took this process."""
    cpu0 = time.process_time()
    n = 0
    with gzip.open(path, "rb") as f:
        rest = b""
        while chunk := f.read(1 << 20):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line:
                    orjson.loads(line)
                    n += 1
        if rest:
            orjson.loads(rest)
            n += 1
    return n, time.process_time() - cpu0


def ceiling(paths: list[Path], jobs: int) -> tuple[float, float, int]:
    """Seconds and CPU seconds to read + gunzip + ``orjson.loads`` every line of ``paths`` in ``jobs``
    processes, and the lines read."""
    t0 = time.perf_counter()
    if jobs == 1:
        parts = [_parse_file(str(p)) for p in paths]
    else:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            parts = pool.map(_parse_file, [str(p) for p in paths], chunksize=1)
    return time.perf_counter() - t0, sum(cpu for _, cpu in parts), sum(n for n, _ in parts)


def run_replay(paths: list[Path], env: dict[str, str], *, jobs: int, workdir: Path, name: str,
               pythonpath: str | None = None) -> dict:
    """One ``trtlens replay`` child process; its summary plus CPU seconds and wall time."""
    args = [sys.executable, "-m", "trtlens", "--log-level", "WARNING", "replay", *map(str, paths), "--json",
            "--checkpoint-dir", str(workdir / f"cp-{name}")]
    if jobs > 1:
        args += ["--jobs", str(jobs)]
    child_env = {**os.environ, **env, "TRTLENS_PRODUCER__SPOOL_DIR": str(workdir / f"spool-{name}")}
    if pythonpath:
        child_env["PYTHONPATH"] = pythonpath
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(args, env=child_env, capture_output=True, text=True, timeout=3600)
    wall_s = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"replay {name} exited {proc.returncode}: {proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    summary["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary["wall_s"] = wall_s
    return summary


def run_bench(*, requests: int, files: int, jobs: int, partitions: int, seed: int, strip_ids: bool,
              before_pythonpath: str | None, log=print) -> dict:
    from trtlens.settings import load_settings
    from trtlens.stack import apply_to_settings, start_stack, stop_stack
    from trtlens.stack.processes import connection_env

    with tempfile.TemporaryDirectory(prefix="trtlens-bench-replay-") as tmp:
        work = Path(tmp)
        base = load_settings(stack={"kafka_port": 0, "es_port": 0, "state_dir": tmp}, topics={"partitions": partitions})
        state = start_stack(base, detached=False)
        try:
            settings = apply_to_settings(base, state)
            env = connection_env(settings)
            paths, events = write_files(work, requests=requests, files=files, seed=seed, strip_ids=strip_ids)
            size_mb = sum(p.stat().st_size for p in paths) / 2**20
            log(f"wrote {events} events into {files} files ({size_mb:.1f} MB gzip), ids {'stripped' if strip_ids else 'kept'}")
            runs: list[dict] = []
            plan = [("before", 1, before_pythonpath)] if before_pythonpath else []
            plan += [("after", j, None) for j in sorted({1, jobs})]
            ceilings: dict[int, float] = {}
            ceilings_cpu: dict[int, float] = {}
            for name, j, pythonpath in plan:
                if j not in ceilings:
                    dt, cpu_s, n = ceiling(paths, j)
                    if n != events:
                        raise RuntimeError(f"ceiling read {n} lines, {events} written")
                    ceilings[j], ceilings_cpu[j] = events / dt, events / max(1e-3, cpu_s)
                    log(f"ceiling, {j} process(es): read + gunzip + orjson.loads {ceilings[j]:,.0f} events/s, "
                        f"{ceilings_cpu[j]:,.0f} events per CPU-second (load average {os.getloadavg()[0]:.2f})")
                label = f"{name}-jobs{j}"
                s = run_replay(paths, env, jobs=j, workdir=work, name=label, pythonpath=pythonpath)
                published = s["publisher"].get("published", 0)
                if s["published"] != events or published != events or s["invalid"] or s["publisher"].get("failed"):
                    raise RuntimeError(f"replay {label}: {s['published']} handed over, {published} acknowledged, "
                                       f"{s['invalid']} invalid of {events} events")
                eps = events / max(1e-3, s["seconds"])
                run = {"name": name, "jobs": j, "events_per_s": round(eps), "seconds": round(s["seconds"], 3),
                       "wall_s": round(s["wall_s"], 3), "cpu_s": round(s["cpu_s"], 3),
                       "events_per_cpu_s": round(events / max(1e-3, s["cpu_s"])),
                       "ceiling_events_per_s": round(ceilings[j]), "ratio": round(eps / ceilings[j], 3),
                       "ceiling_events_per_cpu_s": round(ceilings_cpu[j]),
                       "cpu_ratio": round(events / max(1e-3, s["cpu_s"]) / ceilings_cpu[j], 3),
                       "load_average": [round(x, 2) for x in os.getloadavg()]}
                runs.append(run)
                log(f"replay {label}: {eps:,.0f} events/s ({s['seconds']:.2f}s) vs ceiling {ceilings[j]:,.0f} "
                    f"(ratio {run['ratio']:.2f}); {run['events_per_cpu_s']:,} events per CPU-second vs the ceiling's "
                    f"{ceilings_cpu[j]:,.0f} (ratio {run['cpu_ratio']:.2f}); load average {run['load_average'][0]:.2f}")
            return {"events": events, "files": files, "partitions": partitions, "strip_ids": strip_ids,
                    "gzip_mb": round(size_mb, 1), "cpus": os.cpu_count(), "runs": runs}
        finally:
            stop_stack(base)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "replay",
        help="events/s of `trtlens replay` (1 and --jobs processes) vs read + gunzip + orjson of the same files",
        description="Starts its own embedded stack on free ports, writes seeded load as .jsonl.gz files, and for each "
        "job count measures the parse ceiling and a `trtlens replay` child process; prints both and their ratio.",
    )
    p.add_argument("--requests", type=int, default=300_000,
                   help="requests to generate (~3 events each; default 300000: ~900k events, start-up amortised)")
    p.add_argument("--files", type=int, default=4, help="files to split the events into (default 4)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes of the parallel run (default: CPUs)")
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--strip-ids", action="store_true", help="write events without event_id (replay derives each id)")
    p.add_argument("--before-pythonpath", metavar="DIR",
                   help="also replay with the trtlens installed in DIR (pip install --target DIR <older checkout>), one job")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.files < 1 or args.jobs < 1:
        raise SystemExit("--files and --jobs must be >= 1")
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    result = run_bench(requests=args.requests, files=args.files, jobs=args.jobs, partitions=args.partitions,
                       seed=args.seed, strip_ids=args.strip_ids, before_pythonpath=args.before_pythonpath, log=log)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['events']} events in {result['files']} files, {result['partitions']} partitions, "
              f"{result['cpus']} CPUs")
        for r in result["runs"]:
            print(f"{r['name']:>6} jobs={r['jobs']}: {r['events_per_s']:>9,} events/s  ceiling {r['ceiling_events_per_s']:>9,}"
                  f"  ratio {r['ratio']:.2f} | {r['events_per_cpu_s']:>9,} events/CPU-s  ceiling "
                  f"{r['ceiling_events_per_cpu_s']:>9,}  ratio {r['cpu_ratio']:.2f} | load average "
                  + " ".join(f"{x:.2f}" for x in r["load_average"]))
    return 0
