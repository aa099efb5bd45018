"""File checkpoints: per followed file, its identity and how far it is safely published.

Identity = device + inode + a fingerprint (hash of the first ``fingerprint_bytes`` bytes, taken when
the file was first read) + a truncation generation. A reused inode with other first bytes is a new file;
a renamed file (rotation) keeps its identity and its offset; a file found compressed at restart keeps its
identity, its offset applies to the decompressed stream (``compression``, ``compressed.py``). One JSON document per store, replaced
atomically (write, fsync, rename), written only after the publisher's flush succeeded.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

log = logging.getLogger(__name__)


def fingerprint(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass
class FilePosition:
    path: str
    dev: int
    ino: int
    fp: str
    fp_len: int
    generation: int
    offset: int
    compression: str | None = None  # "gzip", "bzip2", "xz": path is compressed, offset into its decompressed stream

    @property
    def key(self) -> str:
        return f"{self.dev}:{self.ino}"


class CheckpointStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "files.json"
        self.writes = 0

    def load(self) -> dict[str, FilePosition]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("checkpoint=%s msg='unreadable; files start over (dedup absorbs the repeats)' error=%r",
                        self.path, exc)
            return {}
        out = {}
        for key, entry in (data.get("files") or {}).items():
            try:
                out[key] = FilePosition(**entry)
            except TypeError:
                log.warning("checkpoint=%s key=%s msg='bad entry ignored'", self.path, key)
        return out

    def save(self, positions: dict[str, FilePosition]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        body = orjson.dumps({"version": 1, "files": {k: asdict(v) for k, v in positions.items()}})
        with open(tmp, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)
        self.writes += 1
