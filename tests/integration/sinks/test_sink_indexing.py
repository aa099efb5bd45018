"""The sink against the real broker and store: placement, idempotence, dead letters."""

from __future__ import annotations

import orjson
from sink_helpers import (
    DAY1,
    DAY2,
    all_ids,
    async_wait_until,
    committed_offsets,
    make_metric,
    make_traces,
    produce,
    read_topic,
    running_sink,
    store_count,
    with_sink,
)

from trtlens.schemas.documents import Alert, BuildReport, TraceError
from trtlens.schemas.events import EngineBuild
from trtlens.sinks.core import daily_index


async def test_documents_land_once_with_id_daily_index_and_alias(isolated, es):
    settings = with_sink(isolated, group_id=f"{isolated.indices.traces}-g1", chunk_docs=50)
    idx = settings.indices
    day1 = make_traces(120, start_ms=DAY1 + 1000, prefix="a")
    day2 = make_traces(30, start_ms=DAY2 + 1000, prefix="b")
    metrics = [make_metric(DAY1 + 10_000 * i) for i in range(5)]
    alert = Alert(rule_id="p99", rule_kind="latency_p99", scope="model_version", scope_key="resnet50/v2",
                  state="firing", window_start_ms=DAY2, window_ms=10_000, value=80.0, threshold=50.0, message="slow")
    build = BuildReport(engine_id="eng-1", built_at_ms=DAY1,
                        report=EngineBuild(event_id="b1", ts_ms=DAY1, worker_id="builder", engine_id="eng-1"))
    produce(settings, "traces", day1 + day2)
    produce(settings, "metrics", metrics)
    produce(settings, "alerts", [alert])
    produce(settings, "builds", [build])

    async with running_sink(settings) as sink:
        await async_wait_until(lambda: sink.counters["indexed"] >= 157, timeout_s=30, what="157 documents indexed")
        await async_wait_until(lambda: sink.counters["commits"] > 0, timeout_s=10, what="a commit")
    assert sink.counters["dead_lettered"] == 0
    assert sink.templates["templates"] == {f: "composable" for f in ("traces", "metrics", "alerts", "builds", "layers", "findings")}
    assert sink.templates["ilm"].startswith("skipped")

    # one document per _id, in the daily index of its event time, readable through the family alias
    for alias, docs in ((idx.traces, day1 + day2), (idx.metrics, metrics), (idx.alerts, [alert]), (idx.builds, [build])):
        assert store_count(es, alias) == len(docs)
        for doc in docs[:3] + docs[-3:]:
            got = es.get(index=daily_index(alias, doc.ts_ms), id=doc.doc_id)
            assert got["_source"] == doc.model_dump(mode="json")
    assert sorted(es.indices.get_alias(name=idx.traces)) == [f"{idx.traces}-2026.11.21", f"{idx.traces}-2026.11.22"]
    mapping = es.indices.get_mapping(index=f"{idx.metrics}-2026.11.21")[f"{idx.metrics}-2026.11.21"]["mappings"]
    assert mapping["properties"]["sketch"]["enabled"] is False
    assert mapping["properties"]["scope_key"] == {"type": "keyword"}
    # the stage breakdown is queryable as an object
    hits = es.search(index=idx.traces, query={"range": {"stages.compute_ms": {"gte": 4.0}}}, size=0)
    assert hits["hits"]["total"]["value"] == 150

    # offsets were committed after the acks: the group's committed positions cover every record
    committed = committed_offsets(settings, settings.sink.group_id)
    assert sum(off for (topic, _), off in committed.items() if topic == settings.topics.traces) == 150
    assert sum(off for (topic, _), off in committed.items() if topic == settings.topics.metrics) == 5


async def test_redelivery_and_replay_overwrite_instead_of_duplicating(isolated, es):
    settings = with_sink(isolated, group_id=f"{isolated.indices.traces}-g2", chunk_docs=40)
    traces = make_traces(100, prefix="r")
    produce(settings, "traces", traces)
    produce(settings, "traces", traces[:30])  # at-least-once upstream: the same documents again
    updated = traces[5].model_copy(update={"status": "error", "error": TraceError(error_type="OOM")})
    produce(settings, "traces", [updated])  # a late update of one trace
    async with running_sink(settings) as sink:
        await async_wait_until(lambda: sink.counters["indexed"] >= 131, timeout_s=30, what="131 records indexed")
    assert store_count(es, settings.indices.traces) == 100
    # a full replay through a fresh group (e.g. after an index rebuild) overwrites too
    replay = with_sink(settings, group_id=f"{isolated.indices.traces}-replay")
    async with running_sink(replay) as sink2:
        await async_wait_until(lambda: sink2.counters["indexed"] >= 131, timeout_s=30, what="replay indexed")
    ids = all_ids(es, settings.indices.traces)
    assert len(ids) == 100 and len(set(ids)) == 100
    got = es.get(index=daily_index(settings.indices.traces, updated.ts_ms), id=updated.doc_id)["_source"]
    assert got["status"] == "error" and got["error"]["error_type"] == "OOM"  # last write wins, in offset order


async def test_poison_and_invalid_records_go_to_sink_dlq_with_reason(isolated, es):
    settings = with_sink(isolated, group_id=f"{isolated.indices.traces}-g3")
    good = make_traces(20, prefix="p")
    # valid for the model (an int) but not for the mapping (integer): only the store can refuse it
    poison = make_traces(1, prefix="poison", start_ms=DAY1 + 5)[0].model_copy(update={"batch_size": 3_000_000_000})
    produce(
        settings, "traces", good[:10] + [poison] + good[10:],
        raw=[(b"junk", b"{not json"), (b"half", orjson.dumps({"request_id": "half"}))],
    )
    async with running_sink(settings) as sink:
        await async_wait_until(lambda: sink.counters["indexed"] + sink.counters["dead_lettered"] >= 23,
                               timeout_s=30, what="all 23 records handled")
        await async_wait_until(lambda: sink.counters["commits"] > 0, timeout_s=10, what="a commit")
    assert sink.counters["indexed"] == 20
    assert (sink.counters["dlq_rejected"], sink.counters["dlq_invalid"]) == (1, 2)
    assert store_count(es, settings.indices.traces) == 20  # the neighbours are indexed

    letters = {r.key: orjson.loads(r.value) for r in read_topic(settings, settings.topics.sink_dlq, want=3)}
    assert set(letters) == {b"poison-00000", b"junk", b"half"}
    rejected = letters[b"poison-00000"]
    assert rejected["code"] == "rejected" and rejected["status"] == 400
    assert "batch_size" in rejected["reason"] and rejected["error_type"] == "mapper_parsing_exception"
    assert rejected["doc_id"] == "poison-00000" and rejected["topic"] == settings.topics.traces
    assert orjson.loads(rejected["raw"])["batch_size"] == 3_000_000_000
    assert letters[b"junk"]["code"] == "invalid_json" and letters[b"junk"]["raw"] == "{not json"
    assert letters[b"half"]["code"] == "invalid_document" and letters[b"half"]["field"]
