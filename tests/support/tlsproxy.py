"""TLS in front of the embedded broker and store, so the clients' TLS and API-key settings run for real.

Neither embedded part speaks TLS: Tansu 0.6.0 accepts ``--cert`` but its
``tcp://`` listener never answers a TLS handshake, and osmem-server has no TLS
or authentication option at all (README: Security). So the tests start:

* :class:`TlsTunnel` — TLS terminated with a certificate of a CA made for the
  test, bytes piped to the plain upstream (Kafka: the broker advertises the
  tunnel's address, so every client connection goes through it);
* :class:`KafkaSaslGate` — the same with a Kafka SASL/PLAIN login first (the
  gate answers the SASL requests itself; Tansu's own SASL cannot be given
  credentials on a fresh memory store);
* :class:`HttpsAuthProxy` — an HTTPS reverse proxy in front of the store that
  answers 401 (with Elasticsearch's error body) unless the request carries one
  of the accepted ``Authorization`` values (``ApiKey <key>``, ``Basic ...``),
  as Elasticsearch does with security enabled. It keeps a count per scheme, never
  the values.

:func:`make_test_ca` writes ``ca.pem`` and a server certificate for
``127.0.0.1``/``localhost`` signed by it (``cryptography``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import ipaddress
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path


def make_test_ca(directory: Path) -> tuple[Path, Path, Path]:
    """``(ca.pem, server.pem, server.key)`` in ``directory``: a throwaway CA and a server certificate it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trtlens test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


