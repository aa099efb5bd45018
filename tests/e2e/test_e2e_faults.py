"""Faults in the middle of a running pipeline: nothing missing, nothing duplicated.

Both tests publish paced traffic (so streams keeps producing while the fault
lasts), then compare the store with what streams wrote to the output topics
(read by assignment: no group, no commit): every key once, as its last record.

* the sink is SIGKILLed mid-run (no cleanup runs: fetched records uncommitted)
  and started again with the same group: it replays, and deterministic ``_id``s
  make the replay overwrite;
* the store is frozen (SIGSTOP) for ~10 s and thawed (SIGCONT) — on a private
  stack started by the test, never the shared session store (osmem keeps data
  in memory, so it cannot be restarted instead).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from e2e_helpers import (
    Expected,
    StreamsOptions,
    e2e_settings,
    generate_events,
    load_config,
    publish,
    read_output_topics,
    sink_process,
    store_count,
    store_matches_topics,
    streams_finished,
    streams_process,
    wait_alive,
)

from trtlens.stack.processes import wait_for
from trtlens.producers.load.config import FaultSpec

WINDOW_MS = 1000
GRACE_MS = 500


class PacedTraffic:
    """Generated events: a head published at once (to see streams come up), the rest
    in a background thread at a fixed pace."""

    HEAD_EVENTS = 300

    def __init__(self, settings, tmp, *, seed: int, requests: int, events_per_s: float) -> None:
        cfg = load_config(seed=seed, rate_rps=requests / 6, duration_s=6, window_ms=WINDOW_MS,
                          faults=FaultSpec(duplicate_rate=0.02, out_of_order_rate=0.02, grace_ms=GRACE_MS))
        self.events, truths = generate_events(cfg)
        self.expected = Expected.build(self.events, truths, partitions=settings.topics.partitions,
                                       window_ms=WINDOW_MS, grace_ms=GRACE_MS)
        self.error: BaseException | None = None
        self._settings, self._spool = settings, tmp / "spool"
        self._thread = threading.Thread(target=self._run, args=(events_per_s,), daemon=True)

    def publish_head(self) -> None:
        publish(self._settings, self.events[: self.HEAD_EVENTS], self._spool)

    def _run(self, pace) -> None:
        try:
            publish(self._settings, self.events[self.HEAD_EVENTS :], self._spool, pace_events_per_s=pace)
        except BaseException as exc:  # surfaced by join()
            self.error = exc

    def start(self) -> PacedTraffic:
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self) -> None:
        self._thread.join(120)
        assert not self._thread.is_alive(), "publishing did not finish"
        if self.error is not None:
            raise self.error


def _pipeline(settings, tmp, traffic: PacedTraffic, **sink_env):
    """Streams + sink up and indexing (the head of the traffic went through), the paced rest started."""
    # sample_rate 1: every request becomes a stored trace, so the sink has plenty to do when the fault hits
    options = StreamsOptions(window_ms=WINDOW_MS, grace_ms=GRACE_MS, idle_timeout_ms=2500, sample_rate=1.0)
    streams = streams_process(settings, options, tmp).start()
    sink = sink_process(settings, tmp, chunk_docs=200, **sink_env).start()
    traffic.publish_head()
    wait_alive(lambda: read_output_topics(settings, ("traces",))["traces"], procs=[streams, sink], timeout_s=90,
               what="streams to come up and emit its first traces")
    traffic.start()
    return streams, sink


def _finish(settings, es, expected, procs) -> dict[str, int]:
    wait_alive(lambda: streams_finished(settings, expected), procs=procs, timeout_s=90, interval_s=1.0,
               what="streams to emit every expected window and incomplete trace")
    sizes = wait_alive(lambda: store_matches_topics(es, settings), procs=procs, timeout_s=90, interval_s=1.0,
                       what="the store to hold exactly what streams produced")
    assert sizes["traces"] == len(expected.requests)  # sample_rate 1: one trace per request
    return sizes


def test_sink_sigkilled_mid_run_and_restarted_loses_and_doubles_nothing(stack_settings, tmp_path):
    from trtlens.es import es_client

    settings = e2e_settings(stack_settings)
    traffic = PacedTraffic(settings, tmp_path, seed=21, requests=4200, events_per_s=2500)
    streams, sink = _pipeline(settings, tmp_path, traffic)
    es = es_client(settings.elasticsearch, request_timeout=60)
    restarted = None
    try:
        wait_alive(lambda: store_count(es, settings.indices.traces) >= 500, procs=[streams, sink], timeout_s=90,
                   what="the sink to index its first documents")
        sink.kill()  # SIGKILL: no drain, no commit
        killed_at = store_count(es, settings.indices.traces)
        # streams goes on producing while the sink is down: let a backlog build
        wait_alive(lambda: len(read_output_topics(settings, ("traces",))["traces"]) >= killed_at + 1000 or traffic.done,
                   procs=[streams], timeout_s=60, what="a backlog behind the dead sink")
        restarted = sink_process(settings, tmp_path, name="sink-restarted", chunk_docs=200).start()
        traffic.join()
        sizes = _finish(settings, es, traffic.expected, [streams, restarted])
        assert killed_at < sizes["traces"], "the kill did not land mid-run"
        assert restarted.stop() == 0, restarted.log_tail()
        assert "bulk outcome=ok" in restarted.log_path.read_text()
    finally:
        for proc in (restarted, sink, streams):
            if proc is not None:
                proc.stop(timeout_s=10)
        es.close()


@pytest.fixture
def private_stack(tmp_path):
    """A broker + store of this test's own, on free ports: it gets frozen, which the shared one must never be."""
    from trtlens.settings import load_settings
    from trtlens.stack import apply_to_settings, start_stack, stop_stack

    base = load_settings(stack={"kafka_port": 0, "es_port": 0, "state_dir": tmp_path / "stack"})
    state = start_stack(base, detached=False)
    try:
        yield apply_to_settings(base, state), state
    finally:
        try:
            os.kill(state.elasticsearch.pid, signal.SIGCONT)  # never leave it frozen
        except ProcessLookupError:
            pass
        stop_stack(base)


