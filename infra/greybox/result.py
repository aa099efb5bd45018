"""The outcome of one rule (:class:`CheckResult`) and the helpers that build the common shapes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from trtlens.schemas.documents import Finding, RuleViolation

CheckStatus = Literal["pass", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    rule: str
    status: CheckStatus
    message: str
    value: float | str | None = None
    limit: float | str | None = None
    findings: tuple[Finding, ...] = ()

    def violation(self) -> RuleViolation:
        return RuleViolation(rule=self.rule, message=self.message, value=self.value, limit=self.limit)


def limit_check(rule: str, value: float | None, limit: float | None, *, lower_is_bad: bool, what: str) -> CheckResult:
    if limit is None:
        return CheckResult(rule, "skip", "rule off")
    if value is None:
        return CheckResult(rule, "skip", f"{what}: not in the log", None, limit)
    bad = value < limit if lower_is_bad else value > limit
    op = "<" if lower_is_bad else ">"
    if bad:
        return CheckResult(rule, "fail", f"{what} {value:g} {op} {limit:g}", round(value, 6), limit)
    return CheckResult(rule, "pass", f"{what} {value:g}", round(value, 6), limit)


def names_check(rule: str, enabled: bool, names: list[str], allow: list[str], what: str) -> CheckResult:
    if not enabled:
        return CheckResult(rule, "skip", "rule off")
    allowed = [re.compile(p) for p in allow]
    bad = [n for n in names if not any(p.fullmatch(n) for p in allowed)]
    if bad:
        return CheckResult(rule, "fail", f"{len(bad)} {what}: {shown(bad)}", len(bad), 0)
    return CheckResult(rule, "pass", f"no {what}" + (f" ({len(names)} allowed)" if names else ""), 0, 0)


def shown(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")
