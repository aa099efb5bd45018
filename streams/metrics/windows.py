"""Window maths on event time (ours, not Faust's): assignment and closing.

A tumbling window of ``window_ms`` starting at ``start`` covers
``[start, start + window_ms)``. It *closes* when the watermark (the largest
event time seen) reaches ``start + window_ms + grace_ms``; an event for a
closed window is *late*. A closed window is kept ``late_retention_ms`` more so
late events are counted on it; after that it is *expired* and a later event for
it is counted as ``too_late`` on the partition (it is logged, not lost silently).
"""

from __future__ import annotations


def window_start(ts_ms: int, window_ms: int) -> int:
    """Start of the tumbling window holding ``ts_ms`` (floor, also for ts before the epoch)."""
    if window_ms <= 0:
        raise ValueError("window_ms must be positive")
    return ts_ms - ts_ms % window_ms


def close_at(start_ms: int, window_ms: int, grace_ms: int) -> int:
    """Watermark at which the window starting at ``start_ms`` is final."""
    return start_ms + window_ms + grace_ms


def is_closed(start_ms: int, watermark_ms: int, window_ms: int, grace_ms: int) -> bool:
    return watermark_ms >= close_at(start_ms, window_ms, grace_ms)


def is_expired(start_ms: int, watermark_ms: int, window_ms: int, grace_ms: int, late_retention_ms: int) -> bool:
    return watermark_ms >= close_at(start_ms, window_ms, grace_ms) + late_retention_ms
