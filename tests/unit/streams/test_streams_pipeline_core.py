"""The partition pipeline as a pure object: DLQ mid-batch, dedup, recovery from the state log."""

import orjson
import pytest

from trtlens.schemas.codec import decode_record
from trtlens.streams.config import StreamsSettings
from trtlens.streams.decode.core import decode
from trtlens.streams.pipeline.core import PartitionPipeline
from trtlens.streams.pipeline.statelog import Segment

T0 = 1_700_000_000_000


def request(i, ts, total=10.0, status="ok"):
    b = dict(request_id=f"r{i}", worker_id="w1", model="m", model_version="v1")
    return [
        dict(b, event="request_received", event_id=f"r{i}-a", ts_ms=ts),
        dict(b, event="inference_complete", event_id=f"r{i}-b", ts_ms=ts + 1, latency_ms=total - 1),
        dict(b, event="request_complete", event_id=f"r{i}-c", ts_ms=ts + 2, total_ms=total, status=status),
    ]


def records(n_requests, per_record=30, step_ms=100):
    evs = [e for i in range(n_requests) for e in request(i, T0 + i * step_ms, total=5.0 + i % 50)]
    return [orjson.dumps(evs[k:k + per_record]) for k in range(0, len(evs), per_record)]


def settings(**kw):
    return StreamsSettings.model_validate({"traces": {"sample_rate": 1.0}, **kw})


def run(pipe, recs, group=5, first_offset=0):
    outs = []
    for k, raw in enumerate(recs):
        pipe.process_record(first_offset + k, b"key", raw)
        if (k + 1) % group == 0:
            outs.append(pipe.end_group())
    outs.append(pipe.end_group())
    return outs


def state_of(pipe):
    return (
        pipe.watermark_ms,
        pipe.applied_offset,
        {k: (w.requests, w.errors, w.late_events, w.latency.bins if w.latency else None) for k, w in pipe.windows.windows.items()},
        {rid: (t.event_ids, t.emitted, t.terminal) for rid, t in pipe.traces.items()},
        len(pipe.dedup),
    )


def test_bad_events_mid_batch_go_to_dlq_and_neighbours_survive():
    good = request(1, T0)
    batch = [good[0], {"event": "request_complete", "event_id": "bad1"}, good[1], {"event": "teleport", "event_id": "x"}, good[2]]
    pipe = PartitionPipeline(settings(), topic="events", partition=2)
    pipe.accept_gap(7)  # the partition starts at offset 7 (as if the broker had confirmed it)
    pipe.process_record(7, b"k", orjson.dumps(batch))
    pipe.process_record(8, b"k2", b"\xff not json")
    out, _, _ = pipe.end_group()
    assert [d["code"] for _, d in out.dlq] == ["invalid_event", "unknown_event_type", "invalid_json"]
    assert [d["index"] for _, d in out.dlq[:2]] == [1, 3]
    assert all(d["topic"] == "events" and d["partition"] == 2 for _, d in out.dlq)
    assert [d["offset"] for _, d in out.dlq] == [7, 7, 8] and out.dlq[2][0] == b"k2"
    assert out.dlq[0][1]["field"] and out.dlq[2][1]["raw_hex"] == b"\xff not json".hex()
    assert [t["request_id"] for t in out.traces] == ["r1"] and out.traces[0]["event_count"] == 3
    assert pipe.counters["invalid_events"] == 3


def test_duplicates_counted_once():
    evs = request(1, T0)
    pipe = PartitionPipeline(settings(), topic="e", partition=0)
    pipe.process_record(0, None, orjson.dumps(evs + [evs[2]]))
    pipe.process_record(1, None, orjson.dumps([evs[0]]))
    out, _, _ = pipe.end_group()
    assert pipe.dedup.duplicates == 2
    assert pipe.windows.windows[("model_version", "m/v1", T0 - T0 % 10_000)].requests == 1


SHORT = {"dedup": {"ttl_ms": 5_000}, "metrics": {"late_retention_ms": 2_000},
         "traces": {"sample_rate": 1.0, "join_timeout_ms": 2_000, "retention_ms": 2_000}}


@pytest.mark.parametrize("per_record, groups", [(30, 40), (1, 600)])
def test_recovery_from_segments_reproduces_state_and_skips_applied_records(per_record, groups):
    recs = records(600, per_record=per_record)
    n = groups
    live = PartitionPipeline(settings(**SHORT), topic="e", partition=0)
    outs = run(live, recs[:n], group=7)
    segments = [Segment.decode(s.key, s.encode()) for _, segs, _ in outs for s in segs]
    gone = {k for _, _, g in outs for k in g}
    kept = [s for s in segments if s.key not in gone]
    assert gone, "old segments are truncated once past the horizon"
    recovered = PartitionPipeline(settings(**SHORT), topic="e", partition=0)
    recovered.recover(kept)
    assert state_of(recovered) == state_of(live)
    # redelivered records (at-least-once) are skipped, new ones continue identically
    for k, raw in enumerate(recs[:n + 20]):
        recovered.process_record(k, None, raw)
    for k, raw in enumerate(recs[n:n + 20], start=n):
        live.process_record(k, None, raw)
    recovered.end_group()
    live.end_group()
    assert state_of(recovered) == state_of(live)


