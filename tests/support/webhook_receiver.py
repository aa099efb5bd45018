"""A local HTTP receiver for the notifier's tests (127.0.0.1, a free port): integration and chaos.

It emulates three receivers from their documented request shapes — it is not
the real thing:

* ``/hook/<token>`` — a generic JSON webhook: one object whose
  ``idempotency_key`` equals the ``Idempotency-Key`` header;
* ``/slack/services/T0/B0/<token>`` — Slack's incoming webhook: ``{"text": str,
  "blocks": [...]}``, answered ``ok`` as Slack does;
* ``/api/v2/alerts`` — Alertmanager's API v2 ``postAlerts``: a JSON list of
  ``{labels (alertname required), annotations, startsAt, endsAt?, generatorURL?}``
  with string label/annotation values and RFC 3339 times, answered 200.

Any other path starting with ``/broken/`` is a webhook too (for the endpoint
that must fail). Each receiver (``hook``, ``slack``, ``am``, ``broken``) can
fail on demand: a queue of planned answers (a status, a status with
``Retry-After``, a timeout, a hold until released), or one answer for every
request. Only requests the receiver *accepted* (answered 2xx after a valid
shape) count as delivered; every raw request is kept too.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

KINDS = ("hook", "slack", "am", "broken")


@dataclass
class Request:
    kind: str
    path: str
    headers: dict[str, str]
    body: bytes
    key: str | None


@dataclass
class Box:
    """One receiver's plan and what it saw."""

    plan: collections.deque = field(default_factory=collections.deque)
    always: tuple | None = None  # an answer for every request once the plan is empty
    hold_after: int | None = None  # after this many accepted, hold every request until released (once)
    raw: list[Request] = field(default_factory=list)
    accepted: list[Request] = field(default_factory=list)
    malformed: list[tuple[Request, str]] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def keys(self) -> collections.Counter:
        return collections.Counter(r.key for r in self.accepted)


def _rfc3339(value: Any) -> bool:
    if not isinstance(value, str) or not value.endswith("Z"):
        return False
    try:
        return dt.datetime.fromisoformat(value[:-1] + "+00:00").tzinfo is not None
    except ValueError:
        return False


def check_shape(kind: str, body: bytes, header_key: str | None) -> tuple[str | None, str | None]:
    """``(idempotency key found in the body, problem or None)`` for one request body."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return None, f"not JSON: {exc}"
    if kind in ("hook", "broken"):
        if not isinstance(obj, dict) or not isinstance(obj.get("alert"), dict):
            return None, "webhook body must be an object with the alert document"
        key = obj.get("idempotency_key")
    elif kind == "slack":
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not isinstance(obj.get("blocks"), list):
            return None, "slack body must be {text: str, blocks: list}"
        if any(not isinstance(b, dict) or "type" not in b for b in obj["blocks"]):
            return None, "every block needs a type"
        context = [e.get("text", "") for b in obj["blocks"] if b["type"] == "context" for e in b.get("elements", [])]
        key = next((w.strip("`") for t in context for w in t.split() if w.strip("`").startswith("tln1-")), None)
    else:
        if not isinstance(obj, list) or not obj:
            return None, "alertmanager body must be a non-empty list of alerts"
        for a in obj:
            if not isinstance(a, dict) or set(a) - {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}:
                return None, f"unknown alert fields {sorted(set(a) - {'labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL'})}"
            labels, ann = a.get("labels"), a.get("annotations", {})
            if not isinstance(labels, dict) or not labels.get("alertname"):
                return None, "labels.alertname is required"
            if not all(isinstance(v, str) for v in {**labels, **ann}.values()):
                return None, "label and annotation values must be strings"
            for ts in ("startsAt", "endsAt"):
                if ts in a and not _rfc3339(a[ts]):
                    return None, f"{ts} must be RFC 3339"
            if "startsAt" in a and "endsAt" in a and a["endsAt"] < a["startsAt"]:
                return None, "endsAt before startsAt"
        key = obj[0]["annotations"].get("idempotency_key")
    if key != header_key:
        return key, f"body key {key!r} differs from the Idempotency-Key header {header_key!r}"
    return key, None


class Receiver:
    """Start with :meth:`start`; URLs from :meth:`url`; stop with :meth:`stop`."""

    def __init__(self) -> None:
        self.boxes = {k: Box() for k in KINDS}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                receiver._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for box in self.boxes.values():
            box.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def url(self, kind: str, token: str = "SECRETtok3n") -> str:
        base = f"http://127.0.0.1:{self.port}"
        return {"hook": f"{base}/hook/{token}", "slack": f"{base}/slack/services/T0/B0/{token}",
                "am": base, "broken": f"{base}/broken/{token}"}[kind]

    # ------------------------------------------------------------ serving

    @staticmethod
    def kind_of(path: str) -> str | None:
        if path.startswith("/hook/"):
            return "hook"
        if path.startswith("/slack/services/"):
            return "slack"
        if path == "/api/v2/alerts":
            return "am"
        if path.startswith("/broken/"):
            return "broken"
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        kind = self.kind_of(h.path)
        if kind is None:
            return self._answer(h, 404, b"no such path")
        box = self.boxes[kind]
        req = Request(kind, h.path, {k: v for k, v in h.headers.items()}, body, h.headers.get("Idempotency-Key"))
        with self._lock:
            box.raw.append(req)
            if box.held.is_set() and not box.release.is_set():
                action: tuple = ("hold",)  # while holding, retries (after a client timeout) hang as well
            elif box.hold_after is not None and len(box.accepted) >= box.hold_after and not box.held.is_set():
                action = ("hold",)
            elif box.plan:
                action = box.plan.popleft()
            else:
                action = box.always or ("ok",)
        if action[0] == "hold":  # the notifier waits on this request; the test kills it meanwhile
            box.held.set()
            box.release.wait(120)
            return self._answer(h, 503, b"held, then refused")
        if action[0] == "timeout":
            time.sleep(action[1])
            return self._answer(h, 503, b"too late")
        if action[0] == "status":
            headers = {"Retry-After": action[2]} if len(action) > 2 else {}
            return self._answer(h, action[1], b"planned failure for SECRETtok3n", headers)
        key, problem = check_shape(kind, body, req.key)
        if problem is not None:
            with self._lock:
                box.malformed.append((req, problem))
            return self._answer(h, 400, problem.encode())
        with self._lock:
            box.accepted.append(req)
        if action[0] == "process_then_hold":  # accepted, but the notifier never hears back
            box.held.set()
            box.release.wait(120)
            return self._answer(h, 200, b"ok")
        if kind == "slack":
            return self._answer(h, 200, b"ok", {"Content-Type": "text/plain"})
        return self._answer(h, 200, b"" if kind == "am" else b'{"ok": true}')

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            h.send_response(status)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) or was killed
