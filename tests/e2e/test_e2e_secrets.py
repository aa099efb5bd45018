"""Secrets nowhere: known secret values go through every secret setting, the real processes run on the
embedded stack, and none of the values turns up in anything the pipeline writes or serves.

Every setting the settings registry holds as a secret (each ``SecretStr`` field of every section,
found by walking the root model, plus the notify endpoints' URLs and headers) gets a unique marker
value. The processes get them all through their environment, as a deployment would give them:
``trtlens streams``, ``sink``, ``notify``, ``worker``, ``replay``, ``check --publish``, ``templates``
and ``health``. Then every log line, every record of every topic the run created (events, both
DLQs, outputs, changelogs, the delivery log), every store document, every command's report,
each ``/metrics`` and ``/readyz`` answer and each body the webhook received is searched for
each value and for its encodings on the wire (base64 of ``user:password``). It runs twice: at
the INFO level deployments use, and at DEBUG, where the Kafka and HTTP client libraries log too.

Every secret is used, not only configured: Kafka runs SASL_SSL with the password (a broker of
the test's own behind the TLS + SASL/PLAIN gate of tests/support/tlsproxy.py, which counts the
logins), the store is reached over HTTPS through a proxy that refuses requests without the API
key (or, for ``templates``, the basic-auth password), the obs token guards every listener (a
scrape without it gets 401), the webhook receives its URL's path and query tokens and its header
(the dead endpoint's URL carries user-info), and the redaction key hashes layer names in the
build report.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, SecretStr

from trtlens.obs import http_get
from trtlens.settings import Settings, settings_env
from trtlens.stack.processes import ManagedProcess

from e2e_helpers import e2e_settings, generate_events, load_config, store_docs, wait_alive

from support.tlsproxy import HttpsAuthProxy, make_test_ca, server_context, tls_broker

REPO = Path(__file__).resolve().parents[2]
BUILD_LOG = REPO / "tests/data/trt-logs/02-trtexec-trt1016-verbose-fusion-tactics.log"

SASL_PASSWORD = "kafkaSASL-5ecret-a1f3"
ES_API_KEY = "esAPIKEY-5ecret-b2e4"
ES_PASSWORD = "esPASS-5ecret-c3d5"
OBS_TOKEN = "obsTOKEN-5ecret-d4c6"
HOOK_USERINFO = "hookPASS-5ecret-e5b7"
HOOK_PATH = "hookPATH-5ecret-f6a8"
HOOK_QUERY = "hookQUERY-5ecret-g7z9"
HOOK_HEADER = "hookHEADER-5ecret-h8y0"
DEAD_PATH = "deadPATH-5ecret-i9x1"
REDACT_KEY = "redactKEY-5ecret-j0w2-long-enough"
LEVEL: list[str] = []  # --log-level of every process of the current run


class Hook:
    """A webhook receiver on 127.0.0.1 that keeps every request (path, headers, body) and answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.requests.append((self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def secret_fields(model: BaseModel, prefix: str = "") -> dict[str, str]:
    """Dotted name → value of every ``SecretStr`` in ``model`` (nested models and lists included)."""
    out: dict[str, str] = {}

    def walk(name: str, value: Any) -> None:
        if isinstance(value, SecretStr):
            out[name] = value.get_secret_value()
        elif isinstance(value, BaseModel):
            for field in type(value).model_fields:
                walk(f"{name}.{field}" if name else field, getattr(value, field))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{name}.{k}", v)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(f"{name}[{i}]", v)

    walk(prefix, model)
    return out


def with_secrets(base: Settings, hook: Hook, dead_port: int, store_url: str, ca: Path) -> Settings:
    streams = base.streams.model_validate({
        **base.streams.model_dump(), "idle_timeout_ms": 2500, "commit_interval_s": 0.5,
        "metrics": {"window_ms": 1000, "grace_ms": 500}, "traces": {"sample_rate": 1.0},
        "alerts": {"rules": [{"kind": "p99_above", "id": "p99_tiny", "threshold_ms": 0.5, "fire_after": 1,
                              "resolve_after": 1, "scope": "all"}]},
    })
    notify = base.notify.model_validate({
        "group_id": f"{base.streams.app_id}-notify", "backoff_initial_ms": 20, "backoff_max_ms": 100, "max_attempts": 2,
        "endpoints": [
            {"name": "hook", "kind": "webhook",
             "url": f"http://127.0.0.1:{hook.port}/hook/{HOOK_PATH}?token={HOOK_QUERY}",
             "headers": {"Authorization": f"Bearer {HOOK_HEADER}"}},
            {"name": "dead", "kind": "webhook", "timeout_s": 1,
             "url": f"http://hookuser:{HOOK_USERINFO}@127.0.0.1:{dead_port}/x/{DEAD_PATH}"},
        ],
    })
    return base.model_copy(update={
        "kafka": base.kafka.model_copy(update={"sasl_mechanism": "PLAIN", "sasl_username": "trtlens-app",
                                               "sasl_password": SecretStr(SASL_PASSWORD)}),
        "elasticsearch": base.elasticsearch.model_copy(update={
            "url": store_url, "ca_certs": ca, "api_key": SecretStr(ES_API_KEY), "username": "elastic",
            "password": SecretStr(ES_PASSWORD)}),
        "obs": base.obs.model_copy(update={"auth_token": SecretStr(OBS_TOKEN)}),
        "streams": streams,
        "notify": notify,
        "builds": base.builds.model_validate({"redact": "hash", "redact_key": REDACT_KEY}),
    })


def wire_forms(secrets: dict[str, str]) -> dict[str, str]:
    """Each secret plus the encodings it takes on the wire (HTTP basic auth)."""
    forms = dict(secrets)
    for user, password in (("elastic", ES_PASSWORD), ("hookuser", HOOK_USERINFO)):
        forms[f"basic({user})"] = base64.b64encode(f"{user}:{password}".encode()).decode()
    return forms


def all_topic_records(settings: Settings, tag: str) -> list[bytes]:
    """Keys and values of every record of every topic whose name starts with ``tag`` (changelogs included)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings.kafka.kafka_python_kwargs(), enable_auto_commit=False,
                             consumer_timeout_ms=1500, auto_offset_reset="earliest")
    try:
        topics = [t for t in consumer.topics() if t.startswith(tag)]
        consumer.assign([TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()])
        out: list[bytes] = []
        for m in consumer:
            out.extend(x for x in (m.topic.encode(), m.key, m.value) if x)
            out.extend(v for _, v in m.headers or () if v)
        return out
    finally:
        consumer.close()


def run_once(name: str, args: list[str], env: dict[str, str], log_dir: Path, timeout_s: float = 120) -> str:
    proc = ManagedProcess(name, [*LEVEL, *args], log_dir=log_dir, env=env).start()
    rc = proc.wait(timeout_s)
    out = proc.log_path.read_text(errors="replace")
    assert rc == 0, f"{name} exited with {rc}:\n{out[-3000:]}"
    return out


@pytest.mark.timeout(420)
@pytest.mark.parametrize("log_level", ["INFO", "DEBUG"])
def test_no_secret_appears_in_logs_topics_store_reports_or_metrics(stack_settings, tmp_path, log_level):
    hook = Hook()
    dead = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    dead_port = dead.server_address[1]
    dead.server_close()  # a port nothing listens on: every delivery there fails, then is dead-lettered
    ca = make_test_ca(tmp_path / "ca")
    basic = "Basic " + base64.b64encode(f"elastic:{ES_PASSWORD}".encode()).decode()
    store = HttpsAuthProxy(server_context(ca[1], ca[2]), stack_settings.elasticsearch.url,
                           {f"ApiKey {ES_API_KEY}", basic})
    try:
        with tls_broker(ca, tmp_path / "broker", sasl_users={"trtlens-app": SASL_PASSWORD}) as (bootstrap, gate):
            _run(stack_settings, tmp_path, log_level, hook, dead_port, store, ca[0], bootstrap, gate)
    finally:
        store.close()
        hook.stop()


def _run(stack_settings, tmp_path, log_level, hook, dead_port, store, ca, bootstrap, gate) -> None:
    from trtlens.kafka import ensure_topics

    kafka = stack_settings.kafka.model_copy(update={"bootstrap_servers": bootstrap, "security_protocol": "SASL_SSL",
                                                    "ssl_cafile": ca, "sasl_mechanism": "PLAIN",
                                                    "sasl_username": "trtlens-app",
                                                    "sasl_password": SecretStr(SASL_PASSWORD)})
    base = e2e_settings(stack_settings.model_copy(update={"kafka": kafka}))
    tag = base.topics.events.removesuffix(".events")
    base = base.model_copy(update={"topics": base.topics.model_copy(update={
        "notify_delivered": f"{tag}.notify.delivered", "notify_dlq": f"{tag}.notify.dlq"})})
    ensure_topics(base.kafka, base.topics)
    settings = with_secrets(base, hook, dead_port, store.url, ca)
    found = secret_fields(settings)
    # every secret setting of the registry got a marker value (a new secret setting must be added here)
    assert set(found) == {"kafka.sasl_password", "elasticsearch.password", "elasticsearch.api_key",
                          "obs.auth_token", "notify.endpoints[0].url", "notify.endpoints[0].headers.Authorization",
                          "notify.endpoints[1].url", "builds.redact_key"}, sorted(found)
    secrets = {"kafka.sasl_password": SASL_PASSWORD, "elasticsearch.api_key": ES_API_KEY,
               "elasticsearch.password": ES_PASSWORD, "obs.auth_token": OBS_TOKEN, "hook.userinfo": HOOK_USERINFO,
               "hook.path": HOOK_PATH, "hook.query": HOOK_QUERY, "hook.header": HOOK_HEADER, "dead.path": DEAD_PATH,
               "builds.redact_key": REDACT_KEY, **found}
    forms = wire_forms(secrets)

    log_dir = tmp_path / "logs"
    LEVEL[:] = ["--log-level", log_level]
    env = {**settings_env(settings), "TRTLENS_PRODUCER__SPOOL_DIR": str(tmp_path / "spool")}
    events, _ = generate_events(load_config(seed=11, rate_rps=40, duration_s=6, workers=2))
    replay_file = tmp_path / "history.jsonl"
    replay_file.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events)
                            + b"this line is not json\n"
                            + orjson.dumps({"event": "request_complete", "event_id": "bad-1", "request_id": "r"}) + b"\n")

    reports = [run_once("templates", ["templates", "--json"], {**env, "TRTLENS_ELASTICSEARCH__API_KEY": ""}, log_dir)]
    procs = {name: ManagedProcess(name, [*LEVEL, *args], log_dir=log_dir, env=env).start()
             for name, args in (("streams", ["streams"]), ("sink", ["sink", "--no-templates"]), ("notify", ["notify"]))}
    scrapes: list[str] = []
    try:
        worker = ManagedProcess("worker", [*LEVEL, "worker", "--rps", "20", "--duration-s", "8", "--worker-id", "sec-w",
                                           "--cache-dir", str(tmp_path / "models"), "--gpu-sample-interval-s", "0",
                                           "--json"], log_dir=log_dir, env=env).start()
        worker.wait_obs(120)
        for path in ("/metrics", "/readyz", "/healthz"):
            assert http_get(worker.obs_url + path)[0] == 401  # the token guards the listener
            scrapes.append(http_get(worker.obs_url + path, token=OBS_TOKEN)[1])
        reports.append(run_once("replay", ["replay", str(replay_file), "--json"], env, log_dir))
        reports.append(run_once("check", ["check", str(BUILD_LOG), "--json", "--publish"], env, log_dir))
        assert worker.wait(120) == 0, worker.log_tail()
        reports.append(worker.log_path.read_text())

        from trtlens.es import es_client

        es = es_client(settings.elasticsearch)
        idx = settings.indices

        def landed() -> bool:
            return (all(store_docs(es, alias) for alias in (idx.traces, idx.metrics, idx.alerts, idx.builds))
                    and any(HOOK_PATH in p for p, _, _ in hook.requests) and _dead_lettered(settings))

        wait_alive(landed, procs=list(procs.values()), timeout_s=180, what="documents, a delivery and a notify DLQ record")
        for name, proc in procs.items():
            if name == "notify":
                continue  # no obs listener (yet)
            assert http_get(proc.wait_obs(10) + "/metrics")[0] == 401, name
            scrapes.extend(http_get(proc.obs_url + p, token=OBS_TOKEN)[1] for p in ("/metrics", "/readyz"))
            reports.append(run_once(f"health-{name}", ["health", "--ready", "--port", proc.obs_url.rsplit(":", 1)[1]],
                                    env, log_dir))
    finally:
        for proc in procs.values():
            proc.stop(30)

    docs = [orjson.dumps(h) for alias in (idx.traces, idx.metrics, idx.alerts, idx.builds) for h in store_docs(es, alias)]
    records = all_topic_records(settings, tag)
    logs = {p.name: p.read_text(errors="replace") for p in sorted(log_dir.glob("*.log"))}
    bodies = [body for _, _, body in hook.requests]

    # each haystack holds what it should, so an empty one cannot pass for a clean one
    assert len(docs) > 50 and len(records) > 100 and all(s for s in scrapes)
    assert {"streams.log", "sink.log", "notify.log", "worker.log", "replay.log", "check.log", "templates.log"} <= set(logs)
    assert any(b"bad-1" in r for r in records) and any(b"this line is not json" in r for r in records)  # DLQ
    assert any("trtlens_streams" in s for s in scrapes) and any("trtlens_sink" in s for s in scrapes)
    # the secrets were used, not only configured
    seen = [(p, h) for p, h, _ in hook.requests if HOOK_PATH in p]
    assert all(HOOK_QUERY in p and h.get("Authorization") == f"Bearer {HOOK_HEADER}" for p, h in seen) and seen
    assert "h:" in reports[2]  # check --json: layer names hashed with the redaction key
    assert gate.logins["trtlens-app"] >= 8 and gate.refused == 0  # every process logged in with the SASL password
    assert store.seen["ApiKey"] > 20 and store.seen["Basic"] >= 1 and store.refused == 0

    haystacks: dict[str, list[bytes]] = {
        **{f"log {name}": [text.encode()] for name, text in logs.items()},
        "topic records": records, "store documents": docs, "reports": [r.encode() for r in reports],
        "/metrics /readyz /healthz": [s.encode() for s in scrapes], "webhook bodies": bodies,
    }
    leaks = [f"{what} ({secret!r}) in {where}" for what, secret in forms.items()
             for where, items in haystacks.items() if any(secret.encode() in item for item in items)]
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)


def _dead_lettered(settings: Settings) -> bool:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings.kafka.kafka_python_kwargs(), enable_auto_commit=False,
                             consumer_timeout_ms=500, auto_offset_reset="earliest")
    try:
        consumer.assign([TopicPartition(settings.topics.notify_dlq, p) for p in range(settings.topics.partitions)])
        return any(json.loads(m.value).get("endpoint") == "dead" for m in consumer)
    finally:
        consumer.close()
