"""Crashes and a frozen store: nothing missing, nothing duplicated."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from sink_helpers import (
    all_ids,
    async_wait_until,
    make_traces,
    produce,
    running_sink,
    store_count,
    wait_until,
    with_sink,
    write_config,
)

from trtlens.settings import load_settings
from trtlens.stack.processes import ManagedProcess


def _spawn_sink(config, log_path):
    return ManagedProcess(log_path.stem, ["--config", str(config), "sink"], log_dir=log_path.parent).start()


def test_sigkill_mid_run_then_restart_loses_and_doubles_nothing(isolated, es, tmp_path):
    # small chunks so that a kill lands between bulks, with records fetched but not committed
    settings = with_sink(isolated, group_id=f"{isolated.indices.traces}-kill", chunk_docs=100)
    config = write_config(settings, tmp_path / "sink.yaml")
    traces = make_traces(3000, prefix="k")
    produce(settings, "traces", traces)
    alias = settings.indices.traces
    log_path = tmp_path / "sink.log"

    proc = _spawn_sink(config, log_path)
    try:
        wait_until(lambda: store_count(es, alias) >= 300 or not proc.running, timeout_s=60,
                   what="the first sink to index some documents")
        assert proc.running, proc.log_tail()
        proc.kill()
        killed_at = store_count(es, alias)
        assert killed_at < 3000, "the kill should land mid-run; raise the volume"
    finally:
        proc.kill()

    proc = _spawn_sink(config, log_path)
    try:
        wait_until(lambda: store_count(es, alias) >= 3000 or not proc.running, timeout_s=60,
                   what="the restarted sink to index everything")
        proc.signal(signal.SIGTERM)  # graceful: drain, commit, leave the group
        assert proc.wait(30) == 0, proc.log_tail()
    finally:
        proc.kill()
    ids = all_ids(es, alias)
    assert len(ids) == 3000 and set(ids) == {t.request_id for t in traces}
    assert "bulk outcome=ok" in log_path.read_text()


@pytest.fixture
def private_stack(tmp_path):
    """A stack of this test's own: it gets frozen, which the shared one must never be."""
    from trtlens.stack import apply_to_settings, start_stack, stop_stack

    base = load_settings(stack={"kafka_port": 0, "es_port": 0, "state_dir": tmp_path / "stack"})
    state = start_stack(base, detached=False)
    try:
        yield apply_to_settings(base, state), state
    finally:
        os.kill(state.elasticsearch.pid, signal.SIGCONT)  # never leave it frozen
        stop_stack(base)


async def test_store_frozen_10s_sink_backs_off_then_everything_lands_once(private_stack):
    from trtlens.es import es_client

    base, state = private_stack
    settings = base.model_copy(update={
        "elasticsearch": base.elasticsearch.model_copy(update={"request_timeout_s": 2.0}),
        "sink": base.sink.model_copy(update={"group_id": "freeze", "chunk_docs": 200,
                                             "backoff_initial_ms": 200, "backoff_max_ms": 2000}),
    })
    first, second = make_traces(400, prefix="f1"), make_traces(400, prefix="f2")
    await asyncio.to_thread(produce, settings, "traces", first)
    es = es_client(settings.elasticsearch, request_timeout=30)
    try:
        async with running_sink(settings) as sink:
            await async_wait_until(lambda: sink.counters["indexed"] >= 400, timeout_s=30, what="first 400 indexed")
            os.kill(state.elasticsearch.pid, signal.SIGSTOP)
            frozen_at = time.monotonic()
            try:
                await asyncio.to_thread(produce, settings, "traces", second)
                await async_wait_until(lambda: sink._writer.counters["retries"] >= 1, timeout_s=20,
                                       what="the sink to retry against the frozen store")
                assert sink._writer.backpressure and sink._consumer.paused(), "consumption must pause while retrying"
                await asyncio.sleep(max(0.0, 10.0 - (time.monotonic() - frozen_at)))  # the freeze itself lasts ~10 s
                assert sink.counters["indexed"] == 400  # nothing acknowledged while frozen
            finally:
                os.kill(state.elasticsearch.pid, signal.SIGCONT)
            await async_wait_until(lambda: sink.counters["indexed"] >= 800, timeout_s=60,
                                   what="everything indexed after the thaw")
            assert not sink._consumer.paused()
        assert sink.counters["backpressure_pauses"] >= 1 and sink.counters["dead_lettered"] == 0
        assert sink._writer.counters["retries"] >= 2  # backoff kept trying through the freeze
        ids = await asyncio.to_thread(all_ids, es, settings.indices.traces)
        assert len(ids) == 800 and set(ids) == {t.request_id for t in first + second}
    finally:
        es.close()
