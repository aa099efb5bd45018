"""The HTTP source: NDJSON pushes, Firehose HTTP-endpoint delivery, Lambda Telemetry API pushes (aiohttp).

Routes (all ``POST``):

* ``/v1/events``: NDJSON (or one JSON array) of events, optionally gzip (``Content-Encoding``).
  Answer ``200 {"request_id", "accepted", "invalid"}`` once the broker acknowledged them. An
  ``X-Request-Id`` header names the request: a retry with the same id yields the same derived
  ``event_id`` s (events that carry their own ids need none).
* ``/firehose``: Amazon Data Firehose HTTP-endpoint delivery (``firehose.py``); answers the
  documented ``{"requestId", "timestamp"[, "errorMessage"]}``.
* ``/lambda/telemetry``: Lambda Telemetry API pushes (``telemetry.py``).

Every push is authenticated when a key or token is configured (``X-Amz-Firehose-Access-Key`` or
``X-Api-Key`` = ``api_key``; ``Authorization: Bearer`` = ``bearer_token``; compared in constant time),
is bounded (``max_body_bytes`` before and after gunzip: 413), and is answered only after the broker
acknowledged what it held (or 503 after ``ack_timeout_s``). Never a silent drop: while
``max_inflight_requests`` pushes wait, the next gets ``429``; while the publisher spools and its spool
holds ``spool_full_events`` or more, ``503``; both with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
import threading
import time
import uuid
import zlib
from collections import Counter
from typing import Any

import orjson
from aiohttp import web

from trtlens.producers.collect.config import HttpConfig
from trtlens.producers.collect.firehose import (FirehoseRequestError, gunzip_bounded, parse_request,
                                                record_payloads, response_body)
from trtlens.producers.collect.intake import Intake
from trtlens.producers.collect.telemetry import TelemetryJoiner
from trtlens.schemas.codec import DecodeError

log = logging.getLogger(__name__)


class _Refused(Exception):
    def __init__(self, status: int, reason: str, *, retry_after: int | None = None) -> None:
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


class HttpSource:
    def __init__(self, config: HttpConfig, intake: Intake, *, joiner: TelemetryJoiner | None = None,
                 routes: tuple[str, ...] = ("events", "firehose", "telemetry"), require_auth: bool = True) -> None:
        self.config = config
        self.intake = intake
        self.joiner = joiner
        self.routes = routes
        self.require_auth = require_auth
        self._joiner_lock = threading.Lock()
        self._inflight = 0
        self.responses: Counter = Counter()  # (route, status) → count
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._expiry: asyncio.Task | None = None

    # ------------------------------------------------------------------ app
    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes + 1)
        if "events" in self.routes:
            app.router.add_post("/v1/events", self._events)
        if "firehose" in self.routes:
            app.router.add_post("/firehose", self._firehose)
        if "telemetry" in self.routes:
            app.router.add_post("/lambda/telemetry", self._telemetry)
        return app

    async def start(self, host: str | None = None, port: int | None = None) -> int:
        cfg = self.config
        ssl_ctx = None
        if cfg.tls_certfile is not None:
            ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_ctx.load_cert_chain(str(cfg.tls_certfile), str(cfg.tls_keyfile))
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host or cfg.host, cfg.port if port is None else port, ssl_context=ssl_ctx)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if self.joiner is not None:
            self._expiry = asyncio.get_running_loop().create_task(self._expire_loop())
        log.info("source=http listen=%s://%s:%d routes=%s auth=%s", "https" if ssl_ctx else "http",
                 host or cfg.host, self.port, ",".join(self.routes), self._auth_configured())
        return self.port

    async def stop(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        self.flush_held()

    def _auth_configured(self) -> bool:
        return self.config.api_key is not None or self.config.bearer_token is not None

    # ------------------------------------------------------------------ shared checks
    def _check_auth(self, request: web.Request) -> None:
        cfg = self.config
        if not self.require_auth or not self._auth_configured():
            return
        if cfg.api_key is not None:
            want = cfg.api_key.get_secret_value().encode()
            for header in ("X-Amz-Firehose-Access-Key", "X-Api-Key"):
                got = request.headers.get(header)
                if got is not None and hmac.compare_digest(got.encode(), want):
                    return
        if cfg.bearer_token is not None:
            auth = request.headers.get("Authorization", "")
            if auth.startswith("Bearer ") and hmac.compare_digest(
                    auth[7:].encode(), cfg.bearer_token.get_secret_value().encode()):
                return
        raise _Refused(401, "missing or wrong credentials (X-Api-Key, X-Amz-Firehose-Access-Key or "
                            "Authorization: Bearer)")

    def _check_capacity(self) -> None:
        cfg = self.config
        if self._inflight >= cfg.max_inflight_requests:
            raise _Refused(429, f"{self._inflight} pushes are waiting for the broker; retry later",
                           retry_after=cfg.retry_after_s)
        pub = self.intake.publisher
        if cfg.spool_full_events and pub.spooling and pub.counters.get("spool_pending", 0) >= cfg.spool_full_events:
            raise _Refused(503, "the broker is unreachable and the local spool is full; retry later",
                           retry_after=cfg.retry_after_s)

    async def _body(self, request: web.Request) -> bytes:
        max_b = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > max_b:
            raise _Refused(413, f"body of {request.content_length} bytes exceeds max_body_bytes={max_b}")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _Refused(413, f"body exceeds max_body_bytes={max_b}") from None
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            try:
                body = gunzip_bounded(body, max_b)
            except ValueError as exc:
                raise _Refused(413, str(exc)) from None
            except (zlib.error, EOFError) as exc:
                raise _Refused(400, f"Content-Encoding gzip but the body is not gzip: {exc}") from None
        return body

    async def _await_ack(self) -> bool:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()

        def done() -> None:
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(True))

        self.intake.committer.after_ack(done)
        self.intake.committer.wake()
        try:
            await asyncio.wait_for(fut, self.config.ack_timeout_s)
            return True
        except asyncio.TimeoutError:
            return False

    async def _guarded(self, route: str, request: web.Request, handler) -> web.Response:
        try:
            self._check_auth(request)
            self._check_capacity()
            self._inflight += 1
            try:
                body = await self._body(request)
                response = await handler(request, body)
            finally:
                self._inflight -= 1
        except _Refused as refused:
            response = self._refusal(route, request, refused)
        self.responses[(route, response.status)] += 1
        return response

    def _refusal(self, route: str, request: web.Request, refused: _Refused) -> web.Response:
        headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else {}
        if route == "firehose":
            rid = request.headers.get("X-Amz-Firehose-Request-Id", "")
            return web.Response(status=refused.status, body=response_body(rid, _now_ms(), refused.reason),
                                content_type="application/json", headers=headers)
        return web.Response(status=refused.status, body=orjson.dumps({"error": refused.reason}),
                            content_type="application/json", headers=headers)

    async def _run(self, fn, *args) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    # ------------------------------------------------------------------ /v1/events
    async def _events(self, request: web.Request) -> web.Response:
        return await self._guarded("events", request, self._events_body)

    async def _events_body(self, request: web.Request, body: bytes) -> web.Response:
        rid = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        accepted, invalid = await self._run(self._ingest_ndjson, body, rid)
        if not await self._await_ack():
            raise _Refused(503, "the broker did not acknowledge in time; retry with the same X-Request-Id",
                           retry_after=self.config.retry_after_s)
        return web.json_response({"request_id": rid, "accepted": accepted, "invalid": invalid})

    def _ingest_ndjson(self, body: bytes, rid: str) -> tuple[int, int]:
        intake = self.intake
        lines: list[tuple[str, bytes]]
        stripped = body.lstrip()
        if stripped.startswith(b"["):
            try:
                items = orjson.loads(stripped)
            except orjson.JSONDecodeError as exc:
                intake.submit("http", [], [DecodeError("invalid_json", str(exc), body[:4096]).to_dlq(
                    request_id=rid)], dlq_key=rid)
                return 0, 1
            lines = [(str(i), orjson.dumps(x)) for i, x in enumerate(items)]
        else:
            lines = [(str(i), ln) for i, ln in enumerate(body.splitlines()) if ln.strip()]
        events, dead = [], []
        for pos, raw in lines:
            try:
                events.append(intake.decode(raw, source_id=f"http:{rid}", position=pos))
            except DecodeError as err:
                dead.append(err.to_dlq(request_id=rid, line=int(pos)))
        intake.submit("http", events, dead, dlq_key=rid)
        return len(events), len(dead)

    # ------------------------------------------------------------------ /firehose
    async def _firehose(self, request: web.Request) -> web.Response:
        return await self._guarded("firehose", request, self._firehose_body)

    async def _firehose_body(self, request: web.Request, body: bytes) -> web.Response:
        header_rid = request.headers.get("X-Amz-Firehose-Request-Id")
        try:
            rid, records = parse_request(body, header_rid)
        except FirehoseRequestError as err:
            raise _Refused(400, f"{err.code}: {err.reason}") from None
        await self._run(self._ingest_firehose, rid, records)
        if not await self._await_ack():
            raise _Refused(503, "the broker did not acknowledge in time", retry_after=self.config.retry_after_s)
        return web.Response(status=200, body=response_body(rid, _now_ms()), content_type="application/json")

    def _ingest_firehose(self, rid: str, records: list[bytes | None]) -> None:
        intake = self.intake
        events, dead = [], []
        for i, data in enumerate(records):
            payloads, errors = record_payloads(rid, i, data, max_bytes=self.config.max_body_bytes)
            dead.extend(err.to_dlq(**where) for where, err in errors)
            for p in payloads:
                try:
                    events.append(intake.decode(p.data, source_id=p.source_id, position=p.position,
                                                fallback_ts_ms=p.ts_ms))
                except DecodeError as err:
                    dead.append(err.to_dlq(**p.where))
        intake.submit("firehose", events, dead, dlq_key=rid)

    # ------------------------------------------------------------------ /lambda/telemetry
    async def _telemetry(self, request: web.Request) -> web.Response:
        return await self._guarded("telemetry", request, self._telemetry_body)

    async def _telemetry_body(self, request: web.Request, body: bytes) -> web.Response:
        if self.joiner is None:
            raise _Refused(404, "no Lambda telemetry receiver configured")
        try:
            batch = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _Refused(400, f"telemetry push is not JSON: {exc}") from None
        await self._run(self._ingest_telemetry, batch, uuid.uuid4().hex)
        if not await self._await_ack():
            raise _Refused(503, "the broker did not acknowledge in time", retry_after=self.config.retry_after_s)
        return web.Response(status=200)

    def _ingest_telemetry(self, batch: Any, delivery: str) -> None:
        with self._joiner_lock:
            joined = self.joiner.feed(batch, delivery_id=delivery)
        self._submit_joined(joined)

    def _submit_joined(self, joined) -> None:
        dead = [err.to_dlq(**where) for where, err in joined.errors]
        self.intake.submit("telemetry", joined.events, dead, dlq_key="telemetry")
        if joined.cold_starts or joined.reports:
            with self.intake._lock:
                self.intake.counts[("telemetry", "cold_starts")] += joined.cold_starts
                self.intake.counts[("telemetry", "reports")] += joined.reports

    def flush_held(self) -> None:
        """Send every invocation still waiting for its report (shutdown)."""
        if self.joiner is None:
            return
        from trtlens.producers.collect.telemetry import Joined

        out = Joined()
        with self._joiner_lock:
            self.joiner.expire(out, everything=True)
        if out.events:
            self._submit_joined(out)

    async def _expire_loop(self) -> None:
        from trtlens.producers.collect.telemetry import Joined

        while True:
            await asyncio.sleep(max(0.1, self.joiner.hold_s / 2))
            out = Joined()
            with self._joiner_lock:
                self.joiner.expire(out)
            if out.events:
                await self._run(self._submit_joined, out)


def _now_ms() -> int:
    return int(time.time() * 1000)
