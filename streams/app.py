"""The Faust app: wiring only (agents are thin, logic lives in the stage cores).

``create_app(settings)`` builds one app with

* agent ``process`` over ``topics.events`` (decode, dedup, drop, partial
  windows, trace join + tail sampling, build reports) — :mod:`.pipeline.agent`;
* agent ``merge`` over ``topics.metrics_partials`` (final windows, alerts) —
  :mod:`.metrics.agent`;
* two changelog-backed tables (``state``: partition state logs, ``merge``:
  merge-stage scopes) and a timer for idle partitions.

``run_worker(settings)`` runs one worker process; more processes with the same
settings form one consumer group and share the partitions.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

from trtlens.settings import Settings
from trtlens.streams.runtime import OutputSender, StateTable, now_ms

log = logging.getLogger("trtlens.streams")


class Runtime:
    """Per-process objects the agents share (no module-level state)."""

    def __init__(self, settings: Settings, state_table: Any, merge_table: Any) -> None:
        from trtlens.streams.builds.agent import make_build_evaluator

        self.settings = settings
        self.sender = OutputSender(settings)
        self.state = StateTable(state_table)
        self.merge_state = StateTable(merge_table)
        self.lock = asyncio.Lock()
        self.build_evaluator = make_build_evaluator(settings)
        self.now_ms = now_ms
        from trtlens.streams.metrics.agent import MergeAgent
        from trtlens.streams.pipeline.agent import PipelineAgent

        self.pipeline = PipelineAgent(self)
        self.merge = MergeAgent(self)

    async def deliver_pipeline(self, pipe: Any, out: Any, *, idle: bool = False) -> None:
        t = self.settings.topics
        s = self.sender
        await s.send_dead_letters(out.dlq)
        await s.send_trace_dicts(out.traces)
        await s.send_docs(t.builds, out.builds)
        await s.send_partials(out.partials)
        await s.send_watermark(pipe.partition, pipe.watermark_ms, t.partitions, t.partitions, idle=idle)


async def rewind_uncommitted(app: Any, tps: list[Any]) -> list[Any]:
    """Re-read from the start every assigned partition that has no committed offset yet.

    A rebalance makes Faust drop the records already fetched into the agents'
    buffers, then seek each partition to its committed offset — but aiokafka's
    ``seek_to_committed`` leaves a partition without one (or with 0) where the
    fetcher was, past the dropped records. Until the first commit of a
    partition that is every record fetched so far, and a worker that gets the
    same partition back would not see them again before a restart (read from
    the Faust and aiokafka code; not observed here). Re-reading is safe: the
    state log skips records it already applied, and partitions with a committed
    offset are left to Faust.
    """
    from aiokafka import TopicPartition

    thread = app.consumer._thread  # Faust's aiokafka consumer thread; no public accessor for committed()
    consumer = thread._ensure_consumer()
    rewound = []
    for tp in tps:
        committed = await thread.call_thread(consumer.committed, TopicPartition(tp.topic, tp.partition))
        if not committed:
            await app.consumer.seek(tp, 0)
            rewound.append(tp)
    if rewound:
        log.info("rebalance=rewound partitions=%s reason='no committed offset yet'",
                 ",".join(f"{tp.topic}:{tp.partition}" for tp in rewound))
    return rewound


async def recover_if_stalled(app: Any, rt: Any, topic: str, partition: int) -> bool:
    """When a partition goes idle, check that its records really were all processed.

    Seen on the embedded broker: after a rebalance, Faust's fetcher had read a
    partition to its highwater while its agent had applied records only up to an
    earlier offset; the rest never reached the agent and the worker sat idle.
    Then re-read from the first unapplied offset (the state log makes the re-read
    exact). Returns whether it had to.
    """
    from faust.types import TP

    tp = TP(topic, partition)
    pipe = rt.pipeline.pipelines.get(partition)
    try:
        position = await app.consumer.position(tp)
        highwater = app.consumer.highwater(tp)
    except Exception as exc:  # diagnostics must never disturb the worker
        log.info("partition=%d idle fetch_state=unknown error=%r", partition, exc)
        return False
    applied = pipe.applied_offset if pipe is not None else None
    if position is None or applied is None or applied + 1 >= position:
        log.info("partition=%d idle fetch_position=%s highwater=%s applied_offset=%s", partition, position, highwater, applied)
        return False
    log.warning(
        "partition=%d stalled fetch_position=%s highwater=%s applied_offset=%s msg='fetched records never reached "
        "the agent; re-reading from offset %d'", partition, position, highwater, applied, applied + 1,
    )
    await app.consumer.seek(tp, applied + 1)
    return True


def faust_broker_kwargs(settings: Settings) -> dict[str, Any]:
    """Broker URL and credentials for Faust from the one KafkaSettings."""
    import faust

    k = settings.kafka
    out: dict[str, Any] = {"broker": ";".join(f"kafka://{h}" for h in k.bootstrap_servers.split(","))}
    ssl_context = None
    if k.security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        ssl_context = create_ssl_context(
            cafile=str(k.ssl_cafile) if k.ssl_cafile else None,
            certfile=str(k.ssl_certfile) if k.ssl_certfile else None,
            keyfile=str(k.ssl_keyfile) if k.ssl_keyfile else None,
        )
    if k.sasl_mechanism:
        out["broker_credentials"] = faust.SASLCredentials(
            username=k.sasl_username,
            password=k.sasl_password.get_secret_value() if k.sasl_password else None,
            mechanism=k.sasl_mechanism,
            ssl_context=ssl_context,
        )
    elif ssl_context is not None:
        out["broker_credentials"] = faust.SSLCredentials(ssl_context)
    return out


def create_app(settings: Settings) -> tuple[Any, Runtime]:
    import faust

    s = settings.streams
    t = settings.topics
    app = faust.App(
        s.app_id,
        **faust_broker_kwargs(settings),
        store="memory://",
        processing_guarantee=s.processing_guarantee,
        broker_client_id=f"{settings.kafka.client_id}-streams",
        broker_session_timeout=settings.kafka.session_timeout_ms / 1000,
        broker_heartbeat_interval=settings.kafka.heartbeat_interval_ms / 1000,
        broker_commit_interval=s.commit_interval_s,
        producer_max_batch_size=s.producer_max_batch_size,
        producer_max_request_size=max(s.segment_max_bytes * 2, 1_048_576),
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        topic_partitions=t.partitions,
        topic_replication_factor=t.replication_factor,
        table_standby_replicas=s.standby_replicas,
        web_enabled=s.web_enabled,
        web_port=s.web_port,
        stream_buffer_maxsize=max(4096, s.batch_max_records * 4),
        consumer_max_fetch_size=8 * 1024 * 1024,  # batched records are ~50 KB each: fetch many per round trip
        topic_allow_declare=True,
    )
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    events_topic = app.topic(t.events, partitions=t.partitions, **raw)
    partials_topic = app.topic(t.metrics_partials, partitions=t.partitions, **raw)
    # bytes key/value types make Faust use the raw codec for the changelogs too
    state_table = app.Table("state", partitions=t.partitions, key_type=bytes, value_type=bytes)
    merge_table = app.Table("merge", partitions=t.partitions, key_type=bytes, value_type=bytes)
    rt = Runtime(settings, state_table, merge_table)
    within_s = s.batch_within_ms / 1000

    @app.agent(events_topic, name="process")
    async def process(stream):  # noqa: ANN001 - Faust stream
        try:
            async for events in stream.take_events(s.batch_max_records, within_s):
                await rt.pipeline.process_group(events)
        finally:
            await rt.sender.flush()

    @app.agent(partials_topic, name="merge")
    async def merge(stream):  # noqa: ANN001
        async for events in stream.take_events(s.batch_max_records * 8, within_s):
            await rt.merge.process_group(events)

    @app.timer(max(0.1, min(1.0, s.idle_timeout_ms / 4000)))
    async def idle_tick() -> None:
        idle_before = set(rt.pipeline.idle_flushed)
        await rt.pipeline.on_idle_tick()
        for partition in sorted(rt.pipeline.idle_flushed - idle_before):
            await recover_if_stalled(app, rt, t.events, partition)
        await rt.merge.on_tick()

    @app.on_partitions_revoked.connect
    async def on_revoked(app_, revoked, **kwargs) -> None:  # noqa: ANN001
        rt.pipeline.on_revoked({tp.partition for tp in revoked if tp.topic == t.events})
        rt.merge.forget({tp.partition for tp in revoked if tp.topic == t.metrics_partials})

    @app.on_partitions_assigned.connect
    async def on_assigned(app_, assigned, **kwargs) -> None:  # noqa: ANN001
        # state is rebuilt lazily from the recovered tables on the first group of each partition
        rt.pipeline.on_assigned({tp.partition for tp in assigned if tp.topic == t.events})
        rt.merge.forget({tp.partition for tp in assigned if tp.topic == t.metrics_partials})
        await rewind_uncommitted(app, [tp for tp in assigned if tp.topic in (t.events, t.metrics_partials)])

    @app.on_before_shutdown.connect
    async def _stop_sender(app_, **kwargs) -> None:  # noqa: ANN001
        await rt.sender.flush()
        await rt.sender.stop()

    app.trtlens_runtime = rt  # type: ignore[attr-defined]
    return app, rt


def run_worker(settings: Settings, *, loglevel: str = "WARNING") -> int:
    """Run one Faust worker in this process until SIGINT/SIGTERM."""
    import faust

    from trtlens.kafka import ensure_topics

    ensure_topics(settings.kafka, settings.topics)
    if settings.streams.gc_gen0_threshold:
        # ~5 short-lived objects per event: collecting every 700 allocations burns a third of the CPU
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(settings.streams.gc_gen0_threshold, max(gen1, 20), max(gen2, 50))
    app, _ = create_app(settings)
    level = logging.getLogger().getEffectiveLevel()

    async def _quiet_framework() -> None:  # Faust set up logging for us: keep ours, tame the framework
        logging.getLogger("trtlens").setLevel(level)
        for name in ("faust", "mode", "aiokafka", "kafka"):
            logging.getLogger(name).setLevel(max(logging.getLevelName(loglevel), level))

    app.on_startup_finished = _quiet_framework

    worker = faust.Worker(app, loglevel=logging.getLevelName(level), quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0
