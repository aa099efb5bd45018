"""The merge stage's state machine for one merge partition (pure; no clock: idleness arrives in heartbeats).

Input records (from the internal partials topic):

* ``{"type": "partial", ...WindowPartial.to_dict()}`` keyed ``scope|scope_key``
* ``{"type": "watermark", "partition": p, "watermark_ms": wm, "source_partitions": n, "idle": bool}``
  sent to every merge partition after the partials of the same group (and by
  the idle timer, with ``idle: true``).

State per scope (one table key each, written once per group when changed):
its windows (newest partial per source partition, emitted flag) and the alert
state of every rule for that scope. Source watermarks are one more key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from trtlens.schemas.documents import Alert, WindowMetric
from trtlens.streams.alerts.config import AlertsConfig
from trtlens.streams.alerts.config import GpuMemoryTrendRule
from trtlens.streams.alerts.core import AlertState, evaluate
from trtlens.streams.alerts.trend import evaluate_trend
from trtlens.streams.metrics.config import MetricsConfig
from trtlens.streams.merge.combine import (
    MergeWindow,
    SourceWatermark,
    close_bound,
    expired,
    merge_partials,
    ready_to_close,
    retention_bound,
)


def scope_id(scope: str, scope_key: str) -> str:
    return f"{scope}|{scope_key}"


ATTRIBUTIONS_KEPT = 4
"""Attributions of the last emitted windows a scope keeps, for the next window's ``delta_prev``."""