def test_store_frozen_10s_then_thawed_loses_and_doubles_nothing(private_stack, tmp_path):
    from trtlens.es import es_client

    base, state = private_stack
    base = base.model_copy(update={"elasticsearch": base.elasticsearch.model_copy(update={"request_timeout_s": 2.0})})
    settings = e2e_settings(base)
    # paced so that traffic still flows during the freeze (streams must keep producing meanwhile)
    traffic = PacedTraffic(settings, tmp_path, seed=31, requests=4200, events_per_s=1200)
    streams, sink = _pipeline(settings, tmp_path, traffic, backoff_initial_ms=200, backoff_max_ms=2000)
    procs = [streams, sink]
    es = es_client(settings.elasticsearch, request_timeout=60)
    store_pid = state.elasticsearch.pid
    try:
        wait_alive(lambda: store_count(es, settings.indices.traces) >= 500, procs=procs, timeout_s=90,
                   what="the sink to index its first documents")
        assert not traffic.done, "traffic ended before the freeze: pace it slower"
        os.kill(store_pid, signal.SIGSTOP)
        try:
            thaw_at = time.monotonic() + 10.0
            produced_at_freeze = len({r.key for r in read_output_topics(settings, ("traces",))["traces"]})
            # while frozen: the sink retries with backoff (consumption paused), streams keeps producing
            wait_alive(lambda: "backpressure=on" in sink.log_path.read_text(), procs=procs, timeout_s=10,
                       what="the sink to back off against the frozen store")
            wait_for(lambda: time.monotonic() >= thaw_at, timeout_s=11, what="the end of the 10-s freeze")
            dead = [p for p in procs if not p.running]
            assert not dead, [p.log_tail() for p in dead]
            # streams is not held up by the store: it went on emitting, unless it had emitted every trace already
            emitted = {r.key for r in read_output_topics(settings, ("traces",))["traces"]}
            assert len(emitted) >= len(traffic.expected.requests) or len(emitted) > produced_at_freeze, \
                (len(emitted), produced_at_freeze)
        finally:
            os.kill(store_pid, signal.SIGCONT)
        traffic.join()
        _finish(settings, es, traffic.expected, procs)
        log = sink.log_path.read_text()
        assert "backpressure=off" in log and "dlq=" not in log, log[-2000:]
    finally:
        for proc in (sink, streams):
            proc.stop(timeout_s=10)
        es.close()
