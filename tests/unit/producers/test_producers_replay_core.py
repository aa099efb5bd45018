"""Replay parsing: shapes, deterministic ids, event time kept, bad lines with reasons, pacing, registry."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from trtlens.producers.compression import codec_of_magic
from trtlens.producers.replay import formats
from trtlens.producers.replay.core import Checkpoint, Pacer, deterministic_event_id, source_name, to_event
from trtlens.producers.replay.formats import Item, parse_line, reader_for, register_reader

EV = {"event": "request_complete", "ts_ms": 1_600_000_000_000, "request_id": "r1", "worker_id": "w",
      "model": "m", "model_version": "v1", "total_ms": 4.2}


def _one(raw, source="a.jsonl"):
    items = parse_line(raw if isinstance(raw, bytes) else orjson.dumps(raw), source, 7)
    assert len(items) == 1 and items[0].line == 7
    return items[0]


def test_plain_event_keeps_its_time_and_gets_a_deterministic_id():
    item = _one(EV)
    assert item.error is None and item.event["ts_ms"] == EV["ts_ms"]
    assert item.event["event_id"] == _one(EV).event["event_id"] == deterministic_event_id("a.jsonl", EV)
    assert item.event["event_id"] != _one(EV, source="b.jsonl").event["event_id"]
    assert _one({**EV, "total_ms": 4.3}).event["event_id"] != item.event["event_id"]


def test_an_existing_event_id_is_kept():
    assert _one({**EV, "event_id": "given"}).event["event_id"] == "given"


def test_id_ignores_key_order_and_unknown_fields_are_kept():
    reordered = dict(reversed(list(EV.items())))
    assert _one(reordered).event["event_id"] == _one(EV).event["event_id"]
    assert _one({**EV, "future_field": 1}).event["future_field"] == 1


@pytest.mark.parametrize("wrapper", [
    {"message": orjson.dumps(EV).decode(), "@timestamp": "2020-09-13T12:26:40Z"},
    {"message": EV},
    {"log": orjson.dumps(EV).decode(), "stream": "stdout"},
])
def test_message_wrappers(wrapper):
    item = _one(wrapper)
    assert item.error is None and item.event["request_id"] == "r1"


def test_error_event_with_a_message_field_is_an_event_not_a_wrapper():
    err = {"event": "error", "ts_ms": 1, "worker_id": "w", "error_type": "X", "message": "boom"}
    assert _one(err).event["message"] == "boom"


def test_cloudwatch_payload_yields_every_log_event_and_fills_missing_time():
    no_ts = {k: v for k, v in EV.items() if k != "ts_ms"}
    payload = {"messageType": "DATA_MESSAGE", "logGroup": "/trt/workers", "logEvents": [
        {"id": "1", "timestamp": 1_600_000_000_123, "message": orjson.dumps(no_ts).decode()},
        {"id": "2", "timestamp": 1_600_000_000_456, "message": orjson.dumps({**EV, "request_id": "r2"}).decode()},
        {"id": "3", "timestamp": 1_600_000_000_789, "message": "plain text, not JSON"},
    ]}
    items = parse_line(orjson.dumps(payload), "cw.json", 3)
    assert [i.line for i in items] == [3, 3, 3]
    assert items[0].event["ts_ms"] == 1_600_000_000_123  # from the log event
    assert items[1].event["ts_ms"] == EV["ts_ms"]  # its own time wins
    assert items[2].event is None and items[2].error.code == "invalid_json"
    assert items[2].error.to_dlq(source="cw.json", line=3)["index"] == 2  # which log event of the line


def test_bad_events_of_one_array_line_are_told_apart_by_index():
    line = orjson.dumps([EV, {**EV, "total_ms": -1}, {"hello": "world"}, {**EV, "event": "teleport"}])
    items = parse_line(line, "a.jsonl", 9)
    assert items[0].event is not None and items[0].error is None
    assert [(i.error.code, i.error.index) for i in items[1:]] == [
        ("invalid_event", 1), ("invalid_event", 2), ("unknown_event_type", 3)]
    assert {i.error.to_dlq(source="a.jsonl", line=9)["index"] for i in items[1:]} == {1, 2, 3}
    assert _one(orjson.dumps({"hello": "world"})).error.index is None  # a line of one value has no position


@pytest.mark.parametrize(("raw", "code", "field"), [
    (b"{not json", "invalid_json", None),
    (orjson.dumps({**EV, "total_ms": -1}), "invalid_event", "total_ms"),
    (orjson.dumps({**EV, "event": "teleport"}), "unknown_event_type", "event"),
    (orjson.dumps({"hello": "world"}), "not_an_event", None),
    (orjson.dumps(42), "not_an_event", None),
])
def test_bad_lines_carry_the_reason(raw, code, field):
    item = _one(raw)
    assert item.event is None and item.error.code == code and item.error.field == field
    doc = item.error.to_dlq(source="f.jsonl", line=7)
    assert doc["source"] == "f.jsonl" and doc["line"] == 7 and doc["reason"]


def test_blank_lines_yield_nothing():
    assert parse_line(b"   \n", "a", 1) == []


def test_reader_detection(tmp_path):
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(orjson.dumps(EV) + b"\n")
    gz = tmp_path / "events.jsonl.gz"
    gz.write_bytes(gzip.compress(orjson.dumps(EV) + b"\n"))
    doc = tmp_path / "export.json"
    doc.write_bytes(orjson.dumps({"logEvents": [{"timestamp": 1, "message": orjson.dumps(EV).decode()}]},
                                 option=orjson.OPT_INDENT_2))
    assert reader_for(lines).name == "jsonl" and reader_for(gz).name == "jsonl"
    assert reader_for(doc).name == "json-document"
    got = [i.event["request_id"] for i in reader_for(gz).read(gz, source_name(gz), 0)]
    assert got == ["r1"] and source_name(gz) == "events.jsonl"
    assert [i.event["request_id"] for i in reader_for(doc).read(doc, "export.json", 0)] == ["r1"]


@pytest.mark.parametrize("suffix, pack", [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)])
def test_a_compressed_file_replays_like_the_plain_one_with_the_same_source_name(tmp_path, suffix, pack):
    data = orjson.dumps(EV) + b"\n" + orjson.dumps({**EV, "request_id": "r2", "event_id": "e2"}) + b"\n"
    plain = tmp_path / "events.jsonl"
    plain.write_bytes(data)
    packed = tmp_path / "other" / ("events.jsonl" + suffix)  # another directory, as an archive
    packed.parent.mkdir()
    packed.write_bytes(pack(data))
    assert source_name(packed) == source_name(plain) == "events.jsonl"  # so the same deterministic ids
    read = [[i.event for i in reader_for(p).read(p, source_name(p), 0)] for p in (plain, packed)]
    assert read[0] == read[1] and [e["request_id"] for e in read[1]] == ["r1", "r2"]
    assert reader_for(packed).name == "jsonl"


def test_readers_skip_lines_already_replayed(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps({**EV, "request_id": f"r{i}"}) for i in range(5)) + b"\n")
    items = list(formats.JsonLinesReader().read(path, "e.jsonl", 3))
    assert [(i.line, i.event["request_id"]) for i in items] == [(4, "r3"), (5, "r4")]
    assert items[-1].offset == path.stat().st_size


def test_other_formats_plug_in(tmp_path):
    class Upper:
        name = "shout"

        def matches(self, path, head):
            return path.suffix == ".shout"

        def read(self, path, source, start_line):
            yield Item(1, event=to_event({**EV, "model": "SHOUT"}, source))

    path = tmp_path / "x.shout"
    path.write_text("WHATEVER")
    saved = list(formats.READERS)
    try:
        register_reader(Upper())
        reader = reader_for(path)
        assert reader.name == "shout" and next(reader.read(path, "x", 0)).event["model"] == "SHOUT"
    finally:
        formats.READERS[:] = saved
    with pytest.raises(formats.UnknownFormatError, match="known formats"):
        reader_for(path, "nope")


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, s):
        self.slept.append(s)
        self.now += s


def test_rate_pacing():
    t = FakeTime()
    pacer = Pacer(rate_eps=100, clock_s=t.clock, sleep=t.sleep)
    for _ in range(201):
        pacer.wait_for(None)
    assert t.now == pytest.approx(2.0, abs=0.02)


def test_speed_pacing_follows_event_time():
    t = FakeTime()
    pacer = Pacer(speed=10, clock_s=t.clock, sleep=t.sleep)
    for ts in (1000, 1000, 3000, 21000):  # 20 s of event time at 10× → 2 s
        pacer.wait_for(ts)
    assert t.now == pytest.approx(2.0, abs=0.01)


def test_pacer_rejects_nonsense():
    with pytest.raises(ValueError, match="rate"):
        Pacer(rate_eps=0)
    with pytest.raises(ValueError, match="speed"):
        Pacer(speed=-1)


def test_checkpoint_round_trip_and_change_detection():
    cp = Checkpoint("/x", 10, 99, 4, False)
    again = Checkpoint.from_json(cp.to_json())
    assert again == cp and again.matches(10, 99) and not again.matches(11, 99)


def test_parallel_replay_refuses_limits_of_the_whole_run():
    from trtlens.errors import TrtlensError
    from trtlens.producers.replay.parallel import check_parallel_options, spool_name_of
    from trtlens.producers.replay.runner import ReplayOptions

    check_parallel_options(ReplayOptions(rate_eps=10, max_lines=5), 1)  # one process: fine
    check_parallel_options(ReplayOptions(resume=True), 4)
    for opts in (ReplayOptions(rate_eps=10), ReplayOptions(speed=2), ReplayOptions(max_lines=5)):
        with pytest.raises(TrtlensError, match="--jobs 1"):
            check_parallel_options(opts, 2)
    with pytest.raises(TrtlensError, match="--jobs must be >= 1"):
        check_parallel_options(ReplayOptions(), 0)
    assert [spool_name_of("replay", k) for k in range(3)] == ["replay", "replay-1", "replay-2"]


_SAMPLE_LINES = [
    {"event": "request_complete", "ts_ms": 1_700_000_000_000, "request_id": "r1", "worker_id": "w", "model": "m",
     "model_version": "v", "total_ms": 3.5, "status": "ok"},
    {"event": "gpu_sample", "event_id": "g1", "ts_ms": 1, "worker_id": "w", "utilization_pct": 50,
     "memory_used_bytes": 1, "memory_total_bytes": 2},
]
_WILD = [None, True, 0, -1, 1.5, "", "x", "1", [], {}, 2**64, "y" * 600]


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(_SAMPLE_LINES), st.lists(st.tuples(st.sampled_from(
    ["event", "event_id", "ts_ms", "request_id", "worker_id", "total_ms", "status", "utilization_pct", "extra"]),
    st.sampled_from(_WILD + ["drop"])), max_size=3))
def test_plain_event_lines_parse_as_on_the_exact_path(base, changes):
    """Lines that skip re-encoding (formats.FAST_LINE_BYTES) give the items of to_event's exact path."""
    obj = dict(base)
    for key, value in changes:
        if value == "drop":
            obj.pop(key, None)
        else:
            obj[key] = value
    try:
        raw = orjson.dumps(obj)
    except orjson.JSONEncodeError:
        return

    def items():
        return [(i.line, i.event, i.error and (i.error.code, i.error.reason, i.error.field, i.error.raw))
                for i in parse_line(raw, "src.jsonl", 3)]

    fast = items()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(formats, "FAST_LINE_BYTES", -1)
        exact = items()
    assert fast == exact


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=12),
       st.sampled_from([b"", b"\n", b"\n\n"]), st.sampled_from([1, 7, 64]), st.booleans())