class _LoopThread:
    """An asyncio loop in a daemon thread; ``run(coro)`` from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout_s: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class TlsTunnel:
    """TLS on ``127.0.0.1:<port>`` → plain TCP to ``upstream``. ``port`` 0 picks one (see :attr:`port`)."""

    def __init__(self, ctx: ssl.SSLContext, upstream: tuple[str, int] | None = None, *, port: int = 0) -> None:
        self.ctx, self.upstream, self._port = ctx, upstream, port
        self.connections = 0
        self.handshake_failures = 0
        self._lt = _LoopThread()
        self._server = self._lt.run(self._start())
        self.port: int = self._server.sockets[0].getsockname()[1]

    async def _start(self):
        return await asyncio.start_server(self._client, "127.0.0.1", self._port, ssl=self.ctx,
                                          ssl_handshake_timeout=5)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.upstream is None:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
                pass
            finally:
                try:
                    dst.close()
                except Exception:  # noqa: BLE001 - already closed
                    pass

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def close(self) -> None:
        self._server.close()
        self._lt.close()


def _uvarint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _put_uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


class KafkaSaslGate(TlsTunnel):
    """A Kafka SASL/PLAIN authenticator in front of a broker that has none (TLS too when ``ctx`` is given).

    Until a client has authenticated, the gate answers ``SaslHandshake`` (v0, v1) and
    ``SaslAuthenticate`` (v0-v2) itself — PLAIN only, checked against ``users`` — and
    forwards only ``ApiVersions`` to the broker; any other request closes the
    connection, as a Kafka broker with a SASL listener does. After a good login the
    bytes flow through unchanged. Counts logins and refusals; never keeps a password.
    """

    HANDSHAKE, AUTHENTICATE, API_VERSIONS = 17, 36, 18

    def __init__(self, ctx: ssl.SSLContext | None, upstream: tuple[str, int], users: dict[str, str]) -> None:
        self.users = users
        self.logins: collections.Counter[str] = collections.Counter()
        self.refused = 0
        super().__init__(ctx, upstream)  # type: ignore[arg-type]

    async def _start(self):
        return await asyncio.start_server(self._client, "127.0.0.1", self._port, ssl=self.ctx,
                                          ssl_handshake_timeout=5 if self.ctx else None)

    @staticmethod
    async def _frame(reader: asyncio.StreamReader) -> bytes:
        size = int.from_bytes(await reader.readexactly(4), "big", signed=True)
        return await reader.readexactly(size)

    @staticmethod
    def _send(writer: asyncio.StreamWriter, payload: bytes) -> None:
        writer.write(len(payload).to_bytes(4, "big") + payload)

    def _check(self, token: bytes) -> str | None:
        parts = token.split(b"\0")
        if len(parts) != 3:
            return None
        user, password = parts[1].decode(errors="replace"), parts[2].decode(errors="replace")
        return user if self.users.get(user) == password else None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)  # type: ignore[misc]
        try:
            user = await self._authenticate(reader, writer, up_reader, up_writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            user = None
        if user is None:
            writer.close()
            up_writer.close()
            return
        self.logins[user] += 1

        async def pipe(src, dst) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
                pass
            finally:
                try:
                    dst.close()
                except Exception:  # noqa: BLE001
                    pass

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def _authenticate(self, reader, writer, up_reader, up_writer) -> str | None:
        mechanism_ok = False
        while True:
            frame = await self._frame(reader)
            api_key, version, corr = int.from_bytes(frame[0:2], "big"), int.from_bytes(frame[2:4], "big"), frame[4:8]
            cid_len = int.from_bytes(frame[8:10], "big", signed=True)
            i = 10 + max(cid_len, 0)
            if api_key == self.API_VERSIONS:
                self._send(up_writer, frame)
                await up_writer.drain()
                self._send(writer, await self._frame(up_reader))
                await writer.drain()
            elif api_key == self.HANDSHAKE:
                n = int.from_bytes(frame[i:i + 2], "big")
                mechanism = frame[i + 2:i + 2 + n].decode()
                mechanism_ok = mechanism == "PLAIN"
                body = (0 if mechanism_ok else 33).to_bytes(2, "big") + (1).to_bytes(4, "big") + b"\x00\x05PLAIN"
                self._send(writer, corr + body)
                await writer.drain()
                if not mechanism_ok:
                    return None
                if version == 0:  # v0: the token follows as a bare frame, answered by an empty frame
                    user = self._check(await self._frame(reader))
                    if user is None:
                        self.refused += 1
                        return None
                    self._send(writer, b"")
                    await writer.drain()
                    return user
            elif api_key == self.AUTHENTICATE and mechanism_ok:
                if version >= 2:
                    _, i = _uvarint(frame, i)  # request header v2: tagged fields after client_id
                    n, i = _uvarint(frame, i)
                    token = frame[i:i + n - 1]
                else:
                    n = int.from_bytes(frame[i:i + 4], "big")
                    token = frame[i + 4:i + 4 + n]
                user = self._check(token)
                error = 0 if user else 58  # SASL_AUTHENTICATION_FAILED
                message = None if user else b"Authentication failed: invalid username or password"
                if version >= 2:
                    body = (b"\x00" + error.to_bytes(2, "big")
                            + (b"\x00" if message is None else _put_uvarint(len(message) + 1) + message)
                            + _put_uvarint(1) + (0).to_bytes(8, "big") + b"\x00")
                else:
                    body = (error.to_bytes(2, "big")
                            + ((-1).to_bytes(2, "big", signed=True) if message is None
                               else len(message).to_bytes(2, "big") + message)
                            + (0).to_bytes(4, "big") + ((0).to_bytes(8, "big") if version >= 1 else b""))
                self._send(writer, corr + body)
                await writer.drain()
                if user is None:
                    self.refused += 1
                return user
            else:
                return None  # any other request before authenticating: the connection is closed


class HttpsAuthProxy:
    """HTTPS with required ``Authorization`` in front of a plain-HTTP store (Elasticsearch security's behaviour)."""

    def __init__(self, ctx: ssl.SSLContext, upstream_url: str, accepted: set[str]) -> None:
        self.upstream = upstream_url.rstrip("/")
        self.accepted = accepted
        self.seen: collections.Counter[str] = collections.Counter()  # scheme ("ApiKey", "Basic", "none", ...) → requests
        self.refused = 0
        self._lt = _LoopThread()
        self._runner, self.port = self._lt.run(self._start(ctx))

    async def _start(self, ctx: ssl.SSLContext):
        import aiohttp
        from aiohttp import web

        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the bound port

    async def _handle(self, request):
        from aiohttp import web

        auth = request.headers.get("Authorization")
        self.seen[auth.split(" ", 1)[0] if auth else "none"] += 1
        if auth not in self.accepted:
            self.refused += 1
            body = {"error": {"type": "security_exception", "reason": "missing or unknown authentication credentials",
                              "root_cause": [{"type": "security_exception", "reason": "unable to authenticate"}]},
                    "status": 401}
            return web.json_response(body, status=401, headers={"WWW-Authenticate": 'ApiKey, Basic realm="security"'})
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "authorization", "content-length", "transfer-encoding")}
        async with self._session.request(request.method, self.upstream + request.path_qs, headers=headers,
                                         data=await request.read()) as up:
            body = await up.read()
            out = {k: v for k, v in up.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")}
            return web.Response(status=up.status, body=body, headers=out)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def close(self) -> None:
        async def stop():
            await self._runner.cleanup()
            await self._session.close()

        self._lt.run(stop())
        self._lt.close()


@contextlib.contextmanager
def tls_broker(ca: tuple[Path, Path, Path], log_dir: Path, *,
               sasl_users: dict[str, str] | None = None) -> Iterator[tuple[str, TlsTunnel]]:
    """A Tansu broker of the caller's own behind a TLS tunnel (a SASL/PLAIN gate with ``sasl_users``), which it
    advertises: yields ``(bootstrap "127.0.0.1:port", tunnel)``; everything stops on exit."""
    from trtlens.stack import broker_binary, free_port

    plain = free_port()
    ctx = server_context(ca[1], ca[2])
    tunnel = (KafkaSaslGate(ctx, ("127.0.0.1", plain), sasl_users) if sasl_users is not None
              else TlsTunnel(ctx, ("127.0.0.1", plain)))
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "tansu-tls.log", "wb") as log:
        proc = subprocess.Popen([broker_binary(), "broker", "--listener-url", f"tcp://127.0.0.1:{plain}",
                                 "--advertised-listener-url", f"tcp://127.0.0.1:{tunnel.port}",
                                 "--storage-engine", "memory://tansu/"], stdout=log, stderr=subprocess.STDOUT)
        try:
            yield f"127.0.0.1:{tunnel.port}", tunnel
        finally:
            proc.terminate()
            proc.wait(10)
            tunnel.close()
