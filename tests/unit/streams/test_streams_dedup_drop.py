import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trtlens.schemas.events import EngineBuild, ErrorEvent, GpuSample, RequestComplete, RequestReceived
from trtlens.streams.dedup.core import Deduper, id_digest
from trtlens.streams.drop.config import DropConfig
from trtlens.streams.drop.core import Dropper


def ev(eid, ts):
    return RequestReceived(event_id=eid, ts_ms=ts, request_id="r", worker_id="w", model="m", model_version="v")


def test_dedup_ttl_by_arrival_watermark():
    d = Deduper(ttl_ms=1000)
    kept, wms, wm = d.first_seen([ev("a", 100), ev("a", 500)], 0)
    assert [e.ts_ms for e in kept] == [100] and wms == [0] and wm == 100  # the duplicate moves nothing
    d.expire(1099)
    assert d.first_seen([ev("a", 1099)], 1099)[0] == []
    d.expire(1100)  # arrival watermark 100 + 1000
    assert [e.ts_ms for e in d.first_seen([ev("a", 1100)], 1100)[0]] == [1100]
    assert d.duplicates == 2


def test_dedup_watermarks_follow_first_seen_events():
    d = Deduper(ttl_ms=1000)
    kept, wms, wm = d.first_seen([ev("a", 300), ev("b", 200), ev("a", 900), ev("c", 400)], 250)
    assert [e.event_id for e in kept] == ["a", "b", "c"] and wms == [250, 300, 300] and wm == 400
    assert d.pending_expiry() == [(1300, id_digest("a")), (1300, id_digest("b")), (1400, id_digest("c"))]
    assert "a" in d and "d" not in d


def test_dedup_digest_is_deterministic_and_the_queue_compacts():
    """The digest is BLAKE2b-64 of the UTF-8 id (the same in every process: a replay decides the same);
    the expiry queue keeps only what is alive however many ids went through it."""
    import hashlib

    assert id_digest("r1-0") == int.from_bytes(hashlib.blake2b(b"r1-0", digest_size=8).digest(), "little")
    assert id_digest("é\ud800") != id_digest("e")  # any str, lone surrogates included, has a digest
    d = Deduper(ttl_ms=10)
    for i in range(20_000):
        d.first_seen([ev(f"e{i}", i)], i)
        assert d.expire(i) == (1 if i >= 10 else 0)  # e{i} expires at i + 10
    assert len(d) == 10 and len(d.pending_expiry()) == 10 and len(d._queue_at) < 10_000
    assert [at for at, _ in d.pending_expiry()] == list(range(20_000, 20_010))
    assert d.first_seen([ev("e19999", 20_000)], 20_000)[0] == [] and d.first_seen([ev("e0", 20_000)], 20_000)[0] != []


def test_a_build_report_does_not_move_the_watermark():
    """A build's ts_ms is the log's own date: months from the traffic, it would make every later event on
    its partition too late. Build reports pass through dedup without moving the partition's event time."""
    build = EngineBuild(event_id="b", ts_ms=9_000_000, worker_id="ci", engine_id="e1")
    for d in (Deduper(ttl_ms=1000), Deduper(ttl_ms=1000, enabled=False)):
        kept, wms, wm = d.first_seen([ev("a", 300), build, ev("c", 400)], 250)
        assert [e.event_id for e in kept] == ["a", "b", "c"] and wms == [250, 300, 300] and wm == 400


def test_dedup_disabled_keeps_everything():
    d = Deduper(ttl_ms=1000, enabled=False)
    kept, wms, wm = d.first_seen([ev("a", 5), ev("a", 3)], 0)
    assert len(kept) == 2 and wms == [0, 5] and wm == 5 and len(d) == 0


def rc(**kw):
    base = dict(event_id="e", ts_ms=1, request_id="r1", worker_id="w", model="m", model_version="v", total_ms=1.0)
    return RequestComplete(**{**base, **kw})


CONFIG = DropConfig.model_validate({"rules": [
    {"kind": "event_type", "id": "no_received", "types": ["request_received"]},
    {"kind": "level", "id": "no_debug", "levels": ["debug"]},
    {"kind": "health_check", "id": "health"},
    {"kind": "field_equals", "id": "canary_host", "field": "host", "values": ["canary-1"]},
]})


@pytest.mark.parametrize(
    ("event", "rule"),
    [
        (rc(), None),
        (RequestReceived(event_id="x", ts_ms=1, request_id="r", worker_id="w", model="m", model_version="v"), "no_received"),
        (rc(level="debug"), "no_debug"),
        (rc(request_id="health-123"), "health"),
        (rc(model="__health__"), "health"),
        (rc(host="canary-1"), "canary_host"),
        (rc(host="canary-2"), None),
        (GpuSample(event_id="g", ts_ms=1, worker_id="w", utilization_pct=1, memory_used_bytes=1, memory_total_bytes=2), None),
        (ErrorEvent(event_id="q", ts_ms=1, worker_id="w", error_type="x"), None),  # no host: the host rule does not match
    ],
)
def test_drop_rules_first_match_counted(event, rule):
    d = Dropper(CONFIG)
    assert d.rule_for(event) == rule
    assert dict(d.dropped) == ({rule: 1} if rule else {})
    batch = Dropper(CONFIG)  # the batch path the pipeline runs decides the same
    assert batch.keep([event], [7]) == (([], []) if rule else ([event], [7]))
    assert batch.dropped == d.dropped


