"""Follower, formats, mapping and checkpoints on real files in a tmp dir (no broker)."""

from __future__ import annotations

import os

import orjson
import pytest

from trtlens.producers.collect.checkpoint import CheckpointStore
from trtlens.producers.collect.config import FilesConfig, MappingConfig
from trtlens.producers.collect.follow import Follower
from trtlens.producers.collect.formats import LineAssembler, detect
from trtlens.producers.collect.mapping import Mapper, deterministic_id, parse_time_ms
from trtlens.schemas.codec import DecodeError

T0 = 1_700_000_000_000


def ev(i: int, **extra) -> dict:
    return {"event": "request_received", "event_id": f"e{i}", "ts_ms": T0 + i, "request_id": f"r{i}",
            "worker_id": "w", "model": "m", "model_version": "v1", **extra}


def line(i: int) -> bytes:
    return orjson.dumps(ev(i)) + b"\n"


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def records(follower):
    out = []
    for chunk in follower.read():
        out.extend(orjson.loads(r.payload)["event_id"] for r in chunk.records)
    return out


def test_follows_appends_and_waits_for_a_partial_line(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(line(0) + line(1) + line(2)[:10])
    f = Follower(FilesConfig(paths=[str(tmp_path / "*.log")]))
    f.scan()
    assert records(f) == ["e0", "e1"]
    assert f.positions()[next(iter(f.positions()))].offset == len(line(0) + line(1))
    with open(log, "ab") as fh:
        fh.write(line(2)[10:] + line(3))
    assert records(f) == ["e2", "e3"]
    assert records(f) == []


def test_rotation_by_rename_reads_the_old_file_to_its_end_then_the_new_one(tmp_path):
    clock = Clock()
    log = tmp_path / "app.log"
    log.write_bytes(line(0))
    f = Follower(FilesConfig(paths=[str(log)], rotated_grace_ms=1000), clock_s=clock)
    f.scan()
    assert records(f) == ["e0"]
    with open(log, "ab") as fh:
        fh.write(line(1) + b'{"event": "request_received", "tail": "no newline"')
    os.rename(log, tmp_path / "app.log.1")
    log.write_bytes(line(2))
    f.scan()
    assert sorted(records(f)) == ["e1", "e2"]
    clock.t = 2.0
    tail = [c for c in f.read() if c.records]
    assert len(tail) == 1 and b"no newline" in tail[0].records[0].payload  # the writer is gone: last line taken
    assert f.rotations == 1 and f.files == [str(log)]


def test_truncation_restarts_at_zero_under_a_new_generation(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(line(0) + line(1))
    f = Follower(FilesConfig(paths=[str(log)]))
    f.scan()
    chunk1 = f.read()[0]
    assert len(chunk1.records) == 2
    with open(log, "r+b") as fh:  # copytruncate
        fh.truncate(0)
    with open(log, "ab") as fh:
        fh.write(line(5))
    chunk2 = f.read()[0]
    assert [orjson.loads(r.payload)["event_id"] for r in chunk2.records] == ["e5"]
    assert chunk2.position.generation == 1 and chunk2.source_id != chunk1.source_id
    assert f.truncations == 1


def test_restart_resumes_at_the_checkpoint_and_a_reused_inode_starts_over(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(line(0) + line(1))
    store = CheckpointStore(tmp_path / "cp")
    f = Follower(FilesConfig(paths=[str(log)]))
    f.scan()
    f.read()
    store.save(f.positions())
    f.close()
    with open(log, "ab") as fh:
        fh.write(line(2))
    g = Follower(FilesConfig(paths=[str(log)]), store.load())
    g.scan()
    assert records(g) == ["e2"]
    g.close()
    # same inode, other first bytes: a different file
    with open(log, "r+b") as fh:
        fh.seek(0)
        fh.write(b'{"event":"xx"}'.ljust(len(line(0)) - 1) + b"\n")
    h = Follower(FilesConfig(paths=[str(log)]), store.load())
    h.scan()
    assert len([r for c in h.read() for r in c.records]) == 3


def test_start_at_end_skips_existing_content_of_files_found_at_start_up(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(line(0))
    f = Follower(FilesConfig(paths=[str(log)], start_at="end"))
    f.scan()
    assert records(f) == []
    with open(log, "ab") as fh:
        fh.write(line(1))
    assert records(f) == ["e1"]


def test_an_overlong_line_is_cut_and_reported_once(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"x" * 5000 + b"\n" + line(1))
    f = Follower(FilesConfig(paths=[str(log)], max_line_bytes=1024, read_chunk_bytes=4096))
    f.scan()
    chunks = f.read() + f.read()
    errors = [e for c in chunks for _, e in c.errors]
    assert [e.code for e in errors] == ["too_large"]
    assert [orjson.loads(r.payload)["event_id"] for c in chunks for r in c.records] == ["e1"]


DOCKER = [b'{"log":"{\\"event\\": \\"request_rec","stream":"stdout","time":"2023-11-14T22:13:20.000000001Z"}',
          b'{"log":"eived\\"}\\n","stream":"stdout","time":"2023-11-14T22:13:20.5Z"}']
CRI = [b"2023-11-14T22:13:20.123456789Z stdout P {\"a\": ",
       b"2023-11-14T22:13:21Z stdout F 1}"]


@pytest.mark.parametrize("lines, fmt, payload, ts", [
    (DOCKER, "docker", b'{"event": "request_received"}', 1_699_999_999_999 + 1),
    (CRI, "cri", b'{"a": 1}', 1_700_000_000_123),
    ([b'{"event": "x"}'], "jsonl", b'{"event": "x"}', None),
])
def test_container_formats_join_partial_lines_and_keep_the_runtime_time(lines, fmt, payload, ts):
    assert detect(lines[0]) == fmt
    asm = LineAssembler("auto")
    out = [asm.feed(raw, i * 100, i * 100 + len(raw) + 1) for i, raw in enumerate(lines)]
    assert out[:-1] == [None] * (len(lines) - 1)
    last = out[-1]
    assert last.payload == payload and last.start == 0 and last.ts_ms == ts
    if fmt != "jsonl":
        assert asm.pending_start is None


def test_a_broken_envelope_is_a_decode_error():
    asm = LineAssembler("cri")
    err = asm.feed(b"not a cri line", 0, 15)
    assert isinstance(err, DecodeError) and err.code == "not_an_event"


@pytest.mark.parametrize("value, ms", [
    (1_700_000_000, T0), (1_700_000_000_000, T0), (1_700_000_000_000_000, T0), (1_700_000_000_000_000_000, T0),
    ("2023-11-14T22:13:20Z", T0), ("2023-11-14T22:13:20.5+00:00", T0 + 500), ("1700000000", T0),
    ("2023-11-14T22:13:20", None), ("yesterday", None), (True, None), (-5, None),
])
def test_time_parsing(value, ms):
    assert parse_time_ms(value) == ms


def test_mapping_renames_unwraps_defaults_and_assigns_stable_ids():
    cfg = MappingConfig(rename={"ctx.req": "request_id", "type": "event", "lat": "latency_ms"},
                        event_values={"done": "request_complete"}, defaults={"model_version": "v1", "model": "m"})
    m = Mapper(cfg, worker_id="collector")
    wrapped = {"@timestamp": "2023-11-14T22:13:20Z",
               "message": orjson.dumps({"type": "done", "ctx": {"req": "r1"}, "total_ms": 3.5}).decode()}
    out = m.to_event(wrapped, b"raw", source_id="1:2:0:ab", position=10)
    assert out["event"] == "request_complete" and out["request_id"] == "r1" and out["ts_ms"] == T0
    assert out["worker_id"] == "collector" and out["model_version"] == "v1"
    assert out["event_id"] == deterministic_id("1:2:0:ab", 10) == m.to_event(wrapped, b"", source_id="1:2:0:ab",
                                                                              position=10)["event_id"]
    assert "event" not in wrapped and isinstance(wrapped["message"], str)  # the input is not changed


@pytest.mark.parametrize("obj, code, field", [
    ({"event": "request_complete", "ts_ms": T0, "request_id": "r", "model": "m", "model_version": "v"},
     "invalid_event", "total_ms"),
    ({"event": "request_complete", "request_id": "r"}, "invalid_event", "ts_ms"),
    ({"event": "nope", "ts_ms": T0}, "unknown_event_type", "event"),
    ({"message": "{broken"}, "invalid_json", "message"),
    ([1, 2], "not_an_event", None),
])
def test_mapping_errors_name_code_and_field(obj, code, field):
    m = Mapper(MappingConfig(), worker_id="w")
    with pytest.raises(DecodeError) as exc:
        m.to_event(obj, b"raw", source_id="s", position=0)
    assert exc.value.code == code and exc.value.field == field


def test_a_long_line_below_the_limit_but_above_the_read_size_is_not_stuck(tmp_path):
    log = tmp_path / "app.log"
    big = orjson.dumps(ev(0, blob="x" * 9000)) + b"\n"
    log.write_bytes(big + line(1))
    f = Follower(FilesConfig(paths=[str(log)], read_chunk_bytes=4096, max_line_bytes=16384))
    f.scan()
    assert [orjson.loads(r.payload)["event_id"] for c in f.read() for r in c.records] == ["e0", "e1"]


def test_a_file_rotated_out_and_back_into_the_globs_is_not_read_twice(tmp_path):
    clock = Clock()
    log = tmp_path / "app.log"
    log.write_bytes(line(0) + line(1))
    f = Follower(FilesConfig(paths=[str(tmp_path / "*.log")], rotated_grace_ms=0), clock_s=clock)
    f.scan()
    assert records(f) == ["e0", "e1"]
    os.rename(log, tmp_path / "app.old")
    f.scan()
    clock.t = 1.0
    f.read()  # closed: out of the globs and not growing
    assert f.files == []
    os.rename(tmp_path / "app.old", tmp_path / "back.log")
    f.scan()
    assert records(f) == []
