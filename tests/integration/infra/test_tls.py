"""TLS and credentials exercised for real: the Elasticsearch clients over HTTPS with an API key or basic auth,
the Kafka clients (kafka-python, aiokafka, Faust) over TLS, and with a SASL/PLAIN login — through the test's TLS front ends
(tests/support/tlsproxy.py), since neither embedded part speaks TLS (README: Security)."""

from __future__ import annotations

import asyncio
import base64
import time

import orjson
import pytest
from pydantic import SecretStr

from trtlens.es import async_es_client, es_client
from trtlens.settings import settings_env
from trtlens.stack.processes import ManagedProcess

from support.tlsproxy import HttpsAuthProxy, KafkaSaslGate, make_test_ca, server_context
from support.tlsproxy import tls_broker as tls_broker_of

API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="  # the shape ES issues (base64 id:key)
USER, PASSWORD = "trtlens-sink", "tls-test-password-1"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return make_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def https_store(stack_settings, ca):
    basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    proxy = HttpsAuthProxy(server_context(ca[1], ca[2]), stack_settings.elasticsearch.url, {f"ApiKey {API_KEY}", basic})
    yield proxy
    proxy.close()


def es_settings(base, proxy, ca_path, **creds):
    return base.elasticsearch.model_copy(update={"url": proxy.url, "ca_certs": ca_path, **creds})


def test_store_clients_over_https_with_an_api_key_or_basic_auth(stack_settings, https_store, ca, tmp_path):
    from elasticsearch import AuthenticationException

    index = f"tls-{time.monotonic_ns()}"
    es = es_client(es_settings(stack_settings, https_store, ca[0], api_key=SecretStr(API_KEY)))
    es.index(index=index, id="a", document={"n": 1}, refresh=True)
    assert es.get(index=index, id="a")["_source"] == {"n": 1}
    assert https_store.seen["ApiKey"] >= 2

    basic = es_client(es_settings(stack_settings, https_store, ca[0], username=USER, password=SecretStr(PASSWORD)))
    assert basic.count(index=index)["count"] == 1 and https_store.seen["Basic"] >= 1

    async def async_roundtrip() -> int:  # the sink's client (aiohttp node)
        client = async_es_client(es_settings(stack_settings, https_store, ca[0], api_key=SecretStr(API_KEY)))
        try:
            await client.index(index=index, id="b", document={"n": 2}, refresh=True)
            return (await client.count(index=index))["count"]
        finally:
            await client.close()

    assert asyncio.run(async_roundtrip()) == 2

    wrong = es_client(es_settings(stack_settings, https_store, ca[0], api_key=SecretStr("d3Jvbmc6a2V5")))
    with pytest.raises(AuthenticationException):
        wrong.count(index=index)
    untrusted = es_client(es_settings(stack_settings, https_store, None, api_key=SecretStr(API_KEY)))
    from elastic_transport import TlsError

    with pytest.raises(TlsError) as info:  # the test CA is not trusted without ca_certs
        untrusted.count(index=index)
    assert "certificate verify failed" in repr(info.value.errors).lower() + repr(info.value.__dict__).lower()


def test_the_sink_process_indexes_through_https_with_its_api_key(isolated, https_store, ca, tmp_path):
    from kafka import KafkaProducer

    from trtlens.schemas.documents import Trace

    settings = isolated.model_copy(update={
        "elasticsearch": es_settings(isolated, https_store, ca[0], api_key=SecretStr(API_KEY)),
        "sink": isolated.sink.model_copy(update={"group_id": f"{isolated.topics.traces}-sink"})})
    producer = KafkaProducer(**settings.kafka.kafka_python_kwargs())
    for i in range(20):
        t = Trace(request_id=f"tls-{i}", model="m", model_version="v1", worker_id="w", start_ts_ms=1_795_219_200_000 + i,
                  end_ts_ms=1_795_219_200_010 + i, status="ok", complete=True, batch_size=1,
                  stages={"total_ms": 10.0}, sample_weight=1.0)
        producer.send(settings.topics.traces, orjson.dumps(t.model_dump(mode="json")), key=t.doc_id.encode())
    producer.flush()
    producer.close()
    sink = ManagedProcess("sink", ["sink", "--families", "traces"], log_dir=tmp_path,
                          env=settings_env(settings, sections_=["kafka", "topics", "elasticsearch", "indices", "sink"]))
    sink.start()
    try:
        es = es_client(settings.elasticsearch)

        def indexed() -> bool:
            assert sink.running, sink.log_tail()
            try:
                es.indices.refresh(index=settings.indices.traces)
                return es.count(index=settings.indices.traces)["count"] == 20
            except Exception:  # noqa: BLE001 - the alias appears with the first bulk
                return False

        from trtlens.stack.processes import wait_for

        wait_for(indexed, timeout_s=60, what="20 traces indexed through HTTPS")
        assert https_store.refused == 0 and https_store.seen["none"] == 0
    finally:
        sink.stop(20)


