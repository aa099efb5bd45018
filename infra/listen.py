"""The bind rule every trtlens HTTP listener follows (metrics, collector, dashboard, ...).

    A listener binds 127.0.0.1 by default. Any address that is not loopback
    (``0.0.0.0``, a LAN address, a host name) is refused unless the listener
    has authentication configured: a bearer token.

One rule, checked twice by each listener: when its settings load (a pydantic
validator calls :func:`check_bind`, so a bad deployment fails before anything
starts) and again just before ``bind()`` (settings can be built in code).
Requests then carry ``Authorization: Bearer <token>``; :func:`bearer_ok`
compares in constant time.

    from trtlens.listen import check_bind, bearer_ok
    check_bind(s.host, s.port, authenticated=s.auth_token is not None, section="dashboard")
    ...
    if not bearer_ok(request.headers.get("Authorization"), s.auth_token): reply 401

The error names the two settings that fix it (``<section>.auth_token`` and
``<section>.host``) with their environment variables, never a token's value.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Protocol

from trtlens.errors import TrtlensError

LOOPBACK_DEFAULT = "127.0.0.1"


class _Secret(Protocol):
    def get_secret_value(self) -> str: ...


class BindRefusedError(TrtlensError):
    """A listener was asked to bind a non-loopback address without authentication.

    Attributes:
        host, port: the address it was asked to bind.
        section: the settings section of the listener (``obs``, ``dashboard``, ...).
    """

    def __init__(self, host: str, port: int | None, section: str, *, host_key: str = "host",
                 token_key: str | None = "auth_token") -> None:
        self.host = host
        self.port = port
        self.section = section
        super().__init__(refusal(host, section, host_key=host_key, token_key=token_key)
                         + (f" (port {port})" if port is not None else ""))


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1); any other name or address is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refusal(host: str, section: str, *, host_key: str = "host", token_key: str | None = "auth_token") -> str:
    """The message of a refused bind: what is wrong and the settings that fix it.

    ``token_key`` None: the listener has no authentication at all (a loopback address is the only choice).
    """
    env = f"TRTLENS_{section.upper()}__"
    bind = f"bind {LOOPBACK_DEFAULT} ({section}.{host_key}, env {env}{host_key.upper()})"
    if token_key is None:
        return f"{host!r} is not a loopback address and this listener has no authentication: {bind}"
    return (f"{host!r} is not a loopback address: a listener there needs authentication; set "
            f"{section}.{token_key} (env {env}{token_key.upper()}), or {bind}")


def check_bind(host: str, port: int | None = None, *, authenticated: bool, section: str, host_key: str = "host",
               token_key: str | None = "auth_token") -> None:
    """Raise :class:`BindRefusedError` unless ``host`` is loopback or the listener is ``authenticated``.

    ``section``, ``host_key`` and ``token_key`` name the settings the message points at
    (``token_key=None`` for a listener that cannot authenticate).
    """
    if not authenticated and not is_loopback(host):
        raise BindRefusedError(host, port, section, host_key=host_key, token_key=token_key)


def bearer_ok(authorization: str | None, token: _Secret | str | None) -> bool:
    """Whether an ``Authorization`` header value carries ``token`` (always true when no token is set)."""
    if token is None:
        return True
    secret = token if isinstance(token, str) else token.get_secret_value()
    return hmac.compare_digest((authorization or "").encode(), f"Bearer {secret}".encode())
