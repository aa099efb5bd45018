"""Issue 11, item 7 (``make chaos``): every alert the load's ground truth predicts reaches a local webhook
receiver exactly once, across a SIGKILL + restart of ``trtlens streams`` and of ``trtlens notify``.

The whole path is the product's own processes on the session's embedded broker: the load generator (phases
that alternate a healthy and a slow ``resnet50/v2``, so one ``p99_above`` rule fires and resolves again and
again) → ``trtlens streams`` → ``trtlens.alerts`` → ``trtlens notify`` → a webhook receiver on 127.0.0.1
(``tests/support/webhook_receiver.py``) that counts the requests it accepted, by idempotency key.

* **Expected** alerts come from the ground truth alone: the rule's hysteresis over the exact P99 of every
  window (``Expected`` replays the events as the pipeline partitions them), each as its ``doc_id`` and
  idempotency key. The phases are far enough from the threshold that the sketch's 1% cannot decide a window.
* **streams** is SIGKILLed once the first alert is on the topic and restarted (same app id): it recovers its
  state from its changelogs and goes on; an alert it re-emits carries the same ``doc_id``. Traffic is paced
  (2,000 events/s) and starts once streams is ready, so the kill lands early in the run (asserted).
* **notify** is SIGKILLed while it waits on a request the receiver holds without accepting (after three
  accepted), the held request is then refused, and a new notifier (same group) reads the delivery log and
  goes on.
* Finally every alert record on the topic is published once more, byte for byte (what a streams app that
  lost its state re-emits), to a notifier that must send nothing of it.

What must hold: the receiver accepted each expected key exactly once and nothing else (counted by raw
accepted requests, not deduplicated); the delivery log holds exactly those keys; every alert record is
committed; every firing notification carries its explanation. **What this does not show**: a SIGKILL in the
one window ``sinks/notify/README.md`` names (the receiver accepted, the delivery-log entry not yet written)
resends the same key and body once — ``tests/integration/sinks/notify`` reproduces that on purpose; a
receiver that drops a key it has seen then still sees each alert once.
"""

from __future__ import annotations

import collections
import json
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from e2e_helpers import Expected, StreamsOptions, e2e_settings, generate_events, load_config, publish, streams_process  # noqa: E402

from support.webhook_receiver import Receiver  # noqa: E402
from trtlens.producers.load.config import ModelSpec, VersionSpec  # noqa: E402
from trtlens.sinks.notify.core import LogEntry, idempotency_key  # noqa: E402
from trtlens.stack.processes import ManagedProcess, connection_env, wait_for  # noqa: E402

WINDOW_MS = 1000
GRACE_MS = 300
RULE = {"id": "v2_p99_above_30ms", "kind": "p99_above", "scope": "model_version", "model": "resnet50",
        "threshold_ms": 30.0, "fire_after": 2, "resolve_after": 2}
MARGIN = 0.15  # no window's exact P99 within 15% of the threshold: the 1% sketch cannot flip a window
PHASES = ("healthy", "slow") * 4 + ("healthy",)
PHASE_S = 4
HOLD_AFTER = 3


def _models(phase: str) -> list[ModelSpec]:
    v2 = dict(latency_median_ms=48.0, latency_sigma=0.3) if phase == "slow" else dict(latency_median_ms=8.0, latency_sigma=0.3)
    return [ModelSpec(name="resnet50", versions=[
        VersionSpec(name="v1", weight=0.5, latency_median_ms=8.0, latency_sigma=0.3, error_rate=0.0, cold_start_prob=0.0),
        VersionSpec(name="v2", weight=0.5, error_rate=0.0, cold_start_prob=0.0, **v2),
    ])]


