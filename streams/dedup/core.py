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
from collections.abc import Sequence

from trtlens.schemas.events import EventBase


class Deduper:
    def __init__(self, ttl_ms: int, enabled: bool = True) -> None:
        self.ttl_ms = ttl_ms
        self.enabled = enabled
        self.seen: set[str] = set()  # ids remembered now
        self.expiry: deque[tuple[int, str]] = deque()  # (expire at watermark ms, id), in insertion order
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self.seen)

    def first_seen(self, events: Sequence[EventBase], watermark_ms: int) -> tuple[list[EventBase], list[int], int]:
        """The events of one record not seen within the TTL, in order (each remembered now).

        Returns them, the partition watermark each one was seen at (the largest
        ``ts_ms`` before it), and the watermark after the record. First-seen events
        advance the watermark, duplicates do not, and neither do build reports (their
        ``ts_ms`` is when the engine was built: a log's own date, possibly months from
        the traffic) nor derived events (``engine_runtime``, written here by the app from
        another partition's engine load: that partition's time, possibly ahead of this
        one's): neither is a point of this partition's event time
        (``EventSpec.moves_watermark``). An id expires once the watermark
        is ``ttl_ms`` past the watermark right after its event (its arrival).
        """
        wm = watermark_ms
        out: list[EventBase] = []
        out_wms: list[int] = []
        keep, keep_wm = out.append, out_wms.append
        if not self.enabled:
            for ev in events:
                keep(ev)
                keep_wm(wm)
                ts = ev.ts_ms
                if ts > wm and ev.spec.moves_watermark:
                    wm = ts
            return out, out_wms, wm
        seen, ttl = self.seen, self.ttl_ms
        seen_add, expire_at = seen.add, self.expiry.append
        duplicates = 0
        for ev in events:
            eid = ev.event_id
            if eid in seen:
                duplicates += 1
                continue
            seen_add(eid)
            keep(ev)
            keep_wm(wm)
            ts = ev.ts_ms
            if ts > wm and ev.spec.moves_watermark:
                wm = ts
            expire_at((wm + ttl, eid))
        self.duplicates += duplicates
        return out, out_wms, wm

    def expire(self, watermark_ms: int) -> int:
        """Forget ids whose TTL the watermark has passed; returns how many."""
        q, seen, n = self.expiry, self.seen, 0
        while q and q[0][0] <= watermark_ms:
            seen.discard(q.popleft()[1])
            n += 1
        return n
