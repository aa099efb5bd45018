"""The dashboard listener: loopback by default, token required when set, static files from the package."""

import base64
import urllib.error
import urllib.request

import pytest

from trtlens.dashboard.server import DashboardError, DashboardServer
from trtlens.settings import load_settings


def fetch(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.headers, resp.read()


def test_serves_the_page_and_its_files_on_loopback():
    server = DashboardServer(load_settings(dashboard={"port": 0})).start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        status, headers, body = fetch(server.url)
        assert status == 200 and b'<script src="static/app.js">' in body
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        for name, ctype in (("app.js", "text/javascript"), ("app.css", "text/css")):
            status, headers, body = fetch(f"{server.url}static/{name}")
            assert status == 200 and headers["Content-Type"].startswith(ctype) and body
        with pytest.raises(urllib.error.HTTPError) as err:
            fetch(f"{server.url}static/../config.py")
        assert err.value.code == 404
    finally:
        server.stop()


def test_a_token_is_required_when_set_and_never_echoed():
    server = DashboardServer(load_settings(dashboard={"port": 0, "auth_token": "s3cret-token"})).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            fetch(f"{server.url}healthz")
        assert err.value.code == 401 and "Basic" in err.value.headers["WWW-Authenticate"]
        assert b"s3cret" not in err.value.read()
        assert fetch(f"{server.url}healthz", {"Authorization": "Bearer s3cret-token"})[0] == 200
        basic = base64.b64encode(b"ops:s3cret-token").decode()
        assert fetch(server.url, {"Authorization": f"Basic {basic}"})[0] == 200
        with pytest.raises(urllib.error.HTTPError):
            fetch(server.url, {"Authorization": "Bearer wrong"})
    finally:
        server.stop()


def test_a_taken_port_says_what_to_change():
    first = DashboardServer(load_settings(dashboard={"port": 0})).start()
    try:
        with pytest.raises(DashboardError, match="dashboard.port"):
            DashboardServer(load_settings(dashboard={"port": first.port})).start()
    finally:
        first.stop()


def test_an_exposed_address_without_token_is_refused_at_start():
    settings = load_settings(dashboard={"port": 0})
    settings.dashboard.__dict__["host"] = "0.0.0.0"  # bypass the settings check: the server checks again
    with pytest.raises(DashboardError, match="auth_token"):
        DashboardServer(settings)
