"""Fixtures for the notifier's integration tests: the local receiver (real broker from tests/conftest.py)."""

from __future__ import annotations

import pytest
from support.webhook_receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()
