"""A real ``trtlens streams`` worker's /metrics against what it was given and what it wrote.

Load-generator events with duplicates, out-of-order and incomplete requests,
plus bad events and a record that is not JSON, go through one worker on the
embedded broker. Once it has emitted everything, its counters must equal what
is counted independently: records and events on the input topic, duplicate
event ids in the input, dead letters by code, and the records on every output
topic.
"""

from __future__ import annotations

from collections import Counter

import orjson

from trtlens.kafka import partition_for_key
from trtlens.producers.load.config import FaultSpec, LoadConfig
from trtlens.producers.load.core import generate

from support.streams_harness import Worker, latest_docs, publish, read_topic, streams_settings, wait_for, wait_stable

T0 = 1_700_000_000_000
OUTPUTS = ("traces", "metrics", "alerts", "builds", "events_dlq", "metrics_partials")
ALERTING = {"alerts": {"rules": [{"kind": "p99_above", "id": "p99_tiny", "threshold_ms": 0.5, "fire_after": 2,
                                  "resolve_after": 1, "scope": "all"}]}}


def record_counts(settings, names) -> dict[str, int]:
    """Records on each named topic now (read back: the embedded broker's end offsets under-report)."""
    from kafka import KafkaConsumer, TopicPartition

    topics = {getattr(settings.topics, n): n for n in names}
    consumer = KafkaConsumer(**settings.kafka.kafka_python_kwargs(), enable_auto_commit=False,
                             consumer_timeout_ms=1000, auto_offset_reset="earliest")
    try:
        consumer.assign([TopicPartition(t, p) for t in topics for p in range(settings.topics.partitions)])
        out = dict.fromkeys(names, 0)
        for m in consumer:
            out[topics[m.topic]] += 1
        return out
    finally:
        consumer.close()


def observed(worker: Worker, settings) -> dict:
    s = worker.metrics()
    return {
        "sent": {n: int(s.value("trtlens_streams_outputs_sent_total", topic=getattr(settings.topics, n))) for n in OUTPUTS},
        "traces_out": int(s.value("trtlens_streams_traces_out_total")),
        "windows_emitted": int(s.value("trtlens_streams_merge_windows_emitted_total")),
        "alerts_emitted": int(s.value("trtlens_streams_merge_alerts_emitted_total")),
        "written": record_counts(settings, OUTPUTS),
    }


def test_the_workers_counters_equal_what_it_processed_and_wrote(stack_settings, tmp_path):
    run = generate(LoadConfig(seed=5, rate_rps=100, duration_s=20, start_ms=T0, workers=3,
                              ground_truth_latencies=False,
                              faults=FaultSpec(duplicate_rate=0.03, out_of_order_rate=0.03, incomplete_rate=0.02)))
    events = list(run.events)
    settings = streams_settings(stack_settings, traces={"sample_rate": 1.0}, **ALERTING)
    publish(settings, events)
    end = run.ground_truth["end_ms"]
    bad = [
        {"event": "request_received", "event_id": "extra-a", "ts_ms": end - 500, "request_id": "extra-req",
         "worker_id": "w-extra", "model": "extra-model", "model_version": "v1"},
        {"event": "request_complete", "event_id": "bad-1", "request_id": "extra-req"},  # no ts/total/worker
        {"event": "no_such_event", "event_id": "bad-2"},
    ]
    from kafka import KafkaProducer

    producer = KafkaProducer(**settings.kafka.kafka_python_kwargs())
    part = partition_for_key("extra-req", settings.topics.partitions)
    producer.send(settings.topics.events, orjson.dumps(bad), key=b"extra-req", partition=part)
    producer.send(settings.topics.events, b"\x00 not json", key=b"junk", partition=part)
    producer.flush()
    producer.close()

    # counted from the input alone
    input_records = Counter(p for _, _, p, _ in read_topic(settings, settings.topics.events))
    valid = events + bad[:1]
    unique_valid = len({e["event_id"] for e in valid})
    duplicates = len(valid) - unique_valid

    worker = Worker(settings, tmp_path / "worker.log")
    try:
        assert worker.process.wait_obs(60)
        wait_for(worker.process.ready, 90, "the worker to be ready (partitions assigned, tables recovered)", [worker])
        # everything emitted (the incomplete requests' traces come last, by timeout or idle flush) ...
        wait_for(lambda: len(latest_docs(settings, settings.topics.traces)) >= run.ground_truth["requests"] + 1,
                 90, "every trace", [worker])
        # ... and what it counted as sent is what the output topics hold, unchanged for a while
        final = wait_stable(lambda: (o := observed(worker, settings)) and o["sent"] == o["written"] and o,
                            90, "sent counters equal to the output topics", [worker])
        s = worker.metrics()
        assert worker.process.ready()
    finally:
        worker.stop()

    # the worker writes to its own input too: engine loads naming an engine_id come back re-keyed by it as
    # engine_runtime events (to meet their build), and it reads and counts those records like any other
    rerouted = Counter()
    for _, value, part_, offset in read_topic(settings, settings.topics.events):
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            continue
        docs = doc if isinstance(doc, list) else [doc]
        if docs and all(isinstance(d, dict) and d.get("event") == "engine_runtime" for d in docs):
            rerouted[part_] += 1
            rerouted["events"] += len(docs)
    for part_ in range(settings.topics.partitions):
        input_records[part_] += rerouted[part_]
    assert rerouted["events"] > 0  # the load's engine loads carry engine ids
    assert s.by_label("trtlens_streams_records_total", "partition") == {str(p): n for p, n in input_records.items()}
    assert s.value("trtlens_streams_redelivered_records_total") == 0 and s.value("trtlens_streams_recovered_records_total") == 0
    assert s.value("trtlens_streams_events_total") == len(valid) + rerouted["events"]
    assert s.value("trtlens_streams_duplicate_events_total") == duplicates > 0
    assert s.value("trtlens_streams_dropped_events_total") == 0  # no debug or health-check events in this load
    assert s.value("trtlens_streams_accepted_events_total") == unique_valid + rerouted["events"]
    dlq = Counter(orjson.loads(v)["code"] for _, v, _, _ in read_topic(settings, settings.topics.events_dlq))
    assert dlq == {"invalid_event": 1, "unknown_event_type": 1, "invalid_json": 1}
    assert s.by_label("trtlens_streams_invalid_events_total", "code") == dict(dlq)
    written = final["written"]
    # a late event after a trace was emitted sends the same document again: records >= traces
    assert final["traces_out"] == written["traces"] >= run.ground_truth["requests"] + 1
    assert final["windows_emitted"] == written["metrics"] > 0
    assert final["alerts_emitted"] == written["alerts"] > 0
    all_scope = [m for m in latest_docs(settings, settings.topics.metrics).values() if m["scope"] == "all"]
    assert s.value("trtlens_streams_late_events_total") == sum(m["late_events"] for m in all_scope)
    for p, n in input_records.items():
        assert s.value("trtlens_streams_applied_offset", partition=str(p)) == n - 1
        assert s.value("trtlens_streams_consumer_lag_records", partition=str(p)) == 0
    assert s.value("trtlens_streams_assigned_partitions") == settings.topics.partitions
    assert s.value("trtlens_streams_group_duration_seconds_count") >= 1
    assert s.value("trtlens_streams_outputs_resent_total") == 0
