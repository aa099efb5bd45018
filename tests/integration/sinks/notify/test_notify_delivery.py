"""``trtlens notify`` against the real embedded broker and a local receiver that emulates a
JSON webhook, Slack's incoming webhook and Alertmanager's API v2 (tests/support/webhook_receiver.py): every
state change reaches each receiver exactly once — counted by idempotency key and by raw
accepted requests — across failures on demand, a SIGKILL and restart, and the streams
app re-emitting what it already sent; a failing endpoint ends in the DLQ without
holding the others back."""

from __future__ import annotations

import asyncio
import collections
import logging
import time

import orjson
from notify_helpers import TOKENS, NotifyProcess, alert, committed, publish, with_notify, write_config
from support.streams_harness import read_topic, wait_for

from trtlens.sinks.notify.core import LogEntry, idempotency_key

HOOK_HEADERS = {"Authorization": "Bearer SECRETbearer"}


def _no_secret(text: str, receiver) -> None:
    for secret in (*TOKENS, f"127.0.0.1:{receiver.port}/hook", f"127.0.0.1:{receiver.port}/slack",
                   f"127.0.0.1:{receiver.port}/broken"):
        assert secret not in text, f"{secret!r} leaked"


def test_every_alert_reaches_each_receiver_once_across_sigkill_restart_and_reemission(isolated, receiver, tmp_path):
    endpoints = [
        {"name": "hook", "kind": "webhook", "url": receiver.url("hook"), "headers": HOOK_HEADERS, "timeout_s": 1},
        {"name": "chat", "kind": "slack", "url": receiver.url("slack"), "timeout_s": 1},
        {"name": "oncall", "kind": "alertmanager", "url": receiver.url("am"), "timeout_s": 1,
         "labels": {"severity": "page"}},
    ]
    settings = with_notify(isolated, endpoints)
    config = write_config(settings, endpoints, tmp_path / "notify.yaml")
    combos = [(rule, f"model{i}/v1") for rule in ("p99_above_1s", "p99_above_2s") for i in range(6)]
    firing = [alert(r, s, "firing", 0) for r, s in combos]
    repeats = [alert(r, s, "firing", 2) for r, s in combos[:4]]  # same state, later window: hysteresis drops them
    resolved = [alert(r, s, "resolved", 5) for r, s in combos]
    expected = collections.Counter({idempotency_key(a.doc_id): 1 for a in firing + resolved})
    boxes = {k: receiver.boxes[k] for k in ("hook", "slack", "am")}
    boxes["hook"].plan.extend([("status", 500), ("status", 429, "0"), ("timeout", 2.0)])
    boxes["slack"].plan.append(("status", 503))
    boxes["am"].plan.append(("timeout", 2.0))
    for box in boxes.values():
        box.hold_after = 5  # the sixth request of each waits until the test has killed the notifier

    published = publish(settings, firing)
    log_path = tmp_path / "notify.log"
    first = NotifyProcess(config, log_path)
    try:
        wait_for(lambda: all(b.held.is_set() for b in boxes.values()), 120, "every receiver to hold a request", [first])
        first.kill()  # each endpoint has one request in flight and five delivered and logged
    finally:
        first.ensure_dead()
    for box in boxes.values():
        box.release.set()
    assert {k: len(b.accepted) for k, b in boxes.items()} == {"hook": 5, "slack": 5, "am": 5}

    second = NotifyProcess(config, log_path)
    try:
        wait_for(lambda: all(len(b.accepted) >= len(firing) for b in boxes.values()), 120,
                 "the restarted notifier to deliver the rest of the firing alerts", [second])
        # the streams app re-emits what it sent before its own restart (same doc_ids), a flapping
        # rule repeats its state, then every rule resolves; and one record is no alert at all
        published += publish(settings, firing + repeats + resolved, raw=[(b"junk", b"not json")])
        wait_for(lambda: all(len(b.accepted) >= len(expected) for b in boxes.values()), 120,
                 "every resolved alert", [second])
        wait_for(lambda: committed(settings) == dict(published), 60, "every record committed", [second])
        assert second.stop() == 0, second.log()[-3000:]
    finally:
        second.ensure_dead()

    for kind, box in boxes.items():
        assert box.malformed == [], (kind, box.malformed[:1])
        assert box.keys() == expected, kind  # by idempotency key: each state change once
        assert len(box.accepted) == len(expected), kind  # by raw accepted requests: nothing twice
    assert all(r.headers.get("Authorization") == "Bearer SECRETbearer" for r in boxes["hook"].accepted)
    assert len(boxes["hook"].raw) >= len(expected) + 3 + 1  # + the planned failures + the request(s) held at the kill
    am_firing = [orjson.loads(r.body)[0] for r in boxes["am"].accepted if b'"endsAt":"2026-11-22' in r.body]
    assert len(am_firing) == len(firing) and all(a["labels"]["severity"] == "page" for a in am_firing)

    letters = [orjson.loads(v) for _, v, _, _ in read_topic(settings, settings.topics.notify_dlq)]
    assert [(d["code"], d["key"], d["endpoint"]) for d in letters] == [("invalid_json", "junk", None)]
    entries = [LogEntry.from_json(v) for _, v, _, _ in read_topic(settings, settings.topics.notify_delivered)]
    assert {(e.endpoint, e.idempotency_key) for e in entries} == {(n, k) for n in ("hook", "chat", "oncall")
                                                                   for k in expected}
    log = second.log()
    assert "notify=retry endpoint=hook" in log and "notify=stopped" in log
    _no_secret(log, receiver)