@pytest.mark.parametrize("rules", [[], [{"kind": "level", "id": "dbg", "levels": ["debug"]}]])
def test_prefilter_paths_agree(rules):
    d = Dropper(DropConfig.model_validate({"rules": rules}))
    assert d.rule_for(rc()) is None
    assert d.rule_for(rc(level="debug")) == ("dbg" if rules else None)
    kept, wms = d.keep([rc(), rc(level="debug"), rc(event_id="x")], [1, 2, 3])
    assert [e.event_id for e in kept] == (["e", "x"] if rules else ["e", "e", "x"])
    assert wms == ([1, 3] if rules else [1, 2, 3])


@pytest.mark.parametrize(
    "bad",
    [
        {"rules": [{"kind": "level", "id": "x", "levels": ["loud"]}]},
        {"rules": [{"kind": "event_type", "id": "x", "types": []}]},
        {"rules": [{"kind": "field_equals", "id": "x", "field": "host", "values": ["a"], "extra": 1}]},
        {"rules": [{"kind": "teleport", "id": "x"}]},
    ],
)
def test_invalid_drop_configs_rejected(bad):
    with pytest.raises(ValueError):
        DropConfig.model_validate(bad)


def test_a_derived_engine_runtime_does_not_move_the_watermark():
    """``engine_runtime`` is written back by the app from another partition's engine load, with that partition's
    time: it passes dedup (a second copy is a duplicate) without moving this partition's event time."""
    from trtlens.schemas.events import EngineRuntime

    derived = EngineRuntime(event_id="l:engine", ts_ms=9_000, worker_id="w", model="m", model_version="v",
                            engine_id="e1", load_event_id="l", runtime_versions={})
    for d in (Deduper(ttl_ms=1000), Deduper(ttl_ms=1000, enabled=False)):
        kept, wms, wm = d.first_seen([ev("a", 300), derived, ev("c", 400)], 250)
        assert [e.event_id for e in kept] == ["a", "l:engine", "c"] and wms == [250, 300, 300] and wm == 400


def test_a_digest_matches_only_at_an_entry_boundary():
    """Buckets are runs of 8-byte digests: bytes that span two entries are no entry."""
    from trtlens.streams.dedup.core import _holds

    d = bytes(range(1, 9))
    assert _holds(bytearray(bytes(8) + d), d) and _holds(bytearray(d + bytes(8)), d)
    assert not _holds(bytearray(bytes(4) + d + bytes(4)), d)  # straddles entries 0 and 1
    assert _holds(bytearray(bytes(3) + d + bytes(5) + d), d)  # a straddling match first, then the entry


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 50), st.booleans()), max_size=300),
       st.integers(1, 30))
@settings(max_examples=200, deadline=None)
def test_dedup_decides_like_a_dict_of_ids_in_insertion_order(steps, ttl):
    """The bucketed digests decide exactly as the plain model: an id is a duplicate while it is
    remembered, remembered from acceptance until the watermark passes arrival + ttl; bucket counts
    grow (small limits here, so regrouping and its cap happen) without changing a decision."""
    import trtlens.streams.dedup.core as core

    saved = core.FIRST_BUCKETS, core.GROW_AT, core.MOST_BUCKETS
    core.FIRST_BUCKETS, core.GROW_AT, core.MOST_BUCKETS = 2, 2, 32
    try:
        d = Deduper(ttl_ms=ttl)
        model: dict[str, int] = {}
        wm = 0
        for n, (key, step, one) in enumerate(steps):
            event = ev(f"id-{key}", wm + step % 7)
            if one:
                first, wm_after = d.first_seen_one(event, wm)
                kept = [event] if first else []
            else:
                kept, _, wm_after = d.first_seen([event], wm)
            assert bool(kept) == (event.event_id not in model)
            if kept:
                model[event.event_id] = max(wm, event.ts_ms) + ttl
            wm = wm_after
            if n % 3 == 0:
                gone = [k for k, at in model.items() if at <= wm]
                assert d.expire(wm) == len(gone)
                for k in gone:
                    del model[k]
            assert len(d) == len(model)
            assert d.pending_expiry() == [(at, id_digest(k)) for k, at in model.items()]
        assert all(k in d for k in model) and "never" not in d
    finally:
        core.FIRST_BUCKETS, core.GROW_AT, core.MOST_BUCKETS = saved
