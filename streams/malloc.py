"""The C allocator's setting the worker changes (glibc only; elsewhere nothing is done).

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


def set_mmap_threshold(nbytes: int) -> bool:
    """Fix glibc's ``M_MMAP_THRESHOLD`` at ``nbytes`` (this also stops it moving); False where there is no glibc."""
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: its C library among them
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only (musl has mallopt as a no-op)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, nbytes) == 1
    if not ok:
        log.warning("malloc=mmap_threshold_refused bytes=%d", nbytes)
    return ok
