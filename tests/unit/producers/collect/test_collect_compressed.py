"""A checkpointed file that logrotate compressed while the collector was down: matched to its .gz (or .bz2, .xz) by
content (decompressed first bytes + length), its tail read from the decompressed stream at the checkpointed offset."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os

import orjson
import pytest

from trtlens.producers.collect.checkpoint import FilePosition, fingerprint
from trtlens.producers.collect.compressed import CompressedTail, choose, decompressed_head, head_matches, is_compressed
from trtlens.producers.collect.config import FilesConfig
from trtlens.producers.collect.follow import Follower

T0 = 1_700_000_000_000


def line(i: int) -> bytes:
    return orjson.dumps({"event": "request_received", "event_id": f"e{i}", "ts_ms": T0 + i, "request_id": f"r{i}",
                         "worker_id": "w", "model": "m", "model_version": "v1"}) + b"\n"


def lines(ids) -> bytes:
    return b"".join(line(i) for i in ids)


def ids(chunks) -> list[str]:
    return [orjson.loads(r.payload)["event_id"] for c in chunks for r in c.records]


CODECS = [("gzip", ".gz", gzip.compress), ("bzip2", ".bz2", bz2.compress), ("xz", ".xz", lzma.compress)]
"""logrotate's compresscmd choices the collector reads: (name, suffix, compress bytes)."""


def compress(path, to) -> None:
    """logrotate's compress: write the compressed file (codec by the suffix of ``to``), then remove the plain one."""
    pack = next(c for _, suffix, c in CODECS if str(to).endswith(suffix))
    with open(path, "rb") as src:
        data = src.read()
    with open(to, "wb") as dst:
        dst.write(pack(data))
    os.unlink(path)


def checkpoint_after(log, config, want) -> dict:
    """Read what is there; the positions a collector would have checkpointed before going down."""
    f = Follower(config)
    f.scan()
    assert ids(f.read()) == want
    positions = f.positions()
    f.close()
    return positions


# ------------------------------------------------------------------ the matching rules (pure)
def cp_of(head: bytes, offset: int = 100) -> FilePosition:
    return FilePosition("/var/log/app.log", 1, 2, fingerprint(head), len(head), 0, offset)


@pytest.mark.parametrize("candidate, matches", [
    (b"x" * 256, True),                 # the same first bytes
    (b"x" * 255 + b"y", False),         # one byte differs
    (b"x" * 200, False),                # shorter than the fingerprinted head (a shorter stream)
])
def test_a_head_matches_only_with_the_same_length_and_hash(candidate, matches):
    assert head_matches(cp_of(b"x" * 256), candidate) is matches


def test_a_file_checkpointed_while_empty_matches_no_gz():
    assert not head_matches(cp_of(b"", offset=0), b"")


@pytest.mark.parametrize("heads, long_enough, path, reason", [
    ({"a.gz": b"H" * 16, "b.gz": b"other bytes here"}, {"a.gz": True}, "a.gz", "match"),
    ({"a.gz": b"other bytes here"}, {"a.gz": True}, None, "none"),
    ({"a.gz": b"H" * 16}, {"a.gz": False}, None, "none"),          # its stream ends before the checkpoint
    ({}, {}, None, "none"),
    ({"a.gz": b"H" * 16, "b.gz": b"H" * 16}, {"a.gz": True, "b.gz": True}, None, "ambiguous"),
    ({"a.gz": b"H" * 16, "b.gz": b"H" * 16}, {"a.gz": False, "b.gz": True}, "b.gz", "match"),
])
def test_exactly_one_candidate_with_the_head_and_the_length_is_chosen(heads, long_enough, path, reason):
    choice = choose(cp_of(b"H" * 16), heads, long_enough)
    assert (choice.path, choice.reason) == (path, reason)


def test_only_gz_bz2_and_xz_names_count_as_compressed():
    assert is_compressed("/v/app.log.1.gz") and is_compressed("app.log-20261201.gz")
    assert is_compressed("/v/app.log.1.bz2") and is_compressed("/v/app.log.2.xz")
    assert not is_compressed("/v/app.log.1") and not is_compressed("/v/app.gzip.log")
    assert not is_compressed("/v/app.log.1.zst")  # no zstd in the standard library: not read (README)


