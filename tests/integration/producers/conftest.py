"""Fixtures of the producer integration tests."""

from __future__ import annotations

import os
import signal

import pytest


@pytest.fixture
def spool_config(tmp_path):
    """A publisher config whose spool lives in the test's tmp dir."""
    from trtlens.producers.config import PublisherConfig

    return PublisherConfig(spool_dir=tmp_path / "spool", linger_ms=20, close_timeout_s=20)


@pytest.fixture
def private_stack(tmp_path):
    """A broker of this test's own (never freeze the shared session broker)."""
    from trtlens.settings import load_settings
    from trtlens.stack import free_port, start_stack, stop_stack

    port = free_port()
    base = load_settings(
        kafka={"bootstrap_servers": f"127.0.0.1:{port}"},
        stack={"kafka_port": port, "es_port": 0, "state_dir": tmp_path / "stack"},
    )
    holder: dict = {}

    def start():
        holder["state"] = start_stack(base)
        return holder["state"]

    try:
        yield base, start
    finally:
        if "state" in holder:
            if _alive(holder["state"].kafka.pid):
                os.kill(holder["state"].kafka.pid, signal.SIGCONT)  # a frozen broker would not stop on SIGTERM
            stop_stack(base)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
