"""Issue 16 (``make chaos``): load partly through ``trtlens collect``; SIGKILLs of the sink, the collector and
the streams workers, broker and store frozen, 10^4 malformed records (in the events topic and among the
collector's file lines) — then the store equals the ground truth and every malformed record is in the DLQ with
its reason and source (tests/support/faults.py, tests/support/chaos_collect.py).

``make soak`` runs the bounded soak variant (marker ``soak``; ``TRTLENS_SOAK_MINUTES``, default 20;
tests/support/soak.py): steady load on the same pipeline, collector included, a line of RSS per process and
lag every 30 s, the store and the DLQ checked at the end, one summary line.
"""

from __future__ import annotations

import os
import signal

import pytest

from support.faults import run_faults
from support.soak import soak


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
def test_kills_frozen_broker_and_store_and_malformed_records_leave_the_store_exact(private_stack, tmp_path, seed):
    settings, state = private_stack
    result = run_faults(settings, state, tmp_path, seed=seed, sink_kills=3, collect_kills=3, streams_kills=2,
                        malformed=10_000, file_malformed=2_000)
    print(result.summary())
    assert len(result.malformed) + result.file_malformed == 10_000 and result.file_malformed == 2_000
    assert [result.actions.count(f"{k}_kill") for k in ("sink", "collect", "streams")] == [3, 3, 2]
    assert len(result.actions) == 10
    assert result.file_events > result.events // 2  # most of the load went through the collector
    assert result.problems() == [], "\n".join(result.problems()[:30])


@pytest.mark.soak
@pytest.mark.timeout(int(float(os.environ.get("TRTLENS_SOAK_MINUTES", "20")) * 60 + 2400))
def test_soak_memory_and_lag_over_time(private_stack, tmp_path):
    settings, _ = private_stack
    minutes = float(os.environ.get("TRTLENS_SOAK_MINUTES", "20"))
    out = soak(settings, tmp_path, minutes=minutes, seed=1602)
    print(out["summary"])
    assert len(out["samples"]) >= minutes * 60 // 30 - 1  # one every 30 s while the load runs
    assert out["problems"] == [], "\n".join(out["problems"][:30])
