"""Ceilings for ``trtlens bench pipeline``: what the transport and the store do without trtlens in the way."""

from __future__ import annotations

import time
from collections.abc import Callable

from trtlens.settings import Settings


def measure_ceilings(settings: Settings, sample_events: list[dict], *, log: Callable[[str], None]) -> dict[str, float]:
    """Raw produce, raw consume and direct bulk on the stack of ``settings``, with the pipeline's payloads.

    Keys: ``produce_batched_events_per_s`` / ``produce_single_events_per_s`` (kafka-python, acks=all;
    records of ``producer.batch_max_events`` events / one event each), ``consume_batched_events_per_s`` /
    ``consume_single_events_per_s`` (aiokafka ``getmany`` by assignment, no decoding) and
    ``bulk_docs_per_s`` (``elasticsearch.helpers.bulk`` of sink-shaped traces, chunks of 2,000, the
    sink's templates). Scratch topics (best effort on Tansu) and indices are deleted afterwards.
    """
    import asyncio

    import orjson
    from elasticsearch import helpers
    from kafka import KafkaProducer

    from trtlens.es import async_es_client, es_client
    from trtlens.kafka import admin_client, ensure_topics
    from trtlens.bench.sink import make_documents
    from trtlens.sinks.templates import install

    out: dict[str, float] = {}
    batch = settings.producer.batch_max_events
    parts = settings.topics.partitions
    topics = settings.topics.model_copy(update={
        "events": "bench-ceiling.batched", "traces": "bench-ceiling.single", "events_dlq": "bench-ceiling.dlq",
        "metrics": "bench-ceiling.m", "alerts": "bench-ceiling.a", "builds": "bench-ceiling.b",
        "sink_dlq": "bench-ceiling.sdlq", "metrics_partials": "bench-ceiling.p",
    })
    ensure_topics(settings.kafka, topics)
    records = [orjson.dumps(sample_events[i : i + batch]) for i in range(0, len(sample_events), batch)]
    singles = [orjson.dumps(e) for e in sample_events[:30_000]]
    producer = KafkaProducer(acks="all", linger_ms=5, batch_size=1 << 20, max_request_size=8 << 20,
                             **settings.kafka.kafka_python_kwargs())
    try:
        for name, values, per_record in (("batched", records, batch), ("single", singles, 1)):
            topic = topics.events if name == "batched" else topics.traces
            t0 = time.perf_counter()
            for i, value in enumerate(values):
                producer.send(topic, value, partition=i % parts)
            producer.flush(120)
            dt = time.perf_counter() - t0
            n_events = len(sample_events) if name == "batched" else len(values)
            out[f"produce_{name}_events_per_s"] = round(n_events / dt)
            log(f"ceiling: kafka-python produce ({name}, {per_record} event(s)/record): {n_events / dt:,.0f} events/s")
    finally:
        producer.close()

    async def consume(topic: str, want: int) -> float:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(enable_auto_commit=False, **settings.kafka.aiokafka_kwargs())
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(parts)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            n = 0
            t0 = time.perf_counter()
            while n < want and time.perf_counter() - t0 < 120:
                for recs in (await consumer.getmany(timeout_ms=500, max_records=50_000)).values():
                    n += len(recs)
            return time.perf_counter() - t0
        finally:
            await consumer.stop()

    dt = asyncio.run(consume(topics.events, len(records)))
    out["consume_batched_events_per_s"] = round(len(sample_events) / dt)
    log(f"ceiling: aiokafka consume ({batch} events/record, no decode): {len(sample_events) / dt:,.0f} events/s")
    dt = asyncio.run(consume(topics.traces, len(singles)))
    out["consume_single_events_per_s"] = round(len(singles) / dt)
    log(f"ceiling: aiokafka consume (1 event/record): {len(singles) / dt:,.0f} events/s")
    admin = admin_client(settings.kafka)
    try:
        admin.delete_topics(topics.all_topics())
    except Exception as exc:  # Tansu memory storage: best effort, the stack is private anyway
        log(f"(could not delete ceiling topics: {exc!r})")
    finally:
        admin.close()

    docs = [d.model_dump(mode="json") for d in make_documents(10_000) if hasattr(d, "request_id")]  # the traces
    indices = settings.indices.model_copy(update={f: f"bench-ceiling-{f}" for f in ("traces", "metrics", "alerts", "builds")})

    async def templates() -> None:
        client = async_es_client(settings.elasticsearch)
        try:
            await install(client, indices, settings.sink)
        finally:
            await client.close()

    asyncio.run(templates())
    es = es_client(settings.elasticsearch, request_timeout=120)
    try:
        actions = ({"_index": indices.traces + "-2026.11.22", "_id": f"c{i}", "_source": d} for i, d in enumerate(docs))
        t0 = time.perf_counter()
        ok, errors = helpers.bulk(es, actions, chunk_size=2000, raise_on_error=False)
        dt = time.perf_counter() - t0
        out["bulk_docs_per_s"] = round(ok / dt)
        log(f"ceiling: elasticsearch.helpers.bulk: {ok / dt:,.0f} docs/s ({ok} docs, {len(errors)} errors)")
        es.indices.delete(index="bench-ceiling-*", ignore_unavailable=True, allow_no_indices=True)
    finally:
        es.close()
    return out
