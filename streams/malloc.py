"""The C allocator's settings the worker changes (glibc only; elsewhere nothing is done).

Where the bench worker's memory went beyond its imports and its stages' state (2026-12-03, default
``bench streams`` load, ``/proc/self/smaps_rollup`` and ``mallinfo2``/``malloc_info`` sampled every 0.1 s
inside the worker): glibc's heaps held 25-55 MB *free but resident* at and after the peak, and the
consumer's thread had a heap (arena) of its own of up to ~52 MB resident with ~5 MB in use: the fetched
responses and record values are allocated in that thread and freed in the agent's, so the free space of one
arena never served the other. Two settings on by default address that:

* ``malloc_arena_max`` (1): every thread allocates from the one main heap (``M_ARENA_MAX``). The GIL
  serialises the threads' allocations anyway, so the arena lock is uncontended;
* ``malloc_trim_interval_ms`` (250): after a processing group, at most this often, ``malloc_trim(0)``
  hands the free pages inside the heap back to the OS (glibc otherwise only gives back the top of the heap).

Measured with ``trtlens bench streams --before-pythonpath`` (default load, three runs): peak RSS 190-197 ->
176-181 MB, CPU per event within the spread of two runs of the same code (streams/README.md, "Memory").
The fixed mmap threshold below is a third setting, off by default.

Large blocks (record values of ~150 KB at 500 events a record, fetched responses of a few MB, table resizes)
come from glibc's malloc. By default glibc serves a block of at least ``M_MMAP_THRESHOLD`` (128 KiB) from a
mapping of its own and gives it back when it is freed, but it raises that threshold to the size of each such
block freed (up to 32 MiB): after the first records, every record value came from the heap, and the holes
they left between longer-lived blocks stayed resident. On the default bench load the heap held ~30 MB free
but resident at the peak (``mallinfo2``); a fixed threshold of 64 KiB made it ~5-9 MB. Measured with
``trtlens bench streams --before-pythonpath`` (2026-12-03, default load, five runs at load average < 1): peak RSS
186-194 -> 171-174 MB, but CPU per event 20.1-24.3 -> 23.6-30.5 us (a mapping, its zeroed pages' faults and
its unmapping for every large block; which blocks dominate was not measured). So it is off by default
(``malloc_mmap_threshold_bytes = 0``): a setting for a worker short of memory, not of CPU.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc malloc.h
M_ARENA_MAX = -8


def _libc():  # noqa: ANN202 - ctypes.CDLL or None
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: its C library among them
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only (musl has mallopt as a no-op)
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    return libc


def _mallopt(param: int, value: int, refused: str) -> bool:
    """``mallopt(param, value)``; False (and ``refused`` logged with the value) if glibc says no or is not there."""
    libc = _libc()
    if libc is None:
        return False
    ok = libc.mallopt(param, value) == 1
    if not ok:
        log.warning("malloc=%s value=%d", refused, value)
    return ok


def set_arena_max(n: int) -> bool:
    """Let glibc create at most ``n`` heaps (arenas) for all threads; call before threads start. False without glibc."""
    return _mallopt(M_ARENA_MAX, n, "arena_max_refused")


class Trimmer:
    """``malloc_trim(0)`` at most every ``interval_ms`` (clock injected): free pages inside the heap go back to the OS.

    ``maybe_trim()`` is called after each processing group; a call within the interval of the last trim does
    nothing. ``interval_ms = 0`` or no glibc: never trims.
    """

    def __init__(self, interval_ms: int, clock=None) -> None:  # noqa: ANN001 - () -> seconds
        import time

        self.interval_s = interval_ms / 1000
        self.clock = clock or time.monotonic
        self._libc = _libc() if interval_ms > 0 else None
        self._last: float | None = None
        self.trims = 0

    def maybe_trim(self) -> bool:
        if self._libc is None:
            return False
        now = self.clock()
        if self._last is not None and now - self._last < self.interval_s:
            return False
        self._last = now
        self._libc.malloc_trim(0)
        self.trims += 1
        return True


def set_mmap_threshold(nbytes: int) -> bool:
    """Fix glibc's ``M_MMAP_THRESHOLD`` at ``nbytes`` (this also stops it moving); False where there is no glibc."""
    return _mallopt(M_MMAP_THRESHOLD, nbytes, "mmap_threshold_refused")
