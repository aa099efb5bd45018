"""trtlens collect on the real broker: a log rotated *and gzip-compressed* while the collector was stopped is
finished from its .gz at restart (content match, checkpointed offset in the decompressed stream): every line
lands once, bad lines are dead-lettered with the .gz path and the decompressed offset."""

from __future__ import annotations

import gzip
import os

import orjson

from trtlens.producers.collect.checkpoint import CheckpointStore
from trtlens.producers.collect.config import CollectSettings

from collect_helpers import Running, dead_letters, wait_for
from prodtest_helpers import read_topic

T0 = 1_700_000_000_000


def ev(i):  # no event_id: the collector derives it from the file identity and the byte offset
    return {"event": "request_received", "ts_ms": T0 + i, "request_id": f"r{i}", "worker_id": "w", "model": "m",
            "model_version": "v1"}


def lines(ids) -> bytes:
    return b"".join(orjson.dumps(ev(i)) + b"\n" for i in ids)


def logrotate_compress(log):
    """logrotate with ``compress`` and no ``delaycompress``: rename, create, gzip the renamed file."""
    rotated = log.with_name(log.name + ".1")
    log.rename(rotated)
    with open(rotated, "rb") as src, gzip.open(log.with_name(log.name + ".1.gz"), "wb") as dst:
        dst.write(src.read())
    os.unlink(rotated)
    return log.with_name(log.name + ".1.gz")


def everything_on(settings, topic):
    """Every record of the topic: read to its end offsets (so 'exactly once' sees any repeat)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings.kafka.kafka_python_kwargs(), enable_auto_commit=False, group_id=None)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        total = sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()
    landed = read_topic(settings, topic, until=lambda l: l.records >= total)
    assert landed.records == total
    return landed


def test_a_log_rotated_and_compressed_while_the_collector_was_stopped_lands_every_line_once(isolated, spool_config,
                                                                                           tmp_path):
    log = tmp_path / "svc.log"
    log.write_bytes(lines(range(20)))
    cfg = CollectSettings(files={"paths": [str(tmp_path / "svc.log*")],  # the glob also matches the .gz
                                 "checkpoint_dir": tmp_path / "cp", "poll_interval_ms": 20,
                                 "rotated_grace_ms": 200}, commit_interval_ms=100)
    run = Running(isolated, spool_config, cfg)
    try:
        wait_for(lambda: [p.offset for p in CheckpointStore(tmp_path / "cp").load().values()] == [log.stat().st_size],
                 what="20 lines checkpointed")
    finally:
        assert run.stop()
    checkpointed = log.stat().st_size
    bad = b'{"event": "request_received", "ts_ms": "soon"}\n'
    with open(log, "ab") as fh:  # the service logs on while the collector is stopped ...
        fh.write(lines(range(20, 30)) + bad + lines(range(30, 35)))
    gz = logrotate_compress(log)  # ... logrotate renames, creates and compresses ...
    log.write_bytes(lines(range(35, 45)))  # ... and the service writes the new file
    run = Running(isolated, spool_config, cfg)
    try:
        wait_for(lambda: run.collector.files.follower.recovered_compressed_at_restart == 1, what="gz matched")
        wait_for(lambda: [p.path for p in CheckpointStore(tmp_path / "cp").load().values()] == [str(log)] and
                 run.collector.intake.counts[("file", "events")] == 25, what="the new file's checkpoint")
        assert run.collector.files.follower.files == [str(log)]  # the .gz was read to its end, then closed
        assert run.collector.files.follower.missing_at_restart == 0
    finally:
        assert run.stop()
    landed = everything_on(isolated, isolated.topics.events)
    got = sorted(e["request_id"] for _, _, e in landed.events)
    assert got == sorted(f"r{i}" for i in range(45))  # every line once: none lost, none repeated
    (dlq,) = dead_letters(isolated, 1)
    assert dlq["source"] == str(gz) and dlq["offset"] == checkpointed + len(lines(range(20, 30)))
    assert dlq["compression"] == "gzip" and dlq["offset_in"] == "decompressed" and dlq["code"] == "invalid_event"


def test_lines_published_but_not_checkpointed_before_a_crash_repeat_from_the_gz_with_the_same_ids(
        isolated, spool_config, tmp_path):
    from trtlens.producers.collect.commit import Committer
    from trtlens.producers.collect.config import FilesConfig, MappingConfig
    from trtlens.producers.collect.filesource import FileSource
    from trtlens.producers.collect.intake import Intake
    from trtlens.producers.collect.mapping import Mapper
    from trtlens.producers.publisher import Publisher

    log = tmp_path / "svc.log"
    log.write_bytes(lines(range(20)))
    files = FilesConfig(paths=[str(log)], rotated_grace_ms=0)

    def source(pub):
        return FileSource(files, Intake(pub, Committer(pub), Mapper(MappingConfig(), worker_id="c")), tmp_path / "cp")

    with Publisher(isolated, spool_config) as pub:
        first = source(pub)
        first.follower.scan()
        first.poll_once()
        assert first.intake.committer.commit_now()  # 20 lines acknowledged and checkpointed
        with open(log, "ab") as fh:
            fh.write(lines(range(20, 30)))
        assert first.poll_once() == 10              # published, then "killed" before its checkpoint
        assert pub.flush(30)
        first.follower.close()
        with open(log, "ab") as fh:                 # logged while it was down
            fh.write(lines(range(30, 40)))
        logrotate_compress(log)
        log.write_bytes(lines(range(40, 50)))
        second = source(pub)
        second.follower.scan()
        assert second.poll_once() == 20             # the .gz from the checkpoint: 10 repeats + 10 new
        assert second.poll_once() == 10             # then the new file
        assert second.intake.committer.commit_now()
        assert second.follower.files == [str(log)]
        second.follower.close()
    landed = everything_on(isolated, isolated.topics.events)
    ids = [e["event_id"] for _, _, e in landed.events]
    assert len(ids) == 60 and len(set(ids)) == 50   # the 10 repeats carry the ids of their first delivery
    by_id = {}
    for _, _, e in landed.events:
        assert by_id.setdefault(e["event_id"], e["request_id"]) == e["request_id"]  # a repeat is the same line
    assert sorted(set(by_id.values())) == sorted(f"r{i}" for i in range(50))
