import platform
import subprocess
import sys

import pytest

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
