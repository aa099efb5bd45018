"""Load generator into the real broker: what lands is what the ground truth says; the CLI writes the truth file."""

from __future__ import annotations

import json

import orjson

from trtlens.cli import main
from trtlens.producers.load.config import FaultSpec, LoadConfig
from trtlens.producers.load.core import generate, summarise
from trtlens.producers.load.runner import publish_run
from trtlens.schemas.codec import validate_event

from prodtest_helpers import read_topic

START = 1_700_000_000_000
KEYS = ("model", "model_version", "window_start_ms", "window_ms", "requests", "errors", "cold_starts",
        "p50_ms", "p95_ms", "p99_ms")


def test_published_load_matches_its_ground_truth(isolated, spool_config):
    config = LoadConfig(seed=11, rate_rps=300, duration_s=12, start_ms=START, window_ms=5000,
                        faults=FaultSpec(duplicate_rate=0.02, out_of_order_rate=0.02, late_rate=0.01,
                                         incomplete_rate=0.01, grace_ms=1000, late_by_ms=200))
    run = generate(config)
    truth = run.ground_truth
    stats = publish_run(run, isolated, publisher_config=spool_config)
    assert stats.delivered and stats.counters["published"] == truth["events_sent"]
    landed = read_topic(isolated, isolated.topics.events, until=lambda l: len(l.events) >= truth["events_sent"])
    assert landed.errors == 0
    events = [e for _, _, e in landed.events]
    assert len(events) == truth["events_sent"]
    assert len({e["event_id"] for e in events}) == truth["events"]
    assert summarise(events, 5000) == [{k: w[k] for k in KEYS} for w in truth["windows"]]
    # the same seed reproduces the very same events (both sides read through the contract's models,
    # so defaults a model fills in, e.g. an empty runtime_versions, are on both)
    again = generate(config)
    assert sorted(orjson.dumps(validate_event(e).model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
                  for e in again.events) == sorted(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in events)


def test_load_cli_publishes_and_writes_ground_truth(isolated, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRTLENS_KAFKA__BOOTSTRAP_SERVERS", isolated.kafka.bootstrap_servers)
    monkeypatch.setenv("TRTLENS_TOPICS__EVENTS", isolated.topics.events)
    monkeypatch.setenv("TRTLENS_PRODUCER__SPOOL_DIR", str(tmp_path / "spool"))
    gt = tmp_path / "truth.json"
    rc = main(["load", "--rate", "200", "--duration-s", "5", "--seed", "3", "--start-ms", str(START),
               "--ground-truth", str(gt), "--duplicate-rate", "0.05", "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    truth = json.loads(gt.read_text())
    assert summary["counters"]["published"] == truth["events_sent"] == summary["events"]
    assert truth["seed"] == 3 and truth["start_ms"] == START and truth["faults"]["duplicates"] > 0
    landed = read_topic(isolated, isolated.topics.events, until=lambda l: len(l.events) >= truth["events_sent"])
    assert summarise([e for _, _, e in landed.events], truth["window_ms"]) == [
        {k: w[k] for k in KEYS} for w in truth["windows"]
    ]
