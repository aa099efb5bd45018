"""trtlens.obs: the listener on a real loopback socket, its security rules, collectors read at scrape time."""

from __future__ import annotations

import logging

import pytest

from trtlens.obs import ObsError, Observability, counter, gauge, http_get, parse_metrics, scrape
from trtlens.settings import ObsSettings, SettingsError, is_loopback, load_settings

TOKEN = "s3cret-token-for-tests"


class Live:
    """A component's live counters, read by its collector only when scraped."""

    def __init__(self) -> None:
        self.records = {0: 0, 1: 0}
        self.open = 0

    def collect(self):
        yield counter("trtlens_test_records_total", "records", {str(p): n for p, n in self.records.items()},
                      ("partition",))
        yield gauge("trtlens_test_open_things", "open things", self.open)


@pytest.fixture
def served():
    started = []

    def start(**settings) -> Observability:
        obs = Observability(ObsSettings(**settings))
        obs.start()
        started.append(obs)
        return obs

    yield start
    for obs in started:
        obs.stop()


def test_serves_metrics_healthz_and_readyz_on_a_free_loopback_port(served, tmp_path):
    obs = served(port_file=tmp_path / "port")
    assert obs.port and obs.url == f"http://127.0.0.1:{obs.port}"
    assert (tmp_path / "port").read_text().strip() == str(obs.port)
    status, body = http_get(obs.url + "/metrics")
    assert status == 200 and "process_cpu_seconds_total" in body and "python_info" in body
    assert http_get(obs.url + "/healthz") == (200, "ok\n")
    assert http_get(obs.url + "/readyz") == (503, "not ready: starting\n")
    obs.set_readiness(lambda: (True, "assigned=3"))
    assert http_get(obs.url + "/readyz") == (200, "ready: assigned=3\n")
    assert http_get(obs.url + "/other")[0] == 404
    obs.stop()
    assert not (tmp_path / "port").exists()


def test_collectors_read_live_values_at_each_scrape(served):
    obs = served()
    live = Live()
    obs.register(live)
    first = scrape(obs.url)
    assert first.by_label("trtlens_test_records_total", "partition") == {"0": 0.0, "1": 0.0}
    live.records[1] = 41
    live.records[2] = 1
    live.open = 7
    second = scrape(obs.url)
    assert second.by_label("trtlens_test_records_total", "partition") == {"0": 0.0, "1": 41.0, "2": 1.0}
    assert second.value("trtlens_test_records_total") == 42
    assert second.value("trtlens_test_records_total", partition="1") == 41
    assert second.value("trtlens_test_open_things") == 7


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.3.2.1", True), ("localhost", True), ("::1", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("metrics.example.com", False)],
)
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def test_a_non_loopback_bind_without_a_token_is_refused_naming_the_setting(monkeypatch):
    monkeypatch.setenv("TRTLENS_OBS__HOST", "0.0.0.0")
    with pytest.raises(SettingsError) as info:
        load_settings()
    (key, value, rule), = info.value.problems
    assert (key, value) == ("obs.host", "0.0.0.0")
    assert "obs.auth_token" in rule and "TRTLENS_OBS__AUTH_TOKEN" in str(info.value)
    # the listener checks again when handed settings that skipped validation
    with pytest.raises(ObsError, match="obs.auth_token"):
        Observability(ObsSettings.model_construct(enabled=True, host="0.0.0.0", port=0, port_file=None,
                                                  auth_token=None)).start()
    monkeypatch.setenv("TRTLENS_OBS__AUTH_TOKEN", TOKEN)
    assert load_settings().obs.host == "0.0.0.0"
    monkeypatch.setenv("TRTLENS_OBS__ENABLED", "false")
    monkeypatch.delenv("TRTLENS_OBS__AUTH_TOKEN")
    assert load_settings().obs.enabled is False  # nothing is bound: nothing to protect


def test_a_token_is_enforced_and_never_shown(served, caplog):
    caplog.set_level(logging.DEBUG)
    obs = served(auth_token=TOKEN)
    for path in ("/metrics", "/healthz", "/readyz"):
        assert http_get(obs.url + path)[0] == 401
        assert http_get(obs.url + path, token="wrong")[0] == 401
    status, body = http_get(obs.url + "/metrics", token=TOKEN)
    assert status == 200 and TOKEN not in body
    assert http_get(obs.url + "/healthz", token=TOKEN) == (200, "ok\n")
    assert TOKEN not in caplog.text and "auth=bearer" in caplog.text
    assert TOKEN not in repr(load_settings(obs={"auth_token": TOKEN}))


def test_secret_values_are_not_repeated_in_settings_errors(monkeypatch):
    monkeypatch.setenv("TRTLENS_OBS__AUTH_TOKEN", "   ")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert info.value.problems[0][:2] == ("obs.auth_token", "**********")


def test_a_failing_collector_or_check_does_not_take_the_listener_down(served):
    obs = served()

    class Broken:
        def collect(self):
            raise RuntimeError("boom")

    obs.register(Broken())
    assert http_get(obs.url + "/metrics")[0] == 500

    def check():
        raise ValueError("no")

    obs.set_readiness(check)
    status, body = http_get(obs.url + "/readyz")
    assert status == 503 and "readiness check failed" in body
    assert http_get(obs.url + "/healthz")[0] == 200


def test_disabled_binds_nothing():
    obs = Observability(ObsSettings(enabled=False))
    assert obs.start() is None and obs.url is None
    obs.stop()


def test_a_port_in_use_is_an_obs_error_naming_the_setting(served):
    first = served()
    with pytest.raises(ObsError, match="TRTLENS_OBS__PORT"):
        Observability(ObsSettings(port=first.port)).start()


def test_parse_metrics_sums_over_label_subsets():
    text = (
        "# TYPE trtlens_x_sent counter\n"
        'trtlens_x_sent_total{topic="a",partition="0"} 2.0\n'
        'trtlens_x_sent_total{topic="a",partition="1"} 3.0\n'
        'trtlens_x_sent_total{topic="b",partition="0"} 5.0\n'
        "# TYPE trtlens_x_lag_records gauge\n"
        "trtlens_x_lag_records 4.0\n"
    )
    s = parse_metrics(text)
    assert s.value("trtlens_x_sent_total") == 10
    assert s.value("trtlens_x_sent_total", topic="a") == 5
    assert s.by_label("trtlens_x_sent_total", "topic") == {"a": 5.0, "b": 5.0}
    assert s.by_label("trtlens_x_sent_total", "partition", topic="a") == {"0": 2.0, "1": 3.0}
    assert s.value("trtlens_x_lag_records") == 4 and s.value("absent") == 0
    assert "trtlens_x_lag_records" in s
