"""Dedup by ``event_id`` over an event-time TTL (pure).

An id is remembered from the moment it is first accepted until the partition
watermark has advanced ``ttl_ms`` past the watermark at that moment (arrival
watermark, so a replay expires ids at exactly the same points). Expiry is a
queue in insertion order: cheap, no scan.

What is remembered is not the id but its 64-bit BLAKE2b digest (:func:`id_digest`,
deterministic: a replay in another process decides the same), held as an int in
a set, and the expiry queue is two flat arrays of 8-byte machine integers (digest,
expiry watermark). Memory: ~80 bytes per remembered id (the int, its set slot, 16
bytes of queue; ~80-100 measured) instead of ~200 for the string, its set slot and a queue tuple;
at most ``events/s × ttl`` ids — e.g. 50k events/s × 30 s ≈ 140 MB. Two different
ids share a digest with probability 2⁻⁶⁴: with ``n`` ids remembered, a new event
is taken for a duplicate by mistake with probability ``n / 2⁶⁴`` (1.5M ids
remembered, i.e. 50k events/s × 30 s: 8·10⁻¹⁴ per event, about one event in
twelve trillion).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from hashlib import blake2b

from trtlens.schemas.events import EventBase

_from_bytes = int.from_bytes


def id_digest(event_id: str) -> int:
    """The 64-bit digest dedup remembers for ``event_id`` (BLAKE2b, 8 bytes; unsigned)."""
    return _from_bytes(blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


class Deduper:
    def __init__(self, ttl_ms: int, enabled: bool = True) -> None:
        self.ttl_ms = ttl_ms
        self.enabled = enabled
        self.seen: set[int] = set()  # digests of the ids remembered now
        # the expiry queue, in insertion order: digest and expiry watermark (ms) at the same index; entries
        # before _head are gone (the arrays are compacted once that is half of them)
        self._queue_digest = array("Q")
        self._queue_at = array("q")
        self._head = 0
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self.seen)

    def __contains__(self, event_id: str) -> bool:
        return id_digest(event_id) in self.seen

    def pending_expiry(self) -> list[tuple[int, int]]:
        """``(expiry watermark ms, digest)`` of every remembered id, in insertion order."""
        return list(zip(self._queue_at[self._head:], self._queue_digest[self._head:]))

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
        seen_add, queue_digest, queue_at = seen.add, self._queue_digest.append, self._queue_at.append
        duplicates = 0
        for ev in events:
            digest = _from_bytes(blake2b(ev.event_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
            if digest in seen:
                duplicates += 1
                continue
            seen_add(digest)
            keep(ev)
            keep_wm(wm)
            ts = ev.ts_ms
            if ts > wm and ev.spec.moves_watermark:
                wm = ts
            queue_digest(digest)
            queue_at(wm + ttl)
        self.duplicates += duplicates
        return out, out_wms, wm

    def first_seen_one(self, ev: EventBase, watermark_ms: int) -> tuple[bool, int]:
        """:meth:`first_seen` of a record of one event: whether it is first seen, and the watermark after it."""
        wm = watermark_ms
        if self.enabled:
            digest = id_digest(ev.event_id)
            if digest in self.seen:
                self.duplicates += 1
                return False, wm
            self.seen.add(digest)
        ts = ev.ts_ms
        if ts > wm and ev.spec.moves_watermark:
            wm = ts
        if self.enabled:
            self._queue_digest.append(digest)
            self._queue_at.append(wm + self.ttl_ms)
        return True, wm

    def expire(self, watermark_ms: int) -> int:
        """Forget ids whose TTL the watermark has passed; returns how many."""
        at, digests, discard = self._queue_at, self._queue_digest, self.seen.discard
        start = head = self._head
        end = len(at)
        while head < end and at[head] <= watermark_ms:
            discard(digests[head])
            head += 1
        if head == end:  # all gone
            del at[:], digests[:]
            self._head = 0
        elif head > 4096 and head * 2 > end:  # compact: amortised O(1) per id
            del at[:head], digests[:head]
            self._head = 0
        else:
            self._head = head
        return head - start
