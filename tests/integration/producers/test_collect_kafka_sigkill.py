"""The re-batching ingress (issue 13, one event per record): ``trtlens collect --kafka-topic`` SIGKILLed and
restarted on the real broker loses nothing, and what it repeats is an exact repeat that dedup removes.

Other shippers' topics hold one event per record. The collector reads them and publishes them re-batched
(the publisher's records of many events), committing its group's offsets only after the publisher's
acknowledgement. A SIGKILL between a publish and its commit makes the restarted collector publish those
records again: the same events with the same ``event_id``, which streams' dedup drops. Here half of the
records carry no ``event_id``, so the repeat of those also depends on the id derived from the record's
topic, partition and offset.
"""

from __future__ import annotations

import collections

import orjson

from trtlens.stack.processes import ManagedProcess, connection_env

from prodtest_helpers import read_topic

T0 = 1_700_000_000_000
N = 6000


def _foreign_topic(settings, name: str, partitions: int = 3) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(**settings.kafka.kafka_python_kwargs())
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def _committed(settings, topic: str, group: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings.kafka.kafka_python_kwargs(), group_id=group, enable_auto_commit=False)
    try:
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in range(3))
    finally:
        consumer.close()


def _wait(cond, procs, timeout_s: float, what: str):
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for p in procs:
            assert p.running, f"{p.name} exited with {p.returncode}: {p.log_tail()}"
        if value := cond():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_sigkilled_rebatching_collector_loses_nothing_and_repeats_only_exact_copies(isolated, tmp_path):
    from kafka import KafkaProducer

    foreign = f"{isolated.topics.events}.fluentbit"
    group = f"{foreign}-g"
    _foreign_topic(isolated, foreign)
    import threading
    import time

    def produce() -> None:  # paced over ~12 s, so that records keep coming while the first collector runs
        prod = KafkaProducer(**isolated.kafka.kafka_python_kwargs(), linger_ms=5)
        for i in range(N):
            e = {"event": "request_received", "ts_ms": T0 + i, "request_id": f"r{i // 3}", "worker_id": "w",
                 "model": "m", "model_version": "v1"}
            if i % 2 == 0:
                e["event_id"] = f"fb-{i}"
            prod.send(foreign, orjson.dumps(e), partition=i % 3)
            if i % 100 == 99:
                time.sleep(0.2)
        prod.flush()
        prod.close()

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    env = {**connection_env(isolated), "TRTLENS_PRODUCER__SPOOL_DIR": str(tmp_path / "spool"),
           "TRTLENS_COLLECT__KAFKA__GROUP_ID": group, "TRTLENS_COLLECT__KAFKA__MAX_POLL_RECORDS": "200"}
    args = ["collect", "--kafka-topic", foreign]
    # the first one commits rarely (every 2 s) and takes 200 records a poll: its SIGKILL leaves records
    # published but not committed behind it
    first = ManagedProcess("collect-k1", args, log_dir=tmp_path,
                           env={**env, "TRTLENS_COLLECT__COMMIT_INTERVAL_MS": "2000"}).start()
    second = None
    try:
        _wait(lambda: _committed(isolated, foreign, group) > 0, [first], 60, "the first collector's first commit")

        def uncommitted() -> int:  # published (acknowledged by the broker) but its offsets not committed yet
            published = first.metrics().value("trtlens_publisher_events_published_total")
            return published - _committed(isolated, foreign, group) >= 300

        _wait(uncommitted, [first], 60, "300 events published past the last commit")
        first.kill()  # SIGKILL: no final flush, no final commit
        first.wait(10)
        committed_at_kill = _committed(isolated, foreign, group)
        second = ManagedProcess("collect-k2", args, log_dir=tmp_path,
                                env={**env, "TRTLENS_COLLECT__COMMIT_INTERVAL_MS": "200"}).start()
        producer.join(60)
        _wait(lambda: _committed(isolated, foreign, group) == N, [second], 60, "every record committed")
    finally:
        for p in (first, second):
            if p is not None and p.running:
                p.stop(timeout_s=10)
    landed = read_topic(isolated, isolated.topics.events,
                        until=lambda l: len({e["event_id"] for _, _, e in l.events}) >= N, timeout_s=30)
    assert landed.errors == 0
    copies = collections.defaultdict(list)
    for _, _, e in landed.events:
        copies[e["event_id"]].append(orjson.dumps(e, option=orjson.OPT_SORT_KEYS))
    assert len(copies) == N  # nothing lost
    derived = [i for i in copies if i.startswith("cl-")]
    assert len(derived) == N // 2 and len([i for i in copies if i.startswith("fb-")]) == N // 2
    repeated = {i: c for i, c in copies.items() if len(c) > 1}
    assert all(len(set(c)) == 1 for c in repeated.values())  # a repeat is an exact copy: dedup drops it
    # the re-batched records hold many events each (what the streams app reads fastest)
    assert landed.records < len(landed.events) / 10
    print(f"kafka ingress SIGKILL: {N} records, committed {committed_at_kill} when killed, "
          f"{len(landed.events)} events landed in {landed.records} records, {len(repeated)} repeated exactly")
    assert committed_at_kill < N  # the SIGKILL came while records were still to be read
    assert repeated  # and it left records published but not committed: the restart repeated them
