"""The compressed file formats producers read: gzip, bzip2 and xz (all in Python's standard library).

One table, used by ``trtlens replay`` (an input file's format is told by its magic bytes, not its name) and
by the collector (a rotated file logrotate compressed while the collector was down is told by its suffix:
``app.log.1.gz``, ``.bz2``, ``.xz``; logrotate's ``compresscmd`` is gzip unless configured). zstd is not
in the standard library of the Python this project supports, so ``.zst`` files are not read (a replay
reads one as plain bytes and dead-letters its lines; the collector counts a checkpointed file found only
as ``.zst`` as not found).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any


@dataclass(frozen=True)
class Codec:
    name: str  # what checkpoints and dead letters say ("gzip", "bzip2", "xz")
    suffix: str
    magic: re.Pattern[bytes]  # matched at the file's start
    open: Callable[..., IO[bytes]]  # (filename or file object, "rb") → a binary file of the decompressed stream


# Whole headers, not just their first bytes: a plain text file may well start with "BZh"; one starting
# with "BZh", a block size digit and the first block's (or the empty stream's end) magic is bzip2.
CODECS: tuple[Codec, ...] = (
    Codec("gzip", ".gz", re.compile(rb"\x1f\x8b\x08"), gzip.open),  # ID1 ID2, CM = deflate (RFC 1952)
    Codec("bzip2", ".bz2", re.compile(rb"BZh[1-9](?:1AY&SY|\x17rE8P\x90)"), bz2.open),
    Codec("xz", ".xz", re.compile(rb"\xfd7zXZ\x00"), lzma.open),
)
BY_NAME: dict[str, Codec] = {c.name: c for c in CODECS}
SUFFIXES: tuple[str, ...] = tuple(c.suffix for c in CODECS)
MAGIC_BYTES = 10
"""How many leading bytes :func:`codec_of_magic` needs."""

ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError)
"""What reading a corrupt or cut stream raises (``gzip.BadGzipFile`` is an ``OSError``; so are bz2's)."""


def codec_of_name(path: str) -> Codec | None:
    """The codec a file name's suffix says (``app.log.1.bz2`` → bzip2), or None."""
    for c in CODECS:
        if path.endswith(c.suffix):
            return c
    return None


def codec_of_magic(head: bytes) -> Codec | None:
    """The codec a file's first bytes say, or None (plain)."""
    for c in CODECS:
        if c.magic.match(head):
            return c
    return None


def strip_suffix(name: str) -> str:
    """A file name without its compression suffix (``app.jsonl.xz`` → ``app.jsonl``)."""
    c = codec_of_name(name)
    return name[: -len(c.suffix)] if c else name


def open_decompressed(fileobj: IO[bytes]) -> Any:
    """``fileobj`` (binary, at its start) itself if plain, else its decompressed stream, by magic bytes."""
    head = fileobj.read(MAGIC_BYTES)
    fileobj.seek(0)
    c = codec_of_magic(head)
    return fileobj if c is None else c.open(fileobj, "rb")
