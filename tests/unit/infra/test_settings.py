"""Settings: sources and their priority, and errors naming key, value and rule."""

from __future__ import annotations

import pytest

from trtlens.settings import SettingsError, load_settings


def test_defaults_point_at_the_embedded_stack(monkeypatch):
    monkeypatch.delenv("TRTLENS_CONFIG", raising=False)
    s = load_settings()
    assert s.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert s.elasticsearch.url == "http://127.0.0.1:19200"
    assert s.topics.events == "trtlens.events" and s.topics.partitions == 3


def test_env_overrides_nested_keys(monkeypatch):
    monkeypatch.setenv("TRTLENS_KAFKA__BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("TRTLENS_TOPICS__PARTITIONS", "12")
    monkeypatch.setenv("TRTLENS_ELASTICSEARCH__PASSWORD", "s3cret")
    s = load_settings()
    assert s.kafka.kafka_python_kwargs()["bootstrap_servers"] == ["k1:9092", "k2:9092"]
    assert s.topics.partitions == 12
    assert s.elasticsearch.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        (".toml", '[kafka]\nbootstrap_servers = "filehost:1"\n[topics]\npartitions = 6\n'),
        (".yaml", "kafka:\n  bootstrap_servers: filehost:1\ntopics:\n  partitions: 6\n"),
    ],
)
def test_config_file_then_env_wins(tmp_path, monkeypatch, suffix, text):
    path = tmp_path / f"trtlens{suffix}"
    path.write_text(text)
    assert load_settings(path).kafka.bootstrap_servers == "filehost:1"
    monkeypatch.setenv("TRTLENS_TOPICS__PARTITIONS", "9")
    s = load_settings(path)
    assert (s.kafka.bootstrap_servers, s.topics.partitions) == ("filehost:1", 9)


@pytest.mark.parametrize(
    ("env", "value", "key", "rule"),
    [
        ("TRTLENS_KAFKA__BOOTSTRAP_SERVERS", "nohostport", "kafka.bootstrap_servers", "host:port"),
        ("TRTLENS_TOPICS__PARTITIONS", "0", "topics.partitions", "greater than or equal to 1"),
        ("TRTLENS_ELASTICSEARCH__URL", "localhost:9200", "elasticsearch.url", "http://"),
        ("TRTLENS_KAFKA__SECURITY_PROTOCOL", "TLS", "kafka.security_protocol", "PLAINTEXT"),
    ],
)
def test_invalid_values_name_key_value_and_rule(monkeypatch, env, value, key, rule):
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    (problem_key, problem_value, problem_rule), *_ = info.value.problems
    assert problem_key == key
    assert problem_value == value
    assert rule in problem_rule
    assert key in str(info.value) and env in str(info.value)


def test_unknown_keys_are_rejected(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[kafka]\nbootstrap_server = 'typo:1'\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert info.value.problems[0][0] == "kafka.bootstrap_server"


def test_missing_config_file_is_a_settings_error(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")


def test_sasl_options_reach_client_kwargs(monkeypatch):
    monkeypatch.setenv("TRTLENS_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("TRTLENS_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("TRTLENS_KAFKA__SASL_USERNAME", "u")
    monkeypatch.setenv("TRTLENS_KAFKA__SASL_PASSWORD", "p")
    kw = load_settings().kafka.kafka_python_kwargs()
    assert (kw["sasl_mechanism"], kw["sasl_plain_username"], kw["sasl_plain_password"]) == ("SCRAM-SHA-512", "u", "p")


def test_settings_env_reproduces_every_section_in_a_child_secrets_included(monkeypatch):
    """One serialisation for every supervisor (issue 10), lists of models with secrets included."""
    from trtlens.settings import settings_env

    s = load_settings(
        kafka={"sasl_mechanism": "PLAIN", "sasl_password": "kpw"},
        streams={"app_id": "x", "alerts": {"rules": [{"kind": "p99_above", "id": "a", "threshold_ms": 3}]}},
        notify={"endpoints": [{"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/h?token=wpw"}]},
    )
    for key, value in settings_env(s).items():
        monkeypatch.setenv(key, value)
    assert load_settings() == s
