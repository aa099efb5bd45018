"""``trtlens collect --lambda-extension``: run as an external Lambda extension.

Protocol (Lambda developer guide: Extensions API, Telemetry API):

1. ``POST http://$AWS_LAMBDA_RUNTIME_API/2020-01-01/extension/register`` with header
   ``Lambda-Extension-Name`` (the extension's file name) and body ``{"events": ["INVOKE", "SHUTDOWN"]}``;
   the answer's ``Lambda-Extension-Identifier`` header goes on every later call.
2. Start the telemetry listener (``/lambda/telemetry`` on ``aws_lambda.listener_port``, host
   ``sandbox.localdomain`` inside Lambda: the sandbox's own name, reachable only from inside the execution
   environment; the platform's pushes carry no credentials), then
   ``PUT /2022-07-01/telemetry`` with ``{"schemaVersion": "2022-12-13", "types": ["platform", "function"],
   "buffering": {...}, "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:<port>/lambda/telemetry"}}``.
3. Loop on ``GET /2020-01-01/extension/event/next`` (blocks while the environment is frozen). On
   ``INVOKE`` nothing is needed (telemetry arrives by push); on ``SHUTDOWN`` (``deadlineMs``) every held
   invocation is sent and the publisher flushed within the deadline minus ``shutdown_reserve_ms``; the
   Shutdown phase is limited to 2,000 ms in all, of which the runtime gets up to 300 ms (500 ms with an
   internal extension). What is not acknowledged by then stays in the spool (``/tmp`` in Lambda) and is
   sent by the next environment that finds it only if ``/tmp`` survives — usually it does not: size
   ``commit_interval_ms`` small in Lambda so little is left for the deadline.

Tested only against the local emulator in ``tests/support/lambda_emulator.py``; no AWS account was used.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import urllib.error
import urllib.request
from typing import Any

import orjson

from trtlens.errors import TrtlensError

log = logging.getLogger(__name__)

SCHEMA_VERSION = "2022-12-13"


class ExtensionError(TrtlensError):
    """The Extensions or Telemetry API refused a call. Attributes: call, status, reason."""

    def __init__(self, call: str, status: int | None, reason: str) -> None:
        self.call, self.status, self.reason = call, status, reason
        super().__init__(f"Lambda {call} failed ({status}): {reason}")


class ExtensionsClient:
    def __init__(self, runtime_api: str, *, timeout_s: float = 10.0) -> None:
        self.base = f"http://{runtime_api}"
        self.timeout_s = timeout_s
        self.extension_id: str | None = None

    def _call(self, call: str, method: str, path: str, body: Any = None, *, headers: dict | None = None,
              timeout_s: float | None = None) -> tuple[dict, Any]:
        data = orjson.dumps(body) if body is not None else None
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if self.extension_id:
            hdrs["Lambda-Extension-Identifier"] = self.extension_id
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - the local runtime API
                raw = resp.read()
                return dict(resp.headers), (orjson.loads(raw) if raw.strip()[:1] in (b"{", b"[") else raw)
        except urllib.error.HTTPError as exc:
            raise ExtensionError(call, exc.code, exc.read()[:500].decode("utf-8", "replace")) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ExtensionError(call, None, str(exc)) from None

    def register(self, name: str, events: list[str]) -> dict:
        headers, body = self._call("register", "POST", "/2020-01-01/extension/register", {"events": events},
                                   headers={"Lambda-Extension-Name": name}, timeout_s=self.timeout_s)
        ext_id = next((v for k, v in headers.items() if k.lower() == "lambda-extension-identifier"), None)
        if not ext_id:
            raise ExtensionError("register", 200, "no Lambda-Extension-Identifier header in the answer")
        self.extension_id = ext_id
        return body if isinstance(body, dict) else {}

    def subscribe_telemetry(self, uri: str, *, types: list[str], max_items: int = 1000, max_bytes: int = 262144,
                            timeout_ms: int = 100) -> None:
        self._call("telemetry subscribe", "PUT", "/2022-07-01/telemetry", {
            "schemaVersion": SCHEMA_VERSION, "types": types,
            "buffering": {"maxItems": max_items, "maxBytes": max_bytes, "timeoutMs": timeout_ms},
            "destination": {"protocol": "HTTP", "URI": uri},
        }, timeout_s=self.timeout_s)

    def next_event(self) -> dict:
        """Blocks until the next INVOKE or SHUTDOWN (no timeout: the environment may be frozen meanwhile)."""
        _, body = self._call("event/next", "GET", "/2020-01-01/extension/event/next")
        if not isinstance(body, dict):
            raise ExtensionError("event/next", 200, "answer is not a JSON object")
        return body

    def init_error(self, kind: str, message: str) -> None:
        try:
            self._call("init/error", "POST", "/2020-01-01/extension/init/error",
                       {"errorMessage": message, "errorType": kind},
                       headers={"Lambda-Extension-Function-Error-Type": kind}, timeout_s=self.timeout_s)
        except ExtensionError as exc:
            log.warning("msg='could not report the init error' error=%s", exc)


def run_extension(collector, *, runtime_api: str | None = None, listener_host: str | None = None,
                  now_ms=lambda: int(time.time() * 1000)) -> dict:
    """Register, subscribe, serve telemetry, flush on SHUTDOWN. Returns a summary of the run."""
    from trtlens.producers.collect.httpsource import HttpSource
    from trtlens.producers.collect.telemetry import TelemetryJoiner

    api = runtime_api or os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not api:
        raise TrtlensError("AWS_LAMBDA_RUNTIME_API is not set: --lambda-extension runs inside a Lambda "
                           "execution environment (or the emulator in tests/support/lambda_emulator.py)")
    cfg = collector.config.aws_lambda
    listener_host = listener_host or cfg.listener_host
    client = ExtensionsClient(api)
    info = client.register(cfg.extension_name, ["INVOKE", "SHUTDOWN"])
    function = info.get("functionName") or os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "lambda"
    joiner = TelemetryJoiner(collector.intake.mapper, function_name=function, model=cfg.model,
                             model_version=cfg.model_version, hold_ms=cfg.hold_ms)
    http = HttpSource(collector.config.http, collector.intake, joiner=joiner, routes=("telemetry",),
                      require_auth=False)
    collector.http = http
    loop = asyncio.new_event_loop()
    summary = {"function": function, "invokes": 0, "shutdown_reason": None, "flushed_in_time": None}
    try:
        port = loop.run_until_complete(http.start(listener_host, cfg.listener_port))
        import threading

        server = threading.Thread(target=loop.run_forever, name="trtlens-telemetry-listener", daemon=True)
        server.start()
        collector.committer.start()
        try:
            client.subscribe_telemetry(f"http://{listener_host}:{port}/lambda/telemetry",
                                       types=["platform", "function"])
        except ExtensionError as exc:
            client.init_error("Extension.TelemetrySubscribeFailed", str(exc))
            raise
        log.info("collect=extension function=%s listener=%s:%d msg='registered and subscribed'", function,
                 listener_host, port)
        while True:
            event = client.next_event()
            kind = event.get("eventType")
            if kind == "INVOKE":
                summary["invokes"] += 1
                continue
            if kind == "SHUTDOWN":
                summary["shutdown_reason"] = event.get("shutdownReason")
                deadline = int(event.get("deadlineMs") or now_ms() + 2000)
                budget_s = max(0.05, (deadline - now_ms() - cfg.shutdown_reserve_ms) / 1000)
                started = time.monotonic()
                # the platform may still be pushing the last report: give it a moment within the budget
                time.sleep(min(0.2, budget_s / 4))
                http.flush_held()
                collector.committer.flush_timeout_s = max(0.05, budget_s - (time.monotonic() - started))
                ok = collector.committer.stop()
                summary["flushed_in_time"] = ok
                summary["shutdown_ms"] = round((time.monotonic() - started) * 1000, 1)
                log.info("collect=extension msg='shutdown' reason=%s flushed=%s in_ms=%.0f", kind,
                         ok, summary["shutdown_ms"])
                break
    finally:
        fut = asyncio.run_coroutine_threadsafe(http.stop(), loop) if loop.is_running() else None
        if fut is not None:
            try:
                fut.result(timeout=2)
            except Exception:
                pass
            loop.call_soon_threadsafe(loop.stop)
    summary["counts"] = {f"{k}.{o}": v for (k, o), v in collector.intake.counts.items()}
    return summary
