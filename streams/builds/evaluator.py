"""Routing of ``engine_build`` events to the grey-box rule core (thin).

The rules live in :mod:`trtlens.greybox.core` (``evaluate_build``) and
:mod:`trtlens.greybox.config` (``BuildRules``), written by the grey-box
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
        from trtlens.greybox.config import BuildRules
        from trtlens.greybox.core import evaluate_build as fn

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
    """``Settings.builds.rules`` (the grey-box section), or None when absent."""
    section = getattr(settings, "builds", None)
    return getattr(section, "rules", None) if section is not None else None
