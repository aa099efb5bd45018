"""A local emulator of the Lambda Runtime, Extensions and Telemetry APIs, written from the documented protocol.

It is an EMULATOR: no AWS account or service was used. What it implements (Lambda developer guide:
"Using the Lambda runtime API", "Lambda Extensions API", "Lambda Telemetry API" and its 2022-12-13
event schema):

* Extensions API: ``POST /2020-01-01/extension/register`` (``Lambda-Extension-Name`` required; answers
  ``Lambda-Extension-Identifier`` and ``{functionName, functionVersion, handler}``), ``GET
  /2020-01-01/extension/event/next`` (blocks; ``INVOKE`` with ``requestId``/``deadlineMs``/
  ``invokedFunctionArn``, ``SHUTDOWN`` with ``shutdownReason``/``deadlineMs``), ``POST .../init/error``.
* Telemetry API: ``PUT /2022-07-01/telemetry`` (``schemaVersion``, ``types``, ``buffering``,
  ``destination {protocol: HTTP, URI}``; the host ``sandbox.localdomain`` is reached at 127.0.0.1 here).
  Pushes are JSON arrays of ``{time, type, record}``: ``platform.initStart``, ``platform.initReport``
  (``initializationType``, ``phase``, ``status``, ``metrics.durationMs``), ``platform.start``,
  ``function`` (each line the function wrote to stdout), ``platform.runtimeDone``, ``platform.report``
  (``metrics.durationMs``, ``billedDurationMs`` = duration rounded up to the next ms, ``memorySizeMB``,
  ``maxMemoryUsedMB``, ``initDurationMs`` on the invocation after an on-demand init). One push per phase.
* Runtime API: ``GET /2018-06-01/runtime/invocation/next`` (body = event; headers
  ``Lambda-Runtime-Aws-Request-Id``, ``Lambda-Runtime-Deadline-Ms``, ``Lambda-Runtime-Invoked-Function-Arn``),
  ``POST .../invocation/{id}/response`` and ``.../error``, ``POST /2018-06-01/runtime/init/error``.

Lifecycle: extensions register and call ``next`` (their init is done), then the runtime's init runs
(:func:`run_runtime` calls ``init()`` and then ``next``), each :meth:`LambdaEmulator.invoke` sends
``INVOKE`` to every extension and the event to the runtime, and :meth:`LambdaEmulator.shutdown` sends
``SHUTDOWN`` with a deadline 2,000 ms ahead. Simplifications: one execution environment; the function's
stdout is the stream :func:`run_runtime` hands it (a real runtime's process stdout is captured the same
way, line by line); no freezing between invocations; a telemetry push that fails is not retried.
"""

from __future__ import annotations

import asyncio
import io
import math
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import orjson
from aiohttp import ClientSession, web


