"""The sentence an alert carries: why the window breached, from its tail attribution (pure).

Also used by ``trtlens explain``. Causes are ranked by how much of the tail
they cover: the cold-start share, then the stage that dominated most tail
requests (with its tail mean against the body's). The exemplar query is an
Elasticsearch query string over ``trtlens-traces`` that opens the exemplars.
"""

from __future__ import annotations

from typing import Any

STAGE_LABELS = {
    "queue": "queueing", "engine_load": "engine load", "h2d": "host-to-device copy", "compute": "compute",
    "d2h": "device-to-host copy", "other": "time outside the measured stages",
}
COLD_SHARE_MIN = 0.2
"""A cold-start share below this is not named as a cause."""


def fmt_ms(ms: float | None) -> str:
    """``1,755 ms`` / ``1.4 s`` / ``8.2 ms``."""
    if ms is None:
        return "n/a"
    if ms >= 1000:
        return f"{ms / 1000:.1f} s"
    if ms >= 100:
        return f"{ms:,.0f} ms"
    return f"{ms:.1f} ms"


def p99_ms(ms: float | None) -> str:
    """A quantile always in ms (``1,755 ms``), stage means may be in s."""
    return "n/a" if ms is None else (f"{ms:,.0f} ms" if ms >= 100 else f"{ms:.1f} ms")


def pct(share: float) -> str:
    return f"{share * 100:.0f}%"


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name)


def ranked_causes(t: Any) -> list[dict[str, Any]]:
    """Causes of a tail (a ``TailAttribution`` or its dict), largest share first, each with its evidence."""
    causes: list[dict[str, Any]] = []
    cold = _get(t, "cold_start_share")
    tail_means, body_means = _get(t, "stage_mean_ms_tail") or {}, _get(t, "stage_mean_ms_body") or {}
    if cold >= COLD_SHARE_MIN:
        causes.append({"cause": "cold_start", "share": cold, "stage": "engine_load",
                       "tail_mean_ms": tail_means.get("engine_load"), "body_mean_ms": body_means.get("engine_load"),
                       "text": f"{pct(cold)} of the tail were cold starts, engine load mean "
                               f"{fmt_ms(tail_means.get('engine_load'))}"})
    for stage, share in sorted((_get(t, "dominant_stage_share") or {}).items(), key=lambda kv: (-kv[1], kv[0])):
        if share <= 0:
            continue
        if stage == "engine_load" and causes and causes[0]["cause"] == "cold_start":
            continue  # the same cause, already named
        tm, bm = tail_means.get(stage), body_means.get(stage)
        text = f"{pct(share)} of the tail dominated by {STAGE_LABELS.get(stage, stage)} (mean {fmt_ms(tm)}"
        text += f" vs {fmt_ms(bm)} below the tail)" if bm is not None else ")"
        causes.append({"cause": f"stage:{stage}", "share": share, "stage": stage, "tail_mean_ms": tm,
                       "body_mean_ms": bm, "text": text})
    causes.sort(key=lambda c: -c["share"])
    return causes


def exemplar_query(request_ids: list[str]) -> str | None:
    """Elasticsearch/Kibana query string that finds the exemplar traces: ``request_id:("a" OR "b")``."""
    if not request_ids:
        return None
    quoted = " OR ".join('"' + r.replace("\\", "\\\\").replace('"', '\\"') + '"' for r in request_ids)
    return f"request_id:({quoted})"


def explanation(rule_kind: str, value: float | None, metric: Any) -> str | None:
    """One sentence for a firing alert on a window (a ``WindowMetric``), or None without attribution.

    ``P99 1,755 ms: 83% of the tail were cold starts, engine load mean 1.4 s; 17% of the tail dominated
    by compute (mean 12.0 ms vs 8.1 ms below the tail); previous window P99 310 ms; engine e3f1a2b4c5d6e7f8``
    """
    attr = metric.attribution or {}
    t = attr.get("p99")
    if t is None:
        return None
    if rule_kind == "p99_above":
        head = f"P99 {p99_ms(value)}"
    else:
        head = f"{rule_kind.replace('_', ' ')} {value:.4g}, P99 {p99_ms(metric.latency_ms.p99)}"
    causes = ranked_causes(t)
    parts = [c["text"] for c in causes[:2]] or ["no single cause: the tail is spread over the stages"]
    d = t.delta_prev
    if d is not None:
        parts.append(f"previous window P99 {p99_ms(t.threshold_ms - d['threshold_ms'])}")
    if metric.engines:
        parts.append(("engine " if len(metric.engines) == 1 else "engines ") + ", ".join(metric.engines[:3]))
    return f"{head}: " + "; ".join(parts)
