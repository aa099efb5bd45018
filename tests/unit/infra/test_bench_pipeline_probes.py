"""The pure parts of ``trtlens bench pipeline``: probe events, probe plan, quantiles."""

from __future__ import annotations

import orjson
import pytest

from trtlens.bench.pipeline import _probe_events, _quantile, probe_plan
from trtlens.schemas.codec import decode_record
from trtlens.streams.traces.sampling import decide


def test_probe_events_are_valid_events_of_one_request_that_tail_sampling_always_keeps():
    events = _probe_events("bx", 7, 1_795_300_000_000)
    decoded = decode_record(orjson.dumps(events))
    assert not decoded.errors and len(decoded.events) == 3
    assert {e.request_id for e in decoded.events} == {"probe-bx-7"}
    assert [e.event for e in decoded.events] == ["request_received", "inference_complete", "request_complete"]
    assert len({e.event_id for e in decoded.events}) == 3
    keep, reason, weight = decide("probe-bx-7", error=False, cold_start=decoded.events[-1].cold_start,
                                  incomplete=False, slow=False, sample_rate=0.0)
    assert (keep, reason, weight) == (True, "cold_start", 1.0)


def test_probe_plan_runs_past_the_last_event_so_the_last_probe_is_sent_last():
    from trtlens.bench.pipeline import _load_config
    from trtlens.producers.load.core import generate

    start = 1_795_300_000_000
    plan = probe_plan("bt", 3000, 2.0, start, 20, 1)
    last_event = max(e["ts_ms"] for e in generate(_load_config("bt", 3000, 2.0, start, 1)).events)
    assert plan[0] == start and all(b - a == 20 for a, b in zip(plan, plan[1:]))
    assert plan[-1] >= last_event


@pytest.mark.parametrize(
    ("values", "q", "want"),
    [([], 0.5, None), ([5.0], 0.99, 5.0), ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0), (list(range(1, 101)), 0.99, 99)],
)
def test_quantile_is_the_lower_nearest_rank(values, q, want):
    assert _quantile(values, q) == want


def test_the_store_share_of_a_step_comes_from_the_sink_bulk_histogram():
    from trtlens.bench.pipeline import bulk_step, parse_bulk_histogram

    def exposition(counts: dict[str, int], total_s: float) -> str:
        lines = [f'trtlens_sink_bulk_duration_seconds_bucket{{le="{le}"}} {n}.0' for le, n in counts.items()]
        return "\n".join([*lines, f"trtlens_sink_bulk_duration_seconds_sum {total_s}", "trtlens_sink_records_total 9.0"])

    before = parse_bulk_histogram(exposition({"0.5": 10, "1.0": 10, "+Inf": 10}, 0.8))
    after = parse_bulk_histogram(exposition({"0.5": 100, "1.0": 102, "+Inf": 105}, 12.3))
    assert after == {"0.5": 100.0, "1.0": 102.0, "+Inf": 105.0, "sum": 12.3}
    assert bulk_step(before, after) == {"bulks": 95, "over_0_5s": 5, "over_1s": 3, "seconds": 11.5}
    assert bulk_step(None, after)["bulks"] == 105  # no reading before: counted from the sink's start
    assert bulk_step(before, None) is None and bulk_step(before, {}) is None
