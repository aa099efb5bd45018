"""Spool: order, size bound (low-value first, never errors), crash recovery, ownership; routing helpers."""

from __future__ import annotations

import orjson
import pytest

from trtlens.producers.config import PublisherConfig
from trtlens.producers.publisher import _spool_line, is_low_value, routing_key
from trtlens.producers.spool import Spool, SpoolLockedError


def _ev(i: int, event: str = "request_received", level: str = "info") -> dict:
    return {"event": event, "event_id": f"e{i}", "request_id": f"r{i}", "worker_id": "w", "level": level, "pad": "x" * 200}


def _ids(spool: Spool) -> list[str]:
    out = []
    while (seq := spool.next_segment()) is not None:
        out += [orjson.loads(line)["e"]["event_id"] for line in spool.read(seq)]
        spool.remove(seq)
    return out


def test_lines_come_back_in_order_across_segments_and_front_segments_first(tmp_path):
    spool = Spool(tmp_path, max_bytes=10**7, segment_bytes=1000)
    for i in range(20):
        spool.append([_spool_line("t", f"r{i}", _ev(i))])
    spool.prepend([_spool_line("t", "rX", _ev(99))])
    assert spool.pending_lines == 21
    assert _ids(spool) == ["e99"] + [f"e{i}" for i in range(20)]
    assert spool.is_empty()


def test_limit_drops_oldest_low_value_first_and_never_errors_or_terminal_events(tmp_path):
    spool = Spool(tmp_path, max_bytes=128 * 1024, segment_bytes=4096)
    kinds = [("request_received", "info"), ("request_complete", "info"), ("error", "error"), ("gpu_sample", "debug")]
    for i in range(600):
        event, level = kinds[i % 4]
        spool.append([_spool_line("t", f"r{i}", _ev(i, event, level))])
    before = spool.total_bytes
    dropped = spool.enforce_limit()
    assert dropped > 0 and spool.total_bytes <= spool.max_bytes < before
    kept = _ids(spool)
    kept_n = {int(x[1:]) for x in kept}
    for i in range(600):
        if kinds[i % 4][0] in ("request_complete", "error"):
            assert i in kept_n, f"high-value event {i} was dropped"
    low_dropped = [i for i in range(600) if i not in kept_n]
    assert len(low_dropped) == dropped
    # oldest first: every dropped low-value event is older than every kept low-value one
    low_kept = [i for i in kept_n if kinds[i % 4][0] in ("request_received", "gpu_sample")]
    assert max(low_dropped) < min(low_kept)


def test_only_high_value_left_exceeds_the_bound_and_says_so(tmp_path):
    spool = Spool(tmp_path, max_bytes=64 * 1024, segment_bytes=4096)
    for i in range(400):
        spool.append([_spool_line("t", f"r{i}", _ev(i, "error", "error"))])
    assert spool.enforce_limit() == 0
    assert spool.over_limit and spool.pending_lines == 400


def test_reopen_keeps_lines_and_cuts_a_torn_last_line(tmp_path):
    spool = Spool(tmp_path, max_bytes=10**6, segment_bytes=10**5)
    spool.append([_spool_line("t", "r1", _ev(1)), _spool_line("t", "r2", _ev(2))])
    spool.sync()
    seg = sorted(tmp_path.glob("seg-*.jsonl"))[0]
    spool.close()
    with open(seg, "ab") as f:
        f.write(b'{"low":true,"t":"t","k":"r3","e":{"eve')  # crash mid-write
    again = Spool(tmp_path, max_bytes=10**6, segment_bytes=10**5)
    assert again.pending_lines == 2
    assert _ids(again) == ["e1", "e2"]


def test_a_spool_directory_has_one_owner(tmp_path):
    first = Spool(tmp_path, max_bytes=10**6, segment_bytes=10**5)
    with pytest.raises(SpoolLockedError) as err:
        Spool(tmp_path, max_bytes=10**6, segment_bytes=10**5)
    assert err.value.directory == tmp_path
    first.close()
    Spool(tmp_path, max_bytes=10**6, segment_bytes=10**5).close()


@pytest.mark.parametrize(
    ("event", "key"),
    [
        ({"event": "request_received", "request_id": "r1", "worker_id": "w"}, "r1"),
        ({"event": "gpu_sample", "worker_id": "w"}, "w"),
        ({"event": "engine_load_start", "request_id": "r9", "worker_id": "w"}, "r9"),
        ({"event": "engine_build", "engine_id": "eng", "worker_id": "w", "request_id": "r"}, "eng"),
        ({"event": "layer_profile", "engine_id": "eng", "worker_id": "w"}, "eng"),
    ],
)
def test_routing_key_matches_the_event_contract(event, key):
    assert routing_key(event) == key


@pytest.mark.parametrize(
    ("event", "level", "low"),
    [
        ("request_received", "info", True),
        ("inference_complete", "debug", True),
        ("gpu_sample", "info", True),
        ("request_complete", "info", False),
        ("error", "error", False),
        ("engine_build", "info", False),
        ("request_received", "warning", False),
    ],
)
def test_low_value_classification(event, level, low):
    assert is_low_value({"event": event, "level": level}) is low


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"batch_max_events": 0}, "batch_max_events"),
        ({"spool_segment_bytes": 10**9, "spool_max_bytes": 10**6}, "spool_segment_bytes"),
        ({"compression": "brotli"}, "compression"),
        ({"unknown": 1}, "unknown"),
        ({"delivery_timeout_ms": 2000, "request_timeout_ms": 5000}, "delivery_timeout_ms"),
    ],
)
def test_invalid_publisher_config_names_the_key(values, message):
    with pytest.raises(ValueError, match=message):
        PublisherConfig(**values)
