import platform
import subprocess
import sys

import pytest

from trtlens.streams.malloc import Trimmer

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")


_PROBE = """
import ctypes
from trtlens.streams.malloc import set_mmap_threshold
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
assert set_mmap_threshold(64 * 1024)
before = libc.mallinfo2().hblks
# above 64 KiB, under glibc's 128 KiB default: from the heap by default; mapped now, once the heap's
# free top (at most a few hundred KiB in a fresh interpreter) is used up
blocks = [bytearray(100 * 1024) for _ in range(20)]
during = libc.mallinfo2().hblks
del blocks
print(before, during, libc.mallinfo2().hblks)
"""


@glibc
def test_a_block_above_the_threshold_gets_its_own_mapping_and_gives_it_back():
    # a fresh interpreter: in a long test session the heap's free holes would serve the blocks
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True)
    before, during, after = map(int, out.stdout.split())
    assert during >= before + 15
    assert after == before  # given back when freed


def test_the_worker_setting_is_bounded_and_zero_leaves_glibc_as_it_is():
    from pydantic import ValidationError

    from trtlens.streams.config import StreamsSettings

    assert StreamsSettings().malloc_mmap_threshold_bytes == 0  # off: it costs CPU (malloc.py)
    assert StreamsSettings(malloc_mmap_threshold_bytes=65536).malloc_mmap_threshold_bytes == 65536
    with pytest.raises(ValidationError, match="malloc_mmap_threshold_bytes"):
        StreamsSettings(malloc_mmap_threshold_bytes=64 * 1024 * 1024)


_TRIM_PROBE = """
import ctypes
from trtlens.streams.malloc import Trimmer
def rss_mb():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
# 60 MB of heap blocks (under the 128 KiB mmap threshold), one kept at the top: glibc can give back none of it
blocks = [bytearray(64 * 1024) for _ in range(960)]
top = bytearray(64 * 1024)
del blocks
before = rss_mb()
trimmer = Trimmer(1000, clock=lambda: 0.0)
assert trimmer.maybe_trim() and not trimmer.maybe_trim()  # once per interval
print(before, rss_mb(), trimmer.trims)
"""

_ARENA_PROBE = """
import re, threading, ctypes
from trtlens.streams.malloc import set_arena_max
assert set_arena_max(1)
def work():
    keep.append([bytearray(1000) for _ in range(100)])
keep = []
ts = [threading.Thread(target=work) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
libc = ctypes.CDLL(None)
buf, size = ctypes.c_char_p(), ctypes.c_size_t()
libc.open_memstream.restype = ctypes.c_void_p
fp = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
libc.malloc_info(0, fp)
libc.fclose(fp)
print(len(re.findall(r'<heap nr=', ctypes.string_at(buf, size.value).decode())))
"""


@glibc
def test_a_trim_gives_back_the_free_pages_inside_the_heap():
    out = subprocess.run([sys.executable, "-c", _TRIM_PROBE], capture_output=True, text=True, timeout=60, check=True)
    before, after, trims = out.stdout.split()
    assert float(before) - float(after) >= 40  # of the ~60 MB freed under the kept top block
    assert trims == "1"


@glibc
def test_with_one_arena_the_threads_allocate_from_the_main_heap():
    out = subprocess.run([sys.executable, "-c", _ARENA_PROBE], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["1"]  # glibc's default would give the threads heaps of their own


def test_a_trimmer_with_no_interval_never_trims():
    trimmer = Trimmer(0, clock=lambda: 0.0)
    assert not trimmer.maybe_trim() and trimmer.trims == 0


def test_the_allocator_settings_are_bounded():
    from pydantic import ValidationError

    from trtlens.streams.config import StreamsSettings

    s = StreamsSettings()
    assert (s.malloc_arena_max, s.malloc_trim_interval_ms) == (1, 250)
    assert StreamsSettings(malloc_arena_max=0, malloc_trim_interval_ms=0).malloc_arena_max == 0
    with pytest.raises(ValidationError, match="malloc_arena_max"):
        StreamsSettings(malloc_arena_max=65)
    with pytest.raises(ValidationError, match="malloc_trim_interval_ms"):
        StreamsSettings(malloc_trim_interval_ms=-1)
