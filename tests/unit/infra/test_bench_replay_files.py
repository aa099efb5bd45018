"""``trtlens bench replay``: the files it writes hold every generated event, and its ceiling reads them all."""

import gzip

import orjson
import pytest

from trtlens.bench import replay


@pytest.mark.parametrize("strip_ids", [False, True])
def test_files_hold_every_event_and_the_ceiling_reads_each_line(tmp_path, strip_ids):
    paths, events = replay.write_files(tmp_path, requests=3000, files=3, seed=3, strip_ids=strip_ids)
    lines = [orjson.loads(line) for p in paths for line in gzip.decompress(p.read_bytes()).splitlines()]
    assert len(lines) == events > 3000 and all(p.stat().st_size for p in paths)
    assert all(("event_id" in e) is not strip_ids for e in lines)
    for jobs in (1, 2):
        seconds, cpu_s, n = replay.ceiling(paths, jobs)
        assert n == events and seconds > 0 and cpu_s > 0
