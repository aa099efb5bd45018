"""Routing of ``engine_build`` events to the grey-box rule core (thin).

The rules live in :mod:`trtlens.streams.builds.core` (``evaluate_build``) and
:mod:`trtlens.streams.builds.config` (``BuildRules``), written by the grey-box
work; they are imported lazily, when the first build report arrives. The
pipeline calls the evaluator inside its batch and the app sends the
:class:`BuildReport` to ``trtlens.builds`` (key ``engine_id``).
"""

from __future__ import annotations

import logging
from typing import Any

from trtlens.schemas.documents import BuildReport
from trtlens.schemas.events import EngineBuild, EventBase

log = logging.getLogger(__name__)


def make_build_evaluator(settings: Any = None):
    """``evaluate(event) -> BuildReport`` with the configured rules (defaults when none are configured)."""
    rules = None
    evaluate_build = None

    def _load():
        nonlocal rules, evaluate_build
        from trtlens.streams.builds.config import BuildRules
        from trtlens.streams.builds.core import evaluate_build as fn

        configured = _configured_rules(settings)
        rules = configured if configured is not None else BuildRules()
        evaluate_build = fn

    def evaluate(ev: EventBase) -> BuildReport:
        if evaluate_build is None:
            _load()
        assert isinstance(ev, EngineBuild)
        return evaluate_build(ev, rules)  # type: ignore[misc]

    return evaluate


def _configured_rules(settings: Any):
    """BuildRules from settings, wherever the grey-box section puts them (``builds`` or ``streams.builds``)."""
    for holder in (settings, getattr(settings, "streams", None)):
        for name in ("builds", "build_rules"):
            value = getattr(holder, name, None) if holder is not None else None
            if value is not None and type(value).__name__ == "BuildRules":
                return value
            rules = getattr(value, "rules", None) if value is not None else None
            if rules is not None and type(rules).__name__ == "BuildRules":
                return rules
    return None
