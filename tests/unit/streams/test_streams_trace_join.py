import pytest

from trtlens.schemas.documents import Trace
from trtlens.schemas.events import ErrorEvent, InferenceComplete, RequestComplete, RequestReceived
from trtlens.streams.traces.config import TracesConfig
from trtlens.streams.traces.core import TraceJoin

BASE = dict(worker_id="w1", model="m", model_version="v1", host="h", backend="onnxruntime")


def received(rid, ts):
    return RequestReceived(event_id=f"{rid}-a", ts_ms=ts, request_id=rid, **BASE)


def inference(rid, ts, cold=False):
    return InferenceComplete(event_id=f"{rid}-b", ts_ms=ts, request_id=rid, latency_ms=4.0, queue_ms=0.5,
                             h2d_ms=0.2, compute_ms=3.0, d2h_ms=0.3, cold_start=cold, precision="fp16", **BASE)


def complete(rid, ts, total=5.0, status="ok", cold=False):
    return RequestComplete(event_id=f"{rid}-c", ts_ms=ts, request_id=rid, total_ms=total, status=status,
                           cold_start=cold, **BASE)


def cfg(**kw):
    return TracesConfig(**{"join_timeout_ms": 1000, "retention_ms": 2000, "sample_rate": 1.0, **kw})


def feed(join, events, wm=None):
    for ev in events:
        join.observe(ev, wm if wm is not None else ev.ts_ms, None)
    join.advance(max(e.ts_ms for e in events) if wm is None else wm)
    return join.take_ready()


def test_complete_trace_emitted_on_terminal_with_stage_breakdown():
    j = TraceJoin(cfg())
    [t] = feed(j, [received("r", 0), inference("r", 3), complete("r", 5)])
    doc = Trace.model_validate(t)
    assert doc.status == "ok" and doc.complete and doc.missing_stages == []
    assert doc.stages.compute_ms == 3.0 and doc.stages.total_ms == 5.0 and doc.stages.inference_ms == 4.0
    assert doc.event_ids == ["r-a", "r-b", "r-c"] and doc.event_count == 3
    assert t == doc.model_dump(mode="json")  # the hand-built dict is exactly the document


@pytest.mark.parametrize(
    ("wm", "emitted"),
    [(999, False), (1000, True)],  # first event at 0, join_timeout_ms 1000
)
def test_join_timeout_on_event_time(wm, emitted):
    j = TraceJoin(cfg())
    j.observe(received("r", 0), 0, None)
    j.advance(wm)
    out = j.take_ready()
    assert bool(out) is emitted
    if out:
        assert out[0]["status"] == "incomplete" and not out[0]["complete"]
        assert out[0]["missing_stages"] == ["inference_complete", "request_complete"]
        assert out[0]["sample_reason"] == "incomplete" and out[0]["sample_weight"] == 1.0


def test_late_event_updates_same_trace_then_forgotten_after_retention():
    j = TraceJoin(cfg())
    j.observe(received("r", 0), 0, None)
    j.advance(1000)
    [first] = j.take_ready()
    assert first["status"] == "incomplete"
    j.observe(complete("r", 50), 1500, None)  # arrives after emission, within retention
    j.advance(1500)
    [second] = j.take_ready()
    assert second["request_id"] == "r" and second["status"] == "ok" and second["complete"]
    j.advance(3000)  # start 0 + timeout 1000 + retention 2000
    assert "r" not in j
    j.observe(inference("r", 60), 3100, None)  # older than wm - (timeout + retention): not joined
    assert j.too_late_events == 1 and "r" not in j


def test_error_trace_kept_and_failed_before_inference_is_not_missing():
    j = TraceJoin(cfg(sample_rate=0.0))
    err = ErrorEvent(event_id="r-e", ts_ms=2, request_id="r", error_type="OOM", message="boom", stage="compute", **BASE)
    [t] = feed(j, [received("r", 0), err, complete("r", 5, status="error")])
    assert t["status"] == "error" and t["missing_stages"] == []
    assert t["error"] == {"error_type": "OOM", "message": "boom", "stage": "compute"}
    assert t["sample_reason"] == "error"


@pytest.mark.parametrize(
    ("kw", "total", "p99", "reason"),
    [
        ({"slow_ms": 100.0}, 150.0, None, "slow"),
        ({"slow_ms": None}, 150.0, 120.0, "slow"),
        ({"slow_ms": None}, 150.0, 200.0, None),
        ({"slow_ms": None, "slow_above_p99": False}, 150.0, 120.0, None),
    ],
)
def test_slow_rules(kw, total, p99, reason):
    j = TraceJoin(cfg(sample_rate=0.0, **kw))
    j.observe(complete("r", 5, total=total), 5, p99)
    j.advance(5)
    out = j.take_ready()
    assert (out[0]["sample_reason"] if out else None) == reason


def test_sampled_out_trace_is_not_emitted_but_counts_as_emitted():
    j = TraceJoin(cfg(sample_rate=0.0))
    assert feed(j, [received("r", 0), inference("r", 1), complete("r", 2)]) == []
    assert j.get("r").emitted and not j.get("r").kept and "r" in j.retained


def test_duplicate_event_joins_once():
    j = TraceJoin(cfg())
    [t] = feed(j, [received("r", 0), received("r", 0), complete("r", 5)])
    assert t["event_count"] == 2


def test_timeout_of_a_trace_whose_start_moved_back_past_its_retention_does_not_hang():
    # the first event seen is at 10_000; an older one (out of order by more than retention) moves the
    # start back to 6_000, so the trace's end of retention (6_000 + 1_000 + 2_000) is already past
    # when its timeout (11_000) is reached: it must be emitted once, then forgotten, not rescheduled forever
    j = TraceJoin(cfg())
    j.observe(received("r", 10_000), 10_000, None)
    j.observe(inference("r", 6_000), 10_000, None)
    j.advance(11_000)
    [t] = j.take_ready()
    assert t["status"] == "incomplete" and t["start_ts_ms"] == 6_000
    j.advance(11_001)
    assert j.take_ready() == [] and "r" not in j
