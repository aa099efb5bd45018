"""Pure sink logic: naming, record validation → actions, chunking, outcomes, offsets, backoff."""

from __future__ import annotations

import random

import orjson
import pytest

from trtlens.schemas.documents import Alert, BuildReport, Trace, WindowMetric
from trtlens.schemas.events import EngineBuild
from trtlens.settings import IndexSettings, TopicSettings
from trtlens.sinks.core import (
    BulkAction,
    DeadLetter,
    OffsetTracker,
    RecordRef,
    backoff_s,
    chunk_actions,
    classify_items,
    commits_due,
    daily_index,
    is_retryable_status,
    prepare_record,
    rejected_letter,
    topic_families,
)

REF = RecordRef("trtlens.traces", 1, 42, b"req-1")
TS = 1_795_300_000_000  # 2026-11-21T...


def trace(**kw) -> Trace:
    base = dict(request_id="req-1", model="m", model_version="v1", start_ts_ms=TS, end_ts_ms=TS + 5,
                status="ok", complete=True)
    return Trace(**{**base, **kw})


def dump(doc) -> bytes:
    return orjson.dumps(doc.model_dump(mode="json"))


@pytest.mark.parametrize(
    ("ts_ms", "expected"),
    [
        (0, "fam-1970.01.01"),
        (86_399_999, "fam-1970.01.01"),
        (86_400_000, "fam-1970.01.02"),
        (1_795_305_600_000, "fam-2026.11.22"),  # midnight UTC exactly
        (1_795_305_599_999, "fam-2026.11.21"),
        (-1, "fam-1969.12.31"),
    ],
)
def test_daily_index_is_named_by_utc_event_day(ts_ms, expected):
    assert daily_index("fam", ts_ms) == expected


def test_topic_families_maps_only_selected_families():
    topics = TopicSettings()
    assert topic_families(topics, ["traces", "alerts"]) == {"trtlens.traces": "traces", "trtlens.alerts": "alerts"}


@pytest.mark.parametrize(
    ("family", "doc", "doc_id", "index"),
    [
        ("traces", trace(), "req-1", "ix-2026.11.21"),
        ("metrics", WindowMetric(scope="model_version", scope_key="m/v1", window_start_ms=1_795_305_600_000,
                                 window_ms=10_000, sketch={"bins": {"1": 2}}),
         "model_version:m/v1:1795305600000:10000", "ix-2026.11.22"),
        ("alerts", Alert(rule_id="p99", rule_kind="latency", scope="model_version", scope_key="m/v2", state="firing",
                         window_start_ms=TS, window_ms=10_000, value=9.0, threshold=5.0, message="slow"),
         f"p99:m/v2:{TS}:firing", "ix-2026.11.21"),
        ("builds", BuildReport(engine_id="e1", built_at_ms=TS,
                               report=EngineBuild(event_id="b1", ts_ms=TS, worker_id="w", engine_id="e1")),
         f"e1:{TS}", "ix-2026.11.21"),
    ],
)
def test_prepare_record_builds_index_action_with_doc_id_and_daily_index(family, doc, doc_id, index):
    raw = dump(doc)
    action = prepare_record(REF, raw, family=family, prefix="ix")
    assert isinstance(action, BulkAction)
    assert (action.doc_id, action.index, action.source, action.ref) == (doc_id, index, raw, REF)
    head, source, tail = action.lines().split(b"\n")
    assert orjson.loads(head) == {"index": {"_index": index, "_id": doc_id}}
    assert source == raw and tail == b""


def test_prepare_record_is_deterministic_so_replays_overwrite():
    raw = dump(trace())
    a, b = (prepare_record(REF, raw, family="traces", prefix="ix") for _ in range(2))
    assert a.lines() == b.lines()


def test_multiline_json_is_reserialised_to_one_line():
    raw = orjson.dumps(trace().model_dump(mode="json"), option=orjson.OPT_INDENT_2)
    action = prepare_record(REF, raw, family="traces", prefix="ix")
    assert isinstance(action, BulkAction)
    assert b"\n" not in action.source and orjson.loads(action.source) == orjson.loads(raw)


