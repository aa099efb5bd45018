"""A source partition idle past the late retention, then sent old event times: refused at the merge, visibly.

One real worker, three partitions. Requests at T0 go to partitions 0 and 1; then
partition 1 falls silent (idle by the rule) while partition 0 moves a minute of
event time on, so window T0 is merged, final and forgotten. Partition 1 then
receives more requests at T0 (a paused service's backlog). Its watermark is
still at T0, so for the partition they are on time: their traces are indexed as
usual. But the merge stage can no longer join them to window T0. What has to
show: window T0 keeps the counts it was final with (never re-opened as a window
of those requests alone), the worker's counter and log name the refused
partials, and the health rule ``pipeline_partials_too_late`` sends its alert.
"""

from __future__ import annotations

import time

import orjson

from trtlens.schemas.events import RequestComplete

from support.streams_harness import Worker, latest_docs, streams_settings, wait_for

T0 = 1_800_000_000_000
WINDOW = {"window_ms": 1_000, "grace_ms": 500, "late_retention_ms": 1_000}


def send(settings, partition: int, rids: list[str], ts_ms: int) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(**settings.kafka.kafka_python_kwargs())
    for i, rid in enumerate(rids):
        ev = RequestComplete(event_id=f"{rid}-c", ts_ms=ts_ms + i, request_id=rid, total_ms=5.0, status="ok",
                             worker_id=f"w{partition}", model="m", model_version="v1")
        producer.send(settings.topics.events, orjson.dumps(ev.model_dump(mode="json", exclude_none=True)),
                      key=rid.encode(), partition=partition)
    producer.flush()
    producer.close()


def window_docs(settings) -> list[dict]:
    return [d for d in latest_docs(settings, settings.topics.metrics).values()
            if d["scope"] == "model_version" and d["scope_key"] == "m/v1" and d["window_start_ms"] == T0]


def test_partials_of_a_forgotten_window_are_counted_logged_and_alerted(stack_settings, tmp_path):
    settings = streams_settings(stack_settings, idle_timeout_ms=500, metrics=WINDOW,
                                traces={"sample_rate": 1.0, "join_timeout_ms": 100},
                                health={"interval_s": 1.0, "lag_growing_windows": 0, "dlq_rate_above": 0,
                                        "sink_stalled_s": 0, "resolve_after": 1})
    w = Worker(settings, tmp_path / "worker.log")
    try:
        send(settings, 0, [f"a{i}" for i in range(5)], T0 + 10)
        send(settings, 1, [f"b{i}" for i in range(3)], T0 + 20)
        wait_for(lambda: w.metrics().value("trtlens_streams_records_total", partition="1") >= 3, 90,
                 "partition 1's first requests applied", [w])
        time.sleep(1.5)  # partition 1 (and 2) idle by now: no records for idle_timeout_ms, nothing on the broker
        send(settings, 0, ["a-later"], T0 + 60_000)  # window T0 closes and is forgotten without partition 1

        def final() -> list[dict] | None:
            docs = window_docs(settings)
            return docs if docs and docs[0]["requests"] == 8 else None

        [doc] = wait_for(final, 90, "window T0 final with 8 requests", [w])
        # the flush that made window T0 final also forgot it (retention passed on the slowest non-idle source)
        send(settings, 1, [f"b-backlog{i}" for i in range(4)], T0 + 30)  # partition 1 wakes with old event times

        def refused() -> float | None:
            scrape = w.metrics()
            n = sum(scrape.by_label("trtlens_streams_merge_too_late_partials_total", "partition").values())
            return n or None

        wait_for(refused, 90, "the refused partials counted", [w])
        assert "too_late_partials=" in w.log() and f"window_start_ms={T0} source_partition=1" in w.log()

        def alerted() -> dict | None:
            alerts = [d for d in latest_docs(settings, settings.topics.alerts).values()
                      if d["rule_id"] == "pipeline_partials_too_late" and d["state"] == "firing"]
            return alerts[0] if alerts else None

        alert = wait_for(alerted, 60, "the pipeline_partials_too_late alert", [w])
        assert alert["scope_key"].startswith(settings.topics.metrics_partials + "/") and alert["value"] >= 1

        # the backlog's traces are indexed as on-time requests of partition 1 ...
        def traced() -> set[str] | None:
            rids = {d["request_id"] for d in latest_docs(settings, settings.topics.traces).values()}
            return rids if {f"b-backlog{i}" for i in range(4)} <= rids else None

        wait_for(traced, 60, "the backlog's traces", [w])
        # ... and window T0 was neither re-opened nor changed: still one document, its final counts
        assert [(d["requests"], d["final"]) for d in window_docs(settings)] == [(doc["requests"], True)]
        assert doc["requests"] == 8
    finally:
        w.stop()
