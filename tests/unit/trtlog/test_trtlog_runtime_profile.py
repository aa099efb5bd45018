"""`trtlens check --profile` over what the runtime path records: layer_profile events and trtlens-layers documents."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from trtlens.cli import main
from trtlens.producers.trtlog import parse_log
from trtlens.producers.trtlog.runtime_profile import plan_engine_id, read_runtime_profile
from trtlens.producers.worker.identity import engine_id

DATA = Path(__file__).resolve().parents[2] / "data" / "trt-logs"
BUILD = str(next(DATA.glob("02-*.log")))
SPLIT_PROFILE = next((DATA / "derived").glob("d5-*.log"))  # a trtexec profile where a fused group runs split


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["check", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def rows():
    return parse_log(SPLIT_PROFILE).profile


def as_events(tmp_path: Path, requests: int = 3) -> Path:
    """The profile as a worker would publish it: one layer_profile per layer per profiled request."""
    path = tmp_path / "profile.jsonl"
    with path.open("wb") as f:
        for r in range(requests):
            for i, row in enumerate(rows()):
                ms = (row.avg_ms if row.avg_ms is not None else row.time_ms or 0.0) * (1 + 0.1 * r)
                f.write(orjson.dumps({"event": "layer_profile", "event_id": f"r{r}:layer:{i}", "ts_ms": 1,
                                      "request_id": f"r{r}", "worker_id": "w", "engine_id": "eng", "layer": row.layer,
                                      "time_ms": ms, "avg_ms": ms, "iterations": 1}) + b"\n")
    return path


def as_layer_docs(tmp_path: Path) -> Path:
    """The same as two windows of trtlens-layers documents (an Elasticsearch search response)."""
    hits = [{"_id": f"{w}-{i}", "_source": {"window_start_ms": w, "engine_id": "eng", "layer": row.layer, "count": 2,
                                             "mean_ms": row.avg_ms if row.avg_ms is not None else row.time_ms}}
            for w in (0, 10_000) for i, row in enumerate(rows())]
    path = tmp_path / "layers.json"
    path.write_bytes(orjson.dumps({"hits": {"hits": hits}}))
    return path


def test_events_and_layer_documents_read_as_one_row_per_layer(tmp_path):
    layers = [r.layer for r in rows()]
    from_events = read_runtime_profile(as_events(tmp_path))
    from_docs = read_runtime_profile(as_layer_docs(tmp_path))
    assert [r.layer for r in from_events] == layers == [r.layer for r in from_docs]
    assert sum(r.time_pct for r in from_events) == pytest.approx(100.0, abs=0.01)
    first = rows()[0]
    base = first.avg_ms if first.avg_ms is not None else first.time_ms
    assert from_events[0].avg_ms == pytest.approx(base * 1.1, rel=1e-4)  # mean of 1.0, 1.1, 1.2 ×
    assert from_docs[0].avg_ms == pytest.approx(base, rel=1e-4)
    assert read_runtime_profile(SPLIT_PROFILE) is None  # a TensorRT log: the log parser's job
    assert read_runtime_profile(tmp_path / "missing.jsonl") is None


@pytest.mark.parametrize("make", [as_events, as_layer_docs], ids=["layer_profile-events", "trtlens-layers-docs"])
def test_check_correlates_a_build_log_with_a_runtime_profile(capsys, tmp_path, make):
    rules = tmp_path / "rules.yaml"
    rules.write_text("fail_on_split_fusions: true\n")
    rc, doc = run_json(capsys, BUILD, "--profile", str(make(tmp_path)), "--rules", str(rules))
    assert rc == 1 and "split_fusion" in [f["kind"] for f in doc["report"]["findings"]]
    assert "split_fusions" in [v["rule"] for v in doc["report"]["violations"]]


def test_engine_file_gives_the_workers_engine_id_and_model_fields(capsys, tmp_path):
    plan = tmp_path / "resnet.plan"
    plan.write_bytes(b"serialized engine" * 1000)
    assert plan_engine_id(plan) == engine_id(plan)
    rc, doc = run_json(capsys, BUILD, "--engine", str(plan), "--model", "resnet", "--model-version", "v3")
    assert rc == 0
    report = doc["report"]
    assert report["engine_id"] == engine_id(plan) and report["model"] == "resnet" and report["model_version"] == "v3"
    assert main(["check", BUILD, "--engine", str(tmp_path / "nope.plan")]) == 2
    assert "--engine" in capsys.readouterr().err
