"""trtlens.listen: the one bind rule of every HTTP listener, and where it is applied."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr

from trtlens.listen import BindRefusedError, bearer_ok, check_bind, is_loopback
from trtlens.obs import ObsError, Observability
from trtlens.settings import ObsSettings, SettingsError, load_settings

TOKEN = "listen-test-token-0123"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_loopback_binds_need_no_authentication(host):
    assert is_loopback(host)
    check_bind(host, 8080, authenticated=False, section="dashboard")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "192.168.1.2", "metrics.example", "localhost.evil"])
def test_other_binds_are_refused_without_authentication_naming_the_settings(host):
    assert not is_loopback(host)
    with pytest.raises(BindRefusedError) as info:
        check_bind(host, 8080, authenticated=False, section="dashboard")
    err = info.value
    assert (err.host, err.port, err.section) == (host, 8080, "dashboard")
    msg = str(err)
    assert "dashboard.auth_token" in msg and "TRTLENS_DASHBOARD__AUTH_TOKEN" in msg and "TRTLENS_DASHBOARD__HOST" in msg
    check_bind(host, 8080, authenticated=True, section="dashboard")  # with a token: allowed


def test_a_listener_without_authentication_is_told_to_bind_loopback_only():
    with pytest.raises(BindRefusedError) as info:
        check_bind("0.0.0.0", None, authenticated=False, section="streams", host_key="web_bind", token_key=None)
    msg = str(info.value)
    assert "streams.web_bind" in msg and "TRTLENS_STREAMS__WEB_BIND" in msg and "auth_token" not in msg


@pytest.mark.parametrize(("header", "token", "ok"), [
    (None, None, True),
    ("anything", None, True),
    (f"Bearer {TOKEN}", TOKEN, True),
    (f"Bearer {TOKEN}", SecretStr(TOKEN), True),
    (None, TOKEN, False),
    ("", TOKEN, False),
    (f"bearer {TOKEN}", TOKEN, False),
    (f"Bearer {TOKEN}x", TOKEN, False),
    (TOKEN, TOKEN, False),
])
def test_bearer_ok(header, token, ok):
    assert bearer_ok(header, token) is ok


def test_the_default_obs_listener_is_on_loopback_and_a_wildcard_needs_a_token(monkeypatch):
    assert ObsSettings().host == "127.0.0.1"
    with Observability(ObsSettings(port=0)) as obs:
        assert obs._server is not None
        assert obs._server.server_address[0] == "127.0.0.1"
    monkeypatch.setenv("TRTLENS_OBS__HOST", "0.0.0.0")
    with pytest.raises(SettingsError, match="obs.auth_token"):
        load_settings()
    with pytest.raises(ObsError, match="obs.auth_token"):
        Observability(ObsSettings.model_construct(enabled=True, host="0.0.0.0", port=0, port_file=None,
                                                  auth_token=None)).start()
    # with a token the wildcard binds, and the token's value appears in no message
    monkeypatch.setenv("TRTLENS_OBS__AUTH_TOKEN", TOKEN)
    s = load_settings().obs.model_copy(update={"port": 0})
    with Observability(s) as obs:
        assert obs._server.server_address[0] == "0.0.0.0"
        assert obs._server.socket.family == socket.AF_INET


def test_faust_web_binds_loopback_by_default_and_refuses_others(monkeypatch):
    from trtlens.streams.config import StreamsSettings

    assert StreamsSettings().web_bind == "127.0.0.1"
    monkeypatch.setenv("TRTLENS_STREAMS__WEB_BIND", "0.0.0.0")
    with pytest.raises(SettingsError) as info:
        load_settings()
    (key, value, rule), = info.value.problems
    assert (key, value) == ("streams.web_bind", "0.0.0.0") and "no authentication" in rule
