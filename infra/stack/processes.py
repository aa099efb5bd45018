"""Supervised ``trtlens`` subprocesses for the demo, end-to-end tests and benchmarks.

Each child runs ``python -m trtlens <args>`` with the settings passed as
``TRTLENS_*`` environment variables, logs to its own file, and dies with its
parent (``PR_SET_PDEATHSIG``), so an interrupted demo leaves nothing behind.
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
        self._env = env or {}
        self.proc: subprocess.Popen | None = None
        self.peak_rss_bytes = 0

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "trtlens", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self._env},
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
