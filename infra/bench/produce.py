"""``trtlens bench produce``: producer throughput next to the raw kafka-python ceiling of the same run.

Three measurements against one broker, one after the other:

1. **load generator → broker**: ``generate()`` + ``Publisher.publish_dicts`` until
   every event is acknowledged (generation included);
2. **worker publisher path**: pydantic events built per request and sent with
   ``Publisher.publish`` (what ``trtlens worker`` does per event);
3. **ceiling**: a bare kafka-python producer (same acks/idempotence) sending
   pre-serialised records of the *same size* as the publisher's batch records,
   as fast as it can; × events per record = the ceiling in events/s.

Without ``--bootstrap`` it starts a private embedded stack on free ports.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("produce", help="load generator and worker publisher events/s vs the raw produce ceiling")
    p.add_argument("--bootstrap", help="use this Kafka (host:port) instead of starting an embedded stack")
    p.add_argument("--events", type=int, default=600_000, help="events the load generator sends (default 600000)")
    p.add_argument("--worker-events", type=int, default=60_000, help="events through the worker path (default 60000)")
    p.add_argument("--ceiling-s", type=float, default=4.0, help="seconds of raw produce for the ceiling (default 4)")
    p.add_argument("--batch-events", type=int, default=500, help="events per record (default 500)")
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--json", action="store_true", help="one JSON object: events_per_s, ceiling_events_per_s, ratio, ...")
    p.set_defaults(func=cmd_bench_produce)


def _settings(bootstrap: str, partitions: int, spool_dir: str):
    from trtlens.kafka import ensure_topics
    from trtlens.settings import TopicSettings, load_settings

    tag = f"bench{uuid.uuid4().hex[:6]}"
    topics = TopicSettings(events=f"{tag}.events", events_dlq=f"{tag}.events.dlq", traces=f"{tag}.traces",
                           metrics=f"{tag}.metrics", alerts=f"{tag}.alerts", builds=f"{tag}.builds",
                           sink_dlq=f"{tag}.sink.dlq", partitions=partitions)
    settings = load_settings(kafka={"bootstrap_servers": bootstrap}, topics=topics.model_dump(),
                             producer={"spool_dir": spool_dir})
    ensure_topics(settings.kafka, settings.topics)
    return settings


def measure_load(settings, events: int, batch_events: int) -> dict:
    from trtlens.producers.load.config import FaultSpec, LoadConfig
    from trtlens.producers.load.core import generate
    from trtlens.producers.load.runner import publish_run

    rate = 10_000.0
    config = LoadConfig(seed=1, rate_rps=rate, duration_s=max(1.0, events / 3.0 / rate), start_ms=1_700_000_000_000,
                        faults=FaultSpec(), gpu_sample_interval_ms=1000)
    t0 = time.perf_counter()
    run = generate(config)
    cfg = settings.producer.model_copy(update={"batch_max_events": batch_events, "spool_name": "bench-load"})
    stats = publish_run(run, settings, publisher_config=cfg)
    seconds = time.perf_counter() - t0
    return {"events": stats.events, "seconds": round(seconds, 3), "events_per_s": stats.events / seconds,
            "records": stats.counters["records_sent"], "delivered": stats.delivered}


def measure_worker_path(settings, events: int, batch_events: int) -> dict:
    from trtlens.producers.publisher import Publisher
    from trtlens.schemas.events import InferenceComplete, RequestComplete, RequestReceived

    cfg = settings.producer.model_copy(update={"batch_max_events": batch_events, "spool_name": "bench-worker"})
    common = {"worker_id": "bench-w", "host": "bench", "model": "demo-cnn", "model_version": "v1",
              "backend": "onnxruntime"}
    t0 = time.perf_counter()
    with Publisher(settings, cfg) as pub:
        for i in range(events // 3):
            rid = f"req-{i}"
            ts = 1_700_000_000_000 + i
            pub.publish(RequestReceived(event_id=uuid.uuid4().hex, ts_ms=ts, request_id=rid, batch_size=1,
                                        input_shape=[1, 3, 64, 64], **common))
            pub.publish(InferenceComplete(event_id=uuid.uuid4().hex, ts_ms=ts, request_id=rid, latency_ms=1.2,
                                          queue_ms=0.0, compute_ms=1.2, batch_size=1, precision="fp32", **common))
            pub.publish(RequestComplete(event_id=uuid.uuid4().hex, ts_ms=ts + 1, request_id=rid, total_ms=1.4,
                                        status="ok", **common))
        delivered = pub.flush(120)
        n = pub.counters["published"]
    seconds = time.perf_counter() - t0
    return {"events": n, "seconds": round(seconds, 3), "events_per_s": n / seconds, "delivered": delivered}


def record_size(batch_events: int) -> int:
    """Bytes of one batch record of load-generator events (what the publisher sends)."""
    import orjson

    from trtlens.producers.load.config import FaultSpec, LoadConfig
    from trtlens.producers.load.core import generate

    run = generate(LoadConfig(seed=2, rate_rps=1000, duration_s=2, start_ms=1_700_000_000_000, faults=FaultSpec()))
    sample = [e for _, e in zip(range(batch_events), run.events)]
    return len(orjson.dumps(sample))


def measure_ceiling(settings, size: int, seconds: float) -> dict:
    """Raw kafka-python: pre-built records of ``size`` bytes, same acks/idempotence, as fast as possible."""
    from kafka import KafkaProducer

    producer = KafkaProducer(**settings.kafka.kafka_python_kwargs(), acks="all", enable_idempotence=True,
                             linger_ms=5, batch_size=max(16384, min(size, 1024 * 1024)),
                             max_request_size=max(size * 2, 1024 * 1024))
    value = b"x" * size
    topic = settings.topics.events
    partitions = settings.topics.partitions
    try:
        n = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for _ in range(50):
                producer.send(topic, value=value, key=b"k", partition=n % partitions)
                n += 1
        producer.flush()
        elapsed = time.perf_counter() - t0
    finally:
        producer.close()
    return {"records": n, "seconds": round(elapsed, 3), "records_per_s": n / elapsed, "record_bytes": size}


def cmd_bench_produce(args: argparse.Namespace) -> int:
    from trtlens.settings import load_settings
    from trtlens.stack import free_port, start_stack, stop_stack

    tmp = tempfile.TemporaryDirectory(prefix="trtlens-bench-")
    own = None
    try:
        bootstrap = args.bootstrap
        if not bootstrap:
            own = load_settings(stack={"kafka_port": free_port(), "es_port": 0, "state_dir": tmp.name + "/stack"})
            print("bench produce: starting a private embedded stack ...", file=sys.stderr, flush=True)
            bootstrap = start_stack(own).bootstrap_servers
        settings = _settings(bootstrap, args.partitions, tmp.name + "/spool")
        size = record_size(args.batch_events)
        ceiling = measure_ceiling(settings, size, args.ceiling_s)
        load = measure_load(settings, args.events, args.batch_events)
        worker = measure_worker_path(settings, args.worker_events, args.batch_events)
    finally:
        if own is not None:
            stop_stack(own)
        tmp.cleanup()
    ceiling_eps = ceiling["records_per_s"] * args.batch_events
    result = {
        "events_per_s": round(load["events_per_s"], 1),
        "ceiling_events_per_s": round(ceiling_eps, 1),
        "ratio": round(load["events_per_s"] / ceiling_eps, 4),
        "load_generator": {k: (round(v, 1) if isinstance(v, float) else v) for k, v in load.items()},
        "worker_publisher": {**{k: (round(v, 1) if isinstance(v, float) else v) for k, v in worker.items()},
                             "ratio": round(worker["events_per_s"] / ceiling_eps, 4)},
        "ceiling": {**{k: (round(v, 1) if isinstance(v, float) else v) for k, v in ceiling.items()},
                    "events_per_record": args.batch_events},
        "cpus": os.cpu_count(),
        "broker": "own embedded stack" if own is not None else bootstrap,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"record size: {size} bytes ({args.batch_events} events)")
        print(f"raw kafka-python ceiling : {ceiling['records_per_s']:>10,.0f} records/s = {ceiling_eps:>12,.0f} events/s")
        print(f"load generator -> broker : {load['events_per_s']:>12,.0f} events/s  ({result['ratio']:.1%} of ceiling; "
              f"{load['events']} events, generation included)")
        print(f"worker publisher path    : {worker['events_per_s']:>12,.0f} events/s  "
              f"({result['worker_publisher']['ratio']:.1%} of ceiling; pydantic events, publish() per event)")
    return 0 if load["delivered"] and worker["delivered"] else 1