def test_a_request_the_notifier_never_heard_back_from_is_resent_once_with_the_same_key(isolated, receiver, tmp_path):
    """The one crash window README.md names: the receiver took the request, the notifier died
    before it had written the delivery down. The re-send carries the same key and body."""
    endpoints = [{"name": "hook", "kind": "webhook", "url": receiver.url("hook"), "timeout_s": 60}]
    settings = with_notify(isolated, endpoints)
    config = write_config(settings, endpoints, tmp_path / "notify.yaml")
    hook = receiver.boxes["hook"]
    hook.plan.append(("process_then_hold",))
    one = alert("p99_above_1s", "resnet50/v2", "firing", 0)
    published = publish(settings, [one])
    first = NotifyProcess(config, tmp_path / "first.log")
    try:
        wait_for(hook.held.is_set, 120, "the receiver to take the request and hold its answer", [first])
        first.kill()
    finally:
        first.ensure_dead()
    hook.release.set()
    second = NotifyProcess(config, tmp_path / "second.log")
    try:
        wait_for(lambda: len(hook.accepted) >= 2, 120, "the re-send", [second])
        wait_for(lambda: committed(settings) == dict(published), 60, "the record committed", [second])
        assert second.stop() == 0
    finally:
        second.ensure_dead()
    key = idempotency_key(one.doc_id)
    assert hook.keys() == collections.Counter({key: 2}) and len(hook.accepted) == 2
    assert hook.accepted[0].body == hook.accepted[1].body  # a receiver that dedups on the key sees one alert


async def _until(cond, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)


async def test_a_failing_endpoint_is_dead_lettered_without_stalling_the_others(isolated, receiver, caplog):
    from trtlens.sinks.notify.notifier import Notifier

    caplog.set_level(logging.INFO, logger="trtlens.sinks.notify")
    endpoints = [
        {"name": "hook", "kind": "webhook", "url": receiver.url("hook"), "headers": HOOK_HEADERS},
        {"name": "broken", "kind": "webhook", "url": receiver.url("broken"), "headers": HOOK_HEADERS,
         "timeout_s": 120, "queue_max": 3},
    ]
    settings = with_notify(isolated, endpoints, max_attempts=2)
    hook, broken = receiver.boxes["hook"], receiver.boxes["broken"]
    broken.hold_after = 0  # its first request hangs until released ...
    broken.always = ("status", 500)  # ... and every request fails after that
    alerts = [alert("p99_above_1s", f"m{i}/v1", "firing", 0) for i in range(10)]
    keys = {idempotency_key(a.doc_id) for a in alerts}
    published = await asyncio.to_thread(publish, settings, alerts)

    notifier = Notifier(settings)
    task = asyncio.create_task(notifier.run())
    try:
        await _until(lambda: len(hook.accepted) >= 10 or task.done(), 90, "the good endpoint to get every alert")
        # ... while the broken endpoint still hangs on its first request: nothing waited for it
        assert broken.held.is_set() and len(broken.raw) == 1
        stuck = notifier.endpoint_counters["broken"]
        assert stuck["delivered"] == 0 and stuck["queue_full"] >= 6  # bounded: 1 in flight + 3 queued at most
        broken.release.set()
        await _until(lambda: notifier.endpoint_counters["broken"]["dead_lettered"] >= 10 or task.done(), 60,
                     "every broken delivery dead-lettered")
        await _until(lambda: committed(settings) == dict(published) or task.done(), 60, "every record committed")
    finally:
        notifier.request_stop()
        await asyncio.wait_for(task, 60)

    assert hook.keys() == collections.Counter(dict.fromkeys(keys, 1)) and len(hook.accepted) == 10
    letters = [orjson.loads(v) for _, v, _, _ in await asyncio.to_thread(read_topic, settings, settings.topics.notify_dlq)]
    assert len(letters) == 10 and {d["idempotency_key"] for d in letters} == keys
    assert {d["endpoint"] for d in letters} == {"broken"} and {d["endpoint_kind"] for d in letters} == {"webhook"}
    codes = collections.Counter(d["code"] for d in letters)
    assert set(codes) <= {"queue_full", "delivery_failed"} and codes["queue_full"] >= 6
    for d in letters:
        assert d["alert"]["rule_id"] == "p99_above_1s" and d["doc_id"].endswith(":firing")
        if d["code"] == "delivery_failed":
            assert d["attempts"] == 2 and d["last_status"] == 500 and d["last_error"].startswith("HTTP 500")
        else:
            assert d["attempts"] == 0 and d["last_error"] is None
    blob = orjson.dumps(letters).decode()
    _no_secret(blob, receiver)
    assert "Authorization" not in blob and "***" in blob  # the receiver's echo of the token was redacted
    c = notifier.endpoint_counters
    assert c["hook"]["delivered"] == 10 and c["broken"]["dead_lettered"] == 10 and c["broken"]["retries"] >= 1
    _no_secret(caplog.text, receiver)
    assert "notify=dead_lettered endpoint=broken" in caplog.text
