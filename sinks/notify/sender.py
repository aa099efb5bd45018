"""The thin HTTP half of ``trtlens notify``: one POST, its answer as an :class:`Outcome`.

Everything a request can end with becomes an ``Outcome`` (status, redacted
error text, ``Retry-After``); nothing raises past :meth:`HttpSender.post` but
cancellation. Redirects are not followed (a webhook that redirects is
misconfigured, and following one would carry the headers elsewhere). Error
texts are built from the status and at most 300 characters of the body, or
from the exception's type and message, then redacted against the endpoint's
secrets (aiohttp puts the full URL into some exception messages).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from trtlens.sinks.notify.config import EndpointConfig
from trtlens.sinks.notify.core import Outcome, parse_retry_after, redact

BODY_SNIPPET_BYTES = 300


class HttpSender:
    """One aiohttp session for every endpoint; per-request timeouts from each endpoint."""

    def __init__(self) -> None:
        self._session: Any = None

    async def start(self) -> None:
        import aiohttp

        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64),
            # no cookies between requests, no proxies from the environment unless asked for
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, endpoint: EndpointConfig, body: bytes, headers: dict[str, str]) -> Outcome:
        import aiohttp

        assert self._session is not None, "start() first"
        secrets = endpoint.secrets()
        try:
            async with self._session.post(
                endpoint.post_url(), data=body, headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=endpoint.timeout_s),
            ) as resp:
                status = resp.status
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), now_s=time.time())
                if 200 <= status < 300:
                    await resp.read()  # let the connection be reused
                    return Outcome(status)
                snippet = (await resp.content.read(BODY_SNIPPET_BYTES)).decode("utf-8", "replace")
                text = f"HTTP {status} {resp.reason or ''}".rstrip() + (f": {' '.join(snippet.split())}" if snippet.strip() else "")
                return Outcome(status, redact(text, secrets), retry_after)
        except asyncio.TimeoutError:
            return Outcome(None, f"timeout after {endpoint.timeout_s:g}s")
        except aiohttp.ClientError as exc:
            return Outcome(None, redact(f"{type(exc).__name__}: {exc}", secrets))
        except (OSError, ValueError) as exc:  # e.g. a URL aiohttp cannot parse, a refused socket option
            return Outcome(None, redact(f"{type(exc).__name__}: {exc}", secrets))