def _iso(ms: float | None = None) -> str:
    t = datetime.fromtimestamp((ms if ms is not None else time.time() * 1000) / 1000, tz=timezone.utc)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LambdaEmulator:
    def __init__(self, *, function_name: str = "infer-fn", function_version: str = "$LATEST",
                 memory_mb: int = 1024, init_type: str = "on-demand") -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.memory_mb = memory_mb
        self.init_type = init_type
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="lambda-emulator", daemon=True)
        self.port: int | None = None
        self.extensions: dict[str, dict] = {}          # id → {name, events, queue, ready}
        self.subscriptions: list[dict] = []
        self.pushed: list[list[dict]] = []               # every telemetry push, as sent
        self.push_status: list[int] = []
        self._invocations: asyncio.Queue | None = None
        self._responses: dict[str, asyncio.Future] = {}
        self._init_report_pending: float | None = None
        self.runtime_ready = threading.Event()
        self.init_errors: list[dict] = []
        self._current_logs: list[dict] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ server
    def start(self) -> str:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return f"127.0.0.1:{self.port}"

    async def _start(self) -> None:
        self._invocations = asyncio.Queue()
        app = web.Application()
        app.router.add_post("/2020-01-01/extension/register", self._register)
        app.router.add_get("/2020-01-01/extension/event/next", self._ext_next)
        app.router.add_post("/2020-01-01/extension/init/error", self._ext_error)
        app.router.add_post("/2020-01-01/extension/exit/error", self._ext_error)
        app.router.add_put("/2022-07-01/telemetry", self._subscribe)
        app.router.add_get("/2018-06-01/runtime/invocation/next", self._rt_next)
        app.router.add_post("/2018-06-01/runtime/invocation/{rid}/response", self._rt_response)
        app.router.add_post("/2018-06-01/runtime/invocation/{rid}/error", self._rt_error)
        app.router.add_post("/2018-06-01/runtime/init/error", self._ext_error)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._session = ClientSession()

    def stop(self) -> None:
        async def close() -> None:
            await self._session.close()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)

    # ------------------------------------------------------------------ Extensions API
    async def _register(self, request: web.Request) -> web.Response:
        name = request.headers.get("Lambda-Extension-Name")
        if not name:
            return web.json_response({"errorMessage": "Lambda-Extension-Name header is required",
                                      "errorType": "Extension.InvalidHeader"}, status=400)
        body = await request.json()
        events = body.get("events", []) if isinstance(body, dict) else []
        if any(e not in ("INVOKE", "SHUTDOWN") for e in events):
            return web.json_response({"errorMessage": f"unknown events {events}", "errorType": "Extension.InvalidEvent"},
                                     status=400)
        ext_id = str(uuid.uuid4())
        self.extensions[ext_id] = {"name": name, "events": events, "queue": asyncio.Queue(), "ready": False,
                                   "exited": False}
        return web.json_response({"functionName": self.function_name, "functionVersion": self.function_version,
                                  "handler": "app.handler"}, headers={"Lambda-Extension-Identifier": ext_id})

    def _ext(self, request: web.Request) -> dict | None:
        return self.extensions.get(request.headers.get("Lambda-Extension-Identifier", ""))

    async def _ext_next(self, request: web.Request) -> web.StreamResponse:
        ext = self._ext(request)
        if ext is None:
            return web.json_response({"errorMessage": "unknown Lambda-Extension-Identifier",
                                      "errorType": "Extension.Forbidden"}, status=403)
        ext["ready"] = True
        event = await ext["queue"].get()
        if event.get("eventType") == "SHUTDOWN":
            ext["shutdown_sent"] = True
        return web.json_response(event, headers={"Lambda-Extension-Event-Identifier": str(uuid.uuid4())})

    async def _ext_error(self, request: web.Request) -> web.Response:
        self.init_errors.append({"path": request.path, "body": await request.text(),
                                 "type": request.headers.get("Lambda-Extension-Function-Error-Type")})
        return web.json_response({"status": "OK"}, status=202)

    # ------------------------------------------------------------------ Telemetry API
    async def _subscribe(self, request: web.Request) -> web.Response:
        if self._ext(request) is None:
            return web.json_response({"errorMessage": "unknown extension", "errorType": "Telemetry.Forbidden"},
                                     status=403)
        body = await request.json()
        problems = []
        if body.get("schemaVersion") not in ("2022-07-01", "2022-12-13", "2025-01-29"):
            problems.append("schemaVersion")
        dest = body.get("destination") or {}
        if dest.get("protocol") != "HTTP" or not str(dest.get("URI", "")).startswith("http://"):
            problems.append("destination")
        if not set(body.get("types") or []) <= {"platform", "function", "extension"} or not body.get("types"):
            problems.append("types")
        buffering = body.get("buffering") or {}
        if buffering and not (1000 <= buffering.get("maxItems", 1000) <= 10000
                              and 262144 <= buffering.get("maxBytes", 262144) <= 1048576
                              and 25 <= buffering.get("timeoutMs", 1000) <= 30000):
            problems.append("buffering")
        if problems:
            return web.json_response({"errorMessage": f"invalid {', '.join(problems)}",
                                      "errorType": "Telemetry.InvalidRequest"}, status=400)
        uri = dest["URI"].replace("sandbox.localdomain", "127.0.0.1")
        self.subscriptions.append({"uri": uri, "types": set(body["types"])})
        return web.Response(text="OK")

    async def _push(self, events: list[dict]) -> None:
        for sub in self.subscriptions:
            batch = [e for e in events if e["type"].split(".")[0] in sub["types"]]
            if not batch:
                continue
            self.pushed.append(batch)
            try:
                async with self._session.post(sub["uri"], data=orjson.dumps(batch),
                                              headers={"Content-Type": "application/json"}) as resp:
                    self.push_status.append(resp.status)
            except Exception:  # noqa: BLE001 - a subscriber that is gone: not retried (documented simplification)
                self.push_status.append(0)

    # ------------------------------------------------------------------ Runtime API
    async def _rt_next(self, request: web.Request) -> web.Response:
        if self._init_report_pending is not None:  # the runtime's init is over when it first asks for work
            started, self._init_report_pending = self._init_report_pending, None
            duration = round(time.time() * 1000 - started, 3)
            self._init_duration_ms = duration
            await self._push(self._take_logs() + [
                {"time": _iso(), "type": "platform.initReport", "record": {
                    "initializationType": self.init_type, "phase": "init", "status": "success",
                    "metrics": {"durationMs": duration}}}])
            self.runtime_ready.set()
        rid, payload, deadline = await self._invocations.get()
        return web.Response(body=orjson.dumps(payload), content_type="application/json", headers={
            "Lambda-Runtime-Aws-Request-Id": rid, "Lambda-Runtime-Deadline-Ms": str(deadline),
            "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"})

    async def _rt_response(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        fut = self._responses.get(rid)
        if fut is None:
            return web.json_response({"errorMessage": "unknown request id", "errorType": "InvalidRequestID"}, status=400)
        fut.set_result(("success", await request.read()))
        return web.json_response({"status": "OK"}, status=202)

    async def _rt_error(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        fut = self._responses.get(rid)
        if fut is not None:
            fut.set_result(("error", await request.read()))
        return web.json_response({"status": "OK"}, status=202)

    # ------------------------------------------------------------------ function stdout
    def log_line(self, line: str) -> None:
        with self._lock:
            if self._current_logs is None:
                self._current_logs = []
            self._current_logs.append({"time": _iso(), "type": "function", "record": line})

    def _take_logs(self) -> list[dict]:
        with self._lock:
            logs, self._current_logs = self._current_logs or [], None
        return logs

    # ------------------------------------------------------------------ driving it
    def begin_init(self) -> None:
        """The runtime's init starts (call before starting the runtime thread)."""
        started = time.time() * 1000
        self._init_report_pending = started
        asyncio.run_coroutine_threadsafe(self._push([{"time": _iso(started), "type": "platform.initStart", "record": {
            "initializationType": self.init_type, "phase": "init", "runtimeVersion": "python:3.11",
            "functionName": self.function_name, "functionVersion": self.function_version}}]), self.loop).result(10)

    def wait_extensions_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.extensions and all(e["ready"] for e in self.extensions.values()) and self.subscriptions:
                return
            time.sleep(0.02)
        raise TimeoutError("extensions did not register, subscribe and call next in time")

    def invoke(self, payload: Any, timeout_s: float = 30.0) -> tuple[str, str, bytes]:
        """One invocation; returns (request id, status, response body)."""
        return asyncio.run_coroutine_threadsafe(self._invoke(payload), self.loop).result(timeout_s)

    async def _invoke(self, payload: Any) -> tuple[str, str, bytes]:
        while not self.runtime_ready.is_set():  # an invoke waits for the runtime's init (on-demand)
            await asyncio.sleep(0.01)
        rid = str(uuid.uuid4())
        deadline = int(time.time() * 1000) + 30_000
        for ext in self.extensions.values():
            if "INVOKE" in ext["events"]:
                await ext["queue"].put({"eventType": "INVOKE", "deadlineMs": deadline, "requestId": rid,
                                        "invokedFunctionArn": f"arn:aws:lambda:us-east-1:000000000000:function:"
                                                              f"{self.function_name}", "tracing": {}})
        fut = self.loop.create_future()
        self._responses[rid] = fut
        t0 = time.time() * 1000
        await self._push([{"time": _iso(t0), "type": "platform.start", "record": {
            "requestId": rid, "version": self.function_version}}])
        await self._invocations.put((rid, payload, deadline))
        status, body = await fut
        duration = round(time.time() * 1000 - t0, 3)
        metrics = {"durationMs": duration, "billedDurationMs": math.ceil(duration), "memorySizeMB": self.memory_mb,
                   "maxMemoryUsedMB": 128}
        init_ms = getattr(self, "_init_duration_ms", None)
        if init_ms is not None and self.init_type == "on-demand":
            metrics["initDurationMs"] = init_ms
            self._init_duration_ms = None
        await self._push(self._take_logs() + [
            {"time": _iso(), "type": "platform.runtimeDone", "record": {
                "requestId": rid, "status": status, "metrics": {"durationMs": duration, "producedBytes": len(body)}}},
            {"time": _iso(), "type": "platform.report", "record": {"requestId": rid, "status": status,
                                                                    "metrics": metrics}}])
        return rid, status, body

    def shutdown(self, reason: str = "spindown", budget_ms: int = 2000) -> int:
        """Send SHUTDOWN; returns its deadline (epoch ms)."""
        deadline = int(time.time() * 1000) + budget_ms

        async def send() -> None:
            for ext in self.extensions.values():
                if "SHUTDOWN" in ext["events"]:
                    await ext["queue"].put({"eventType": "SHUTDOWN", "shutdownReason": reason,
                                            "deadlineMs": deadline})

        asyncio.run_coroutine_threadsafe(send(), self.loop).result(10)
        return deadline


class _LineWriter(io.TextIOBase):
    """The function's stdout: each complete line goes to the emulator (as a runtime captures stdout)."""

    def __init__(self, emulator: LambdaEmulator) -> None:
        self.emulator = emulator
        self._buf = ""

    def write(self, text: str) -> int:
        self._buf += text
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            self.emulator.log_line(line)
        return len(text)

    def flush(self) -> None:
        pass


class Context:
    def __init__(self, request_id: str, function_name: str) -> None:
        self.aws_request_id = request_id
        self.function_name = function_name


def run_runtime(emulator: LambdaEmulator, api: str, init: Callable[[io.TextIOBase], Callable], *,
                invocations: int) -> threading.Thread:
    """A minimal runtime client in a thread: ``init(stdout)`` returns the handler; then serve ``invocations``."""
    def run() -> None:
        stdout = _LineWriter(emulator)
        emulator.begin_init()
        handler = init(stdout)
        for _ in range(invocations):
            with urllib.request.urlopen(f"http://{api}/2018-06-01/runtime/invocation/next") as resp:  # noqa: S310
                rid = resp.headers["Lambda-Runtime-Aws-Request-Id"]
                event = orjson.loads(resp.read())
            try:
                result = handler(event, Context(rid, emulator.function_name))
                path, body = f"/2018-06-01/runtime/invocation/{rid}/response", orjson.dumps(result)
            except Exception as exc:  # noqa: BLE001 - reported to the Runtime API like a runtime does
                path = f"/2018-06-01/runtime/invocation/{rid}/error"
                body = orjson.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__})
            req = urllib.request.Request(f"http://{api}{path}", data=body, method="POST")
            urllib.request.urlopen(req).read()  # noqa: S310

    thread = threading.Thread(target=run, name="lambda-runtime", daemon=True)
    thread.start()
    return thread
