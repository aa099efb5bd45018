"""Self-metrics of ``trtlens worker``: its requests (``InferenceWorker.stats``) and its publisher.

Read at scrape time (nothing is recorded per request). Names: README.md ("Self-metrics").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.metrics_core import Metric

from trtlens.obs import Observability, counter
from trtlens.producers.selfmetrics import PublisherCollector

# WorkerStats field → (metric, help)
WORKER_COUNTERS = {
    "requests": ("trtlens_worker_requests_total", "requests served"),
    "errors": ("trtlens_worker_request_errors_total", "requests that ended in an error event"),
    "cold_starts": ("trtlens_worker_cold_starts_total", "requests that paid for an engine load"),
    "engine_loads": ("trtlens_worker_engine_loads_total", "engines loaded"),
    "unloads": ("trtlens_worker_engine_unloads_total", "engines unloaded after idle_unload_s"),
}


class WorkerCollector:
    """``collect()`` over one :class:`~trtlens.producers.worker.core.InferenceWorker`."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        stats = self.worker.stats
        labels = ("model", "model_version")
        key = (self.worker.model, self.worker.model_version)
        for field, (name, doc) in WORKER_COUNTERS.items():
            yield counter(name, doc, {key: getattr(stats, field)}, labels)
        yield counter("trtlens_worker_requests_sampled_out_total",
                      "requests whose events the emitter's sampling dropped (worker.sampling.rate < 1)",
                      {key: self.worker.instrument.emitter.dropped_requests}, labels)


def start_listener(worker: Any, publisher: Any, obs_settings: Any, serving: Any) -> Observability:
    """The obs listener of a worker process; ``serving()`` says whether the client is running (readiness)."""
    obs = Observability(obs_settings)
    obs.register(WorkerCollector(worker))
    obs.register(PublisherCollector(publisher))
    obs.set_readiness(lambda: (bool(serving()), f"serving={str(bool(serving())).lower()} "
                                                 f"spooling={str(publisher.spooling).lower()}"))
    obs.start()
    return obs