@pytest.mark.parametrize("group", [1, 3, 50])
@pytest.mark.parametrize("per_record", [30, 1])
@pytest.mark.parametrize("step", [0, 100, 1000])
def test_grouping_does_not_change_results(group, per_record, step):
    recs = records(300, per_record=per_record)
    ref = PartitionPipeline(settings(advance_step_ms=step), topic="e", partition=0)
    ref_outs = run(ref, recs, group=100_000)
    pipe = PartitionPipeline(settings(advance_step_ms=step), topic="e", partition=0)
    outs = run(pipe, recs, group=group)
    last = lambda os_: {t["request_id"]: t for o, _, _ in os_ for t in o.traces}  # noqa: E731
    assert last(outs) == last(ref_outs)
    assert state_of(pipe) == state_of(ref)


@pytest.mark.parametrize(
    "raw",
    [
        orjson.dumps(request(1, T0)),
        orjson.dumps(request(1, T0)[0]),
        orjson.dumps([request(1, T0)[0], {"event": "nope"}, 5]),
        b"[]",
        b"{",
        None,
    ],
)
def test_fast_decoder_matches_codec(raw):
    fast, ref = decode(raw), decode_record(raw)
    assert fast.events == ref.events
    assert [(e.code, e.field, e.index) for e in fast.errors] == [(e.code, e.field, e.index) for e in ref.errors]


def test_an_offset_jump_is_refused_until_reread_or_confirmed():
    """Issue 9: a record past ``applied + 1`` is a gap — nothing is applied silently."""
    recs = records(20, per_record=6)
    pipe = PartitionPipeline(settings(), topic="e", partition=0)
    assert pipe.process_record(0, None, recs[0]) and pipe.process_record(1, None, recs[1])
    before = state_of(pipe)
    assert pipe.process_record(3, None, recs[3]) is False  # offset 2 never arrived
    assert state_of(pipe) == before and pipe.applied_offset == 1
    assert pipe.process_record(1, None, recs[1]) is True  # a redelivery: skipped, handled
    assert pipe.counters["records_skipped_applied"] == 1
    for k in (2, 3):  # the re-read
        assert pipe.process_record(k, None, recs[k])
    ref = PartitionPipeline(settings(), topic="e", partition=0)
    for k in range(4):
        ref.process_record(k, None, recs[k])
    assert state_of(pipe) == state_of(ref)


def test_a_confirmed_gap_is_skipped_and_survives_recovery():
    recs = records(20, per_record=6)
    pipe = PartitionPipeline(settings(), topic="e", partition=0)
    pipe.process_record(0, None, recs[0])
    assert not pipe.process_record(5, None, recs[1])
    pipe.accept_gap(5)  # offsets 1..4 do not exist on the broker (compaction, transaction markers)
    assert pipe.process_record(5, None, recs[1]) and pipe.process_record(6, None, recs[2])
    _, segments, _ = pipe.end_group()
    recovered = PartitionPipeline(settings(), topic="e", partition=0)
    recovered.recover([Segment.decode(s.key, s.encode()) for s in segments])
    assert state_of(recovered) == state_of(pipe) and recovered.applied_offset == 6


class AlwaysAdvancing(PartitionPipeline):
    def _next_window_change(self) -> int:
        return -1  # windows.advance() after every step, as before the shortcut


@pytest.mark.parametrize("step", [0, 100])
def test_skipping_window_scans_changes_nothing(step):
    recs = records(400, per_record=1, step_ms=37)
    ref = AlwaysAdvancing(settings(advance_step_ms=step, **SHORT), topic="e", partition=0)
    pipe = PartitionPipeline(settings(advance_step_ms=step, **SHORT), topic="e", partition=0)
    a, b = run(ref, recs, group=9), run(pipe, recs, group=9)
    partials = lambda os_: [p.to_dict() for o, _, _ in os_ for p in o.partials]  # noqa: E731
    assert partials(a) == partials(b) and partials(a)
    assert [t for o, _, _ in a for t in o.traces] == [t for o, _, _ in b for t in o.traces]
    assert state_of(pipe) == state_of(ref)


def test_stages_advance_at_watermark_steps_not_per_record():
    """A trace complete in a record is emitted once the watermark reaches the next step (the rule replay follows)."""
    pipe = PartitionPipeline(settings(advance_step_ms=1000), topic="e", partition=0)
    for k, ev in enumerate(request(1, T0 + 10)):
        pipe.process_record(k, None, orjson.dumps(ev))
    out, _, _ = pipe.end_group()
    assert out.traces == [] and "r1" in pipe.traces.ready  # complete, but the watermark is in the same step
    pipe.process_record(3, None, orjson.dumps(request(2, T0 + 999)[0]))
    assert pipe.end_group()[0].traces == []
    pipe.process_record(4, None, orjson.dumps(request(3, T0 + 1000)[0]))
    out, _, _ = pipe.end_group()
    assert [t["request_id"] for t in out.traces] == ["r1"]


def test_segments_are_stored_compressed_and_uncompressed_ones_still_read():
    """The state table holds zlib-compressed segments; a segment written uncompressed by an earlier
    version (a JSON object: starts with ``{``) decodes to the same segment."""
    pipe = PartitionPipeline(settings(), topic="events", partition=0)
    outs = run(pipe, records(40, per_record=3), group=100)
    seg = [s for _, segs, _ in outs for s in segs][0]
    stored, legacy = seg.encode(), seg.encode_json()
    assert stored[:1] != b"{" and len(stored) < len(legacy) / 3
    a, b = Segment.decode(seg.key, stored), Segment.decode(seg.key, legacy)
    assert (a.offsets, a.watermark_before_ms, a.watermark_after_ms, a.records) == (
        b.offsets, b.watermark_before_ms, b.watermark_after_ms, b.records) and a.records == [orjson.loads(r) for r in seg.records]
