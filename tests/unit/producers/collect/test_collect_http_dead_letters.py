"""Credentials never reach a dead letter: the HTTP source on loopback with an API key and a bearer token,
pushes that carry them in every header the source reads, bad lines on every route; and foreign Kafka records
whose headers hold a token. The dead letters are what the real sources build (no broker: a recording
publisher takes them; the publisher forwards a dead letter unchanged)."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import orjson
import pytest

from trtlens.producers.collect.commit import Committer
from trtlens.producers.collect.config import HttpConfig, KafkaSourceConfig, MappingConfig
from trtlens.producers.collect.httpsource import HttpSource
from trtlens.producers.collect.intake import Intake
from trtlens.producers.collect.kafkasource import KafkaSource
from trtlens.producers.collect.mapping import Mapper
from trtlens.producers.collect.telemetry import TelemetryJoiner
from trtlens.schemas.deadletters import EventDeadLetter

API_KEY = "key-0f9e8d7c6b5a"
TOKEN = "tok-1a2b3c4d5e6f"
SECRETS = (API_KEY, TOKEN)
BAD_LINES = b'{"event": "request_received", "ts_ms": 1}\nplain text\n{"event": broken\n'


class RecordingPublisher:
    spooling = False

    def __init__(self) -> None:
        self.dead: list[tuple[str | None, dict]] = []
        self.counters: dict[str, int] = {}

    def publish_dicts(self, events) -> None:
        pass

    def publish_dead_letter(self, doc: dict, key: str | None = None) -> None:
        self.dead.append((key, doc))

    def flush(self, timeout_s: float) -> bool:
        return True


def intake_for(pub: RecordingPublisher) -> Intake:
    return Intake(pub, Committer(pub), Mapper(MappingConfig(), worker_id="c"))


def push(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, list[tuple[str | None, dict]]]:
    """One POST to a real HTTP source that requires the key or the token; its status and dead letters."""
    pub = RecordingPublisher()
    intake = intake_for(pub)
    source = HttpSource(HttpConfig(port=0, api_key=API_KEY, bearer_token=TOKEN), intake,
                        joiner=TelemetryJoiner(intake.mapper, function_name="fn", hold_ms=0))

    async def go() -> int:
        port = await source.start(host="127.0.0.1", port=0)
        try:
            async with aiohttp.ClientSession() as session:
                async with session.post(f"http://127.0.0.1:{port}{path}", data=body, headers=headers) as resp:
                    return resp.status
        finally:
            await source.stop()

    intake.committer.start()
    try:
        status = asyncio.run(go())
    finally:
        intake.committer.stop()
    return status, pub.dead


def firehose_body() -> bytes:
    data = base64.b64encode(BAD_LINES).decode()
    return orjson.dumps({"requestId": "fh-1", "timestamp": 1, "records": [{"data": data}, {"data": "%%"}]})


def telemetry_body() -> bytes:
    return orjson.dumps([{"time": "2026-12-02T10:00:00Z", "type": "function", "record": '{"event": broken'},
                         {"record": "no type"}])


BEARER = {"Authorization": f"Bearer {TOKEN}"}
ALL_HEADERS = {**BEARER, "X-Api-Key": API_KEY, "X-Amz-Firehose-Access-Key": API_KEY, "Cookie": f"s={TOKEN}"}

ROUTES = [  # (route, body, credentials as a client sends them)
    ("/v1/events", BAD_LINES, BEARER),
    ("/v1/events", BAD_LINES, {"X-Api-Key": API_KEY}),
    ("/v1/events", BAD_LINES, {**ALL_HEADERS, "X-Request-Id": "req-7"}),
    ("/firehose", firehose_body(), {"X-Amz-Firehose-Access-Key": API_KEY, "X-Amz-Firehose-Request-Id": "fh-1"}),
    ("/firehose", firehose_body(), ALL_HEADERS),
    ("/lambda/telemetry", telemetry_body(), BEARER),
    ("/lambda/telemetry", telemetry_body(), ALL_HEADERS),
]


@pytest.mark.parametrize("path, body, headers", ROUTES,
                         ids=[f"{p.rsplit('/', 1)[1]}-{'+'.join(sorted(h))}" for p, _, h in ROUTES])
def test_pushes_with_credentials_dead_letter_their_bad_lines_without_them(path, body, headers):
    status, dead = push(path, body, headers)
    assert status == 200
    assert len(dead) >= 2
    for key, doc in dead:
        EventDeadLetter.model_validate(doc)  # the contract's fields only: no header has a place in it
        text = orjson.dumps(doc).decode() + (key or "")
        for secret in SECRETS:
            assert secret not in text, (secret, doc)
        assert "Bearer" not in text and "Authorization" not in text


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"X-Api-Key": "wrong"}],
                         ids=["none", "wrong-token", "wrong-key"])
def test_an_unauthenticated_push_is_refused_before_anything_is_dead_lettered(headers):
    status, dead = push("/v1/events", BAD_LINES, headers)
    assert status == 401 and dead == []


def test_foreign_kafka_record_headers_are_not_copied_into_dead_letters():
    from aiokafka.structs import ConsumerRecord, TopicPartition

    pub = RecordingPublisher()
    source = KafkaSource(KafkaSourceConfig(topics=["vector.logs"]), None, intake_for(pub))
    tp = TopicPartition("vector.logs", 0)
    headers = [("authorization", f"Bearer {TOKEN}".encode()), ("x-api-key", API_KEY.encode())]
    values = [b'{"event": "teleport"}', b"plain text", b'[{"event": broken']
    source.handle({tp: [ConsumerRecord(tp.topic, 0, i, 1, 0, b"k", v, None, 1, len(v), headers)
                        for i, v in enumerate(values)]})
    assert len(pub.dead) == 3
    for _, doc in pub.dead:
        EventDeadLetter.model_validate(doc)
        assert not any(secret in orjson.dumps(doc).decode() for secret in SECRETS)
