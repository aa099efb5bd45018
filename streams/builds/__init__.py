"""Engine build reports: grey-box rules (config/core), version diffs (diff) and their routing in the streams app (agent)."""

from trtlens.streams.builds.config import BuildRules, BuildRulesError, load_rules
from trtlens.streams.builds.core import CheckResult, evaluate_build, fusion_rate, int8_coverage, run_checks
from trtlens.streams.builds.diff import BuildDiff, diff_builds

__all__ = [
    "BuildDiff",
    "BuildRules",
    "BuildRulesError",
    "CheckResult",
    "diff_builds",
    "evaluate_build",
    "fusion_rate",
    "int8_coverage",
    "load_rules",
    "run_checks",
]
