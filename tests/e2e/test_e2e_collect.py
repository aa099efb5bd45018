"""An instrumented serverless-style function → its stdout file → ``trtlens collect`` (SIGKILLed and
restarted mid-run) → ``trtlens streams`` → ``trtlens sink`` → the store, compared with ground truth.

The function (``serverless_fn.py``, ONNX Runtime on the demo CNN, real inference) runs as its own
process with stdout redirected to a file, as a function runtime captures it; the collector follows the
file while it grows. Ground truth is computed from that file alone (every JSON line it holds, by
``event_id``): per request its events, status and cold start; per 1 s window (of ``request_complete``
event time) requests, errors and cold starts. The store must hold exactly one trace per request with
the right status, cold start and event count (the lines the killed collector re-read came again with
the same ids: dedup removed them), and final windows with exact counts. Plain prints are dead-lettered
with the file and their byte offset.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import orjson
from e2e_helpers import StreamsOptions, e2e_settings, read_dlq, sink_process, store_docs, streams_process, wait_alive

from trtlens.stack.processes import ManagedProcess, connection_env

FN = Path(__file__).with_name("serverless_fn.py")
WINDOW_MS = 1000
REQUESTS = 300


def ground_truth(log: Path) -> dict:
    events, plain_offsets = {}, []
    offset = 0
    for line in log.read_bytes().splitlines(keepends=True):
        text = line.strip()
        if text.startswith(b"{"):
            e = orjson.loads(text)
            events[e["event_id"]] = e
        elif text:
            plain_offsets.append(offset)
        offset += len(line)
    per_request: dict[str, list[dict]] = defaultdict(list)
    for e in events.values():
        if e.get("request_id"):
            per_request[e["request_id"]].append(e)
    windows: dict[int, Counter] = defaultdict(Counter)
    requests = {}
    for rid, evs in per_request.items():
        done = next(e for e in evs if e["event"] == "request_complete")
        requests[rid] = {"status": done["status"], "cold_start": done["cold_start"], "events": len(evs)}
        w = windows[done["ts_ms"] // WINDOW_MS * WINDOW_MS]
        w["requests"] += 1
        w["errors"] += done["status"] == "error"
        w["cold_starts"] += bool(done["cold_start"])
    return {"requests": requests, "windows": dict(windows), "plain_offsets": plain_offsets}


def events_landed(settings) -> int:
    from trtlens.schemas.codec import decode_record

    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(enable_auto_commit=False, **settings.kafka.kafka_python_kwargs())
    try:
        tps = [TopicPartition(settings.topics.events, p) for p in range(settings.topics.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        n = 0
        for _ in range(4):
            for records in consumer.poll(timeout_ms=200, max_records=50_000).values():
                n += sum(len(decode_record(r.value).events) for r in records)
        return n
    finally:
        consumer.close()


def checkpointed_offset(directory: Path) -> int:
    """The furthest offset the collector's checkpoint store holds (0 before its first write)."""
    try:
        files = orjson.loads((directory / "files.json").read_bytes())["files"]
    except (FileNotFoundError, orjson.JSONDecodeError):
        return 0
    return max((f["offset"] for f in files.values()), default=0)


