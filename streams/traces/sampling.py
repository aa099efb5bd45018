"""Tail sampling decisions (pure, deterministic).

A trace is always kept when it is an error, a cold start, incomplete, slow
(``slow_ms`` or above the current window P99), or an exemplar (among the N
slowest of its window so far: every exemplar a window names is stored); otherwise it is kept with
probability ``sample_rate``, decided by a hash of ``request_id`` — the same
request gets the same decision on every worker and every replay. A kept trace
carries ``sample_weight = 1 / probability`` (1 for the always-kept kinds), so
``sum(sample_weight)`` estimates the number of requests.

A request its source already sampled (its events carry ``sample_weight`` ``w``,
``state.py``) is weighted by both: ``w / sample_rate`` when kept by rate, ``w``
when always kept. That product is the inverse of the chance to be stored only
if the two decisions are independent, and the emitter (``producers/instrument``)
decides with this very hash of ``request_id``: the requests it kept at rate
``r`` are exactly those hashing below ``r``, and a second cut of the same hash
at ``sample_rate >= r`` would keep all of them. So a weighted request's rate
decision hashes ``request_id`` with a prefix (:func:`independent_fraction`):
still the same on every worker and replay, independent of the source's.
Unweighted requests keep the plain hash, so their decisions are as before.
"""

from __future__ import annotations

import hashlib

_SCALE = float(1 << 64)


def hash_fraction(request_id: str, _blake2b=hashlib.blake2b, _from_bytes=int.from_bytes) -> float:
    """A uniform number in [0, 1) from the request id (blake2b, stable across processes)."""
    return _from_bytes(_blake2b(request_id.encode("utf-8"), digest_size=8).digest(), "big") / _SCALE


def independent_fraction(request_id: str) -> float:
    """:func:`hash_fraction` of the prefixed id: uncorrelated with a source's sampling by ``hash_fraction``."""
    return hash_fraction("tail|" + request_id)


def rate_keeps(request_id: str, sample_rate: float, *, source_sampled: bool = False) -> bool:
    if sample_rate >= 1.0:
        return True
    if sample_rate <= 0.0:
        return False
    return (independent_fraction(request_id) if source_sampled else hash_fraction(request_id)) < sample_rate


def decide(
    request_id: str,
    *,
    error: bool,
    cold_start: bool,
    incomplete: bool,
    slow: bool,
    sample_rate: float,
    exemplar: bool = False,
    source_sampled: bool = False,
) -> tuple[bool, str, float]:
    """(keep, reason, sample_weight); ``source_sampled``: the request carries a source weight (module doc).

    The weight is the tail's alone: the caller multiplies it by the source weight."""
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
    if sample_rate >= 1.0 or (sample_rate > 0.0 and (independent_fraction(request_id) if source_sampled
                                                     else hash_fraction(request_id)) < sample_rate):  # rate_keeps
        return True, "rate", 1.0 / sample_rate
    return False, "rate", (1.0 / sample_rate) if sample_rate > 0 else 1.0
