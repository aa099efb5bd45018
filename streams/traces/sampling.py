"""Tail sampling decisions (pure, deterministic).

A trace is always kept when it is an error, a cold start, incomplete, slow
(``slow_ms`` or above the current window P99), or an exemplar (among the N
slowest of its window so far: every exemplar a window names is stored); otherwise it is kept with
probability ``sample_rate``, decided by a hash of ``request_id`` — the same
request gets the same decision on every worker and every replay. A kept trace
carries ``sample_weight = 1 / probability`` (1 for the always-kept kinds), so
``sum(sample_weight)`` estimates the number of requests. (A trace whose events
carry a source ``sample_weight`` is weighted by that too: ``state.py``.)
"""

from __future__ import annotations

import hashlib

_SCALE = float(1 << 64)


def hash_fraction(request_id: str, _blake2b=hashlib.blake2b, _from_bytes=int.from_bytes) -> float:
    """A uniform number in [0, 1) from the request id (blake2b, stable across processes)."""
    return _from_bytes(_blake2b(request_id.encode("utf-8"), digest_size=8).digest(), "big") / _SCALE


def rate_keeps(request_id: str, sample_rate: float) -> bool:
    if sample_rate >= 1.0:
        return True
    if sample_rate <= 0.0:
        return False
    return hash_fraction(request_id) < sample_rate


def decide(
    request_id: str,
    *,
    error: bool,
    cold_start: bool,
    incomplete: bool,
    slow: bool,
    sample_rate: float,
    exemplar: bool = False,
) -> tuple[bool, str, float]:
    """(keep, reason, sample_weight)."""
    if error:
        return True, "error", 1.0
    if cold_start:
        return True, "cold_start", 1.0
    if incomplete:
        return True, "incomplete", 1.0
    if slow:
        return True, "slow", 1.0
    if exemplar:
        return True, "exemplar", 1.0
    if sample_rate >= 1.0 or (sample_rate > 0.0 and hash_fraction(request_id) < sample_rate):  # rate_keeps
        return True, "rate", 1.0 / sample_rate
    return False, "rate", (1.0 / sample_rate) if sample_rate > 0 else 1.0