@pytest.mark.parametrize(
    ("value", "family", "code", "field"),
    [
        (b"{not json", "traces", "invalid_json", None),
        (b"[1, 2]", "traces", "invalid_json", None),
        (None, "traces", "invalid_json", None),
        (b'{"request_id": "r"}', "traces", "invalid_document", "start_ts_ms"),
        (orjson.dumps({**trace().model_dump(mode="json"), "start_ts_ms": "soon"}), "traces", "invalid_document", "start_ts_ms"),
        (orjson.dumps({**trace().model_dump(mode="json"), "surprise": 1}), "traces", "invalid_document", "surprise"),
        (dump(trace()), "metrics", "invalid_document", None),  # a trace on the metrics topic
        (orjson.dumps({**trace().model_dump(mode="json"), "start_ts_ms": 10**17}), "traces", "invalid_document", None),
        (dump(trace()), None, "unknown_topic", None),
    ],
)
def test_bad_records_become_dead_letters_with_reason(value, family, code, field):
    letter = prepare_record(REF, value, family=family, prefix="ix")
    assert isinstance(letter, DeadLetter)
    assert letter.code == code
    assert letter.reason
    if field is not None:
        assert letter.field == field
    out = letter.to_dlq(now_ms=1)
    assert out["code"] == code and out["topic"] == REF.topic and out["partition"] == 1 and out["offset"] == 42
    assert out["key"] == "req-1"
    assert out["raw"] == (value.decode() if value is not None else None)


def test_dead_letter_keeps_undecodable_bytes_as_hex():
    letter = prepare_record(REF, b"\xff\xfe", family="traces", prefix="ix")
    out = letter.to_dlq(now_ms=1)
    assert out["raw"] is None and out["raw_hex"] == "fffe"


def _actions(n: int, size: int = 11) -> list[BulkAction]:
    # ids of equal width so every operation has the same size (60 bytes)
    return [BulkAction("ix", f"id{i:03d}", b'{"p":"' + b"x" * size + b'"}', RecordRef("t", 0, i)) for i in range(n)]


@pytest.mark.parametrize(
    ("n", "max_docs", "max_bytes", "sizes"),
    [
        (0, 10, 10_000, []),
        (5, 10, 10_000, [5]),
        (10, 3, 10_000, [3, 3, 3, 1]),
        (10, 100, 3 * 60, [3, 3, 3, 1]),  # each operation is 60 bytes
        (4, 2, 10, [1, 1, 1, 1]),  # an operation bigger than max_bytes travels alone
    ],
)
def test_chunks_are_bounded_by_count_and_bytes(n, max_docs, max_bytes, sizes):
    actions = _actions(n)
    assert all(len(a.lines()) == 60 for a in actions)
    chunks = list(chunk_actions(actions, max_docs=max_docs, max_bytes=max_bytes))
    assert [len(c.actions) for c in chunks] == sizes
    assert [a for c in chunks for a in c.actions] == actions  # order kept, nothing lost
    for c in chunks:
        assert bytes(c.body) == b"".join(a.lines() for a in c.actions)
        assert len(c.actions) == 1 or c.nbytes <= max_bytes


@pytest.mark.parametrize(
    ("status", "retry"),
    [(None, True), (408, True), (429, True), (500, True), (502, True), (503, True), (504, True), (507, True),
     (400, False), (401, False), (403, False), (404, False), (409, False), (413, False)],
)
def test_retry_classification(status, retry):
    assert is_retryable_status(status) is retry


def test_classify_items_sorts_acked_retry_rejected():
    mapping_error = {"type": "mapper_parsing_exception", "reason": "failed to parse field [batch_size]",
                     "caused_by": {"type": "number_format_exception", "reason": "out of range"}}
    items = [
        {"index": {"_id": "a", "status": 201}},
        {"index": {"_id": "b", "status": 200}},
        {"index": {"_id": "c", "status": 429, "error": {"type": "es_rejected_execution_exception"}}},
        {"index": {"_id": "d", "status": 400, "error": mapping_error}},
        {"index": {"_id": "e", "status": 503, "error": {"type": "unavailable_shards_exception"}}},
        {"index": {"_id": "f"}},  # no status: never assume success
    ]
    out = classify_items(items, 7)  # one item missing from the response
    assert out.acked == [0, 1]
    assert out.retry == [2, 4, 5, 6]
    assert [(i, s, t) for i, s, t, _ in out.rejected] == [(3, 400, "mapper_parsing_exception")]
    assert "number_format_exception" in out.rejected[0][3]


