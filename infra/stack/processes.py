"""Supervised ``trtlens`` subprocesses: the one way the demo, the benchmarks and the tests spawn them.

Each child runs ``python -m trtlens <args>`` with the settings passed as
``TRTLENS_*`` environment variables, logs to its own file, and dies with its
parent (``PR_SET_PDEATHSIG``), so an interrupted demo leaves nothing behind.

A child that starts the obs listener (``trtlens streams``, ``sink``,
``worker``) binds a free loopback port and writes it to
``<log_dir>/<name>.obs-port``; :meth:`ManagedProcess.metrics` scrapes and
parses its ``/metrics``, :meth:`ManagedProcess.ready` asks ``/readyz``. CPU
seconds and RSS come from the OS (psutil), not from the child.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from trtlens.obs import Scrape, http_get, scrape
from trtlens.settings import Settings, settings_env
from trtlens.stack import _die_with_parent


CONNECTION_SECTIONS = ["kafka", "topics", "elasticsearch", "indices"]


def connection_env(settings: Settings) -> dict[str, str]:
    """Environment variables that reproduce the connection, topic and index settings in a child."""
    return settings_env(settings, sections_=CONNECTION_SECTIONS)


class ManagedProcess:
    """One supervised ``trtlens`` child process."""

    def __init__(self, name: str, args: list[str], *, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.args = args
        self.log_path = log_dir / f"{name}.log"
        self.obs_port_file = log_dir / f"{name}.obs-port"
        self._env = env or {}
        self.proc: subprocess.Popen | None = None
        self.peak_rss_bytes = 0
        self._cpu_s = 0.0
        self._rss_hwm = 0

    def _child_env(self) -> dict[str, str]:
        # a free loopback port per child, found through its port file (``env`` may say otherwise)
        obs = {"TRTLENS_OBS__PORT": "0", "TRTLENS_OBS__PORT_FILE": str(self.obs_port_file)}
        return {**os.environ, "PYTHONUNBUFFERED": "1", **obs, **self._env}

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.obs_port_file.unlink(missing_ok=True)  # a previous run's port is not this child's
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "trtlens", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._child_env(),
                preexec_fn=_die_with_parent,
            )
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    # -- the child's obs listener ------------------------------------------------
    @property
    def obs_url(self) -> str | None:
        """``http://host:port`` of the child's listener once it wrote its port file, else None."""
        try:
            port = int(self.obs_port_file.read_text().strip())
        except (OSError, ValueError):
            return None
        env = self._child_env()
        host = env.get("TRTLENS_OBS__HOST", "127.0.0.1")
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}"

    def _token(self) -> str | None:
        return self._child_env().get("TRTLENS_OBS__AUTH_TOKEN") or None

    def wait_obs(self, timeout_s: float = 60.0) -> str:
        """The listener's URL, waiting for the child to bind it; raises if the child exits first."""

        def found() -> str | None:
            if not self.running:
                raise RuntimeError(f"{self.name} exited with {self.returncode} before its obs listener started; "
                                   f"log {self.log_path}:\n{self.log_tail()}")
            return self.obs_url

        return wait_for(found, timeout_s=timeout_s, interval_s=0.05, what=f"{self.name}'s obs port file")

    def metrics(self, *, timeout_s: float = 5.0) -> Scrape:
        """Scrape and parse the child's ``/metrics`` (``Scrape.value(name, **labels)``)."""
        url = self.obs_url
        if url is None:
            raise RuntimeError(f"{self.name} has no obs listener (no port file {self.obs_port_file}); "
                               f"running={self.running}")
        return scrape(url, token=self._token(), timeout_s=timeout_s)

    def ready(self, *, timeout_s: float = 2.0) -> bool:
        """``/readyz`` answered 200 (False while there is no listener or it does not answer)."""
        url = self.obs_url
        if url is None or not self.running:
            return False
        try:
            return http_get(url + "/readyz", token=self._token(), timeout_s=timeout_s)[0] == 200
        except OSError:
            return False

    # -- what the OS says about it ------------------------------------------------
    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the child so far (the last value seen once it has exited)."""
        if self.running:
            try:
                t = psutil.Process(self.pid).cpu_times()
                self._cpu_s = t.user + t.system
            except psutil.Error:
                pass
        return self._cpu_s

    def rss_high_water_bytes(self) -> int:
        """Peak RSS of the child itself over its life (Linux ``VmHWM``; the last value seen once it exited)."""
        if self.running:
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self._rss_hwm = int(line.split()[1]) * 1024
                        break
            except (OSError, ValueError, IndexError):
                pass
        return self._rss_hwm

    def sample_rss(self) -> int:
        """Current RSS in bytes (children included); tracks the peak."""
        if not self.running:
            return 0
        try:
            proc = psutil.Process(self.pid)
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
        except psutil.Error:
            return 0
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
        return rss

    def signal(self, sig: int) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    def wait(self, timeout_s: float) -> int | None:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM (a graceful stop: flush, commit), then SIGKILL after ``timeout_s``."""
        if self.proc is None:
            return None
        if self.running:
            self.signal(signal.SIGTERM)
            if self.wait(timeout_s) is None:
                self.signal(signal.SIGKILL)
                self.wait(5)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: no cleanup code runs in the child (crash tests)."""
        self.signal(signal.SIGKILL)
        self.wait(10)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""


def wait_for(predicate, *, timeout_s: float, interval_s: float = 0.2, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)
