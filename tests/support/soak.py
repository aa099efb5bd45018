"""The bounded soak (issue 16, ``make soak``): the chaos pipeline under steady load for a set time, no faults.

Two streams workers, the sink and the collector (most partitions enter through its files, with a
malformed line per second of load) on a private stack. Every ``sample_s`` one line: RSS per process,
the streams and sink consumer lag (records), and the collector's lag: bytes written to its files
but not yet under its checkpoint. At the end the store and the DLQ are checked against the ground truth as in
:func:`support.faults.run_faults`, and :func:`soak_summary` gives one line.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import orjson

from support.chaos_collect import FileLoad, split_by_partition, start_thread
from support.faults import (
    GRACE_MS,
    IDLE_TIMEOUT_MS,
    WINDOW_MS,
    Expected,
    FaultResult,
    FaultSpec,
    Pipeline,
    check_dlq,
    check_store,
    pipeline_settings,
    generate_events,
    load_config,
    publish,
    store_matches_topics,
    streams_finished,
    wait_alive,
)


def soak(base, tmp_path: Path, *, minutes: float, seed: int, sample_s: float = 30.0, events_per_s: float = 600,
         report=print) -> dict:
    """The same pipeline (collector included) under steady load for ``minutes``, no faults; one line per sample:
    RSS per process, consumer lag of streams and sink, bytes the collector has not checkpointed. Then the store
    and the DLQ are checked against the ground truth. Returns the samples, the problems and :func:`soak_summary`."""
    from trtlens.es import es_client

    settings = pipeline_settings(base, store_timeout_s=None)  # no freezes here: the default store timeout
    duration_s = minutes * 60
    requests = int(duration_s * events_per_s / 3.6)
    cfg = load_config(seed=seed, rate_rps=max(1.0, requests / duration_s), duration_s=duration_s,
                      window_ms=WINDOW_MS, faults=FaultSpec(duplicate_rate=0.01, grace_ms=GRACE_MS))
    events, truths = generate_events(cfg)
    partitions = settings.topics.partitions
    expected = Expected.build(events, truths, partitions=partitions, window_ms=WINDOW_MS, grace_ms=GRACE_MS)
    rnd = random.Random(seed)
    direct, by_file = split_by_partition(events, partitions, set(rnd.sample(range(partitions), partitions - 1)))
    load = FileLoad.plan(tmp_path / "service-logs", by_file, int(duration_s), random.Random(seed + 2))
    pipe = Pipeline(settings, tmp_path / "logs", load=load, work_dir=tmp_path / "collect",
                    idle_timeout_ms=IDLE_TIMEOUT_MS)
    es = es_client(settings.elasticsearch, request_timeout=60)
    samples: list[dict] = []
    errors: list[BaseException] = []
    result = FaultResult(seed=seed, requests=len(expected.requests), events=len(events), malformed=[],
                         file_events=load.events, file_malformed=len(load.malformed))
    t0 = time.monotonic()

    def traffic() -> None:
        try:
            publish(settings, direct, tmp_path / "spool", pace_events_per_s=len(direct) / duration_s)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    try:
        threads = [start_thread(traffic), start_thread(load.write, 0.0, 1.0, duration_s, errors)]
        next_at = t0 + sample_s
        while any(t.is_alive() for t in threads):
            time.sleep(max(0.0, min(1.0, next_at - time.monotonic())))  # the sampling period
            if time.monotonic() < next_at:
                continue
            next_at += sample_s
            samples.append(_sample(pipe, load, tmp_path / "collect" / "cp", t0))
            report("soak " + " ".join(f"{k}={v}" for k, v in samples[-1].items()))
        if errors:
            raise errors[0]
        wait_alive(lambda: streams_finished(settings, expected), procs=pipe.live(), timeout_s=900, interval_s=5.0,
                   what="streams to finish")
        samples.append(_sample(pipe, load, tmp_path / "collect" / "cp", t0))
        report("soak " + " ".join(f"{k}={v}" for k, v in samples[-1].items()) + " (input ended, streams done)")
        try:
            result.sizes = wait_alive(lambda: store_matches_topics(es, settings), procs=pipe.live(), timeout_s=900,
                                      interval_s=5.0, what="the store to match the topics")
        except TimeoutError as exc:
            result.store_problems.append(str(exc).splitlines()[0])
        check_store(result, es, settings, expected)
        check_dlq(result, settings, load)
    finally:
        pipe.stop()
        es.close()
    result.seconds = time.monotonic() - t0
    return {"samples": samples, "problems": result.problems(),
            "summary": soak_summary(minutes, samples, result)}


def _sample(pipe: Pipeline, load: FileLoad, checkpoint_dir: Path, t0: float) -> dict:
    """One row: RSS per process (MB), streams and sink consumer lag (records), collector bytes not checkpointed."""
    row: dict = {"t_s": round(time.monotonic() - t0)}
    for p in pipe.live():
        row[f"{p.name}_rss_mb"] = round(p.sample_rss() / 2**20)
    for key, procs, metric in (("streams_lag_records", pipe.streams, "trtlens_streams_consumer_lag_records"),
                               ("sink_lag_records", [pipe.sink], "trtlens_sink_consumer_lag_records")):
        lag, known = 0.0, True
        for p in procs:
            try:
                lag += p.metrics().value(metric)
            except Exception:  # noqa: BLE001 - a process mid-rebalance or busy: lag unknown this sample
                known = False
        row[key] = int(lag) if known else f"{int(lag)}+?"
    try:
        files = orjson.loads((checkpoint_dir / "files.json").read_bytes())["files"]
        checkpointed = sum(f["offset"] for f in files.values())
    except (OSError, orjson.JSONDecodeError, KeyError):
        checkpointed = 0
    written = sum(Path(path).stat().st_size for path in load.lines if Path(path).exists())
    row["collect_unacked_bytes"] = written - checkpointed
    return row


def soak_summary(minutes: float, samples: list[dict], result: FaultResult) -> str:
    """One line: per process RSS first/max/last (MB), largest and last lags, store sizes, result."""
    def series(key: str) -> list[int]:
        return [row[key] for row in samples if isinstance(row.get(key), int)]

    rss = ",".join(f"{k.removesuffix('_rss_mb')}:{v[0]}/{max(v)}/{v[-1]}"
                   for k in samples[0] if k.endswith("_rss_mb") and (v := series(k))) if samples else ""
    lags = ",".join(f"{k.removesuffix('_records').removesuffix('_bytes')}:{max(v)}/{v[-1]}"
                    for k in ("streams_lag_records", "sink_lag_records", "collect_unacked_bytes") if (v := series(k)))
    state = "exact" if not result.problems() else f"{len(result.problems())} problems"
    return (f"soak minutes={minutes:g} samples={len(samples)} events={result.events} via_collector={result.file_events} "
            f"malformed_lines={result.file_malformed} rss_mb_first/max/last={rss} lag_max/last={lags} "
            f"dlq_repeats={result.dlq_repeats} store={'/'.join(f'{k}={v}' for k, v in result.sizes.items())} "
            f"result={state} seconds={result.seconds:.0f}")
