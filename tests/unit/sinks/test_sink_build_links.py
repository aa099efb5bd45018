"""diff_prev of build documents (sinks/builds.py + greybox.diff.diff_prev): batch order, memory, store lookup."""

from __future__ import annotations

import orjson
import pytest

from trtlens.greybox.diff import diff_prev
from trtlens.schemas.documents import BuildReport
from trtlens.schemas.events import EngineBuild, Fusion, LayerInfo
from trtlens.sinks.builds import BuildLinker
from trtlens.sinks.core import BulkAction, RecordRef

T0 = 1_700_000_000_000


def report(engine: str, at: int, *, fused: bool = True, version: str = "v1", model: str | None = "resnet",
           fusion_rate: float = 0.5, plugin_fallbacks: tuple[str, ...] = ()) -> dict:
    fusions = [Fusion(kind="ConvReluFusion", layers=["conv1", "relu1"], result="conv1 + relu1")] if fused else []
    layers = [LayerInfo(name="conv1 + relu1" if fused else "conv1", precision="int8")]
    if not fused:
        layers.append(LayerInfo(name="relu1", precision="fp32"))
    build = EngineBuild(event_id=f"b-{engine}-{at}", ts_ms=at, worker_id="ci", engine_id=engine, model=model,
                        model_version=version, fusions=fusions, layers=layers, plugin_fallbacks=list(plugin_fallbacks))
    doc = BuildReport(engine_id=engine, built_at_ms=at, model=model, model_version=version, report=build,
                      fusion_rate=fusion_rate)
    return doc.model_dump(mode="json")


def action(doc: dict, i: int = 0, topic: str = "builds") -> BulkAction:
    d = BuildReport.model_validate(doc)
    return BulkAction("ix", d.doc_id, orjson.dumps(doc), RecordRef(topic, 0, i))


def sources(actions):
    return [orjson.loads(a.source) for a in actions]


class Store:
    def __init__(self, docs=()):
        self.docs = list(docs)
        self.calls = []

    async def lookup(self, model, before_ms):
        self.calls.append((model, before_ms))
        older = [d for d in self.docs if d["model"] == model and d["built_at_ms"] < before_ms]
        return max(older, key=lambda d: d["built_at_ms"]) if older else None


def test_diff_prev_summarises_what_changed_and_keeps_the_whole_diff():
    old = report("e1", T0, fused=True, fusion_rate=0.71)
    new = report("e2", T0 + 1000, fused=False, version="v2", fusion_rate=0.46, plugin_fallbacks=("MultiHeadAttention",))
    d = diff_prev(old, new)
    assert d["prev_engine_id"] == "e1" and d["prev_built_at_ms"] == T0 and d["prev_model_version"] == "v1"
    assert d["fusion_rate_delta"] == pytest.approx(-0.25)
    assert d["newly_unfused"] == ["conv1 + relu1"] and d["new_plugin_fallbacks"] == ["MultiHeadAttention"]
    assert d["diff"]["old_engine_id"] == "e1" and d["diff"]["new_engine_id"] == "e2"
    assert BuildReport.model_validate({**new, "diff_prev": d}).diff_prev == d


async def test_builds_of_one_batch_chain_oldest_first_and_the_first_asks_the_store():
    store = Store([report("e0", T0 - 5000)])
    linker = BuildLinker(store.lookup)
    batch = [action(report("e2", T0 + 2000), 0), action(report("e1", T0 + 1000), 1),
             action(report("x1", T0 + 1500, model="bert"), 2)]
    out = sources(await linker.link(batch))
    assert out[1]["diff_prev"]["prev_engine_id"] == "e0"  # from the store
    assert out[0]["diff_prev"]["prev_engine_id"] == "e1"  # from the same batch, though it came later
    assert out[2]["diff_prev"] is None and linker.first_builds == 1  # bert's first build
    assert [a.doc_id for a in await linker.link(batch)] == ["e2:" + str(T0 + 2000), "e1:" + str(T0 + 1000), "x1:" + str(T0 + 1500)]


async def test_a_build_indexed_earlier_by_this_sink_is_found_before_the_store_can_show_it():
    store = Store()
    linker = BuildLinker(store.lookup)
    await linker.link([action(report("e1", T0))])
    out = sources(await linker.link([action(report("e2", T0 + 10))]))
    assert out[0]["diff_prev"]["prev_engine_id"] == "e1"


async def test_the_store_wins_when_it_knows_a_newer_predecessor():
    store = Store([report("e5", T0 + 5)])
    linker = BuildLinker(store.lookup)
    await linker.link([action(report("e1", T0))])
    out = sources(await linker.link([action(report("e9", T0 + 10))]))
    assert out[0]["diff_prev"]["prev_engine_id"] == "e5"


async def test_documents_without_model_or_already_linked_are_left_as_they_are():
    store = Store([report("e0", T0 - 1)])
    linker = BuildLinker(store.lookup)
    linked = {**report("e2", T0 + 1), "diff_prev": {"prev_engine_id": "kept"}}
    batch = [action(report("e1", T0, model=None)), action(linked)]
    out = await linker.link(batch)
    assert out == batch and store.calls == []
