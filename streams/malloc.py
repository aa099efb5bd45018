"""The C allocator's setting the worker changes (glibc only; elsewhere nothing is done).

Large blocks (record values of ~150 KB at 500 events a record, fetched responses of a few MB, table resizes)
come from glibc's malloc. By default glibc serves a block of at least ``M_MMAP_THRESHOLD`` (128 KiB) from a
mapping of its own and gives it back when it is freed, but it raises that threshold to the size of each such
block freed (up to 32 MiB): after the first records, every record value came from the heap, and the holes
they left between longer-lived blocks stayed resident. On the default bench load the heap held ~30 MB free
but resident at the peak (``mallinfo2``); a fixed threshold of 64 KiB made it ~5-9 MB and the worker's peak
RSS ~20 MB lower (streams/README.md, "Memory"). Cost: a mapping and its page faults per large block
(microseconds per record of hundreds of events).
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
