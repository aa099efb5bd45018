"""``trtlens bench streams``: the record shape the bench publishes (issue 13); the attribution cost comparison (issue 11)."""

import argparse

import pytest

from trtlens.bench import streams


def parse(*argv):
    parser = argparse.ArgumentParser()
    streams.register(parser.add_subparsers())
    return parser.parse_args(["streams", *argv])


def test_events_per_record_defaults_to_the_producers_batches_and_takes_one():
    assert parse().events_per_record == 500
    assert parse("--events-per-record", "1").events_per_record == 1


@pytest.mark.parametrize("bad", ["0", "-3", "10001"])
def test_events_per_record_out_of_range_is_refused_with_what_to_give(bad, capsys):
    with pytest.raises(SystemExit):
        parse("--events-per-record", bad)
    assert "give 1 to 10000 events per record" in capsys.readouterr().err


def test_compare_attribution_is_off_unless_asked_and_alternates_the_configurations():
    assert parse().compare_attribution is False
    args = parse("--compare-attribution", "--rounds", "3")
    assert args.compare_attribution and args.rounds == 3
    assert streams.compare_order(4) == [("off", "on"), ("on", "off"), ("off", "on"), ("on", "off")]


@pytest.mark.parametrize("bad", ["0", "21"])
def test_rounds_out_of_range_is_refused(bad, capsys):
    with pytest.raises(SystemExit):
        parse("--compare-attribution", "--rounds", bad)
    assert "give 1 to 20 rounds" in capsys.readouterr().err


def test_the_in_process_core_comparison_runs_both_configurations_on_one_input():
    from trtlens.bench import streams_core

    records, events = streams_core.build_input(300, seed=1, partitions=3)
    assert sum(len(r) for r in records.values()) >= 3 and events > 900
    r = streams_core.compare(records, events, rounds=2)
    assert [len(r["cpu_us_per_event"][m]) for m in ("off", "on")] == [2, 2]
    assert r["least_ratio"] == pytest.approx(r["least_on"] / r["least_off"], abs=1e-3) and r["least_ratio"] > 0


def test_the_source_rate_samples_the_load_as_the_emitter_does():
    import orjson

    from trtlens.bench import streams_core

    full, n_full = streams_core.build_input(600, seed=1, partitions=2)
    thinned, n = streams_core.build_input(600, seed=1, partitions=2, source_rate=0.25)
    events = [e for recs in thinned.values() for raw in recs for e in orjson.loads(raw)]
    assert 0 < len(events) == n < 0.6 * n_full
    weighted = [e for e in events if "sample_weight" in e]
    assert weighted and all(e["sample_weight"] == 4.0 and e["request_id"] for e in weighted)
    by_request: dict = {}
    for e in events:
        if e.get("request_id"):
            by_request.setdefault(e["request_id"], set()).add(e.get("sample_weight"))
    assert all(len(ws) == 1 for ws in by_request.values())  # a request's events share its weight
    errors = [e for e in events if e["event"] == "request_complete" and e["status"] == "error"]
    assert errors and all("sample_weight" not in e for e in errors)  # always kept, weight 1