def test_chunked_lines_are_the_lines_of_the_file(tmp_path_factory, lines, end, chunk_bytes, gz):
    """The reader splits decompressed chunks itself: the lines are those iterating the file gives."""
    data = b"\n".join(lines) + end
    assume(gz or codec_of_magic(data) is None)  # a plain file that starts with a gzip header is read as gzip
    path = tmp_path_factory.mktemp("lines") / ("f.gz" if gz else "f")
    path.write_bytes(gzip.compress(data) if gz else data)
    want = [line.removesuffix(b"\n") for line in io.BytesIO(data)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(formats, "CHUNK_BYTES", chunk_bytes)
        got = [line for chunk, _ in formats._line_chunks(path) for line in chunk]
    assert got == want


@pytest.mark.parametrize("head", [b"BZh is a word\n", b"BZh9 and text\n", b"\x1f\x8bnot deflate\n", b"\xfd7zX\n"])
def test_plain_text_that_starts_like_a_compressed_stream_is_plain(head):
    """A file is taken for bzip2, gzip or xz by its whole header (magic, method or block magic), not its first
    bytes alone: a plain log may begin with "BZh"."""
    assert codec_of_magic(head) is None
    for compress in (gzip.compress, bz2.compress, lzma.compress):
        assert codec_of_magic(compress(head)) is not None
