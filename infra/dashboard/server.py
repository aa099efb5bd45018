"""The dashboard's HTTP listener: the static page and ``/api/<panel>`` JSON.

Routes (GET only):

* ``/`` — the page (``static/index.html``; its JS and CSS ship in the package, nothing is fetched
  from any other host);
* ``/static/<file>`` — the page's script and style;
* ``/api/<panel>?from=&to=&model=`` — one panel's data (see :mod:`trtlens.dashboard.data`);
  400 with ``{"error": ...}`` for a bad parameter, 502 when the store fails;
* ``/healthz`` — 200.

Security, as for the obs listener: a loopback address serves anyone on the host;
any other address is refused unless ``dashboard.auth_token`` is set, and then
every request needs it, as ``Authorization: Bearer <token>`` or as the password
of HTTP Basic (what a browser asks for; any user name). Requests are not logged
and the token never appears in a log line or an answer.
"""

from __future__ import annotations

import base64
import hmac
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from trtlens.dashboard.data import BadRequest, DashboardData
from trtlens.errors import TrtlensError
from trtlens.listen import is_loopback, refusal
from trtlens.settings import Settings

log = logging.getLogger("trtlens.dashboard")

STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


class DashboardError(TrtlensError):
    """The dashboard cannot start.

    Attributes:
        host, port: the address it was asked to bind; reason: what is wrong, with the setting to change.
    """

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(f"dashboard on {host}:{port}: {reason}")


def static_file(name: str) -> bytes:
    """One file of the page, from the installed package."""
    return resources.files("trtlens.dashboard").joinpath("static", name).read_bytes()


def static_names() -> list[str]:
    return sorted(p.name for p in resources.files("trtlens.dashboard").joinpath("static").iterdir() if p.is_file())


def authorized(header: str | None, token: str) -> bool:
    """``Bearer <token>`` or ``Basic base64(user:token)``; constant-time comparison."""
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return hmac.compare_digest(value.strip().encode(), token.encode())
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(decoded.partition(":")[2].encode(), token.encode())
    return False


class DashboardServer:
    """``start()`` binds and serves in a daemon thread; ``url`` is where; ``stop()`` closes."""

    def __init__(self, settings: Settings, *, data: DashboardData | None = None) -> None:
        self.cfg = settings.dashboard  # type: ignore[attr-defined]
        if not is_loopback(self.cfg.host) and self.cfg.auth_token is None:  # the one bind rule (trtlens.listen)
            raise DashboardError(self.cfg.host, self.cfg.port, refusal(self.cfg.host, "dashboard"))
        self.data = data or DashboardData(settings)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = self.cfg.host if ":" not in self.cfg.host else f"[{self.cfg.host}]"
        return f"http://{host}:{self.port}/"

    def start(self) -> DashboardServer:
        handler = _handler(self.data, self.cfg.auth_token.get_secret_value() if self.cfg.auth_token else None)
        try:
            self._server = ThreadingHTTPServer((self.cfg.host, self.cfg.port), handler)
        except OSError as exc:
            raise DashboardError(self.cfg.host, self.cfg.port, f"cannot bind ({exc.strerror or exc}); "
                                 "choose another dashboard.port (0 picks a free one)") from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="dashboard", daemon=True)
        self._thread.start()
        log.info("dashboard=serving url=%s auth=%s", self.url, "token" if self.cfg.auth_token else "none(loopback)")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.data.close()


def _handler(data: DashboardData, token: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "trtlens-dashboard"

        def log_message(self, format: str, *args: Any) -> None:  # requests are not logged
            return

        def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                             "style-src 'self' 'unsafe-inline'; connect-src 'self'")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, obj: Any) -> None:
            self._send(status, orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS), "application/json")

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            if token is not None and not authorized(self.headers.get("Authorization"), token):
                self._send(401, b"token required\n", "text/plain; charset=utf-8",
                           {"WWW-Authenticate": 'Basic realm="trtlens dashboard", charset="UTF-8"'})
                return
            url = urlsplit(self.path)
            path = url.path
            if path in ("/", "/index.html"):
                self._send(200, static_file("index.html"), STATIC_TYPES[".html"])
            elif path == "/healthz":
                self._send(200, b"ok\n", "text/plain; charset=utf-8")
            elif path.startswith("/static/"):
                name = path.removeprefix("/static/")
                if name not in static_names():
                    self._send(404, b"not found\n", "text/plain; charset=utf-8")
                    return
                self._send(200, static_file(name), STATIC_TYPES.get("." + name.rsplit(".", 1)[-1], "application/octet-stream"))
            elif path.startswith("/api/"):
                params = dict(parse_qsl(url.query))
                try:
                    self._json(200, data.panel(path.removeprefix("/api/"), params))
                except BadRequest as exc:
                    self._json(400, {"error": str(exc), "param": exc.param})
                except Exception as exc:  # the store failed: say so, keep serving
                    log.warning("dashboard=store_error panel=%s error=%s", path, type(exc).__name__)
                    self._json(502, {"error": f"the store failed: {type(exc).__name__}: {str(exc)[:300]}"})
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")

    return Handler