def test_function_stdout_to_store_through_a_sigkilled_collector(stack_settings, tmp_path):
    from trtlens.es import es_client

    settings = e2e_settings(stack_settings)
    # idle timeout well above the collector's restart gap (a new Python process on a loaded machine can take
    # several seconds): a shorter one lets streams close the open windows as idle while no collector runs,
    # and the function's lines written meanwhile would then be late (counted in late_events, not requests)
    options = StreamsOptions(window_ms=WINDOW_MS, grace_ms=500, idle_timeout_ms=10_000, sample_rate=1.0)
    streams = streams_process(settings, options, tmp_path).start()
    sink = sink_process(settings, tmp_path).start()
    log = tmp_path / "fn-stdout.log"
    env = {**connection_env(settings), "TRTLENS_PRODUCER__SPOOL_DIR": str(tmp_path / "spool"),
           "TRTLENS_COLLECT__COMMIT_INTERVAL_MS": "300", "TRTLENS_COLLECT__FILES__POLL_INTERVAL_MS": "50"}
    collect_args = ["collect", "--files", str(log), "--checkpoint-dir", str(tmp_path / "cp")]
    with open(log, "wb") as out:
        # paced so that the function still writes when the first collector is killed (after its first
        # checkpoint, ~3 s): lines published past that checkpoint are re-read by the second one
        fn = subprocess.Popen([sys.executable, str(FN), "--requests", str(REQUESTS), "--interval-ms", "40"], stdout=out,
                              stderr=subprocess.PIPE)
    # the first collector checkpoints rarely, so its SIGKILL leaves published-but-uncheckpointed lines behind
    first = ManagedProcess("collect-1", collect_args, log_dir=tmp_path,
                           env={**env, "TRTLENS_COLLECT__COMMIT_INTERVAL_MS": "3000"}).start()
    procs = [streams, sink, first]
    es = es_client(settings.elasticsearch, request_timeout=60)
    second = None
    try:
        wait_alive(lambda: events_landed(settings) >= 250, procs=procs, timeout_s=120,
                   what="the first collector to publish a part of the function's output")
        # and to have checkpointed once (every 3 s), so the restart has a checkpoint to resume from
        wait_alive(lambda: checkpointed_offset(tmp_path / "cp") > 0, procs=procs, timeout_s=60,
                   what="the first collector's first checkpoint")
        first.kill()  # SIGKILL: no final flush, no final checkpoint
        first.wait(10)
        second = ManagedProcess("collect-2", collect_args, log_dir=tmp_path, env=env).start()
        procs = [streams, sink, second]
        assert fn.wait(120) == 0, fn.stderr.read().decode()[-2000:]
        truth = ground_truth(log)
        assert len(truth["requests"]) == REQUESTS and len(truth["windows"]) >= 3

        def done():
            traces = store_docs(es, settings.indices.traces)
            metrics = [h["_source"] for h in store_docs(es, settings.indices.metrics)]
            finals = {m["window_start_ms"]: m for m in metrics if m["scope"] == "model_version" and m["final"]}
            if len(traces) >= REQUESTS and set(truth["windows"]) <= set(finals):
                return traces, finals
            return None

        traces, finals = wait_alive(done, procs=procs, timeout_s=120, interval_s=1.0,
                                    what="every trace and every final window in the store")
    finally:
        for proc in (streams, sink, first, second):
            if proc is not None:
                proc.stop(timeout_s=10)
        if fn.poll() is None:
            fn.kill()
        es.close()
    ids = [h["_id"] for h in traces]
    assert len(ids) == len(set(ids)) and set(ids) == set(truth["requests"])
    for h in traces:
        want, got = truth["requests"][h["_id"]], h["_source"]
        assert (got["status"], got["cold_start"], got["event_count"]) == (want["status"], want["cold_start"],
                                                                          want["events"]), h["_id"]
    for ws, want in truth["windows"].items():
        got = finals[ws]
        assert (got["requests"], got["errors"], got["cold_starts"], got["late_events"]) == (
            want["requests"], want["errors"], want["cold_starts"], 0), ws
    assert sum(w["cold_starts"] for w in truth["windows"].values()) == REQUESTS // 100
    dlq = read_dlq(settings, settings.topics.events_dlq, want=len(truth["plain_offsets"]))
    assert {(d["source"], d["offset"]) for d in dlq} == {(str(log), o) for o in truth["plain_offsets"]}
    resumed = [int(line.split("offset=")[1].split()[0]) for line in second.log_tail(100000).splitlines()
               if "msg='following'" in line]
    assert resumed and 0 < resumed[0] < log.stat().st_size  # the restart began at the last checkpoint
    unique = sum(r["events"] for r in truth["requests"].values())
    landed = events_landed(settings)
    print(f"collect e2e: {unique} request events in the file, {landed} on the topic "
          f"({landed - unique} re-read after the SIGKILL, removed by dedup)")
    assert landed > unique  # the SIGKILL did leave re-reads behind, and none of them reached the store twice
