"""Dedup by ``event_id`` over an event-time TTL (pure).

An id is remembered from the moment it is first accepted until the partition
watermark has advanced ``ttl_ms`` past the watermark at that moment (arrival
watermark, so a replay expires ids at exactly the same points). Expiry is a
queue in insertion order: cheap, no scan.

What is remembered is not the id but its 64-bit BLAKE2b digest (:func:`id_digest`,
deterministic: a replay in another process decides the same). The digests live in
buckets chosen by ``hash(digest)`` (salted per process: it only says where a digest
is kept, never what is decided, and it is the cheapest index): each bucket is one ``bytearray``
of 8-byte digests in insertion order, searched with ``bytearray.find`` (C speed)
at an 8-byte boundary. Because ids expire in insertion order, the ones a bucket
forgets are always at its front. The expiry queue is two flat arrays: the bucket
of each id (2 bytes) and its expiry watermark (8 bytes). No Python object per id:
~20-30 bytes per remembered id (8 + 2 + 8 and the arrays' slack) where a set of
ints took ~80-100; at most ``events/s × ttl`` ids, e.g. 50k events/s × 30 s ≈
40 MB. The bucket count grows (×4, up to 65,536) as the ids outnumber it 32 to 1,
so a search reads ~32 digests on average. Two different ids share a digest with
probability 2⁻⁶⁴: with ``n`` ids remembered, a new event is taken for a duplicate
by mistake with probability ``n / 2⁶⁴`` (1.5M ids remembered, i.e. 50k events/s ×
30 s: 8·10⁻¹⁴ per event, about one event in twelve trillion).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from hashlib import blake2b

from trtlens.schemas.events import EventBase

_from_bytes = int.from_bytes
FIRST_BUCKETS = 4096
MOST_BUCKETS = 1 << 16  # the queue holds a bucket index in 2 bytes
GROW_AT = 32  # ids per bucket on average at which the bucket count grows ×4


def id_digest(event_id: str) -> int:
    """The 64-bit digest dedup remembers for ``event_id`` (BLAKE2b, 8 bytes; unsigned)."""
    return _from_bytes(_digest(event_id), "little")


def _digest(event_id: str) -> bytes:
    return blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def _holds(bucket: bytearray, digest: bytes) -> bool:
    """Whether ``bucket`` holds ``digest`` as one of its 8-byte entries (a match across two entries is none)."""
    i = bucket.find(digest)
    while i > 0 and i & 7:
        i = bucket.find(digest, i + 1)
    return i >= 0


class Deduper:
    def __init__(self, ttl_ms: int, enabled: bool = True) -> None:
        self.ttl_ms = ttl_ms
        self.enabled = enabled
        self._buckets = [bytearray() for _ in range(FIRST_BUCKETS)]
        self._mask = FIRST_BUCKETS - 1
        # the expiry queue, in insertion order: bucket and expiry watermark (ms) at the same index; entries
        # before _head are gone (the arrays are compacted once that is half of them)
        self._queue_bucket = array("H")
        self._queue_at = array("q")
        self._head = 0
        self._size = 0
        self.duplicates = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, event_id: str) -> bool:
        digest = _digest(event_id)
        return _holds(self._buckets[hash(digest) & self._mask], digest)

    def pending_expiry(self) -> list[tuple[int, int]]:
        """``(expiry watermark ms, digest)`` of every remembered id, in insertion order."""
        return [(at, _from_bytes(digest, "little")) for at, digest in self._in_order()]

    def _in_order(self) -> list[tuple[int, bytes]]:
        offsets: dict[int, int] = {}
        out = []
        buckets = self._buckets
        for k in range(self._head, len(self._queue_at)):
            b = self._queue_bucket[k]
            o = offsets.get(b, 0)
            offsets[b] = o + 8
            out.append((self._queue_at[k], bytes(buckets[b][o:o + 8])))
        return out

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
        buckets, mask, ttl = self._buckets, self._mask, self.ttl_ms
        queue_bucket, queue_at = self._queue_bucket.append, self._queue_at.append
        duplicates = 0
        for ev in events:
            digest = blake2b(ev.event_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
            b = hash(digest) & mask
            bucket = buckets[b]
            i = bucket.find(digest)
            while i > 0 and i & 7:
                i = bucket.find(digest, i + 1)
            if i >= 0:
                duplicates += 1
                continue
            bucket += digest
            keep(ev)
            keep_wm(wm)
            ts = ev.ts_ms
            if ts > wm and ev.spec.moves_watermark:
                wm = ts
            queue_bucket(b)
            queue_at(wm + ttl)
        self.duplicates += duplicates
        self._remembered(len(out))
        return out, out_wms, wm

    def first_seen_one(self, ev: EventBase, watermark_ms: int) -> tuple[bool, int]:
        """:meth:`first_seen` of a record of one event: whether it is first seen, and the watermark after it."""
        wm = watermark_ms
        if self.enabled:
            digest = _digest(ev.event_id)
            b = hash(digest) & self._mask
            bucket = self._buckets[b]
            if _holds(bucket, digest):
                self.duplicates += 1
                return False, wm
            bucket += digest
        ts = ev.ts_ms
        if ts > wm and ev.spec.moves_watermark:
            wm = ts
        if self.enabled:
            self._queue_bucket.append(b)
            self._queue_at.append(wm + self.ttl_ms)
            self._remembered(1)
        return True, wm

    def _remembered(self, n: int) -> None:
        self._size += n
        if self._size > GROW_AT * len(self._buckets) and len(self._buckets) < MOST_BUCKETS:
            self._regroup(min(MOST_BUCKETS, len(self._buckets) * 4))

    def _regroup(self, count: int) -> None:
        """Spread the remembered digests over ``count`` buckets, each bucket's in insertion order still."""
        live = self._in_order()
        mask = count - 1
        buckets = [bytearray() for _ in range(count)]
        queue_bucket = array("H")
        for _, digest in live:
            b = hash(digest) & mask
            buckets[b] += digest
            queue_bucket.append(b)
        self._buckets, self._mask, self._queue_bucket = buckets, mask, queue_bucket
        del self._queue_at[:self._head]
        self._head = 0

    def expire(self, watermark_ms: int) -> int:
        """Forget ids whose TTL the watermark has passed; returns how many."""
        at, queue_bucket, buckets = self._queue_at, self._queue_bucket, self._buckets
        start = head = self._head
        end = len(at)
        while head < end and at[head] <= watermark_ms:
            del buckets[queue_bucket[head]][:8]  # the oldest id of its bucket: the front
            head += 1
        if head == end:  # all gone
            del at[:], queue_bucket[:]
            self._head = 0
        elif head > 4096 and head * 2 > end:  # compact: amortised O(1) per id
            del at[:head], queue_bucket[:head]
            self._head = 0
        else:
            self._head = head
        self._size -= head - start
        return head - start
