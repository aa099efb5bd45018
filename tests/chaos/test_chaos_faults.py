"""Issue 16 (``make chaos``): sink SIGKILLs, broker and store frozen, 10^4 malformed records — then the store
equals the ground truth and every malformed record is in the DLQ with its reason (tests/support/faults.py).

``make soak`` runs the bounded soak variant (marker ``soak``; ``TRTLENS_SOAK_MINUTES``, default 20): steady
load on the same pipeline, a line of memory and lag per sample, the store checked at the end.
"""

from __future__ import annotations

import os
import signal

import pytest

from support.faults import run_faults, soak


@pytest.fixture
def private_stack(tmp_path):
    """A broker + store of this run's own: they get frozen, which the shared ones must never be."""
    from trtlens.settings import load_settings
    from trtlens.stack import apply_to_settings, start_stack, stop_stack

    base = load_settings(stack={"kafka_port": 0, "es_port": 0, "state_dir": tmp_path / "stack"})
    state = start_stack(base, detached=False)
    try:
        yield apply_to_settings(base, state), state
    finally:
        for info in (state.kafka, state.elasticsearch):
            try:
                os.kill(info.pid, signal.SIGCONT)  # never leave one frozen
            except ProcessLookupError:
                pass
        stop_stack(base)


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("seed", [1601])
def test_sink_kills_frozen_broker_and_store_and_malformed_records_leave_the_store_exact(private_stack, tmp_path, seed):
    settings, state = private_stack
    result = run_faults(settings, state, tmp_path, seed=seed, sink_kills=3, malformed=10_000)
    print(result.summary())
    assert len(result.malformed) == 10_000
    assert sum(a == "sink_kill" for a in result.actions) == 3 and len(result.actions) == 5
    assert result.problems() == [], "\n".join(result.problems()[:30])


@pytest.mark.soak
@pytest.mark.timeout(int(float(os.environ.get("TRTLENS_SOAK_MINUTES", "20")) * 60 + 1500))
def test_soak_memory_and_lag_over_time(private_stack, tmp_path):
    settings, _ = private_stack
    minutes = float(os.environ.get("TRTLENS_SOAK_MINUTES", "20"))
    out = soak(settings, tmp_path, minutes=minutes, seed=1602)
    rss = [max(v for k, v in row.items() if k.endswith("_rss_mb")) for row in out["samples"]]
    lag = [row["streams_lag_records"] for row in out["samples"]]
    print(f"soak minutes={minutes:g} samples={len(out['samples'])} max_rss_mb={max(rss, default=0)} "
          f"first_rss_mb={rss[0] if rss else 0} last_rss_mb={rss[-1] if rss else 0} max_lag={max(lag, default=0)} "
          f"last_lag={lag[-1] if lag else 0} store={out['sizes']} result={'exact' if not out['problems'] else 'problems'}")
    assert out["problems"] == [], "\n".join(out["problems"][:30])
