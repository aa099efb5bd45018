"""Publisher against the real embedded broker: batching, keying, DLQ, outages."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import defaultdict

import orjson
import pytest

from trtlens.kafka import partition_for_key
from trtlens.producers.publisher import Publisher
from trtlens.schemas.events import RequestComplete, RequestReceived

from prodtest_helpers import read_raw, read_topic


def _request_events(n_requests: int, *, prefix: str = "r", worker: str = "w1") -> list[dict]:
    out = []
    for r in range(n_requests):
        rid = f"{prefix}{r}"
        base = {"request_id": rid, "worker_id": worker, "model": "m", "model_version": "v1", "ts_ms": 1_700_000_000_000 + r}
        out.append({**base, "event": "request_received", "event_id": f"{rid}-0", "batch_size": 1})
        out.append({**base, "event": "inference_complete", "event_id": f"{rid}-1", "latency_ms": 2.5})
        out.append({**base, "event": "request_complete", "event_id": f"{rid}-2", "total_ms": 3.0})
    return out


def _assert_exactly_once_in_order(landed_events: list[tuple[int, int, dict]], sent: list[dict], partitions: int) -> None:
    ids = [e["event_id"] for _, _, e in landed_events]
    assert len(ids) == len(set(ids)), "an event arrived twice"
    assert set(ids) == {e["event_id"] for e in sent}
    per_request: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for p, offset, e in landed_events:
        assert p == partition_for_key(e["request_id"], partitions)
        per_request[e["request_id"]].append((offset, int(e["event_id"].rsplit("-", 1)[1]), p))
    for rid, seen in per_request.items():
        seen.sort()
        assert [s[1] for s in seen] == sorted(s[1] for s in seen), f"{rid} out of order: {seen}"


def test_batches_land_on_the_key_partition_in_order(isolated, spool_config):
    cfg = spool_config.model_copy(update={"batch_max_events": 50})
    sent = _request_events(200)
    with Publisher(isolated, cfg) as pub:
        pub.publish_dicts(sent[:300])
        pub.publish_many([RequestReceived.model_validate(e) for e in sent[300:301]])
        pub.publish_dicts(sent[301:])
        assert pub.flush(20)
        counters = pub.counters
    assert counters["published"] == len(sent) and counters["spooled"] == 0 and counters["failed"] == 0
    landed = read_topic(isolated, isolated.topics.events, until=lambda l: len(l.events) >= len(sent))
    assert landed.errors == 0
    assert landed.records < len(sent) / 10  # batched, not one record per event
    _assert_exactly_once_in_order(landed.events, sent, isolated.topics.partitions)


def test_batch_size_one_gives_one_event_object_per_record(isolated, spool_config):
    cfg = spool_config.model_copy(update={"batch_max_events": 1})
    sent = _request_events(5)
    with Publisher(isolated, cfg) as pub:
        pub.publish(RequestComplete.model_validate(sent[2]))
        pub.publish_dicts(sent[3:])
        assert pub.flush(20)
    raw = read_raw(isolated, isolated.topics.events, count=1 + len(sent[3:]))
    assert len(raw) == 1 + len(sent[3:])
    for key, value in raw:
        obj = orjson.loads(value)
        assert isinstance(obj, dict)
        assert key.decode() == obj["request_id"]


def test_dead_letter_goes_to_the_dlq_topic(isolated, spool_config):
    doc = {"code": "invalid_json", "reason": "x", "source": "f.jsonl", "line": 3}
    with Publisher(isolated, spool_config) as pub:
        pub.publish_dead_letter(doc, key="k1")
        assert pub.flush(20)
        assert pub.counters["dead_lettered"] == 1
    raw = read_raw(isolated, isolated.topics.events_dlq, count=1)
    assert raw == [(b"k1", orjson.dumps(doc))]


def test_broker_frozen_mid_run_loses_and_doubles_nothing(private_stack, spool_config):
    from trtlens.stack import apply_to_settings

    base, start = private_stack
    state = start()
    settings = apply_to_settings(base, state)
    cfg = spool_config.model_copy(update={"unreachable_after_ms": 500, "publish_budget_ms": 50, "batch_max_events": 20})
    sent = _request_events(600)
    chunks = [sent[i : i + 30] for i in range(0, len(sent), 30)]
    with Publisher(settings, cfg) as pub:
        for chunk in chunks[:5]:
            pub.publish_dicts(chunk)
        assert pub.flush(20)
        os.kill(state.kafka.pid, signal.SIGSTOP)
        try:
            worst_s = 0.0
            for chunk in chunks[5:15]:  # keep serving while the broker is frozen
                t0 = time.monotonic()
                pub.publish_dicts(chunk)
                worst_s = max(worst_s, time.monotonic() - t0)
                time.sleep(0.1)
            deadline = time.monotonic() + 10
            while not pub.spooling and time.monotonic() < deadline:
                pub.publish_dicts([])
                time.sleep(0.05)
            assert pub.spooling, "publisher did not notice the frozen broker"
            assert pub.counters["spooled"] > 0
        finally:
            os.kill(state.kafka.pid, signal.SIGCONT)
        for chunk in chunks[15:]:
            pub.publish_dicts(chunk)
        assert pub.flush(60), pub.counters
        counters = pub.counters
    assert counters["published"] == len(sent), counters
    assert counters["dropped"] == 0 and counters["failed"] == 0 and counters["spool_pending"] == 0
    landed = read_topic(settings, settings.topics.events, until=lambda l: len(l.events) >= len(sent))
    _assert_exactly_once_in_order(landed.events, sent, settings.topics.partitions)


def test_publisher_started_before_the_broker_spools_then_delivers(private_stack, spool_config):
    from trtlens.stack import apply_to_settings

    base, start = private_stack
    cfg = spool_config.model_copy(update={"connect_timeout_ms": 300})
    sent = _request_events(50)
    pub = Publisher(base, cfg)
    try:
        pub.publish_dicts(sent[:60])
        pub.publish_dead_letter({"code": "x"}, key=None)
        assert pub.spooling and pub.counters["spooled"] == 61
        state = start()  # the broker appears on the configured port
        pub.publish_dicts(sent[60:])
        assert pub.flush(60), pub.counters
        counters = pub.counters
        # the spool's drainer connects as soon as the broker answers, which can be before the stack has
        # created the topics; Tansu then auto-creates the topic with one partition (it ignores the client's
        # allow_auto_create_topics=False) and the publisher maps keys with the broker's count, as it warns
        partitions = pub.partitions
    finally:
        pub.close()
    assert counters["published"] == len(sent) and counters["dead_lettered"] == 1
    settings = apply_to_settings(base, state)
    landed = read_topic(settings, settings.topics.events, until=lambda l: len(l.events) >= len(sent))
    _assert_exactly_once_in_order(landed.events, sent, partitions)


def test_publish_from_many_threads(isolated, spool_config):
    sent = _request_events(300)
    with Publisher(isolated, spool_config) as pub:
        # whole requests per thread, so per-request order is one thread's order
        by_thread: list[list[dict]] = [[], [], []]
        for i in range(0, len(sent), 3):
            by_thread[(i // 3) % 3].extend(sent[i : i + 3])
        threads = [threading.Thread(target=pub.publish_dicts, args=(chunk,)) for chunk in by_thread]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert pub.flush(20)
    landed = read_topic(isolated, isolated.topics.events, until=lambda l: len(l.events) >= len(sent))
    _assert_exactly_once_in_order(landed.events, sent, isolated.topics.partitions)


def test_full_spool_drops_oldest_low_value_events_and_never_errors(tmp_path):
    """No broker at all: everything spools; past the bound low-value events go first, errors and terminals stay."""
    from trtlens.producers.config import PublisherConfig
    from trtlens.settings import load_settings
    from trtlens.stack import free_port

    settings = load_settings(kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"})
    cfg = PublisherConfig(spool_dir=tmp_path / "spool", connect_timeout_ms=200, spool_max_bytes=112 * 1024,
                          spool_segment_bytes=8 * 1024, linger_ms=10)
    sent = _request_events(400)  # ~250 KB of spool lines, ~90 KB of them terminal or errors
    for i, e in enumerate(sent):
        if i % 30 == 0 and e["event"] == "inference_complete":
            e.update(event="error", error_type="X", level="error")
            e.pop("latency_ms")
    pub = Publisher(settings, cfg)
    try:
        for i in range(0, len(sent), 20):
            pub.publish_dicts(sent[i : i + 20])
        deadline = time.monotonic() + 10
        while pub.counters["dropped"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        counters = pub.counters
        assert pub.spooling and counters["dropped"] > 0
        assert counters["spooled"] == len(sent) and counters["spool_pending"] == len(sent) - counters["dropped"]
    finally:
        pub.close(timeout_s=0.5)
    kept = []
    for seg in sorted((pub.spool.directory).glob("seg-*.jsonl")):
        kept += [orjson.loads(line)["e"] for line in seg.read_bytes().splitlines() if line]
    kept_ids = {e["event_id"] for e in kept}
    must_keep = {e["event_id"] for e in sent if e["event"] in ("request_complete", "error")}
    assert must_keep <= kept_ids
    assert pub.spool.total_bytes <= cfg.spool_max_bytes
