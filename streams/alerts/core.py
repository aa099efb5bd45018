"""Alert rules over final windows, with hysteresis (pure).

Per (rule, scope_key) an :class:`AlertState` counts consecutive breaching and
clean windows, in window order. A rule **fires** after ``fire_after``
consecutive breaching windows and **resolves** after ``resolve_after``
consecutive clean ones, so a value hovering at the threshold does not flap.
Windows with fewer than ``min_requests`` requests seen (``sampled_requests``:
under sampling at the source, what the rates were estimated from, not the
estimate itself) neither breach nor clear (the streaks keep their counts). A window at or before the last one evaluated is
ignored, so a replayed window never counts twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from trtlens.schemas.documents import Alert, WindowMetric
from urllib.parse import quote

from trtlens.streams.alerts.explain import exemplar_query, explanation
from trtlens.streams.alerts.config import (
    AlertRule,
    ColdStartRateAboveRule,
    ErrorRateAboveRule,
    GpuMemoryAboveRule,
    GpuMemoryTrendRule,
    P99AboveRule,
    QpsBelowRule,
)


@dataclass(slots=True)
class AlertState:
    firing: bool = False
    breaching: int = 0
    clean: int = 0
    last_window_start_ms: int = -1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AlertState":
        return cls(**d)


def applies(rule: AlertRule, m: WindowMetric) -> bool:
    if rule.scope != m.scope:
        return False
    if rule.model is not None and rule.model != m.model:
        return False
    if rule.model_version is not None and rule.model_version != m.model_version:
        return False
    if rule.worker_id is not None and rule.worker_id != m.worker_id:
        return False
    return True


def measure(rule: AlertRule, m: WindowMetric) -> tuple[float | None, float]:
    """(value, threshold) of the rule on a window; value None = not enough data."""
    if m.sampled_requests < rule.min_requests:
        return None, _threshold(rule)
    if isinstance(rule, P99AboveRule):
        return m.latency_ms.p99, rule.threshold_ms
    if isinstance(rule, ErrorRateAboveRule):
        return m.error_rate, rule.threshold
    if isinstance(rule, ColdStartRateAboveRule):
        return m.cold_start_rate, rule.threshold
    if isinstance(rule, GpuMemoryAboveRule):
        return (float(m.gpu_memory_max_bytes) if m.gpu_memory_max_bytes is not None else None), float(rule.threshold_bytes)
    if isinstance(rule, QpsBelowRule):
        return m.qps, rule.threshold
    if isinstance(rule, GpuMemoryTrendRule):
        raise TypeError("gpu_memory_trend is per GPU: streams/alerts/trend.py evaluates it")
    raise TypeError(f"unknown rule {rule!r}")  # pragma: no cover


def _threshold(rule: AlertRule) -> float:
    for name in ("threshold_ms", "threshold", "threshold_bytes"):
        if hasattr(rule, name):
            return float(getattr(rule, name))
    raise TypeError(f"rule {rule.id} has no threshold")  # pragma: no cover


def breaches(rule: AlertRule, value: float, threshold: float) -> bool:
    return value < threshold if isinstance(rule, QpsBelowRule) else value > threshold


def evaluate(rule: AlertRule, m: WindowMetric, state: AlertState, *, traces_url_template: str | None = None) -> Alert | None:
    """Advance ``state`` by one final window; return the Alert if the state changed."""
    if not applies(rule, m) or m.window_start_ms <= state.last_window_start_ms:
        return None
    state.last_window_start_ms = m.window_start_ms
    value, threshold = measure(rule, m)
    if value is None:
        return None
    bad = breaches(rule, value, threshold)
    if bad:
        state.breaching += 1
        state.clean = 0
    else:
        state.clean += 1
        state.breaching = 0
    if not state.firing and state.breaching >= rule.fire_after:
        state.firing = True
        return _alert(rule, m, "firing", value, threshold, state.breaching, traces_url_template)
    if state.firing and state.clean >= rule.resolve_after:
        state.firing = False
        return _alert(rule, m, "resolved", value, threshold, 0, traces_url_template)
    return None


def _alert(rule: AlertRule, m: WindowMetric, state: str, value: float, threshold: float, breaching: int,
           traces_url_template: str | None = None) -> Alert:
    verb = "above" if rule.kind != "qps_below" else "below"
    if state == "firing":
        msg = f"{rule.kind} {m.scope}={m.scope_key}: {value:.4g} {verb} {threshold:.4g} for {breaching} windows"
    else:
        msg = f"{rule.kind} {m.scope}={m.scope_key}: back to {value:.4g} (threshold {threshold:.4g}) for {rule.resolve_after} windows"
    tail = (m.attribution or {}).get("p99")
    query = exemplar_query(m.exemplars)
    why = explanation(rule.kind, value, m) if state == "firing" else None
    url = None
    if traces_url_template and query:
        url = traces_url_template.format(query=quote(query, safe=""), window_start_ms=m.window_start_ms,
                                         window_end_ms=m.window_start_ms + m.window_ms)
    return Alert(
        rule_id=rule.id, rule_kind=rule.kind, scope=m.scope, scope_key=m.scope_key, state=state,  # type: ignore[arg-type]
        window_start_ms=m.window_start_ms, window_ms=m.window_ms, value=value, threshold=threshold,
        message=f"{msg}. {why}" if why else msg, breaching_windows=breaching,
        model=m.model, model_version=m.model_version, explanation=why, attribution=tail,
        exemplars=list(m.exemplars), exemplar_query=query, url=url, engines=list(m.engines),
    )
