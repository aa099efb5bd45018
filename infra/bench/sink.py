"""``trtlens bench sink``: the sink's throughput next to the store's own ceiling, one run.

1. Starts a private embedded stack (free ports, temporary state dir).
2. Builds ``--docs`` realistic documents with the models (80% Trace, 20%
   WindowMetric with a DDSketch-sized ``sketch``) and pre-fills the topics.
3. Ceiling: the official ``elasticsearch.helpers.bulk`` (sync) and
   ``helpers.async_bulk`` write the same documents directly into fresh indices
   (same templates, same chunk size); the faster of the two is the ceiling.
   Those indices are deleted afterwards, so the sink's run starts from the same
   store size.
4. The sink (``ElasticsearchSink``, in this process) consumes the topics into
   other fresh indices; measured from its first bulk to the last acknowledgement
   (group join excluded, reported separately).
5. Checks the sink's indices hold exactly ``--docs`` documents, prints docs/s
   and the ratio (target ≥ 0.8); ``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sink",
        help="sink docs/s from Kafka into the store vs the official bulk helper's ceiling (same run)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--docs", type=int, default=30_000, help="documents (default 30000; osmem holds ~10 KB RSS each)")
    p.add_argument("--partitions", type=int, default=3, help="partitions per topic (default 3)")
    p.add_argument("--chunk-docs", type=int, default=None, help="bulk chunk size for both (default sink.chunk_docs)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_bench_sink)


def make_documents(n: int, *, seed: int = 7, start_ms: int = 1_795_300_000_000) -> list:
    """Realistic output documents (80% traces, 20% window metrics) built with the models."""
    import random

    from ddsketch import DDSketch

    from trtlens.schemas.documents import Quantiles, StageBreakdown, Trace, WindowMetric

    rng = random.Random(seed)
    docs: list = []
    models = [("resnet50", "v1"), ("resnet50", "v2"), ("bert-base", "v3")]
    n_metrics = n // 5
    for i in range(n - n_metrics):
        model, version = models[i % len(models)]
        start = start_ms + i * 3
        compute = rng.lognormvariate(1.5, 0.4)
        queue = rng.expovariate(2.0)
        total = queue + compute + 0.4
        status = "error" if rng.random() < 0.02 else "ok"
        docs.append(
            Trace(
                request_id=f"req-{seed}-{i:08d}", model=model, model_version=version,
                worker_id=f"worker-{i % 4}", host=f"gpu-{i % 2}", backend="onnxruntime",
                start_ts_ms=start, end_ts_ms=start + int(total) + 1, status=status, complete=True,
                cold_start=i % 500 == 0, batch_size=1 + i % 8, precision="fp16",
                stages=StageBreakdown(queue_ms=round(queue, 3), h2d_ms=0.2, compute_ms=round(compute, 3),
                                      d2h_ms=0.2, inference_ms=round(compute + 0.4, 3), total_ms=round(total, 3)),
                event_ids=[f"ev-{i}-{k}" for k in range(3)], event_count=3,
                sample_weight=1.0 if status == "error" else 10.0, sample_reason="error" if status == "error" else "rate",
            )
        )
    for j in range(n_metrics):
        model, version = models[j % len(models)]
        sketch = DDSketch(relative_accuracy=0.01)
        for _ in range(200):
            sketch.add(rng.lognormvariate(1.5, 0.4))
        store = sketch._store  # noqa: SLF001 - bins only, for a realistic document size
        bins = {str(store.offset + k): c for k, c in enumerate(store.bins) if c}
        docs.append(
            WindowMetric(
                scope="model_version", scope_key=f"{model}/{version}/{j}", model=model, model_version=version,
                window_start_ms=start_ms + j * 10_000, window_ms=10_000, requests=200, qps=20.0, errors=3,
                error_rate=0.015, cold_starts=1, cold_start_rate=0.005,
                latency_ms=Quantiles(count=200, min=sketch.get_quantile_value(0), max=sketch.get_quantile_value(1),
                                     p50=sketch.get_quantile_value(0.5), p95=sketch.get_quantile_value(0.95),
                                     p99=sketch.get_quantile_value(0.99)),
                partitions=[0, 1, 2], sketch={"relative_accuracy": 0.01, "bins": bins},
            )
        )
    rng.shuffle(docs)
    return docs


def cmd_bench_sink(args: argparse.Namespace) -> int:
    import asyncio
    import json
    import tempfile
    from pathlib import Path

    from trtlens.settings import load_settings
    from trtlens.stack import apply_to_settings, start_stack, stop_stack

    base = load_settings(args.config)
    with tempfile.TemporaryDirectory(prefix="trtlens-bench-sink-") as tmp:
        settings = base.model_copy(
            update={
                "stack": base.stack.model_copy(update={"kafka_port": 0, "es_port": 0, "state_dir": Path(tmp)}),
                "topics": base.topics.model_copy(update={"partitions": args.partitions}),
            }
        )
        if args.chunk_docs:
            settings = settings.model_copy(update={"sink": settings.sink.model_copy(update={"chunk_docs": args.chunk_docs})})
        print(f"bench sink: starting a private embedded stack in {tmp} ...", file=sys.stderr, flush=True)
        state = start_stack(settings, detached=False)
        try:
            settings = apply_to_settings(settings, state)
            result = asyncio.run(_bench(settings, args))
        finally:
            stop_stack(settings)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)
    return 0 if result["complete"] else 1


async def _bench(settings, args) -> dict:
    import asyncio
    import time

    import orjson
    from aiokafka import AIOKafkaProducer
    from elasticsearch import helpers

    from trtlens.es import async_es_client, es_client
    from trtlens.kafka import partition_for_key
    from trtlens.settings import IndexSettings
    from trtlens.sinks.sink import ElasticsearchSink
    from trtlens.sinks.core import FAMILY_MODELS, daily_index
    from trtlens.sinks.templates import install

    n = args.docs
    chunk_docs = settings.sink.chunk_docs
    log = lambda msg: print(f"bench sink: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    docs = make_documents(n, seed=args.seed)
    family_of = {model: fam for fam, model in FAMILY_MODELS.items()}
    log(f"built {n} documents in {time.perf_counter() - t0:.1f}s; pre-filling topics")

    # -- pre-fill the topics exactly as the Faust app would (one document per record, key = doc_id)
    producer = AIOKafkaProducer(acks="all", enable_idempotence=False, linger_ms=20, max_batch_size=1 << 20,
                                **settings.kafka.aiokafka_kwargs())
    await producer.start()
    try:
        futures = []
        parts = settings.topics.partitions
        for doc in docs:
            key = doc.doc_id.encode()
            topic = getattr(settings.topics, family_of[type(doc)])
            futures.append(await producer.send(topic, orjson.dumps(doc.model_dump(mode="json")), key=key,
                                               partition=partition_for_key(key, parts)))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    payload_bytes = sum(len(orjson.dumps(d.model_dump(mode="json"))) for d in docs[:1000]) / min(1000, n)

    def family_indices(tag: str) -> IndexSettings:
        return settings.indices.model_copy(update={f: f"bench-{tag}-{f}" for f in ("traces", "metrics", "alerts", "builds")})

    sync_client = es_client(settings.elasticsearch, request_timeout=120)
    aclient = async_es_client(settings.elasticsearch, request_timeout=120)
    ceilings: dict[str, float] = {}
    try:
        # -- ceiling: the official helper writing the same documents directly
        for tag in ("ceiling-sync", "ceiling-async"):
            indices = family_indices(tag)
            await install(aclient, indices, settings.sink)
            actions = [
                {"_op_type": "index", "_index": daily_index(getattr(indices, family_of[type(d)]), d.ts_ms),
                 "_id": d.doc_id, "_source": d.model_dump(mode="json")}
                for d in docs
            ]
            log(f"{tag}: official helper, chunk_size={chunk_docs}")
            start = time.perf_counter()
            if tag == "ceiling-sync":
                ok, errors = await asyncio.to_thread(
                    helpers.bulk, sync_client, actions, chunk_size=chunk_docs,
                    max_chunk_bytes=settings.sink.chunk_bytes, stats_only=True,
                )
            else:
                ok, errors = await helpers.async_bulk(
                    aclient, actions, chunk_size=chunk_docs, max_chunk_bytes=settings.sink.chunk_bytes, stats_only=True
                )
            elapsed = time.perf_counter() - start
            if ok != n or errors:
                raise RuntimeError(f"{tag}: helper indexed {ok} of {n} ({errors} errors)")
            ceilings[tag] = n / elapsed
            log(f"{tag}: {ceilings[tag]:,.0f} docs/s")
            await aclient.indices.delete(index=",".join(f"{getattr(indices, f)}-*" for f in ("traces", "metrics")))
            del actions

        # -- the sink, from Kafka, into other fresh indices
        sink_indices = family_indices("sink")
        sink_settings = settings.model_copy(update={
            "indices": sink_indices,
            "sink": settings.sink.model_copy(update={"group_id": f"bench-sink-{int(time.time())}"}),
        })
        sink = ElasticsearchSink(sink_settings)
        log("sink: consuming the pre-filled topics")
        started = time.perf_counter()
        started_mono = time.monotonic()
        task = asyncio.create_task(sink.run())
        deadline = time.monotonic() + max(120.0, n / 200)
        while sink.counters["indexed"] + sink.counters["dead_lettered"] < n and not task.done():
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        writer = sink._writer
        first, last = writer.first_send_at, writer.last_ack_at
        sink.request_stop()
        await task
        counters = dict(sink.counters)
        writer_counters = dict(writer.counters)
        wall = time.perf_counter() - started
        sink_rate = n / (last - first) if first and last and last > first else 0.0
        await aclient.indices.refresh(index=f"{sink_indices.traces},{sink_indices.metrics}")
        stored = (await aclient.count(index=f"{sink_indices.traces},{sink_indices.metrics}"))["count"]
    finally:
        sync_client.close()
        await aclient.close()
    ceiling = max(ceilings.values())
    return {
        "events_per_s": round(sink_rate, 1),
        "ceiling_events_per_s": round(ceiling, 1),
        "ratio": round(sink_rate / ceiling, 3) if ceiling else 0.0,
        "target_ratio": 0.8,
        "docs": n,
        "stored_docs": stored,
        "complete": stored == n and counters["dead_lettered"] == 0,
        "avg_doc_bytes": round(payload_bytes),
        "chunk_docs": chunk_docs,
        "partitions": settings.topics.partitions,
        "ceiling_helpers_bulk_per_s": round(ceilings["ceiling-sync"], 1),
        "ceiling_helpers_async_bulk_per_s": round(ceilings["ceiling-async"], 1),
        "sink_wall_s_incl_group_join": round(wall, 2),
        "sink_first_bulk_after_s": round(first - started_mono, 2) if first else None,
        "sink_counters": {**counters, **{f"writer_{k}": v for k, v in writer_counters.items()}},
        "store": "osmem (embedded)",
    }


def _print(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"trtlens bench sink — {r['docs']:,} documents, {r['store']}")
    t.add_column("path")
    t.add_column("docs/s", justify="right")
    t.add_row("ceiling: helpers.bulk (sync)", f"{r['ceiling_helpers_bulk_per_s']:,.0f}")
    t.add_row("ceiling: helpers.async_bulk", f"{r['ceiling_helpers_async_bulk_per_s']:,.0f}")
    t.add_row("sink (Kafka → store)", f"{r['events_per_s']:,.0f}")
    t.add_row("ratio sink / ceiling", f"{r['ratio']:.2f} (target ≥ {r['target_ratio']})")
    console = Console()
    console.print(t)
    console.print(
        f"stored {r['stored_docs']:,}/{r['docs']:,} (complete={r['complete']}), avg doc {r['avg_doc_bytes']} B, "
        f"chunk {r['chunk_docs']} docs, sink wall incl. group join {r['sink_wall_s_incl_group_join']} s"
    )
