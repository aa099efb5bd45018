"""``trtlens bench collect``: before/after rounds from one run (issue 14 item 5)."""

import argparse

import pytest

from trtlens.bench import collect


def parse(*argv):
    parser = argparse.ArgumentParser()
    collect.register(parser.add_subparsers())
    return parser.parse_args(["collect", *argv])


def test_rounds_default_to_none_extra_and_before_is_optional():
    args = parse()
    assert args.rounds == 1 and args.before_pythonpath is None
    args = parse("--rounds", "3", "--before-pythonpath", "/tmp/before")
    assert args.rounds == 3 and args.before_pythonpath == "/tmp/before"


@pytest.mark.parametrize("bad", ["0", "21"])
def test_rounds_out_of_range_are_refused_with_what_to_give(bad, capsys):
    with pytest.raises(SystemExit):
        parse("--rounds", bad)
    assert "give 1 to 20 rounds" in capsys.readouterr().err


def test_before_and_after_alternate_who_goes_first():
    assert collect.round_order(4, before=True) == [["before", "after"], ["after", "before"],
                                                    ["before", "after"], ["after", "before"]]
    assert collect.round_order(2, before=False) == [["after"], ["after"]]


def test_the_child_runs_from_its_source_alone():
    # run as `python -c` under another installation's PYTHONPATH: it must not import trtlens.bench
    from pathlib import Path

    source = (Path(collect.__file__).with_name("collect_child.py")).read_text()
    assert "trtlens.bench" not in source and "__main__" in source
