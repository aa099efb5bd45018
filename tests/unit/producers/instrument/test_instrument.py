"""The instrumentation library: events it emits validate; sampling keeps what it must; verbose switch; CUDA maths."""

from __future__ import annotations

import io
import os

import orjson
import pytest

from trtlens.errors import DependencyMissingError
from trtlens.producers.instrument import Emitter, Instrument, Sampler, StdoutSink, VerboseSwitch
from trtlens.producers.instrument.cuda import CudaStageTimer, stage_times
from trtlens.producers.instrument.profiling import LayerTimes
from trtlens.schemas.codec import validate_event


def make(rate=1.0, slow_ms=None, verbose=None):
    out = io.StringIO()
    emitter = Emitter(StdoutSink(out), sampler=Sampler(rate, slow_ms=slow_ms), verbose=verbose)
    return Instrument(emitter, model="m", model_version="v1", backend="onnxruntime", worker_id="w"), out


def lines(out):
    return [orjson.loads(x) for x in out.getvalue().splitlines()]


def test_a_cold_request_after_an_engine_load_and_a_warm_one():
    inst, out = make()
    with inst.engine_load("/m.onnx", engine_id="abc"):
        pass
    for rid in ("r1", "r2"):
        with inst.request(rid, batch_size=2) as req:
            with req.inference() as inf:
                inf.h2d_ms = 0.5
    events = lines(out)
    for e in events:
        validate_event(e)
    kinds = [(e["event"], e.get("request_id")) for e in events]
    assert kinds == [("engine_load_start", None), ("engine_load_complete", None), ("request_received", "r1"),
                     ("inference_complete", "r1"), ("request_complete", "r1"), ("request_received", "r2"),
                     ("inference_complete", "r2"), ("request_complete", "r2")]
    assert events[1]["engine_id"] == "abc" and events[1]["status"] == "ok"
    assert events[4]["cold_start"] is True and events[3]["engine_load_ms"] == events[1]["duration_ms"]
    assert events[7]["cold_start"] is False and "cold_start" not in events[6]
    assert events[3]["h2d_ms"] == 0.5 and events[3]["batch_size"] == 2
    assert len({e["event_id"] for e in events}) == len(events)


def test_a_failure_emits_an_error_with_its_stage_and_still_completes_the_request():
    inst, out = make(rate=0.0)  # errors are kept even at rate 0
    with pytest.raises(RuntimeError):
        with inst.request("bad") as req:
            with req.inference() as inf:
                inf.stage = "h2d"
                raise RuntimeError("copy failed")
    events = lines(out)
    assert [e["event"] for e in events] == ["request_received", "error", "request_complete"]
    assert events[1]["stage"] == "h2d" and events[2]["status"] == "error"
    for e in events:
        validate_event(e)


def test_sampling_keeps_slow_and_cold_requests_and_thins_the_rest_deterministically():
    s = Sampler(0.25, slow_ms=100)
    kept = sum(s.decide(f"r{i}", error=False, cold_start=False, total_ms=1, verbose=False)[0] for i in range(20000))
    assert 0.23 < kept / 20000 < 0.27
    assert all(s.decide(f"r{i}", error=False, cold_start=False, total_ms=1, verbose=False)
               == s.decide(f"r{i}", error=False, cold_start=False, total_ms=1, verbose=False) for i in range(200))
    assert s.decide("x", error=False, cold_start=False, total_ms=150, verbose=False) == (True, None)
    assert s.decide("x", error=False, cold_start=True, total_ms=1, verbose=False) == (True, None)
    kept_ids = [i for i in range(100) if s.keep_by_rate(f"r{i}")]
    assert s.decide(f"r{kept_ids[0]}", error=False, cold_start=False, total_ms=1, verbose=False) == (True, 4.0)


def test_verbose_from_a_control_file_or_an_alert_keeps_everything_and_debug(tmp_path):
    now = [1_000_000]
    control = tmp_path / "verbose.json"
    switch = VerboseSwitch(control, check_interval_s=0, clock_ms=lambda: now[0])
    inst, out = make(rate=0.0, verbose=switch)
    with inst.request("a"):
        pass
    assert lines(out) == []
    control.write_bytes(orjson.dumps({"verbose_until_ms": {"m": now[0] + 60_000}}))
    with inst.request("b") as req:
        req.add("request_received", level="debug")
    assert {e["request_id"] for e in lines(out)} == {"b"} and len(lines(out)) == 3
    now[0] += 120_000
    os.utime(control, ns=(1, 1))
    assert not switch.active("m")
    assert switch.on_alert({"state": "firing", "scope": "model_version", "scope_key": "m/v1"})
    assert switch.active("m") and not switch.active("other")
    assert not switch.on_alert({"state": "resolved", "scope": "model_version", "scope_key": "m/v1"})


def test_the_lambda_handler_decorator_uses_the_aws_request_id():
    inst, out = make()

    class Ctx:
        aws_request_id = "aws-123"

    @inst.handler
    def handler(event, context, req):
        with req.inference():
            return {"ok": event}

    assert handler(1, Ctx()) == {"ok": 1}
    assert {e["request_id"] for e in lines(out)} == {"aws-123"}


class FakeEvent:
    def __init__(self, t):
        self.t = t

    def time_since(self, other):
        return self.t - other.t


def test_stage_times_from_cuda_events_and_layer_profile_events():
    times = stage_times({"start": FakeEvent(0.0), "h2d": FakeEvent(0.4), "compute": FakeEvent(2.4),
                         "d2h": FakeEvent(2.5)})
    assert (times.h2d_ms, round(times.d2h_ms, 6)) == (0.4, 0.1) and times.compute_ms == 2.0
    lt = LayerTimes()
    lt.add("conv1", 1.0)
    lt.add("conv1", 1.0)
    lt.add("fc", 2.0)
    inst, out = make()
    inst.layer_profile("e1", lt.take(), iterations=2)  # outside a request: a profile over two runs
    with inst.request("r1") as req:
        req.layer_profile("e1", lt.take())  # taken: empty now
    evs = [e for e in lines(out) if e["event"] == "layer_profile"]
    assert [(e["layer"], e["time_ms"], e["avg_ms"], e["time_pct"], e["iterations"]) for e in evs] == [
        ("conv1", 2.0, 1.0, 50.0, 2), ("fc", 2.0, 1.0, 50.0, 2)]
    assert len({e["event_id"] for e in evs}) == 2 and all("request_id" not in e for e in evs)
    for e in evs:
        validate_event(e)


def test_without_pycuda_the_timer_says_what_to_install():
    try:
        import pycuda.driver  # noqa: F401
    except ImportError:
        with pytest.raises(DependencyMissingError, match="pip install"):
            CudaStageTimer()
    else:  # pragma: no cover - a GPU host
        pytest.skip("pycuda is installed here")
