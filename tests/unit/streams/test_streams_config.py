import pytest

from trtlens.settings import SettingsError, load_settings
from trtlens.streams.config import StreamsSettings


def test_defaults_and_horizon():
    s = StreamsSettings()
    assert s.processing_guarantee == "at_least_once" and s.producer_max_batch_size == 1 and not s.web_enabled
    assert s.state_horizon_ms() == max(s.dedup.ttl_ms, 10_000 + 5_000 + 20_000, 10_000 + 20_000)


def test_env_overrides_nested(monkeypatch):
    monkeypatch.setenv("TRTLENS_STREAMS__METRICS__WINDOW_MS", "60000")
    monkeypatch.setenv("TRTLENS_STREAMS__TRACES__SAMPLE_RATE", "0.5")
    s = load_settings()
    assert s.streams.metrics.window_ms == 60_000 and s.streams.traces.sample_rate == 0.5
    assert s.topics.metrics_partials in s.topics.all_topics()


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ("TRTLENS_STREAMS__TRACES__SAMPLE_RATE", "streams.traces.sample_rate"),
        ("TRTLENS_STREAMS__METRICS__WINDOW_MS", "streams.metrics.window_ms"),
        ("TRTLENS_STREAMS__BOGUS", "streams.bogus"),
    ],
)
def test_invalid_values_name_the_key(monkeypatch, env, key):
    monkeypatch.setenv(env, "-3")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert key in str(err.value)


def test_faust_files_go_beside_the_other_state_not_the_working_directory(tmp_path):
    """Issue 16: `trtlens streams` used to leave `<app_id>-data/` wherever it was started."""
    from trtlens.streams.app import data_dir

    s = load_settings(stack={"state_dir": tmp_path}, streams={"app_id": "a1"})
    assert data_dir(s) == tmp_path / "streams" / "a1"
    s = load_settings(streams={"app_id": "a1", "data_dir": tmp_path / "faust"})
    assert data_dir(s) == tmp_path / "faust" / "a1"
