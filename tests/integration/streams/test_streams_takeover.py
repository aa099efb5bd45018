"""Issue 9, short version: repeated worker takeovers under load, checked record by record.

The long version (more cycles, several seeds) is ``make chaos`` (tests/chaos/).
See ``tests/support/takeover.py`` for what runs and what is checked.
"""

from support.takeover import run_takeovers


def test_repeated_takeovers_apply_every_record_once_and_keep_every_window_exact(stack_settings, tmp_path):
    result = run_takeovers(stack_settings, tmp_path, cycles=6, seed=9, malformed=40)
    print(result.summary())
    assert result.cycles == 6 and len(result.malformed) == 40
    assert result.problems() == [], result.explain()


def test_takeovers_with_one_event_per_record_apply_every_record_once(stack_settings, tmp_path):
    """The same guarantees when every record holds one event (the ingress batches them under Faust, issue 13)."""
    result = run_takeovers(stack_settings, tmp_path, cycles=4, seed=13, malformed=20, events_per_record=1)
    print(result.summary())
    assert result.cycles == 4 and len(result.malformed) == 20
    assert sum(result.input_records.values()) > result.requests  # one record per event, not batches
    assert result.problems() == [], result.explain()
