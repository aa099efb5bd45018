"""``notify`` settings: every file in testdata/valid loads, every file in testdata/invalid
fails with the message its first line names — and no message ever shows a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtlens.settings import SettingsError, load_settings
from trtlens.sinks.notify.config import EndpointConfig, NotifySettings

TESTDATA = Path(__file__).parent / "testdata"


def _files(kind: str) -> list[Path]:
    return sorted((TESTDATA / kind).glob("*.yaml"))


@pytest.mark.parametrize("path", _files("valid"), ids=lambda p: p.stem)
def test_valid_configs_load(path):
    settings = load_settings(path)
    assert isinstance(settings.notify, NotifySettings)
    for ep in settings.notify.endpoints:
        assert "SECRET" not in repr(ep) and "SECRET" not in str(settings.notify)


@pytest.mark.parametrize("path", _files("invalid"), ids=lambda p: p.stem)
def test_invalid_configs_name_key_and_rule_and_never_a_secret(path):
    expected = path.read_text().splitlines()[0].removeprefix("# error: ")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    message = str(info.value)
    assert expected in message
    assert "SECRET" not in message, message


def test_three_kinds_file_in_detail():
    n = load_settings(TESTDATA / "valid" / "three_kinds.yaml").notify
    am, chat, audit = n.endpoints
    assert (am.kind, chat.kind, audit.kind) == ("alertmanager", "slack", "webhook")
    assert am.post_url() == "http://alertmanager:9093/api/v2/alerts" and am.labels == {"severity": "page"}
    assert chat.post_url() == "https://hooks.slack.com/services/T000/B000/SECRETxyz"  # posted as given
    assert chat.rules == ["p99_above_1s"] and audit.scopes == ["model_version", "worker"]
    assert audit.headers["Authorization"].get_secret_value() == "Bearer SECRETdef" and audit.timeout_s == 3
    assert n.max_attempts == 8 and n.queue_max == 1000 and n.group_id == "trtlens-notify"


def test_alertmanager_url_that_names_the_api_is_kept():
    ep = load_settings(TESTDATA / "valid" / "tuned.yaml").notify.endpoints[0]
    assert ep.post_url() == "http://127.0.0.1:9093/api/v2/alerts" and ep.firing_ends_after_s == 0


def test_endpoints_from_the_environment(monkeypatch):
    monkeypatch.setenv("TRTLENS_NOTIFY__ENDPOINTS",
                       '[{"name": "w", "kind": "webhook", "url": "https://x.example/SECRETenv"}]')
    monkeypatch.setenv("TRTLENS_NOTIFY__MAX_ATTEMPTS", "4")
    n = load_settings().notify
    assert [e.name for e in n.endpoints] == ["w"] and n.max_attempts == 4


def test_secrets_lists_url_parts_and_header_values():
    ep = EndpointConfig(name="a", kind="webhook", url="https://user:pw1234@x.example/hooks/T0/SECRETseg?token=SECRETq",
                        headers={"X-Api-Key": "Bearer SECRETh"})
    secrets = ep.secrets()
    for part in ("SECRETseg", "token=SECRETq", "pw1234", "Bearer SECRETh", ep.url.get_secret_value()):
        assert any(part in s for s in secrets), part
