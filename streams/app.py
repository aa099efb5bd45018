"""The Faust app: wiring only (agents are thin, logic lives in the stage cores).

``create_app(settings)`` builds one app with

* agent ``process`` over ``topics.events`` (decode, dedup, drop, partial
  windows, trace join + tail sampling, build reports) — :mod:`.pipeline.agent`;
* agent ``merge`` over ``topics.metrics_partials`` (final windows, alerts) —
  :mod:`.merge.agent`;
* two changelog-backed tables (``state``: partition state logs, ``merge``:
  merge-stage scopes) and a timer for idle partitions.

``run_worker(settings)`` runs one worker process with its self-metrics listener
(``selfmetrics.py``, ``settings.obs``); more processes with the same settings
form one consumer group and share the partitions.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

from trtlens.settings import Settings
from trtlens.streams.runtime import Runtime

log = logging.getLogger("trtlens.streams")

MERGE_GROUP_RECORDS = 512  # partial records per merge group (a few per processing group arrive)


def data_dir(settings: Settings):  # noqa: ANN201 - pathlib.Path
    """Where Faust keeps its files: ``<streams.data_dir or stack.state_dir/streams>/<app_id>`` (beside the other state)."""
    return (settings.streams.data_dir or settings.stack.state_dir / "streams") / settings.streams.app_id


def _made(path):  # noqa: ANN001, ANN202 - pathlib.Path
    path.parent.mkdir(parents=True, exist_ok=True)  # Faust creates the last level itself, without parents
    return path


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

    from trtlens.streams.faust_glue import App, BatchIngress, SeekFirstTableManager

    s = settings.streams
    t = settings.topics
    app = App(
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
        web_bind=s.web_bind,  # Faust's default is 0.0.0.0; it has no authentication (trtlens.listen)
        stream_buffer_maxsize=4096,  # the merge agent's queue (the events topic bypasses Faust's queues)
        consumer_max_fetch_size=s.fetch_partition_max_bytes,  # batched records are ~50 KB each: ~10 per fetch
        broker_max_poll_records=s.fetch_max_records,  # Faust's default (none) turned a whole fetch into objects
        topic_allow_declare=True,
        datadir=str(_made(data_dir(settings))),  # Faust's own files: never the user's working directory
        TableManager=SeekFirstTableManager,  # seek before the flow resumes after a rebalance (faust_glue.py)
    )
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    events_topic = app.topic(t.events, partitions=t.partitions, **raw)
    partials_topic = app.topic(t.metrics_partials, partitions=t.partitions, **raw)
    # bytes key/value types make Faust use the raw codec for the changelogs too
    state_table = app.Table("state", partitions=t.partitions, key_type=bytes, value_type=bytes)
    merge_table = app.Table("merge", partitions=t.partitions, key_type=bytes, value_type=bytes)
    rt = Runtime(settings, app, state_table, merge_table)
    within_s = s.batch_within_ms / 1000
    # the events topic's records reach the agent in fetched batches, past Faust's per-record path
    app.trtlens_fetch_max_wait_ms = s.fetch_max_wait_ms
    ingress = app.trtlens_ingress = BatchIngress(
        t.events, max_records=s.batch_max_records, max_bytes=s.batch_max_bytes, max_pending=s.pending_groups)

    @app.agent(events_topic, name="process")
    async def process(stream):  # noqa: ANN001 - Faust stream: subscribes the topic; records come from the ingress
        try:
            async for records in ingress.batches():
                await rt.pipeline.process_group(records)
        finally:
            await rt.sender.flush()

    @app.agent(partials_topic, name="merge")
    async def merge(stream):  # noqa: ANN001
        async for events in stream.take_events(MERGE_GROUP_RECORDS, within_s):
            await rt.merge.process_group(events)

    @app.timer(max(0.1, min(1.0, s.idle_timeout_ms / 4000)))
    async def idle_tick() -> None:
        await rt.pipeline.on_idle_tick()
        await rt.merge.on_tick()

    if s.health.enabled:
        from trtlens.streams.health.agent import HealthAgent

        rt.health = HealthAgent(rt)

        @app.timer(s.health.interval_s)
        async def health_tick() -> None:
            await rt.health.tick()

    @app.on_partitions_revoked.connect
    async def on_revoked(app_, revoked, **kwargs) -> None:  # noqa: ANN001
        rt.recovering = True  # every rebalance starts here; SeekFirstRecovery says when it is over
        rt.pipeline.on_revoked({tp.partition for tp in revoked if tp.topic == t.events})
        rt.merge.forget({tp.partition for tp in revoked if tp.topic == t.metrics_partials})

    @app.on_partitions_assigned.connect
    async def on_assigned(app_, assigned, **kwargs) -> None:  # noqa: ANN001
        # state is rebuilt lazily from the recovered tables on the first group of each partition
        rt.recovering = True
        rt.pipeline.on_assigned({tp.partition for tp in assigned if tp.topic == t.events})
        rt.merge.forget({tp.partition for tp in assigned if tp.topic == t.metrics_partials})
        rt.commit_guard.install(app.consumer)  # before any record of this assignment can be acknowledged
        log.info("rebalance=assigned partitions=%s", ",".join(
            f"{tp.topic}:{tp.partition}" for tp in sorted(assigned) if tp.topic in (t.events, t.metrics_partials)))

    @app.on_before_shutdown.connect
    async def _stop_sender(app_, **kwargs) -> None:  # noqa: ANN001
        await rt.sender.flush()
        await rt.sender.stop()
        await rt.probe.stop()
        if rt.health is not None:
            await rt.health.stop()

    app.trtlens_runtime = rt  # type: ignore[attr-defined]
    return app, rt


def run_worker(settings: Settings, *, loglevel: str = "WARNING") -> int:
    """Run one Faust worker in this process until SIGINT/SIGTERM."""
    import faust

    from trtlens.kafka import ensure_topics_in_child

    if settings.streams.malloc_arena_max:
        from trtlens.streams.malloc import set_arena_max

        # before any thread allocates (the consumer's, aiokafka's): glibc fixes its limit then
        set_arena_max(settings.streams.malloc_arena_max)
    # in a child: kafka-python's modules and admin state would stay resident for the worker's life (~6-8 MB)
    ensure_topics_in_child(settings.kafka, settings.topics)
    if settings.streams.gc_gen0_threshold:
        # ~5 short-lived objects per event: collecting every 700 allocations burns a third of the CPU
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(settings.streams.gc_gen0_threshold, max(gen1, 20), max(gen2, 50))
    if settings.streams.malloc_mmap_threshold_bytes:
        from trtlens.streams.malloc import set_mmap_threshold

        set_mmap_threshold(settings.streams.malloc_mmap_threshold_bytes)  # before the large blocks (malloc.py)
    app, rt = create_app(settings)
    level = logging.getLogger().getEffectiveLevel()

    async def _quiet_framework() -> None:  # Faust set up logging for us: keep ours, tame the framework
        logging.getLogger("trtlens").setLevel(level)
        for name in ("faust", "mode", "aiokafka", "kafka"):
            logging.getLogger(name).setLevel(max(logging.getLevelName(loglevel), level))

    app.on_startup_finished = _quiet_framework

    from trtlens.streams.selfmetrics import start_listener

    obs = start_listener(rt)  # /metrics, /healthz, /readyz (settings.obs)
    try:
        worker = faust.Worker(app, loglevel=logging.getLevelName(level), quiet=True, redirect_stdouts=False)
        worker.execute_from_commandline()
    finally:
        obs.stop()
    return 0