# ------------------------------------------------------------------ the decompressed stream
@pytest.mark.parametrize("name, suffix, pack", CODECS)
def test_a_compressed_tail_reads_forward_from_an_offset_and_knows_its_end(tmp_path, name, suffix, pack):
    data = lines(range(50))
    gz = tmp_path / ("a" + suffix)
    gz.write_bytes(pack(data))
    tail = CompressedTail.open_at(str(gz), 1000, readahead_bytes=64)
    assert tail.pread(10, 1000) == data[1000:1010]
    assert tail.pread(20, 1500) == data[1500:1520]
    assert tail.size(1500) >= 1564 and not tail.eof
    assert tail.size(len(data)) == len(data) and tail.eof
    assert tail.pread(100, len(data) - 5) == data[-5:]
    with pytest.raises(ValueError):
        tail.pread(1, 0)
    tail.close()
    assert CompressedTail.open_at(str(gz), len(data) + 1) is None  # shorter than the checkpoint: not that file
    (tmp_path / ("plain" + suffix)).write_bytes(b"not compressed at all")
    assert decompressed_head(str(tmp_path / ("plain" + suffix)), 16) is None
    assert CompressedTail.open_at(str(tmp_path / ("plain" + suffix)), 10) is None


@pytest.mark.parametrize("name, suffix, pack", CODECS)
def test_a_cut_compressed_stream_ends_where_it_stops_decoding(tmp_path, name, suffix, pack):
    data = lines(range(2000))
    gz = tmp_path / ("cut" + suffix)
    gz.write_bytes(pack(data)[:-100])
    tail = CompressedTail.open_at(str(gz), 0, readahead_bytes=1 << 20)
    size = tail.size(0)
    assert tail.eof and tail.error and size < len(data)
    assert tail.pread(size, 0) == data[:size]


# ------------------------------------------------------------------ the follower at restart
@pytest.mark.parametrize("name, suffix, pack", CODECS)
def test_a_file_rotated_and_compressed_while_down_is_finished_from_it_first_with_the_same_ids(tmp_path, name, suffix,
                                                                                              pack):
    log = tmp_path / "app.log"
    log.write_bytes(lines([0, 1]))
    config = FilesConfig(paths=[str(tmp_path / "app.log*")], rotated_grace_ms=0)  # the glob matches the .gz too
    checkpoint = checkpoint_after(log, config, ["e0", "e1"])
    with open(log, "ab") as fh:  # written while the collector is down ...
        fh.write(lines([2, 3]))
    os.rename(log, tmp_path / "app.log.1")  # ... rotated (rename + create) ...
    log.write_bytes(lines([4, 5]))
    compress(tmp_path / "app.log.1", tmp_path / ("app.log.1" + suffix))  # ... and compressed (no delaycompress)
    f = Follower(config, checkpoint)
    f.scan()
    assert f.recovered_compressed_at_restart == 1 and f.missing_at_restart == 0
    first = f.read()
    assert ids(first) == ["e2", "e3"]  # the old file's tail, from its checkpoint, before the new file
    plain = next(iter(checkpoint.values()))
    assert first[0].source_id == f"{plain.dev}:{plain.ino}:{plain.generation}:{plain.fp}"  # same ids as plain
    assert first[0].position.path == str(tmp_path / ("app.log.1" + suffix))
    assert first[0].records[0].start == plain.offset  # offsets in the decompressed stream = the plain file's
    assert first[0].dlq_context == {"compression": name, "offset_in": "decompressed"}
    assert ids(f.read()) == ["e4", "e5"]
    assert f.files == [str(log)]  # the .gz is closed at its end, and never followed as a live file
    with open(log, "ab") as fh:
        fh.write(lines([6]))
    assert ids(f.read()) == ["e6"]


