"""``trtlens collect`` as a process: /metrics through trtlens.obs, SIGTERM = final flush + checkpoint, exit 0."""

from __future__ import annotations

import signal

import orjson

from trtlens.producers.collect.checkpoint import CheckpointStore
from trtlens.stack.processes import ManagedProcess, connection_env, wait_for

from collect_helpers import events_of

T0 = 1_700_000_000_000


def test_collect_process_serves_metrics_and_checkpoints_on_sigterm(isolated, tmp_path):
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "app.log"
    docker = [orjson.dumps({"log": orjson.dumps({"event": "request_received", "ts_ms": T0 + i, "request_id": f"d{i}",
                                                  "worker_id": "w", "model": "m", "model_version": "v"}).decode() + "\n",
                            "stream": "stdout", "time": "2023-11-14T22:13:20Z"}) for i in range(20)]
    log.write_bytes(b"\n".join(docker) + b"\n" + b'{"log":"not json at all\\n","stream":"stdout","time":"x"}\n')
    env = {**connection_env(isolated), "TRTLENS_PRODUCER__SPOOL_DIR": str(tmp_path / "spool")}
    proc = ManagedProcess("collect", ["collect", "--files", str(tmp_path / "logs" / "*.log"), "--checkpoint-dir",
                                      str(tmp_path / "cp")], log_dir=tmp_path, env=env).start()
    try:
        proc.wait_obs(60)
        wait_for(lambda: proc.metrics().value("trtlens_collect_events_total", source="file") == 20, timeout_s=60,
                 what="20 file events in /metrics")
        scrape = proc.metrics()
        assert scrape.value("trtlens_collect_invalid_total", source="file") == 1
        assert scrape.value("trtlens_collect_files_followed") == 1
        assert "trtlens_publisher_events_published_total" in scrape
        proc.signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.log_tail(3000)
    finally:
        proc.stop(10)
    positions = CheckpointStore(tmp_path / "cp").load()
    assert [p.offset for p in positions.values()] == [log.stat().st_size]
    landed = events_of(isolated, 20)
    assert sorted(e["request_id"] for _, _, e in landed.events) == sorted(f"d{i}" for i in range(20))
    assert all(e["ts_ms"] >= T0 for _, _, e in landed.events)  # the event's own time, not the runtime's line time