KAFKA_USER, KAFKA_PASSWORD = "trtlens-streams", "sasl-test-password-2"


@pytest.fixture(params=["SSL", "SASL_SSL"])
def tls_broker(request, ca, tmp_path, stack_settings):
    """A Tansu broker of this test's own whose advertised address is a TLS tunnel (with a SASL/PLAIN login
    for SASL_SSL) in front of it."""
    users = {KAFKA_USER: KAFKA_PASSWORD} if request.param == "SASL_SSL" else None
    with tls_broker_of(ca, tmp_path, sasl_users=users) as (bootstrap, tunnel):
        kafka = stack_settings.kafka.model_copy(update={"bootstrap_servers": bootstrap,
                                                        "security_protocol": request.param, "ssl_cafile": ca[0]})
        if users:
            kafka = kafka.model_copy(update={"sasl_mechanism": "PLAIN", "sasl_username": KAFKA_USER,
                                             "sasl_password": SecretStr(KAFKA_PASSWORD)})
        yield kafka, tunnel


def test_kafka_clients_and_the_streams_app_over_tls_and_sasl(tls_broker, stack_settings, tmp_path):
    from trtlens.kafka import ensure_topics, wait_until_ready
    from trtlens.producers.load.config import LoadConfig
    from trtlens.producers.load.core import generate

    from support.streams_harness import publish, streams_settings

    kafka, tunnel = tls_broker
    wait_until_ready(kafka, timeout_s=30)
    base = stack_settings.model_copy(update={"kafka": kafka})
    settings = streams_settings(base, traces={"sample_rate": 1.0})  # topics created over TLS (kafka-python admin)
    ensure_topics(settings.kafka, settings.topics)
    run = generate(LoadConfig(seed=4, rate_rps=30, duration_s=2, workers=1, ground_truth_latencies=False))
    events = list(run.events)
    publish(settings, events)  # the product's publisher (kafka-python) over TLS
    if isinstance(tunnel, KafkaSaslGate):  # SASL_SSL: the streams app (Faust + aiokafka) too
        _streams_emit_every_trace(settings, events, tmp_path)
    else:  # SSL: what the publisher wrote reads back over TLS
        from support.streams_harness import read_topic

        landed = [orjson.loads(v) for _, v, _, _ in read_topic(settings, settings.topics.events)]
        n = sum(len(x) if isinstance(x, list) else 1 for x in landed)
        assert n == len(events) and tunnel.connections >= 2
    assert _plaintext_answer(tunnel.port) == b""  # the broker's only advertised door speaks TLS
    if isinstance(tunnel, KafkaSaslGate):
        assert tunnel.logins[KAFKA_USER] >= 3 and tunnel.refused == 0  # kafka-python and aiokafka logged in
        wrong = kafka.model_copy(update={"sasl_password": SecretStr("not-the-password")})

        async def login() -> None:
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(**wrong.aiokafka_kwargs(), request_timeout_ms=5000)
            try:
                await producer.start()
            finally:
                await producer.stop()

        with pytest.raises(Exception, match="(?i)authentication|unable to bootstrap"):  # aiokafka logs the 58
            asyncio.run(login())
        assert tunnel.refused >= 1


def _plaintext_answer(port: int) -> bytes:
    """What a PLAINTEXT client gets for an ApiVersions request on ``port`` (b"" = the connection was closed)."""
    import socket
    import struct

    body = struct.pack(">hhih", 18, 0, 1, 1) + b"x"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        try:
            return sock.recv(4)
        except (ConnectionResetError, TimeoutError):
            return b""


def _streams_emit_every_trace(settings, events, tmp_path) -> None:
    from kafka import KafkaConsumer, TopicPartition

    env = settings_env(settings, sections_=["kafka", "topics", "streams"])
    worker = ManagedProcess("streams", ["streams"], log_dir=tmp_path, env=env).start()
    try:
        requests = {e["request_id"] for e in events if e.get("request_id")}
        consumer = KafkaConsumer(**settings.kafka.kafka_python_kwargs(), enable_auto_commit=False,
                                 auto_offset_reset="earliest", consumer_timeout_ms=1000)
        consumer.assign([TopicPartition(settings.topics.traces, p) for p in range(settings.topics.partitions)])
        got: set[str] = set()
        deadline = time.monotonic() + 120
        while got != requests and time.monotonic() < deadline:
            assert worker.running, worker.log_tail()
            got |= {m.key.decode() for m in consumer}
        consumer.close()
        assert got == requests, f"{len(got)} of {len(requests)} traces\n{worker.log_tail()}"
    finally:
        worker.stop(20)
