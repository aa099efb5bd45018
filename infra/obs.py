"""Self-metrics and health endpoints of one trtlens process, in Prometheus' conventions.

    obs = Observability(settings.obs)          # one registry per process, nothing global
    obs.register(MyCollector(live_object))      # read the live counters at scrape time
    obs.set_readiness(lambda: (ready, detail))  # what /readyz answers
    obs.start()                                 # the listener (a daemon thread); obs.port is bound
    ...
    obs.stop()

Components describe their metrics with *custom collectors*: an object whose
``collect()`` yields metric families built from the counters the component
keeps anyway (:func:`counter`, :func:`gauge`). Nothing is recorded on the hot
path; a scrape reads the values, in the listener's thread, while the process
goes on (copies of dicts, never iteration over a dict another thread mutates).

The listener serves, on ``obs.host:obs.port`` (``port`` 0 picks a free one):

* ``/metrics``: the registry in the Prometheus text format (OpenMetrics when
  the scraper asks for it), with the ``process_*`` and ``python_info`` series;
* ``/healthz``: liveness, 200 while the process serves;
* ``/readyz``: readiness, 200 or 503 from the check the process set, with a
  one-line detail.

Security: on a loopback address it serves anyone on the host; any other
address is refused unless ``obs.auth_token`` is set (the settings say so at
load time, :class:`Observability` again at start; the rule is
:func:`trtlens.listen.check_bind`, shared by every listener). With a token, every request
needs ``Authorization: Bearer <token>`` (401 otherwise). The token never
appears in a log line or in ``/metrics``; requests are not logged.

The client half (:func:`scrape`, :func:`parse_metrics`, :class:`Scrape`) is
what supervisors, benchmarks and tests read a process's counters with.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from trtlens.errors import TrtlensError
from trtlens.listen import BindRefusedError, bearer_ok, check_bind, refusal
from trtlens.settings import ObsSettings

log = logging.getLogger("trtlens.obs")

Readiness = Callable[[], tuple[bool, str]]
LabelValues = str | tuple[str, ...]


class ObsError(TrtlensError):
    """The listener cannot start.

    Attributes:
        host, port: the address it was asked to bind.
        reason: what is wrong, with the setting to change.
    """

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(f"obs listener on {host}:{port}: {reason}")


# ------------------------------------------------------------------ collectors' building blocks


def _family(cls: type, name: str, doc: str, values: float | Mapping[LabelValues, float], labels: tuple[str, ...]):
    if not labels:
        return cls(name, doc, value=float(values))  # type: ignore[arg-type]
    fam = cls(name, doc, labels=labels)
    for key, value in values.items():  # type: ignore[union-attr]
        fam.add_metric((key,) if isinstance(key, str) else tuple(key), float(value))
    return fam


def counter(name: str, doc: str, values: float | Mapping[LabelValues, float], labels: tuple[str, ...] = ()) -> Metric:
    """A counter family: ``values`` is a number, or ``{label value(s): number}`` with ``labels`` named.

    ``name`` is the family name; the exposition adds ``_total``.
    """
    return _family(CounterMetricFamily, name.removesuffix("_total"), doc, values, labels)


def gauge(name: str, doc: str, values: float | Mapping[LabelValues, float], labels: tuple[str, ...] = ()) -> Metric:
    """A gauge family (same shapes as :func:`counter`)."""
    return _family(GaugeMetricFamily, name, doc, values, labels)


# ------------------------------------------------------------------ the listener


class Observability:
    """The registry, readiness check and HTTP listener of one process."""

    def __init__(self, settings: ObsSettings | None = None, *, process_metrics: bool = True) -> None:
        self.settings = settings or ObsSettings()
        self.registry = CollectorRegistry(auto_describe=False)
        if process_metrics:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        self._readiness: Readiness = lambda: (False, "starting")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    def register(self, collector: Any) -> None:
        """Add a collector (an object with ``collect()`` yielding metric families)."""
        self.registry.register(collector)

    def set_readiness(self, check: Readiness) -> None:
        """``check() -> (ready, detail)``; called by each ``/readyz`` request in the listener's thread."""
        self._readiness = check

    def readiness(self) -> tuple[bool, str]:
        try:
            ready, detail = self._readiness()
        except Exception as exc:  # a broken check means "not ready", never a dead listener
            return False, f"readiness check failed: {exc!r}"
        return bool(ready), detail

    @property
    def url(self) -> str | None:
        if self.port is None:
            return None
        host = self.settings.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    def start(self) -> int | None:
        """Bind and serve in a daemon thread; returns the port (None when ``obs.enabled`` is false)."""
        s = self.settings
        if not s.enabled:
            log.info("obs=disabled")
            return None
        if self._server is not None:
            return self.port
        try:
            check_bind(s.host, s.port, authenticated=s.auth_token is not None, section="obs")
        except BindRefusedError:
            raise ObsError(s.host, s.port, refusal(s.host, "obs")) from None
        server_cls = _Server6 if ":" in s.host else _Server
        try:
            server = server_cls((s.host, s.port), _handler(self))
        except OSError as exc:
            raise ObsError(s.host, s.port, f"{exc.strerror or exc}; set obs.port (TRTLENS_OBS__PORT) to a free "
                           "port, or 0 to pick one") from None
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="trtlens-obs", daemon=True)
        self._thread.start()
        if s.port_file is not None:
            _write_atomic(s.port_file, f"{self.port}\n")
        log.info("obs=listening url=%s endpoints=/metrics,/healthz,/readyz auth=%s%s", self.url,
                 "bearer" if s.auth_token is not None else "none",
                 f" port_file={s.port_file}" if s.port_file is not None else "")
        return self.port

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        pf = self.settings.port_file
        if pf is not None:
            try:
                if pf.read_text().strip() == str(self.port):
                    pf.unlink()
            except OSError:
                pass

    def __enter__(self) -> Observability:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _handler(obs: Observability) -> type[BaseHTTPRequestHandler]:
    token = obs.settings.auth_token

    class Handler(BaseHTTPRequestHandler):
        server_version = "trtlens-obs"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if not bearer_ok(self.headers.get("Authorization"), token):
                self._reply(401, b"unauthorized: send Authorization: Bearer <obs.auth_token>\n",
                            extra={"WWW-Authenticate": 'Bearer realm="trtlens-obs"'})
                return
            path = urlsplit(self.path).path
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept") or "")
                try:
                    body = encoder(obs.registry)
                except Exception as exc:  # a broken collector: say so, keep serving
                    log.warning("obs=collect_failed error=%r", exc)
                    self._reply(500, f"collect failed: {type(exc).__name__}\n".encode())
                    return
                self._reply(200, body, content_type)
            elif path == "/healthz":
                self._reply(200, b"ok\n")
            elif path == "/readyz":
                ready, detail = obs.readiness()
                self._reply(200 if ready else 503, f"{'ready' if ready else 'not ready'}: {detail}\n".encode())
            else:
                self._reply(404, b"not found: /metrics, /healthz, /readyz\n")

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
                   extra: Mapping[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - no per-request log lines
            pass

    return Handler


# ------------------------------------------------------------------ the client half


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


class Scrape:
    """One parsed ``/metrics`` answer: samples by name, summed over label subsets."""

    def __init__(self, samples: Iterable[Sample]) -> None:
        self.samples = list(samples)
        self._by_name: dict[str, list[Sample]] = {}
        for s in self.samples:
            self._by_name.setdefault(s.name, []).append(s)

    def names(self) -> set[str]:
        return set(self._by_name)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples named ``name`` (``..._total`` for counters) whose labels include ``labels``; 0 if none."""
        return sum(s.value for s in self._by_name.get(name, ()) if all(s.labels.get(k) == v for k, v in labels.items()))

    def by_label(self, name: str, label: str, **labels: str) -> dict[str, float]:
        """``{value of label: summed value}`` over the samples named ``name`` matching ``labels``."""
        out: dict[str, float] = {}
        for s in self._by_name.get(name, ()):
            if label in s.labels and all(s.labels.get(k) == v for k, v in labels.items()):
                out[s.labels[label]] = out.get(s.labels[label], 0.0) + s.value
        return out


def parse_metrics(text: str) -> Scrape:
    """Parse the Prometheus text format (``prometheus_client``'s parser)."""
    from prometheus_client.parser import text_string_to_metric_families

    return Scrape(Sample(s.name, dict(s.labels), float(s.value))
                  for fam in text_string_to_metric_families(text) for s in fam.samples)


def http_get(url: str, *, token: str | None = None, timeout_s: float = 2.0) -> tuple[int, str]:
    """``(status, body)`` of a GET (HTTP errors are answers, not exceptions; no answer raises OSError)."""
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - our own listener
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def scrape(base_url: str, *, token: str | None = None, timeout_s: float = 2.0) -> Scrape:
    """GET ``<base_url>/metrics`` and parse it; raises :class:`ObsError` on a non-200 answer."""
    status, body = http_get(base_url.rstrip("/") + "/metrics", token=token, timeout_s=timeout_s)
    if status != 200:
        u = urlsplit(base_url)
        raise ObsError(u.hostname or "", u.port or 0, f"/metrics answered {status}: {body.strip()[:200]}")
    return parse_metrics(body)