@dataclass(slots=True)
class ScopeState:
    windows: dict[int, MergeWindow] = field(default_factory=dict)
    alerts: dict[str, AlertState] = field(default_factory=dict)
    attributions: dict[int, dict[str, Any]] = field(default_factory=dict)  # window start → its attribution
    series: dict[str, list[list[int]]] = field(default_factory=dict)  # per-GPU trend points (alerts/trend.py)
    forgotten_to_ms: float = -math.inf
    """The retention bound this scope last forgot windows at. It lives in the scope's own key, so a
    recovered scope that no longer holds a window also knows its replayed partials are too late,
    even when the watermarks key written after it was lost (a worker killed between the two)."""

    def previous_attribution(self, window_start_ms: int) -> dict[str, Any] | None:
        before = [ws for ws in self.attributions if ws < window_start_ms]
        return self.attributions[max(before)] if before else None

    def remember(self, metric: WindowMetric) -> None:
        if metric.attribution is None:
            return
        self.attributions[metric.window_start_ms] = {k: v.model_dump() for k, v in metric.attribution.items()}
        for ws in sorted(self.attributions)[:-ATTRIBUTIONS_KEPT]:
            del self.attributions[ws]

    def to_dict(self) -> dict[str, Any]:
        return {
            "windows": {
                str(ws): {"partials": {str(p): d for p, d in w.partials.items()}, "emitted": w.emitted}
                for ws, w in self.windows.items()
            },
            "alerts": {rid: a.to_dict() for rid, a in self.alerts.items()},
            "attributions": {str(ws): a for ws, a in self.attributions.items()},
            "series": self.series,
            **({"forgotten_to_ms": self.forgotten_to_ms} if self.forgotten_to_ms > -math.inf else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ScopeState":
        st = cls()
        for ws, w in d.get("windows", {}).items():
            st.windows[int(ws)] = MergeWindow(
                partials={int(p): v for p, v in w["partials"].items()}, emitted=w["emitted"]
            )
        st.alerts = {rid: AlertState.from_dict(a) for rid, a in d.get("alerts", {}).items()}
        st.attributions = {int(ws): a for ws, a in d.get("attributions", {}).items()}
        st.series = {k: [list(p) for p in v] for k, v in d.get("series", {}).items()}
        st.forgotten_to_ms = d.get("forgotten_to_ms", -math.inf)
        return st


@dataclass
class MergeOutputs:
    metrics: list[WindowMetric] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    dirty_scopes: set[str] = field(default_factory=set)
    watermarks_dirty: bool = False


class Merger:
    def __init__(
        self, metrics: MetricsConfig, alerts: AlertsConfig, *, source_partitions: int) -> None:
        self.metrics = metrics
        self.alerts = alerts
        self.source_partitions = source_partitions
        self.scopes: dict[str, ScopeState] = {}
        self.watermarks: dict[int, SourceWatermark] = {}
        self._dirty: set[str] = set()
        self._wm_dirty = False

    # -- input ----------------------------------------------------------------
    def apply(self, record: dict[str, Any], now_ms: int) -> bool:
        """Apply one partials-topic record; False only for a partial of a window already forgotten here.

        Such a partial is not applied (its window's metrics are final and gone); the agent counts and
        logs it (``trtlens_streams_merge_too_late_partials_total``).
        """
        kind = record.get("type")
        if kind == "watermark":
            p, wm = int(record["partition"]), int(record["watermark_ms"])
            idle = bool(record.get("idle", False))
            self.source_partitions = max(self.source_partitions, int(record.get("source_partitions", 0)))
            old = self.watermarks.get(p)
            if old is None:
                self.watermarks[p] = SourceWatermark(wm, idle)
                self._wm_dirty = True
            elif wm > old.watermark_ms or idle != old.idle:
                old.watermark_ms = max(old.watermark_ms, wm)
                old.idle = idle
                self._wm_dirty = True
            return True
        if kind != "partial":
            raise ValueError(f"unknown merge record type {kind!r}")
        sid = scope_id(record["scope"], record["scope_key"])
        st = self.scopes.setdefault(sid, ScopeState())
        ws = int(record["window_start_ms"])
        win = st.windows.get(ws)
        if win is None:
            bound = max(retention_bound(self.watermarks, self.source_partitions), st.forgotten_to_ms)
            if expired(ws, bound, self.metrics):
                # every non-idle source is past its retention: a source idle that long and then sent
                # old event times, or (rarely) a partial re-applied after a kill
                return False
            win = st.windows[ws] = MergeWindow()
        partial = {k: v for k, v in record.items() if k != "type"}
        if win.put(partial):
            self._dirty.add(sid)
        return True

    # -- output ---------------------------------------------------------------
    def flush(self, now_ms: int) -> MergeOutputs:
        """Emit what became final (and updates of emitted windows); evaluate alerts in window order."""
        out = MergeOutputs()
        bound = close_bound(self.watermarks, self.source_partitions)
        forget = retention_bound(self.watermarks, self.source_partitions)
        for sid, st in self.scopes.items():
            changed = sid in self._dirty
            for ws in sorted(st.windows):
                win = st.windows[ws]
                if not win.partials:
                    continue
                if not win.emitted and ready_to_close(ws, bound, self.metrics):
                    metric = merge_partials(list(win.partials.values()), self.metrics, final=True,
                                            prev_attribution=st.previous_attribution(ws))
                    st.remember(metric)
                    out.metrics.append(metric)
                    win.emitted = True
                    win.changed = False
                    changed = True
                    for rule in self.alerts.rules:
                        if isinstance(rule, GpuMemoryTrendRule):
                            out.alerts.extend(evaluate_trend(rule, metric, st.alerts, st.series))
                            continue
                        state = st.alerts.setdefault(rule.id, AlertState())
                        alert = evaluate(rule, metric, state, traces_url_template=self.alerts.traces_url_template)
                        if alert is not None:
                            out.alerts.append(alert)
                elif win.changed and (win.emitted or self.metrics.emit_running):
                    metric = merge_partials(list(win.partials.values()), self.metrics, final=win.emitted,
                                            prev_attribution=st.previous_attribution(ws))
                    if win.emitted:
                        st.remember(metric)
                    out.metrics.append(metric)
                    win.changed = False
            for ws in [ws for ws, w in st.windows.items() if w.emitted and expired(ws, forget, self.metrics)]:
                del st.windows[ws]
                st.forgotten_to_ms = max(st.forgotten_to_ms, forget)
                changed = True
            if changed:
                out.dirty_scopes.add(sid)
        out.watermarks_dirty = self._wm_dirty
        self._dirty.clear()
        self._wm_dirty = False
        return out

    # -- persistence ----------------------------------------------------------
    def watermarks_to_dict(self) -> dict[str, Any]:
        return {
            "source_partitions": self.source_partitions,
            "watermarks": {str(p): w.watermark_ms for p, w in self.watermarks.items()},
            "idle": sorted(p for p, w in self.watermarks.items() if w.idle),
        }

    def load(self, scopes: dict[str, dict[str, Any]], watermarks: dict[str, Any] | None, now_ms: int) -> None:
        self.scopes = {sid: ScopeState.from_dict(d) for sid, d in scopes.items()}
        if watermarks:
            self.source_partitions = max(self.source_partitions, int(watermarks.get("source_partitions", 0)))
            idle = set(watermarks.get("idle", []))
            self.watermarks = {
                int(p): SourceWatermark(int(wm), int(p) in idle) for p, wm in watermarks["watermarks"].items()
            }
