"""Emitted traces held packed for late events (``streams/traces/retained.py``) and the join's deadline queues.

A packed trace must come back equal in every slot, whatever it holds: a slot the packing forgets is a
fact a late event's update silently loses (the source sampling's weight once was one).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from trtlens.schemas.documents import STAGE_FIELDS
from trtlens.schemas.events import ErrorEvent, InferenceComplete, RequestComplete, RequestReceived
from trtlens.streams.traces import retained
from trtlens.streams.traces.config import TracesConfig
from trtlens.streams.traces.core import TraceJoin, _Fifo
from trtlens.streams.traces.retained import fields_of, pack, unpack
from trtlens.streams.traces.state import TraceState

texts = st.none() | st.text(min_size=1, max_size=12)
# event ids as producers send them: any non-empty text, lone surrogates included (JSON can carry them)
ids = st.lists(st.text(st.characters(codec=None), min_size=1, max_size=40), max_size=40)


@st.composite
def emitted_traces(draw):
    start = draw(st.integers(-2**62, 2**62))
    tr = TraceState(draw(st.text(min_size=1, max_size=20)), start, start + draw(st.integers(0, 2**40)),
                    draw(texts), draw(texts), draw(texts), draw(texts), draw(texts))
    tr.kinds = draw(st.integers(0, 2**70))
    tr.event_ids = draw(ids)
    tr.terminal, tr.cold_start, tr.slow, tr.kept = (draw(st.booleans()) for _ in range(4))
    tr.status, tr.precision, tr.engine_id = draw(texts), draw(texts), draw(texts)
    tr.batch_size = draw(st.none() | st.integers(1, 4096))
    tr.stages = draw(st.dictionaries(st.sampled_from(STAGE_FIELDS), st.floats(allow_nan=False)))
    tr.error = draw(st.none() | st.fixed_dictionaries({"type": st.text(max_size=8), "message": st.text(max_size=30)}))
    tr.exemplar = draw(st.none() | st.just(object()))
    tr.source_weight = draw(st.just(1) | st.floats(1.0, 1e6))
    tr.emitted, tr.changed = True, False
    return tr


@settings(max_examples=300, deadline=None)
@given(emitted_traces())
def test_a_packed_trace_comes_back_equal_in_every_slot(tr):
    back = unpack(tr.request_id, pack(tr))
    assert fields_of(back) == fields_of(tr)
    assert [type(i) for i in back.event_ids] == [str] * len(tr.event_ids)
    assert back.exemplar is tr.exemplar and back.error is tr.error


def test_traces_with_the_same_values_share_one_tuple_and_the_table_stays_bounded(monkeypatch):
    def trace(worker):
        tr = TraceState("r", 0, 1, "m", "v1", worker, "h", "trt")
        tr.emitted, tr.changed = True, False
        return tr

    assert pack(trace("w1"))[1] is pack(trace("w1"))[1]
    assert pack(trace("w1"))[1] is not pack(trace("w2"))[1]
    monkeypatch.setattr(retained, "_COMMON_MAX", 8)
    monkeypatch.setattr(retained, "_commons", {})
    held = [(trace(f"w{i}"), pack(trace(f"w{i}"))) for i in range(50)]
    assert len(retained._commons) <= 8
    for tr, r in held:  # emptying the table changes no trace already packed
        assert fields_of(unpack("r", r)) == fields_of(tr)


BASE = dict(model="m", model_version="v1", host="h", backend="tensorrt")


def test_a_late_event_keeps_the_source_weight_of_a_retained_trace():
    """Its update is weighted by the source's sampling as the first emission was (sum(sample_weight) stays
    an estimate of the requests before sampling)."""
    j = TraceJoin(TracesConfig(join_timeout_ms=1000, retention_ms=5000, sample_rate=1.0))
    w = 5.0
    for ev in (RequestReceived(event_id="a", ts_ms=0, request_id="r", worker_id="w1", sample_weight=w, **BASE),
               InferenceComplete(event_id="b", ts_ms=2, request_id="r", worker_id="w1", latency_ms=4.0,
                                 cold_start=False, precision="fp16", sample_weight=w, **BASE),
               RequestComplete(event_id="c", ts_ms=5, request_id="r", worker_id="w1", total_ms=5.0, status="ok",
                               cold_start=False, sample_weight=w, **BASE)):
        j.observe(ev, 5, None)
    [first] = j.take_ready()
    assert "r" in j.retained and "r" not in j.traces
    j.observe(ErrorEvent(event_id="d", ts_ms=3, request_id="r", worker_id="w1", error_type="cuda",
                         message="late", **BASE), 100, None)  # no weight of its own: the trace's stays
    [update] = j.take_ready()
    assert update["sample_weight"] == first["sample_weight"] == w
    assert update["event_ids"] == ["a", "b", "c", "d"]


def test_the_deadline_fifo_takes_in_order_and_compacts():
    q = _Fifo()
    assert q.take_until(10**12) == [] and len(q) == 0
    for i in range(10_000):
        q.append(i // 3, f"r{i}")
    assert q.take_until(-1) == []
    assert q.take_until(0) == ["r0", "r1", "r2"]
    taken = q.take_until(2_000)
    assert taken == [f"r{i}" for i in range(3, 6_003)] and len(q) == 10_000 - 6_003
    assert q.head == 0 and len(q.at) == len(q.rid) == 10_000 - 6_003  # compacted once half was taken
    q.append(5_000, "last")
    assert q.take_until(10**9) == [f"r{i}" for i in range(6_003, 10_000)] + ["last"]
    assert len(q) == 0 and len(q.at) == 0


def test_forgetting_follows_the_deadlines_whatever_their_order():
    """Traces whose events arrive out of order (deadlines into the heap) and in order (the FIFOs) are
    each forgotten once, exactly when the watermark passes start + join timeout + retention."""
    j = TraceJoin(TracesConfig(join_timeout_ms=100, retention_ms=200, sample_rate=1.0))
    starts = [50, 10, 30, 30, 0, 90, 70]
    for i, ts in enumerate(starts):
        j.observe(RequestComplete(event_id=f"e{i}", ts_ms=ts, request_id=f"r{i}", worker_id="w1", total_ms=1.0,
                                  status="ok", cold_start=False, **BASE), max(starts[:i + 1]), None)
    j.take_ready()
    assert len(j.retained) == len(starts)
    for wm in range(0, 400):
        j.advance(wm)
        assert sorted(j.retained) == sorted(f"r{i}" for i, ts in enumerate(starts) if wm < ts + 300)
    assert j.forgotten == len(starts)
