"""Shared fixtures.

``stack`` starts the real embedded broker and store once per test session (on
free ports, with a private state dir) and stops them at the end. Tests that
need Kafka or the store take ``isolated`` — settings pointing at that stack
with topic and index names unique to the test, so tests never see each other's
data — or ``stack_settings`` for the shared default names.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from trtlens.settings import IndexSettings, Settings, TopicSettings, load_settings

_counter = itertools.count()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        elif "e2e" in parts:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory):
    from trtlens.stack import start_stack, stop_stack

    state_dir = tmp_path_factory.mktemp("stack")
    settings = load_settings(stack={"kafka_port": 0, "es_port": 0, "state_dir": state_dir})
    state = start_stack(settings, detached=False)
    try:
        yield state
    finally:
        stop_stack(settings)


@pytest.fixture(scope="session")
def stack_settings(stack) -> Settings:
    from trtlens.stack import apply_to_settings

    return apply_to_settings(load_settings(), stack)


def unique_settings(base: Settings, *, partitions: int = 3) -> Settings:
    """Settings with topic and index names no other test uses; topics created."""
    from trtlens.kafka import ensure_topics

    tag = f"t{os.getpid()}x{next(_counter)}"
    names = [name for name, field in TopicSettings.model_fields.items() if field.annotation is str]
    topics = TopicSettings(**{name: f"{tag}.{name}" for name in names}, partitions=partitions)
    indices = IndexSettings(
        traces=f"{tag}-traces", metrics=f"{tag}-metrics", alerts=f"{tag}-alerts", builds=f"{tag}-builds",
        layers=f"{tag}-layers", findings=f"{tag}-findings",
    )
    settings = base.model_copy(update={"topics": topics, "indices": indices})
    ensure_topics(settings.kafka, settings.topics)
    return settings


@pytest.fixture
def isolated(stack_settings: Settings) -> Iterator[Settings]:
    yield unique_settings(stack_settings)