def test_delaycompress_two_rotations_while_down_finds_the_gz_one_rotation_later(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(lines([0]))
    config = FilesConfig(paths=[str(tmp_path / "app.log*")], rotated_grace_ms=0)
    checkpoint = checkpoint_after(log, config, ["e0"])
    with open(log, "ab") as fh:
        fh.write(lines([1, 2]))
    os.rename(log, tmp_path / "app.log.1")  # first rotation: kept plain (delaycompress)
    log.write_bytes(lines([3]))
    compress(tmp_path / "app.log.1", tmp_path / "app.log.2.gz")  # second rotation: compressed as .2.gz
    os.rename(log, tmp_path / "app.log.1")
    log.write_bytes(lines([4]))
    f = Follower(config, checkpoint)
    f.scan()
    assert ids(f.read()) == ["e1", "e2"]  # the checkpointed file's tail, from the .gz
    assert sorted(ids(f.read())) == ["e3", "e4"]  # then the two files that appeared while down, from 0


def test_a_collector_stopped_while_reading_a_gz_resumes_in_it_even_after_it_was_renamed(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(lines([0]))
    config = FilesConfig(paths=[str(log)], rotated_grace_ms=0, read_chunk_bytes=4096, max_line_bytes=1024)
    checkpoint = checkpoint_after(log, config, ["e0"])
    with open(log, "ab") as fh:
        fh.write(lines(range(1, 101)))  # more than one read of 4 KiB
    compress(log, tmp_path / "app.log.1.gz")
    f = Follower(config, checkpoint)
    f.scan()
    got = ids(f.read())
    assert got and got[0] == "e1" and len(got) < 100
    mid = f.positions()  # what was checkpointed when it stopped
    (entry,) = mid.values()
    assert entry.compression == "gzip" and entry.path == str(tmp_path / "app.log.1.gz")
    f.close()
    os.rename(tmp_path / "app.log.1.gz", tmp_path / "app.log.2.gz")  # the next rotation renames the .gz
    g = Follower(config, mid)
    g.scan()
    rest = []
    for _ in range(100):
        chunk_ids = ids(g.read())
        if not chunk_ids and not g.files:
            break
        rest.extend(chunk_ids)
    assert got + rest == [f"e{i}" for i in range(1, 101)]  # nothing lost, nothing repeated
    assert g.recovered_compressed_at_restart == 1 and g.files == []


def test_a_new_file_on_the_old_inode_does_not_hide_the_old_one_compressed(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(lines([0]))
    config = FilesConfig(paths=[str(log)], rotated_grace_ms=0)
    checkpoint = checkpoint_after(log, config, ["e0"])
    (plain,) = checkpoint.values()
    with open(log, "ab") as fh:
        fh.write(lines([1]))
    with open(log, "rb") as fh:
        (tmp_path / "app.log.1.gz").write_bytes(gzip.compress(fh.read()))
    with open(log, "r+b") as fh:  # the same inode now holds a new file (as if the inode were reused)
        fh.truncate(0)
        fh.write(lines([7]))
    f = Follower(config, checkpoint)
    f.scan()
    assert f.recovered_compressed_at_restart == 1
    assert ids(f.read()) == ["e1"]
    assert ids(f.read()) == ["e7"]  # the new content, from its start, under a new identity
    assert os.stat(log).st_ino == plain.ino


def test_two_gz_files_with_its_first_bytes_are_ambiguous_and_neither_is_read(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(lines([0]))
    config = FilesConfig(paths=[str(log)], rotated_grace_ms=0)
    checkpoint = checkpoint_after(log, config, ["e0"])
    with open(log, "ab") as fh:
        fh.write(lines([1]))
    data = log.read_bytes()
    (tmp_path / "copy.gz").write_bytes(gzip.compress(data + lines([9])))
    compress(log, tmp_path / "app.log.1.gz")
    f = Follower(config, checkpoint)
    f.scan()
    assert f.missing_at_restart == 1 and f.recovered_compressed_at_restart == 0 and ids(f.read()) == []


def test_the_last_line_of_a_gz_without_a_newline_is_taken(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(lines([0]))
    config = FilesConfig(paths=[str(log)])  # the default grace: a .gz is closed at its end anyway
    checkpoint = checkpoint_after(log, config, ["e0"])
    with open(log, "ab") as fh:
        fh.write(line(1) + line(2).rstrip(b"\n"))
    compress(log, tmp_path / "app.log.1.gz")
    f = Follower(config, checkpoint)
    f.scan()
    assert ids(f.read()) == ["e1"]
    assert ids(f.read()) == ["e2"] and f.files == []


def test_a_rotated_backlog_longer_than_the_grace_is_read_whole_not_cut_into_a_last_line(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(lines([0]))
    config = FilesConfig(paths=[str(log)], rotated_grace_ms=0, read_chunk_bytes=4096, max_line_bytes=1024)
    checkpoint = checkpoint_after(log, config, ["e0"])
    with open(log, "ab") as fh:
        fh.write(lines(range(1, 101)))
    os.rename(log, tmp_path / "app.log.1")
    f = Follower(config, checkpoint)
    f.scan()
    got, errors = [], []
    for _ in range(100):
        chunks = f.read()
        if not chunks and not f.files:
            break
        got.extend(ids(chunks))
        errors.extend(e for c in chunks for e in c.errors)
    assert got == [f"e{i}" for i in range(1, 101)] and errors == []


def test_copytruncate_then_compress_while_down_reads_the_copy_from_its_gz_and_the_truncated_file_from_0(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(lines([0, 1]))
    config = FilesConfig(paths=[str(log)], rotated_grace_ms=0)
    checkpoint = checkpoint_after(log, config, ["e0", "e1"])
    with open(log, "ab") as fh:
        fh.write(lines([2, 3]))
    (tmp_path / "app.log.1").write_bytes(log.read_bytes())  # logrotate copytruncate: copy ...
    with open(log, "r+b") as fh:                             # ... truncate the same inode ...
        fh.truncate(0)
    with open(log, "ab") as fh:                              # ... and the service logs on
        fh.write(lines([4, 5]))
    compress(tmp_path / "app.log.1", tmp_path / "app.log.1.gz")
    f = Follower(config, checkpoint)
    f.scan()
    assert ids(f.read()) == ["e2", "e3"] and f.recovered_compressed_at_restart == 1
    assert ids(f.read()) == ["e4", "e5"]


def test_a_gz_in_logrotates_olddir_is_found_through_rotated_globs(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(lines([0]))
    old = tmp_path / "old"
    old.mkdir()
    config = FilesConfig(paths=[str(log)], rotated_globs=[str(old / "app.log*")], rotated_grace_ms=0)
    checkpoint = checkpoint_after(log, config, ["e0"])
    with open(log, "ab") as fh:
        fh.write(lines([1]))
    compress(log, old / "app.log-20261201.gz")
    f = Follower(config, checkpoint)
    f.scan()
    assert ids(f.read()) == ["e1"] and f.recovered_compressed_at_restart == 1 and f.missing_at_restart == 0


def test_the_same_gz_named_by_its_directory_and_by_rotated_globs_is_one_candidate(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(lines([0]))
    config = FilesConfig(paths=[str(log)], rotated_globs=[str(tmp_path / "." / "app.log*")], rotated_grace_ms=0)
    checkpoint = checkpoint_after(log, config, ["e0"])
    with open(log, "ab") as fh:
        fh.write(lines([1]))
    compress(log, tmp_path / "app.log.1.gz")
    f = Follower(config, checkpoint)
    f.scan()
    assert ids(f.read()) == ["e1"] and f.recovered_compressed_at_restart == 1


def test_the_dead_letter_contract_names_every_codec_the_collector_reads():
    import typing

    from trtlens.producers.compression import CODECS as READ
    from trtlens.schemas.deadletters import CollectFileDeadLetter

    names = typing.get_args(typing.get_args(CollectFileDeadLetter.model_fields["compression"].annotation)[0])
    assert set(names) == {c.name for c in READ} == {name for name, _, _ in CODECS}
