"""``trtlens collect --lambda-extension`` as a process against the local Lambda API emulator (no AWS account).

Registers, subscribes to telemetry, receives the function's stdout and platform records, joins the init
report to the first request (cold start), and flushes everything on SHUTDOWN within the 2 s budget.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from trtlens.settings import settings_env

from collect_helpers import events_of
from support.lambda_emulator import LambdaEmulator, run_runtime


def instrumented_init(stdout):
    from trtlens.producers.instrument import Emitter, Instrument, StdoutSink

    inst = Instrument(Emitter(StdoutSink(stdout)), model="fn-model", model_version="v7", backend="onnxruntime",
                      worker_id="env-1")
    with inst.engine_load("/opt/model.onnx"):
        time.sleep(0.05)
    print("a plain print during init", file=stdout)

    @inst.handler
    def handler(event, context, req):
        with req.inference(batch_size=1):
            time.sleep(0.002)
        print("plain text output", file=stdout)
        return {"ok": event["n"]}

    return handler


def test_extension_joins_cold_start_and_flushes_on_shutdown(isolated, tmp_path):
    emu = LambdaEmulator(function_name="infer-fn")
    api = emu.start()
    env = {**os.environ, **settings_env(isolated, sections_=["kafka", "topics"]),
           "AWS_LAMBDA_RUNTIME_API": api, "TRTLENS_PRODUCER__SPOOL_DIR": str(tmp_path / "spool"),
           "TRTLENS_COLLECT__AWS_LAMBDA__LISTENER_HOST": "127.0.0.1",
           "TRTLENS_COLLECT__AWS_LAMBDA__LISTENER_PORT": "0", "TRTLENS_COLLECT__COMMIT_INTERVAL_MS": "50"}
    proc = subprocess.Popen([sys.executable, "-m", "trtlens", "collect", "--lambda-extension", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        emu.wait_extensions_ready(60)
        runtime = run_runtime(emu, api, instrumented_init, invocations=3)
        ids = [emu.invoke({"n": i})[0] for i in range(3)]
        runtime.join(10)
        time.sleep(0.3)  # the last report's push reaches the listener
        deadline = emu.shutdown()
        out, err = proc.communicate(timeout=10)
        exited_ms = time.time() * 1000
    finally:
        if proc.poll() is None:
            proc.kill()
        emu.stop()
    assert proc.returncode == 0, err.decode()[-3000:]
    assert exited_ms <= deadline + 500  # within the Shutdown budget (process exit included)
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert summary["function"] == "infer-fn" and summary["invokes"] == 3 and summary["flushed_in_time"]
    assert set(emu.push_status) == {200}
    landed = events_of(isolated, 3 * 3 + 3)
    events = [e for _, _, e in landed.events]
    completes = {e["request_id"]: e for e in events if e["event"] == "request_complete"}
    assert set(completes) == set(ids)
    cold = [rid for rid, e in completes.items() if e.get("cold_start")]
    assert cold == [ids[0]]
    raw = landed_raw(isolated)
    first = raw[ids[0]]
    assert first["init_duration_ms"] > 0 and first["billed_duration_ms"] >= 1 and first["lambda_request_id"] == ids[0]
    loads = [e for e in events if e["event"] == "engine_load_complete"]
    assert any(e.get("request_id") == ids[0] and e["engine_path"].startswith("lambda-init") for e in loads)
    assert any(e.get("request_id") is None and e["engine_path"] == "/opt/model.onnx" for e in loads)
    ids_all = [e["event_id"] for e in events]
    assert len(ids_all) == len(set(ids_all))


def landed_raw(settings):
    """request_complete as published (extra fields included), by request id."""
    import orjson

    from prodtest_helpers import read_raw

    out = {}
    for _, value in read_raw(settings, settings.topics.events, count=10_000, timeout_s=3):
        items = orjson.loads(value)
        for e in items if isinstance(items, list) else [items]:
            if e.get("event") == "request_complete":
                out[e["request_id"]] = e
    return out
