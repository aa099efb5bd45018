"""Engine identity: the content hash that joins a build report to the runtime behaviour of its engine.

``engine_id(path)`` is the first 16 hex characters of the SHA-256 of the plan
(TensorRT ``.engine``) or model (ONNX) file's bytes: the same bytes give the same
id on every host, a rebuild that changes the plan gives a new one.
"""

from __future__ import annotations

import hashlib
import os

_CHUNK = 1 << 20


def engine_id(path: str | os.PathLike[str]) -> str:
    """First 16 hex chars of sha256 over the file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:16]
