"""Pipeline-health alerts from a real streams worker: a DLQ-rate alert and a stalled-sink alert on the alerts topic.

One worker on the embedded broker, health evaluated every second. Half of the
published events are invalid, so the dead-letter rate rule fires. The sink
group has committed offset 0 on the traces topic and no sink runs, so records
wait past its offsets that never move: the stalled-sink rule fires; when the
group's offsets are moved to the end (what a sink catching up does), it resolves.
"""

from __future__ import annotations

import orjson

from trtlens.kafka import partition_for_key
from trtlens.producers.load.config import LoadConfig
from trtlens.producers.load.core import generate
from trtlens.settings import settings_env
from trtlens.stack.processes import ManagedProcess

from support.streams_harness import latest_docs, publish, read_topic, streams_settings, wait_for

HEALTH = {"interval_s": 1.0, "dlq_rate_above": 0.2, "dlq_min_events": 20, "dlq_fire_after": 1,
          "sink_stalled_s": 2.0, "lag_growing_windows": 0, "resolve_after": 1}


def commit(settings, group: str, offsets: dict[int, int]) -> None:
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    c = KafkaConsumer(**settings.kafka.kafka_python_kwargs(), group_id=group, enable_auto_commit=False)
    try:
        c.commit({TopicPartition(settings.topics.traces, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()})
    finally:
        c.close()


def health_alerts(settings) -> dict[str, dict]:
    return {k: d for k, d in latest_docs(settings, settings.topics.alerts).items() if d["rule_id"].startswith("pipeline_")}


def test_dlq_rate_and_stalled_sink_alerts_fire_and_resolve(stack_settings, tmp_path):
    settings = streams_settings(stack_settings, traces={"sample_rate": 1.0}, health=HEALTH)
    group = f"{settings.streams.app_id}-sink"
    settings = settings.model_copy(update={"sink": settings.sink.model_copy(update={"group_id": group})})
    parts = settings.topics.partitions
    commit(settings, group, dict.fromkeys(range(parts), 0))  # a sink that committed, then stopped

    proc = ManagedProcess("streams", ["streams"], log_dir=tmp_path,
                          env=settings_env(settings, sections_=["kafka", "topics", "streams", "sink"])).start()
    try:
        run = generate(LoadConfig(seed=9, rate_rps=40, duration_s=3, workers=2, ground_truth_latencies=False))
        publish(settings, list(run.events))
        from kafka import KafkaProducer

        producer = KafkaProducer(**settings.kafka.kafka_python_kwargs())
        for i in range(200):  # invalid events (no ts_ms, no worker): dead letters
            key = f"bad-{i}".encode()
            producer.send(settings.topics.events, orjson.dumps({"event": "request_complete", "event_id": f"bad-{i}",
                                                                "request_id": key.decode()}),
                          key=key, partition=partition_for_key(key, parts))
        producer.flush()
        producer.close()

        def fired() -> dict | None:
            assert proc.running, proc.log_tail()
            alerts = health_alerts(settings)
            states = {(d["rule_id"], d["state"]) for d in alerts.values()}
            return alerts if {("pipeline_dlq_rate_above", "firing"), ("pipeline_sink_stalled", "firing")} <= states else None

        alerts = wait_for(fired, 90, "the DLQ-rate and stalled-sink alerts")
        dlq = [d for d in alerts.values() if d["rule_id"] == "pipeline_dlq_rate_above" and d["state"] == "firing"]
        assert all(d["scope"] == "all" and d["scope_key"].startswith(settings.topics.events + "/") for d in dlq)
        assert all(d["value"] > 0.2 and d["threshold"] == 0.2 and d["window_ms"] == 1000 for d in dlq)
        (stall,) = [d for d in alerts.values() if d["rule_id"] == "pipeline_sink_stalled"]
        assert stall["scope_key"] == f"sink-group={group}" and stall["value"] >= 2.0

        # the sink catches up: its offsets move to the end of the traces topic → resolved
        ends = dict.fromkeys(range(parts), 0)
        for _, _, p, off in read_topic(settings, settings.topics.traces):
            ends[p] = max(ends[p], off + 1)
        commit(settings, group, ends)
        wait_for(lambda: any(d["rule_id"] == "pipeline_sink_stalled" and d["state"] == "resolved"
                             for d in health_alerts(settings).values()), 60, "the stalled-sink alert to resolve")
        assert "health=alert rule=pipeline_sink_stalled" in proc.log_path.read_text()
    finally:
        proc.stop(20)
