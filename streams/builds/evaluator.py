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


# runtime_versions keys of engine-load events (shared convention) → the grey-box version parts
_VERSION_PARTS = {"tensorrt": "trt", "cuda": "cuda", "cudnn": "cudnn"}


class GreyboxCorrelator:
    """The grey-box side of the layer stage (``streams/layers``): correlation and version checks.

    ``trtlens.greybox`` is imported on first use, like the build evaluator.
    """

    def __init__(self, settings: Any = None) -> None:
        self._settings = settings
        self._rules = None

    def _rules_now(self):  # noqa: ANN202 - BuildRules
        if self._rules is None:
            from trtlens.greybox.config import BuildRules

            configured = _configured_rules(self._settings)
            self._rules = configured if configured is not None else BuildRules()
        return self._rules

    def correlate(self, build: EngineBuild, profile: list) -> list:
        from trtlens.greybox.correlate import correlate

        return correlate(build, profile, rules=self._rules_now())

    def versions(self, build: EngineBuild, runtime_versions: dict[str, str]) -> list:
        """``(finding, runtime version, build version)`` per mismatching part (TensorRT, CUDA, cuDNN)."""
        from trtlens.greybox.versions import version_checks

        runtime = {_VERSION_PARTS[k]: v for k, v in runtime_versions.items() if k in _VERSION_PARTS and v}
        if not runtime:
            return []
        # every part both sides name is compared (the rule list match_runtime_versions gates CI; this never stays silent)
        rules = self._rules_now().model_copy(update={"match_runtime_versions": ["trt", "cuda", "cudnn"]})
        return [(f, _text(check.value), _text(check.limit)) for check in version_checks(build, runtime, rules)
                for f in check.findings]

    def build_versions(self, build: EngineBuild) -> dict[str, str]:
        from trtlens.greybox.versions import build_versions

        names = {v: k for k, v in _VERSION_PARTS.items()}
        return {names.get(k, k): v for k, v in build_versions(build).items()}


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def make_correlator(settings: Any = None) -> GreyboxCorrelator:
    return GreyboxCorrelator(settings)