def _expected_alerts(expected: Expected) -> list[str]:
    """``doc_id``s of the state changes the rule's hysteresis gives over the exact P99s, per scope in window order."""
    state: dict[str, list] = {}
    out = []
    for (scope_key, ws), w in sorted(expected.windows.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if not w.requests:
            continue
        p99 = w.p99()
        assert abs(p99 - RULE["threshold_ms"]) > MARGIN * RULE["threshold_ms"], f"{scope_key} {ws}: P99 {p99} too close"
        firing, breaching, clean = state.setdefault(scope_key, [False, 0, 0])
        if p99 > RULE["threshold_ms"]:
            breaching, clean = breaching + 1, 0
        else:
            clean, breaching = clean + 1, 0
        if not firing and breaching >= RULE["fire_after"]:
            firing = True
            out.append(f"{RULE['id']}:{scope_key}:{ws}:firing")
        elif firing and clean >= RULE["resolve_after"]:
            firing = False
            out.append(f"{RULE['id']}:{scope_key}:{ws}:resolved")
        state[scope_key] = [firing, breaching, clean]
    return out


def _records(settings, topic: str) -> list:
    """Every record of ``topic`` from the beginning (assigned, no group), read until quiet."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(enable_auto_commit=False, **settings.kafka.kafka_python_kwargs())
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out, quiet = [], 0
        while quiet < 2:
            batch = consumer.poll(timeout_ms=300)
            quiet = 0 if batch else quiet + 1
            for recs in batch.values():
                out.extend(recs)
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


def _committed(settings) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(group_id=settings.notify.group_id, enable_auto_commit=False,
                             **settings.kafka.kafka_python_kwargs())
    try:
        tps = [TopicPartition(settings.topics.alerts, p) for p in range(settings.topics.partitions)]
        return {tp.partition: off for tp in tps if (off := consumer.committed(tp)) is not None}
    finally:
        consumer.close()


def _republish(settings, records) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(acks="all", **settings.kafka.kafka_python_kwargs())
    try:
        for r in records:
            producer.send(settings.topics.alerts, r.value, key=r.key, partition=r.partition)
        producer.flush(30)
    finally:
        producer.close()


def _ends(records) -> dict[int, int]:
    ends: dict[int, int] = {}
    for r in records:
        ends[r.partition] = max(ends.get(r.partition, 0), r.offset + 1)
    return ends


@pytest.mark.timeout(600)
def test_every_alert_reaches_the_webhook_once_across_streams_and_notifier_sigkills(stack_settings, tmp_path):
    from trtlens.kafka import ensure_topics

    t_start = time.monotonic()
    settings = e2e_settings(stack_settings)
    tag = settings.topics.events.removesuffix(".events")
    settings = settings.model_copy(update={
        "topics": settings.topics.model_copy(update={"notify_delivered": f"{tag}.notify.delivered",
                                                     "notify_dlq": f"{tag}.notify.dlq"}),
        "notify": settings.notify.model_copy(update={"group_id": f"{tag}-notify"}),
    })
    ensure_topics(settings.kafka, settings.topics)

    configs, start = [], None
    for i, phase in enumerate(PHASES):
        cfg = load_config(seed=70 + i, rate_rps=300, duration_s=PHASE_S, window_ms=WINDOW_MS, models=_models(phase),
                          gpu_sample_interval_ms=0, workers=2, **({"start_ms": start} if start else {}))
        configs.append(cfg)
        start = cfg.start_ms + PHASE_S * 1000
    events, truths = generate_events(*configs)
    expected = Expected.build(events, truths, partitions=settings.topics.partitions, window_ms=WINDOW_MS, grace_ms=GRACE_MS)
    want_ids = _expected_alerts(expected)
    assert len(want_ids) == 8 and {d.rsplit(":", 1)[1] for d in want_ids} == {"firing", "resolved"}, want_ids
    want = collections.Counter({idempotency_key(d): 1 for d in want_ids})

    receiver = Receiver().start()
    hook = receiver.boxes["hook"]
    hook.hold_after = HOLD_AFTER  # the next request waits, unaccepted, until the test has killed the notifier
    options = StreamsOptions(window_ms=WINDOW_MS, grace_ms=GRACE_MS, idle_timeout_ms=2000, sample_rate=0.01, rules=[RULE])
    notify_env = {**connection_env(settings), "TRTLENS_NOTIFY__GROUP_ID": settings.notify.group_id,
                  "TRTLENS_NOTIFY__BACKOFF_INITIAL_MS": "20", "TRTLENS_NOTIFY__BACKOFF_MAX_MS": "200",
                  "TRTLENS_NOTIFY__ENDPOINTS": json.dumps([{"name": "hook", "kind": "webhook",
                                                            "url": receiver.url("hook"), "timeout_s": 30}])}
    procs: list[ManagedProcess] = []

    def start(proc: ManagedProcess) -> ManagedProcess:
        procs.append(proc.start())
        return proc

    def alive(*ps: ManagedProcess) -> None:
        for p in ps:
            assert p.running, f"{p.name} exited with {p.returncode}:\n{p.log_tail(3000)}"

    streams = start(streams_process(settings, options, tmp_path))
    notify = start(ManagedProcess("notify0", ["notify"], log_dir=tmp_path, env=notify_env))
    publisher_error: list[BaseException] = []

    def traffic() -> None:
        try:
            publish(settings, events, tmp_path / "spool", pace_events_per_s=2000)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            publisher_error.append(exc)

    sender = threading.Thread(target=traffic, name="traffic", daemon=True)
    try:
        # traffic starts once streams has its partitions, so it keeps pace and the first alerts come one by one
        streams.wait_obs(120)
        wait_for(lambda: alive(streams, notify) or streams.ready(), timeout_s=120, what="streams ready")
        sender.start()
        # 1. streams dies once it has sent the first alert, and a new worker (same app id) takes over
        at_kill = wait_for(lambda: alive(streams, notify) or _records(settings, settings.topics.alerts), timeout_s=180,
                           interval_s=0.2, what="the first alert on the topic")
        streams.kill()
        assert len(at_kill) < len(want_ids), "streams was killed after its last alert: the restart proves nothing"
        streams = start(ManagedProcess("streams1", streams.args, log_dir=tmp_path, env=streams._env))
        # 2. the notifier dies with one request in flight that the receiver has not accepted
        wait_for(lambda: alive(streams, notify) or hook.held.is_set(), timeout_s=180, what="the receiver to hold a request")
        assert len(hook.accepted) == HOLD_AFTER
        notify.kill()
        hook.release.set()
        notify = start(ManagedProcess("notify1", ["notify"], log_dir=tmp_path, env=notify_env))
        sender.join(300)
        assert not sender.is_alive() and not publisher_error, publisher_error
        wait_for(lambda: alive(streams, notify) or len(hook.accepted) >= len(want), timeout_s=240,
                 what="every expected alert at the receiver")
        records = _records(settings, settings.topics.alerts)
        wait_for(lambda: alive(streams, notify) or _committed(settings) == _ends(records), timeout_s=60,
                 what="every alert record committed by the notifier")
        # 3. every alert again, as a streams app that lost its state would send it: nothing more is delivered
        _republish(settings, records)
        again = _records(settings, settings.topics.alerts)
        wait_for(lambda: alive(streams, notify) or _committed(settings) == _ends(again), timeout_s=60,
                 what="the re-emitted alerts committed")
        assert notify.stop(timeout_s=30) == 0, notify.log_tail(3000)
    finally:
        for p in procs:
            p.stop(timeout_s=10)
        receiver.stop()

    keys = {r.key.decode() for r in records}
    assert keys == set(want_ids), (sorted(keys ^ set(want_ids)))
    assert hook.malformed == []
    assert hook.keys() == want  # by idempotency key, over raw accepted requests: each alert once, nothing else
    assert len(hook.accepted) == len(want_ids)
    assert len(hook.raw) == len(want_ids) + 1  # + the request held at the kill, refused, never accepted
    for req in hook.accepted:
        body = orjson.loads(req.body)
        if body["state"] == "firing":
            assert "dominated by compute" in body["alert"]["explanation"], body["alert"]
    entries = [LogEntry.from_json(r.value) for r in _records(settings, settings.topics.notify_delivered)]
    assert collections.Counter(e.idempotency_key for e in entries) == want
    print(f"notify-chaos alerts={len(want_ids)} streams_killed_after_alerts={len(at_kill)} "
          f"notify_killed_after_accepted={HOLD_AFTER} alert_records={len(records)} (streams re-emitted "
          f"{len(records) - len(keys)}) republished={len(records)} received_raw={len(hook.raw)} "
          f"accepted={len(hook.accepted)} result=exactly_once seconds={time.monotonic() - t_start:.0f}")
