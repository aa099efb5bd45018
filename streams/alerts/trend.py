"""GPU memory trend alert (pure): a line fitted over recent windows, projected ahead.

Per worker and GPU (``WindowMetric.gpus`` of the worker scope), the rule keeps
the last ``fit_windows`` points ``(window start, memory used max)``, fits a
least-squares line and projects it ``horizon_s`` past the newest window's end.
A window **breaches** when the projection reaches ``share`` of the GPU's total
memory, is **clean** when it stays below ``clear_share`` (default ``share −
0.05``), and in between is neither (streaks keep their counts): with
``fire_after`` / ``resolve_after`` that is the hysteresis — a projection that
hovers near the line does not flap. Fewer than ``min_windows`` points: no
verdict yet.
"""

from __future__ import annotations

from typing import Any

from trtlens.schemas.documents import Alert, WindowMetric
from trtlens.streams.alerts.config import GpuMemoryTrendRule

GIB = 1024**3


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares ``y = a + b·x``: returns ``(a, b)`` (b = 0 when every x is the same)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return my, 0.0
    b = sum((x - mx) * (y - my) for x, y in points) / sxx
    return my - b * mx, b


def projection(points: list[tuple[float, float]], at_s: float) -> tuple[float, float]:
    """``(projected value at at_s, slope per second)``."""
    a, b = fit_line(points)
    return a + b * at_s, b


def evaluate_trend(rule: GpuMemoryTrendRule, m: WindowMetric, states: dict[str, Any],
                   series: dict[str, list[list[int]]]) -> list[Alert]:
    """Advance the rule by one final worker window; the alerts of the GPUs whose state changed.

    ``states``: ``{"<rule id>#gpu<i>": AlertState}``; ``series``: the same keys → ``[[window_start_ms,
    used_bytes, total_bytes], ...]`` (both persisted with the scope's merge state).
    """
    from trtlens.streams.alerts.core import AlertState, applies

    if not applies(rule, m) or not m.gpus:
        return []
    out: list[Alert] = []
    clear = rule.clear_share if rule.clear_share is not None else max(0.0, rule.share - 0.05)
    for g in m.gpus:
        key = f"{rule.id}#gpu{g.gpu_index}"
        state = states.setdefault(key, AlertState())
        if m.window_start_ms <= state.last_window_start_ms:
            continue
        state.last_window_start_ms = m.window_start_ms
        pts = series.setdefault(key, [])
        pts.append([m.window_start_ms, g.memory_used_max_bytes, g.memory_total_bytes])
        del pts[:-rule.fit_windows]
        if len(pts) < rule.min_windows or g.memory_total_bytes <= 0:
            continue
        at_s = (m.window_start_ms + m.window_ms) / 1000.0 + rule.horizon_s
        projected, slope = projection([(p[0] / 1000.0, float(p[1])) for p in pts], at_s)
        share = projected / g.memory_total_bytes
        if share >= rule.share:
            state.breaching += 1
            state.clean = 0
        elif share < clear:
            state.clean += 1
            state.breaching = 0
        else:
            continue
        if not state.firing and state.breaching >= rule.fire_after:
            state.firing = True
            out.append(_alert(rule, m, g, "firing", share, projected, slope, state.breaching))
        elif state.firing and state.clean >= rule.resolve_after:
            state.firing = False
            out.append(_alert(rule, m, g, "resolved", share, projected, slope, 0))
    return out


def _alert(rule: GpuMemoryTrendRule, m: WindowMetric, g: Any, state: str, share: float, projected: float,
           slope: float, breaching: int) -> Alert:
    used, total = g.memory_used_max_bytes / GIB, g.memory_total_bytes / GIB
    sentence = (f"GPU {g.gpu_index} of {m.scope_key}: {used:.2f} of {total:.2f} GiB used, "
                f"{'growing' if slope >= 0 else 'shrinking'} {abs(slope) * 60 / 1024**2:.1f} MiB/min; projected "
                f"{share * 100:.0f}% of its memory in {rule.horizon_s:g} s (threshold {rule.share * 100:.0f}%)")
    return Alert(
        rule_id=rule.id, rule_kind=rule.kind, scope=m.scope, scope_key=m.scope_key, state=state,  # type: ignore[arg-type]
        window_start_ms=m.window_start_ms, window_ms=m.window_ms, value=round(share, 6), threshold=rule.share,
        message=f"{rule.kind} {m.scope}={m.scope_key} gpu={g.gpu_index}: {sentence}", breaching_windows=breaching,
        explanation=sentence if state == "firing" else None, gpu_index=g.gpu_index, projected_bytes=int(projected),
    )
