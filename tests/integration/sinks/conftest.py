"""Fixtures for the sink's integration tests (real broker + store from tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def es(stack_settings):
    from trtlens.es import es_client

    client = es_client(stack_settings.elasticsearch)
    yield client
    client.close()
