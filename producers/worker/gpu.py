"""``gpu_sample`` events through NVML, when there is one; quietly nothing otherwise.

The sampler reads NVML; the event itself is built and emitted by the instrumentation library
(``Instrument.gpu_sample``, worker-scoped: never sampled away).
"""

from __future__ import annotations

import logging
import threading

from trtlens.producers.instrument import Instrument

log = logging.getLogger(__name__)


def open_nvml(device: int = 0):
    """An NVML device handle, or ``None`` when pynvml / the driver / the GPU is absent."""
    try:
        import pynvml
    except ImportError:
        log.debug("msg='pynvml not installed (pip install nvidia-ml-py); no gpu_sample events'")
        return None
    try:
        pynvml.nvmlInit()
        return pynvml, pynvml.nvmlDeviceGetHandleByIndex(device)
    except Exception as exc:  # pynvml.NVMLError_LibraryNotFound, DriverNotLoaded, ...
        log.debug("msg='NVML unavailable (%s); no gpu_sample events'", exc)
        return None


class GpuSampler:
    """Emits a ``gpu_sample`` every ``interval_s`` from a daemon thread while NVML works."""

    def __init__(self, instrument: Instrument, *, interval_s: float, device: int = 0, nvml=None) -> None:
        self.instrument = instrument
        self.interval_s = interval_s
        self.device = device
        self._nvml = nvml if nvml is not None else (open_nvml(device) if interval_s > 0 else None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.samples = 0

    @property
    def available(self) -> bool:
        return self._nvml is not None

    def sample(self) -> bool:
        """One ``gpu_sample``; False when NVML is absent or failed (sampling then stops)."""
        if self._nvml is None:
            return False
        pynvml, handle = self._nvml
        try:
            util = pynvml.nvmlDeviceGetUtilizationRates(handle)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
        except Exception as exc:
            log.warning("msg='NVML query failed; stopping gpu samples' error=%r", exc)
            self._nvml = None
            return False
        self.instrument.gpu_sample(gpu_index=self.device, utilization_pct=float(util.gpu),
                                   memory_used_bytes=int(mem.used), memory_total_bytes=int(mem.total))
        self.samples += 1
        return True

    def start(self) -> None:
        if self._nvml is None or self.interval_s <= 0:
            return
        self._thread = threading.Thread(target=self._loop, name="trtlens-gpu-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            if not self.sample():
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
