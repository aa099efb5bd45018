"""Named valid and invalid configurations (testdata/), the mapping file, and the committer's ack gating."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from trtlens.errors import TrtlensError
from trtlens.producers.collect.commit import Committer
from trtlens.producers.collect.config import CollectSettings

DATA = Path(__file__).with_name("testdata")
CASES = sorted(DATA.glob("*.yaml"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_configs(path):
    text = path.read_text()
    data = yaml.safe_load(text)
    if path.name.startswith("valid-"):
        CollectSettings.model_validate(data)
        return
    expect = text.splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(ValidationError) as exc:
        CollectSettings.model_validate(data)
    message = str(exc.value)
    loc_ok = any(".".join(str(p) for p in e["loc"]).startswith(expect) for e in exc.value.errors())
    assert loc_ok or expect in message, message
    assert "s3cret" not in message


def test_a_non_loopback_host_names_the_setting_to_use():
    with pytest.raises(ValidationError, match="TRTLENS_COLLECT__HTTP__API_KEY"):
        CollectSettings.model_validate({"http": {"host": "10.0.0.5"}})


def test_mapping_file(tmp_path):
    good = tmp_path / "m.yaml"
    good.write_text("mapping:\n  rename: {lat: latency_ms}\n  defaults: {model_version: v9}\n")
    m = CollectSettings(mapping_file=good).effective_mapping()
    assert m.rename == {"lat": "latency_ms"} and m.defaults == {"model_version": "v9"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("mapping:\n  renam: {}\n")
    with pytest.raises(TrtlensError, match="bad.yaml"):
        CollectSettings(mapping_file=bad).effective_mapping()


class Pub:
    def __init__(self, results):
        self.results = list(results)
        self.flushes = 0

    def flush(self, timeout_s):
        self.flushes += 1
        return self.results.pop(0)


def test_callbacks_run_only_after_an_acknowledged_flush_and_in_order():
    pub = Pub([False, True])
    c = Committer(pub)
    ran = []
    c.after_ack(lambda: ran.append(1))
    assert not c.commit_now() and ran == [] and c.pending == 1
    c.after_ack(lambda: ran.append(2))
    assert c.commit_now() and ran == [1, 2] and c.pending == 0
    assert (c.rounds, c.failed_rounds) == (2, 1)


def test_a_keyed_callback_supersedes_the_pending_one_with_its_key_even_across_a_failed_round():
    pub = Pub([False, True])
    c = Committer(pub)
    ran = []
    c.after_ack(lambda: ran.append("cp1"), key="files")
    c.after_ack(lambda: ran.append("http"))
    c.after_ack(lambda: ran.append("cp2"), key="files")
    assert c.pending == 2  # cp1 dropped: cp2 covers it
    assert not c.commit_now() and ran == []
    c.after_ack(lambda: ran.append("cp3"), key="files")  # registered while the failed round's entries wait
    assert c.commit_now() and ran == ["http", "cp3"] and c.pending == 0


def test_a_failing_callback_does_not_stop_the_others():
    c = Committer(Pub([True]))
    ran = []
    c.after_ack(lambda: 1 / 0)
    c.after_ack(lambda: ran.append("ok"))
    assert c.commit_now() and ran == ["ok"]


def test_while_the_publisher_spools_a_round_neither_waits_nor_commits():
    pub = Pub([True])
    pub.spooling = True
    c = Committer(pub)
    ran = []
    c.after_ack(lambda: ran.append(1))
    assert not c.commit_now() and pub.flushes == 0 and ran == []
    pub.spooling = False
    assert c.commit_now() and ran == [1]


def test_intake_pauses_reading_only_while_spooling_at_the_bound():
    from trtlens.producers.collect.config import MappingConfig
    from trtlens.producers.collect.intake import Intake
    from trtlens.producers.collect.mapping import Mapper

    class P:
        spooling = False
        counters = {"spool_pending": 10}

    p = P()
    intake = Intake(p, Committer(p), Mapper(MappingConfig(), worker_id="w"), spool_pause_events=10)
    assert not intake.paused()
    p.spooling = True
    assert intake.paused()
    p.counters = {"spool_pending": 9}
    assert not intake.paused()


@pytest.mark.parametrize("argv, message", [
    (["collect"], "no source configured"),
    (["collect", "--lambda-extension"], "AWS_LAMBDA_RUNTIME_API is not set"),
    (["collect", "--http", "--http-host", "0.0.0.0"], "needs collect.http.api_key"),
    (["collect", "--files", "x", "--mapping", "/nonexistent/m.yaml"], "cannot read it"),
])
def test_cli_refuses_before_connecting_and_says_what_to_do(argv, message, capsys, monkeypatch):
    from trtlens.cli import main

    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
