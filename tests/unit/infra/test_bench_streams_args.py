"""``trtlens bench streams --events-per-record``: the record shape the bench publishes (issue 13)."""

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
