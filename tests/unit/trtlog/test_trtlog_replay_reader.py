"""TensorRT text logs as a replay format: one engine_build (+ layer_profile) per log, deterministic."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import orjson
import pytest

import trtlens.producers.trtlog.replay  # noqa: F401 - registers the reader
from trtlens.producers.replay.formats import reader_for
from trtlens.schemas.codec import decode

LOGS = Path(__file__).resolve().parents[2] / "data" / "trt-logs"


@pytest.mark.parametrize(
    ("name", "profile_rows"),
    [("02-trtexec-trt1016-verbose-fusion-tactics.log", 0), ("04-trtexec-trt1016-dumpprofile-layer-table.log", 16)],
)
def test_a_tensorrt_log_replays_as_one_build_report(name, profile_rows):
    path = LOGS / name
    reader = reader_for(path)
    assert reader.name == "tensorrt-log"
    items = list(reader.read(path, str(path), 0))
    events = [decode(orjson.dumps(i.event)) for i in items]
    assert [e.event for e in events] == ["engine_build"] + ["layer_profile"] * profile_rows
    assert len({i.line for i in items}) == 1  # the whole log is one unit for --resume
    assert list(reader.read(path, str(path), items[0].line)) == []  # resumed past it: nothing again


def test_replaying_twice_gives_the_same_events(tmp_path):
    src = LOGS / "02-trtexec-trt1016-verbose-fusion-tactics.log"
    path = tmp_path / "build.log.gz"
    path.write_bytes(gzip.compress(src.read_bytes()))
    os.utime(path, (1_700_000_000, 1_700_000_000))
    reader = reader_for(path)
    first = [i.event for i in reader.read(path, "build.log", 0)]
    second = [i.event for i in reader.read(path, "build.log", 0)]
    assert first == second
    assert first[0]["layers_before"] == 24 and len(first[0]["fusions"]) == 6


def test_json_lines_are_not_taken_for_tensorrt_logs(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"event": "request_complete", "message": "[TRT] [E] not a log line"}\n')
    assert reader_for(path).name == "jsonl"


def test_replayed_names_follow_the_redaction_setting(monkeypatch, caplog):
    path = LOGS / "04-trtexec-trt1016-dumpprofile-layer-table.log"
    reader = reader_for(path)
    plain = [i.event for i in reader.read(path, str(path), 0)]
    monkeypatch.setenv("TRTLENS_BUILDS__REDACT", "hash")
    monkeypatch.setenv("TRTLENS_BUILDS__REDACT_KEY", "replay-test-key-0123")
    caplog.set_level("INFO")
    hidden = [i.event for i in reader.read(path, str(path), 0)]
    assert hidden == [i.event for i in reader.read(path, str(path), 0)]  # stable: the same hashes every time
    layers = [e["layer"] for e in plain if e["event"] == "layer_profile"]
    text = orjson.dumps(hidden).decode() + caplog.text
    assert [n for n in layers if not n.startswith("__my") and n in text] == []
    assert [e["event_id"] for e in hidden] == [e["event_id"] for e in plain] and "redact=hash" in caplog.text
