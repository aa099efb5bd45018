"""A file rotated away (and out of the globs) while the collector was down is found again at restart by
device + inode + fingerprint, resumed at its checkpoint and read to its end before other files."""

from __future__ import annotations

import os

import orjson

from trtlens.producers.collect.config import FilesConfig
from trtlens.producers.collect.follow import Follower

T0 = 1_700_000_000_000


def line(i: int) -> bytes:
    return orjson.dumps({"event": "request_received", "event_id": f"e{i}", "ts_ms": T0 + i, "request_id": f"r{i}",
                         "worker_id": "w", "model": "m", "model_version": "v1"}) + b"\n"


def ids(chunks) -> list[str]:
    return [orjson.loads(r.payload)["event_id"] for c in chunks for r in c.records]


def first_run(log, config) -> dict:
    """Read what is there and return the checkpoint a collector would have stored before going down."""
    f = Follower(config.model_copy(update={"start_at": "beginning"}))
    f.scan()
    assert ids(f.read()) == ["e0", "e1"]
    positions = f.positions()
    f.close()
    return positions


def test_a_file_renamed_out_of_the_globs_while_down_is_finished_first_then_the_new_one(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(line(0) + line(1))
    config = FilesConfig(paths=[str(log)], start_at="end", rotated_grace_ms=0)
    checkpoint = first_run(log, config)
    with open(log, "ab") as fh:  # written while the collector is down ...
        fh.write(line(2) + line(3))
    os.rename(log, tmp_path / "app.log.1")  # ... then rotated (logrotate's rename + create)
    log.write_bytes(line(4) + line(5))
    f = Follower(config, checkpoint)
    f.scan()
    assert f.recovered_at_restart == 1 and f.missing_at_restart == 0
    assert ids(f.read()) == ["e2", "e3"]  # the rotated file's tail, from its checkpoint, and nothing else yet
    # then the new file, from 0: it appeared while the collector was down (start_at=end is for a first start only)
    assert ids(f.read()) == ["e4", "e5"]
    f.read()
    assert f.files == [str(log)]  # the rotated one is closed once at its end


def test_a_rotated_file_moved_to_another_directory_is_found_through_rotated_globs(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(line(0) + line(1))
    old = tmp_path / "old"
    old.mkdir()
    config = FilesConfig(paths=[str(log)], rotated_globs=[str(old / "app.log*")])
    checkpoint = first_run(log, config)
    with open(log, "ab") as fh:
        fh.write(line(2))
    os.rename(log, old / "app.log-20261201")
    f = Follower(config, checkpoint)
    f.scan()
    assert ids(f.read()) == ["e2"] and f.recovered_at_restart == 1


def test_a_deleted_or_reused_inode_is_reported_missing_not_read(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(line(0) + line(1))
    config = FilesConfig(paths=[str(log)])
    checkpoint = first_run(log, config)
    rotated = tmp_path / "app.log.1"
    os.rename(log, rotated)
    with open(rotated, "r+b") as fh:  # same inode, other first bytes: not the checkpointed file any more
        fh.write(b'{"event":"other"}'.ljust(len(line(0)) - 1) + b"\n")
    f = Follower(config, checkpoint)
    f.scan()
    assert f.missing_at_restart == 1 and f.recovered_at_restart == 0 and f.files == []
    os.unlink(rotated)
    g = Follower(config, checkpoint)
    g.scan()
    assert g.missing_at_restart == 1 and ids(g.read()) == []
