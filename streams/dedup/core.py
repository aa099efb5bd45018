"""Dedup by ``event_id`` over an event-time TTL (pure).

An id is remembered from the moment it is first accepted until the partition
watermark has advanced ``ttl_ms`` past the watermark at that moment (arrival
watermark, so a replay expires ids at exactly the same points). Expiry is a
queue in insertion order: cheap, no scan.

Memory: about 120 bytes per remembered id (the id string plus dict and queue
slots); at most ``events/s × ttl`` ids — e.g. 50k events/s × 30 s ≈ 180 MB.
"""

from __future__ import annotations

from collections import deque


class Deduper:
    def __init__(self, ttl_ms: int, enabled: bool = True) -> None:
        self.ttl_ms = ttl_ms
        self.enabled = enabled
        # public for the pipeline's inlined hot loop: ids, and (expire_at_ms, id) in insertion order
        self.seen: set[str] = set()
        self.expiry: deque[tuple[int, str]] = deque()
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self.seen)

    def first_time(self, event_id: str, watermark_ms: int) -> bool:
        """True if ``event_id`` was not seen within the TTL (and remember it)."""
        if not self.enabled:
            return True
        seen = self.seen
        if event_id in seen:
            self.duplicates += 1
            return False
        seen.add(event_id)
        self.expiry.append((watermark_ms + self.ttl_ms, event_id))
        return True

    def expire(self, watermark_ms: int) -> int:
        q, seen, n = self.expiry, self.seen, 0
        while q and q[0][0] <= watermark_ms:
            seen.discard(q.popleft()[1])
            n += 1
        return n