def test_rejected_letter_carries_store_reason_and_place():
    action = _actions(1)[0]
    letter = rejected_letter(action, 400, "mapper_parsing_exception", "failed to parse field [x]")
    out = letter.to_dlq(now_ms=5)
    assert out["code"] == "rejected" and out["status"] == 400 and out["error_type"] == "mapper_parsing_exception"
    assert out["doc_id"] == "id000" and out["index"] == "ix" and "failed to parse field [x]" in out["reason"]


def test_offset_tracker_commits_only_contiguous_done_offsets():
    t = OffsetTracker()
    for off in (10, 11, 12, 15):  # gaps in offsets are fine
        t.track("p0", off)
    t.track("p1", 0)
    assert t.committable() == {}
    t.done("p0", 11)
    assert t.committable() == {}  # 10 still pending
    t.done("p0", 10)
    assert t.committable() == {"p0": 12}
    t.done("p0", 15)
    assert t.committable() == {"p0": 12}  # 12 still pending
    t.done("p0", 12)
    assert t.committable() == {"p0": 16}
    assert t.pending("p0") == 0 and t.pending("p1") == 1
    t.done("p1", 0)
    assert t.committable() == {"p0": 16, "p1": 1}


def test_offset_tracker_forget_and_unknown_partitions():
    t = OffsetTracker()
    t.track("p0", 0)
    t.forget(["p0"])
    t.done("p0", 0)  # a write finishing after its partition was revoked: ignored
    assert t.committable() == {}
    t.track("p0", 0)  # the new owner (maybe us again) starts fresh
    assert t.pending("p0") == 1


def test_offset_tracker_rejects_out_of_order_tracking():
    t = OffsetTracker()
    t.track("p0", 5)
    with pytest.raises(ValueError, match="out of order"):
        t.track("p0", 5)


def test_commits_due_only_advanced_and_owned():
    committable = {"a": 10, "b": 5, "c": 7}
    assert commits_due(committable, {"a": 10, "b": 3}, assigned=["a", "b"]) == {"b": 5}


def test_backoff_grows_exponentially_caps_and_jitters():
    no_jitter = [backoff_s(a, initial_ms=100, max_ms=1000, multiplier=2, jitter=0) for a in range(1, 7)]
    assert no_jitter == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    rng = random.Random(1)
    draws = [backoff_s(3, initial_ms=100, max_ms=1000, jitter=0.5, rng=rng) for _ in range(200)]
    assert all(0.2 <= d <= 0.4 for d in draws) and len(set(draws)) > 100
    assert backoff_s(10_000, initial_ms=100, max_ms=1000) <= 1.0  # no float overflow for huge attempts
    with pytest.raises(ValueError):
        backoff_s(0, initial_ms=1, max_ms=1)


def test_index_settings_prefixes_are_family_aliases():
    from trtlens.sinks.core import family_alias

    assert family_alias(IndexSettings(), "metrics") == "trtlens-metrics"


@pytest.mark.parametrize(
    ("expected", "batches", "handed", "seeks", "counters"),
    [
        # contiguous: everything goes on
        (5, [[5, 6, 7]], [[5, 6, 7]], [None], {}),
        # a jump: the records before it go on, then a re-read from the expected offset
        (5, [[5, 6, 9, 10], [7, 8, 9]], [[5, 6], [7, 8, 9]], [7, None], {"gaps_reread": 1}),
        # the re-read shows the same jump: the broker has nothing there (compaction, markers): accepted
        (5, [[5, 6, 9, 10], [9, 10]], [[5, 6], [9, 10]], [7, None],
         {"gaps_reread": 1, "gaps_confirmed": 1, "gap_offsets_confirmed": 2}),
        # a redelivery of records already handed over is skipped
        (5, [[5, 6], [5, 6, 7]], [[5, 6], [7]], [None, None], {"redelivered_skipped": 2}),
    ],
)
def test_continuity_rereads_a_jump_once_and_accepts_it_when_it_repeats(expected, batches, handed, seeks, counters):
    from trtlens.sinks.core import Continuity

    c = Continuity()
    c.start("tp", expected)
    got_handed, got_seeks = [], []
    for offsets in batches:
        start, stop, seek_to = c.check("tp", offsets)
        got_handed.append(offsets[start:stop])
        got_seeks.append(seek_to)
    assert got_handed == handed and got_seeks == seeks
    assert {k: v for k, v in c.counters.items() if v} == counters
