"""Fixtures of the producer integration tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def spool_config(tmp_path):
    """A publisher config whose spool lives in the test's tmp dir."""
    from trtlens.producers.config import PublisherConfig

    return PublisherConfig(spool_dir=tmp_path / "spool", linger_ms=20, close_timeout_s=20)
