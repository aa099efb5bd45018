"""``PartitionPipeline.process_records``: a group's records at once, exactly what ``process_record`` does one by one.

The run of one-event records is decoded in one call and its events go through
dedup one at a time; everything the pipeline produces (traces, window partials,
DLQ records, state-log segments, counters, dedup state) must equal the
record-by-record path on the same input, whatever the grouping, step and faults.
"""

import random
from typing import NamedTuple

import orjson
import pytest

from trtlens.streams.pipeline.core import PartitionPipeline

from test_streams_pipeline_core import SHORT, T0, request, settings, state_of


class Rec(NamedTuple):
    offset: int
    key: bytes | None
    value: bytes | None


def single_event_records(n_requests, seed):
    """One JSON event per record (what other producers send), with the faults a topic holds."""
    rng = random.Random(seed)
    evs = [e for i in range(n_requests) for e in request(i, T0 + i * 40 + rng.randint(0, 200), total=5.0 + i % 50)]
    rng.shuffle(evs[: len(evs) // 3])  # out of order
    values = [orjson.dumps(e) for e in evs]
    for k in sorted(rng.sample(range(len(values)), 12), reverse=True):  # duplicates, bad input, a batch record
        values.insert(k, rng.choice([values[k], values[max(0, k - 7)], b"{not json", orjson.dumps({"event": "nope"}),
                                     orjson.dumps(evs[k : k + 3]), b"[]", None]))
    return [Rec(k, b"k", v) for k, v in enumerate(values)]


def outputs(out):
    return ([t for t in out.traces], [p.to_dict() for p in out.partials], [(k, d) for k, d in out.dlq])


def one_by_one(pipe, recs, group):
    got = []
    for k, r in enumerate(recs):
        assert pipe.process_record(r.offset, r.key, r.value)
        if (k + 1) % group == 0:
            got.append(pipe.end_group())
    got.append(pipe.end_group())
    return got


def in_groups(pipe, recs, group):
    got = []
    for k in range(0, len(recs), group):
        chunk = recs[k : k + group]
        assert pipe.process_records(chunk) == len(chunk)
        got.append(pipe.end_group())
    if len(recs) % group == 0:
        got.append(pipe.end_group())
    return got


def everything(pipe, got):
    return (
        [outputs(o) for o, _, _ in got],
        [[(s.key, s.encode()) for s in segs] for _, segs, _ in got],
        [sorted(g) for _, _, g in got],
        state_of(pipe),
        dict(pipe.counters),
        pipe.dedup.duplicates,
        pipe.dedup.pending_expiry(),
    )


@pytest.mark.parametrize("step", [0, 100, 1000])
@pytest.mark.parametrize("group", [1, 7, 500])
@pytest.mark.parametrize("seed", [1, 2])
def test_a_group_at_once_equals_record_by_record(step, group, seed):
    recs = single_event_records(400, seed)
    cfg = dict(SHORT, advance_step_ms=step)
    ref = PartitionPipeline(settings(**cfg), topic="e", partition=0)
    ref_got = one_by_one(ref, recs, group)
    pipe = PartitionPipeline(settings(**cfg), topic="e", partition=0)
    got = in_groups(pipe, recs, group)
    assert everything(pipe, got) == everything(ref, ref_got)
    assert pipe.counters["invalid_events"] > 0 and pipe.dedup.duplicates > 0  # the faults were there


def test_runs_of_single_events_take_the_one_call_decode_and_bad_records_do_not(monkeypatch):
    import trtlens.streams.pipeline.core as core

    seen = []
    real = core.decode_singles

    def counting(raws):
        events = real(raws)
        seen.append((len(raws), sum(ev is not None for ev in events)))
        return events

    monkeypatch.setattr(core, "decode_singles", counting)
    recs = single_event_records(400, 1)
    pipe = PartitionPipeline(settings(**SHORT), topic="e", partition=0)
    in_groups(pipe, recs, 500)
    runs, decoded = sum(n for n, _ in seen), sum(k for _, k in seen)
    assert runs == len(recs)  # every group was one run (consecutive offsets)
    valid = sum(1 for r in recs if r.value not in (None, b"{not json", b"[]") and r.value[:1] == b"{"
                and b'"nope"' not in r.value)
    assert decoded == valid and valid > len(recs) - 13  # the bad ones, and only they, were decoded alone
