"""BulkWriter against a scripted client object (the sink takes a client; no network here)."""

from __future__ import annotations

import random

import pytest
from elastic_transport import ApiResponseMeta, ConnectionTimeout, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from trtlens.sinks.sink import _safe_url
from trtlens.sinks.config import SinkSettings
from trtlens.sinks.core import BulkAction, RecordRef
from trtlens.sinks.writer import BulkWriter, RetriesExhaustedError, StoreRejectedError


def _meta(status: int) -> ApiResponseMeta:
    return ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "localhost", 9200))


class _Resp:
    def __init__(self, body):
        self.body = body


class ScriptedClient:
    """Answers bulk requests from a script; records the _ids of every request."""

    def __init__(self, script):
        self.script = list(script)
        self.requests: list[list[str]] = []

    async def bulk(self, operations: bytes):
        import orjson

        lines = operations.strip().split(b"\n")
        ids = [orjson.loads(line)["index"]["_id"] for line in lines[0::2]]
        self.requests.append(ids)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return _Resp(step(ids))


def ok(ids):
    return {"errors": False, "items": [{"index": {"_id": i, "status": 201}} for i in ids]}


def item_statuses(statuses: dict[str, int]):
    def answer(ids):
        items = []
        for i in ids:
            st = statuses.get(i, 201)
            body = {"_id": i, "status": st}
            if st >= 300:
                body["error"] = {"type": "mapper_parsing_exception" if st == 400 else "es_rejected_execution_exception",
                                 "reason": f"failed for {i}"}
            items.append({"index": body})
        return {"errors": True, "items": items}
    return answer


def actions(n: int) -> list[BulkAction]:
    return [BulkAction("ix", f"d{i}", b'{"a":1}', RecordRef("t", 0, i)) for i in range(n)]


FAST = SinkSettings(backoff_initial_ms=1, backoff_max_ms=2, chunk_docs=3)


async def test_splits_into_chunks_and_acks_everything():
    client = ScriptedClient([ok, ok, ok])
    w = BulkWriter(client, FAST)
    result = await w.write(actions(7))
    assert client.requests == [["d0", "d1", "d2"], ["d3", "d4", "d5"], ["d6"]]
    assert [a.doc_id for a in result.acked] == [f"d{i}" for i in range(7)] and not result.rejected
    assert w.counters["bulks"] == 3 and w.counters["retries"] == 0


async def test_retries_only_failed_docs_and_dead_letters_rejections():
    flips: list[bool] = []
    client = ScriptedClient([
        ApiError("too many requests", _meta(429), {}),
        ConnectionTimeout("timed out"),
        item_statuses({"d1": 429, "d2": 400}),
        ok,
    ])
    w = BulkWriter(client, FAST, on_backpressure=flips.append, rng=random.Random(0))
    result = await w.write(actions(3))
    assert client.requests == [["d0", "d1", "d2"]] * 3 + [["d1"]]
    assert sorted(a.doc_id for a in result.acked) == ["d0", "d1"]
    (letter,) = result.rejected
    assert (letter.doc_id, letter.status, letter.code, letter.error_type) == ("d2", 400, "rejected", "mapper_parsing_exception")
    assert "failed for d2" in letter.reason
    assert flips == [True, False] and not w.backpressure
    assert w.counters["retries"] == 3


@pytest.mark.parametrize("status", [400, 401, 403, 413])
async def test_whole_request_4xx_stops_instead_of_dropping(status):
    client = ScriptedClient([ApiError("no", _meta(status), {})])
    with pytest.raises(StoreRejectedError) as err:
        await BulkWriter(client, FAST).write(actions(2))
    assert err.value.status == status


async def test_max_retries_exhausted_raises():
    client = ScriptedClient([ApiError("busy", _meta(503), {})] * 3)
    with pytest.raises(RetriesExhaustedError) as err:
        await BulkWriter(client, FAST.model_copy(update={"max_retries": 3})).write(actions(1))
    assert err.value.attempts == 3 and len(client.requests) == 3


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("http://127.0.0.1:19200", "http://127.0.0.1:19200"),
        ("https://elastic:s3cret@es1:9200,https://es2:9200", "https://***@es1:9200,https://es2:9200"),
    ],
)
def test_store_url_is_logged_without_credentials(url, logged):
    assert _safe_url(url) == logged


async def test_every_bulk_attempt_lands_in_the_duration_histogram():
    client = ScriptedClient([ConnectionTimeout("timed out"), ok, ok])
    w = BulkWriter(client, FAST, rng=random.Random(0))
    await w.write(actions(4))  # two chunks, the first tried twice
    buckets = dict(w.bulk_seconds.buckets())
    assert buckets["+Inf"] == 3 == w.counters["bulks"]
    assert list(buckets.values()) == sorted(buckets.values())  # cumulative
    assert 0 <= w.bulk_seconds.sum_s < 1.0


def test_bulk_durations_bucket_on_prometheus_le_bounds():
    from trtlens.sinks.writer import BulkDurations

    d = BulkDurations()
    for seconds in (0.005, 0.01, 0.3, 2.4, 40.0):
        d.observe(seconds)
    got = dict(d.buckets())
    assert (got["0.01"], got["0.25"], got["0.5"], got["2.5"], got["30.0"], got["+Inf"]) == (2, 2, 3, 4, 4, 5)
    assert d.sum_s == pytest.approx(42.715)
