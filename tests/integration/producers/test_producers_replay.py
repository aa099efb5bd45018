"""Replay into the real broker: identical ids on a second replay, bad lines in the DLQ with file + line, resume."""

from __future__ import annotations

import gzip
import json

import orjson

from trtlens.cli import main
from trtlens.producers.load.config import FaultSpec, LoadConfig
from trtlens.producers.load.core import generate
from trtlens.producers.publisher import Publisher
from trtlens.producers.replay.runner import ReplayOptions, replay_files

from prodtest_helpers import read_raw, read_topic

START = 1_650_000_000_000


def _history(path, *, n_requests=60, bad_at=(5, 17)):
    """A historic log: events without ids (ids must be derived), a wrapped line, and malformed lines."""
    run = generate(LoadConfig(seed=5, rate_rps=20, duration_s=n_requests / 20, start_ms=START, faults=FaultSpec(),
                              gpu_sample_interval_ms=0))
    lines = []
    for e in run.events:
        e = {k: v for k, v in e.items() if k != "event_id"}
        lines.append(orjson.dumps({"message": orjson.dumps(e).decode()}) if len(lines) % 7 == 3 else orjson.dumps(e))
    for at in bad_at:
        lines.insert(at - 1, b'{"event": "request_complete", "ts_ms": "yesterday"}' if at == bad_at[0] else b"garbage")
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    return len(lines) - len(bad_at), len(lines)


def test_replaying_a_file_twice_gives_identical_ids_and_bad_lines_go_to_the_dlq(isolated, spool_config, tmp_path):
    path = tmp_path / "history.jsonl.gz"
    good, total = _history(path)
    opts = ReplayOptions(checkpoint_dir=tmp_path / "cp")
    with Publisher(isolated, spool_config) as pub:
        first = replay_files([path], pub, opts)
        second = replay_files([path], pub, opts)
    for s in (first, second):
        assert s.totals() == {"read": total, "published": good, "skipped": 0, "invalid": 2} and s.delivered
    landed = read_topic(isolated, isolated.topics.events, until=lambda l: len(l.events) >= 2 * good)
    ids = [e["event_id"] for _, _, e in landed.events]
    assert len(ids) == 2 * good and len(set(ids)) == good  # exact duplicates: dedup removes the second replay
    assert min(e["ts_ms"] for _, _, e in landed.events) >= START  # event time kept
    dlq = [orjson.loads(v) for _, v in read_raw(isolated, isolated.topics.events_dlq, count=4)]
    assert sorted((d["line"], d["code"]) for d in dlq) == [(5, "invalid_event"), (5, "invalid_event"),
                                                           (17, "invalid_json"), (17, "invalid_json")]
    assert all(d["source"] == str(path) and d["reason"] for d in dlq)


def test_resume_continues_where_the_replay_stopped(isolated, tmp_path, monkeypatch, capsys):
    path = tmp_path / "history.jsonl.gz"
    good, total = _history(path, bad_at=(3, 4))
    monkeypatch.setenv("TRTLENS_KAFKA__BOOTSTRAP_SERVERS", isolated.kafka.bootstrap_servers)
    monkeypatch.setenv("TRTLENS_TOPICS__EVENTS", isolated.topics.events)
    monkeypatch.setenv("TRTLENS_TOPICS__EVENTS_DLQ", isolated.topics.events_dlq)
    monkeypatch.setenv("TRTLENS_PRODUCER__SPOOL_DIR", str(tmp_path / "spool"))
    cp = ["--checkpoint-dir", str(tmp_path / "cp"), "--json"]
    assert main(["replay", str(path), "--max-lines", "50", *cp]) == 0
    part = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert part["read"] == 50 and not part["files"][0]["complete"]
    assert main(["replay", str(path), "--resume", *cp]) == 0
    rest = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rest["files"][0]["resumed_from"] == 50 and rest["read"] == total - 50 and rest["files"][0]["complete"]
    assert part["published"] + rest["published"] == good and part["invalid"] + rest["invalid"] == 2
    assert main(["replay", str(path), "--resume", *cp]) == 0  # complete: nothing more to send
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["published"] == 0 and again["skipped"] == total
    landed = read_topic(isolated, isolated.topics.events, until=lambda l: len(l.events) >= good)
    ids = [e["event_id"] for _, _, e in landed.events]
    assert len(ids) == len(set(ids)) == good


def test_parallel_replay_keeps_ids_dead_letters_and_checkpoints(isolated, tmp_path, monkeypatch, capsys):
    """--jobs 2 over two files: the ids a one-process replay gives, bad lines with their file, per-file resume."""
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    good_a, total_a = _history(a, n_requests=40, bad_at=(4, 9))
    good_b, total_b = _history(b, n_requests=30, bad_at=(2, 6))
    good = good_a + good_b
    for name, value in (("KAFKA__BOOTSTRAP_SERVERS", isolated.kafka.bootstrap_servers),
                        ("TOPICS__EVENTS", isolated.topics.events), ("TOPICS__EVENTS_DLQ", isolated.topics.events_dlq),
                        ("PRODUCER__SPOOL_DIR", str(tmp_path / "spool"))):
        monkeypatch.setenv(f"TRTLENS_{name}", value)
    cp = ["--checkpoint-dir", str(tmp_path / "cp"), "--json"]
    assert main(["replay", str(a), str(b), "--jobs", "2", *cp]) == 0
    par = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [f["path"] for f in par["files"]] == [str(a), str(b)] and all(f["complete"] for f in par["files"])
    assert (par["published"], par["invalid"], par["read"]) == (good, 4, total_a + total_b)
    assert par["publisher"]["published"] == good and par["publisher"]["dead_lettered"] == 4
    assert main(["replay", str(a), str(b), "--jobs", "2", "--resume", *cp]) == 0  # both complete: nothing sent
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["published"] == 0
    with Publisher(isolated, isolated.producer.model_copy(update={"spool_dir": tmp_path / "spool1"})) as pub:
        one = replay_files([a, b], pub, ReplayOptions())  # the same files in one process, for the ids
    assert one.totals()["published"] == good
    landed = read_topic(isolated, isolated.topics.events, until=lambda l: len(l.events) >= 2 * good)
    ids = [e["event_id"] for _, _, e in landed.events]
    assert len(ids) == 2 * good and len(set(ids)) == good  # every id twice: parallel ids = one-process ids
    dlq = [orjson.loads(v) for _, v in read_raw(isolated, isolated.topics.events_dlq, count=8)]
    assert sorted((d["source"], d["line"]) for d in dlq) == sorted(
        [(str(a), 4), (str(a), 9), (str(b), 2), (str(b), 6)] * 2)
