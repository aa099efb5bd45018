"""Engine identity: which engine served a request, built with what, running on what.

``engine_id(path)`` is the first 16 hex digits of the SHA-256 of the plan /
model file's bytes, so the same file gets the same id on every host and in
the build report of that file (``producers/trtlog`` hashes the same bytes):
a window or trace links to the build report of its engine by this id.

The rest describes the runtime: ``runtime_versions`` (keys among
``tensorrt``, ``cuda``, ``cudnn``, ``onnxruntime``, ``provider``), the device
name and compute capability. Each backend fills an :class:`EngineIdentity`
when it loads; the worker copies it onto its engine-load events and the
engine id onto every request event.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass, field
from pathlib import Path

CHUNK_BYTES = 1 << 20
ENGINE_ID_HEX = 16
RUNTIME_KEYS = ("tensorrt", "cuda", "cudnn", "onnxruntime", "provider")


def engine_id(path: Path | str) -> str:
    """First 16 hex chars of sha256 over the file's bytes (read in 1 MiB chunks: plans can be GBs)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()[:ENGINE_ID_HEX]


def engine_id_of_bytes(data: bytes) -> str:
    """:func:`engine_id` of bytes already in memory (the TensorRT backend reads the plan anyway)."""
    return hashlib.sha256(data).hexdigest()[:ENGINE_ID_HEX]


def synthetic_engine_id(model: str, model_version: str, build: str | None = None) -> str:
    """A stable id for an engine that has no file (the load generator's synthetic engines); ``build`` names
    one of several builds of the same version (a rebuilt engine is another plan, so another id)."""
    suffix = f"#{build}" if build else ""
    return engine_id_of_bytes(f"synthetic://{model}/{model_version}{suffix}".encode())


@dataclass(frozen=True)
class EngineIdentity:
    """What an engine-load event says about the engine and its runtime."""

    engine_id: str | None = None
    runtime_versions: dict[str, str] = field(default_factory=dict)
    device_name: str | None = None
    compute_capability: str | None = None
    precision: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.runtime_versions) - set(RUNTIME_KEYS)
        if unknown:
            raise ValueError(f"runtime_versions: unknown keys {sorted(unknown)}; use {', '.join(RUNTIME_KEYS)}")

    def event_fields(self) -> dict:
        """The optional engine-load event fields (``schemas.events.EngineLoadStart``/``Complete``)."""
        return {"engine_id": self.engine_id, "runtime_versions": dict(self.runtime_versions),
                "device_name": self.device_name, "compute_capability": self.compute_capability,
                "precision": self.precision}


def onnxruntime_identity(path: Path | str, session, precision: str) -> EngineIdentity:
    """Identity of an ONNX Runtime session on ``path``: version, the provider that runs it, the CPU."""
    import onnxruntime as ort

    providers = list(session.get_providers()) if session is not None else []
    versions = {"onnxruntime": str(ort.__version__)}
    if providers:
        versions["provider"] = providers[0]
    device = ort.get_device()  # "CPU" or "GPU"
    name = platform.processor() or platform.machine() or None
    return EngineIdentity(engine_id=engine_id(path), runtime_versions=versions,
                          device_name=f"{device} {name}".strip() if name else device, precision=precision)


def tensorrt_versions(trt, cuda) -> dict[str, str]:
    """TensorRT's own version, the CUDA driver's (pycuda) and cuDNN's when TensorRT says (NOT EXECUTED here)."""
    out = {"tensorrt": str(getattr(trt, "__version__", "unknown"))}
    try:
        v = int(cuda.get_driver_version())  # e.g. 12040 → 12.4
        out["cuda"] = f"{v // 1000}.{(v % 1000) // 10}"
    except Exception:  # noqa: BLE001 - a missing figure is not a failure of the load
        pass
    cudnn = getattr(trt, "get_cudnn_version", None)  # older TensorRT only; TensorRT 10 need not link cuDNN
    if callable(cudnn):
        try:
            v = int(cudnn())
            out["cudnn"] = f"{v // 1000}.{(v % 1000) // 100}.{v % 100}"
        except Exception:  # noqa: BLE001
            pass
    return out
