"""Load scenarios with a known cause: traffic whose slow tail has one injected reason.

Each scenario is a list of models (``LoadConfig.models``) in which one version
misbehaves in one way, while the others stay healthy, so the tail attribution
of that version's windows must name the injected cause:

==================  =========================================================  ==================================
scenario            what is injected                                           the tail must be dominated by
==================  =========================================================  ==================================
``cold-start-storm``  ``resnet50/v2`` pays an engine load in 4% of requests    cold starts (``engine_load``)
                      (serverless scale-to-zero churn)
``slow-compute``      ``resnet50/v2`` computes 6x slower than ``v1``            ``compute``, far above ``v1``'s
``overload``          ``resnet50/v2`` waits in a queue (median 120 ms)           ``queue``
``engine-rebuild``    ``resnet50/v2``'s engine is rebuilt halfway through the    ``compute`` from the roll-out on;
                      run, fusing 20% of its layers instead of 40% (two build    the rebuilt engine (build diff
                      reports published), and computes 8x slower                 against the previous one)
==================  =========================================================  ==================================

``trtlens load --scenario NAME`` uses them; the ground truth says, per window,
what the P99 tail really was (``tail_p99`` in each window row) and which engines
served it (``engines``), and lists the build reports it published (``builds``).
In ``engine-rebuild`` the tail is compute-dominated before the roll-out too (a
healthy request's largest stage is its compute): the cause there is the jump
in P99 and compute time that comes with the engine change, which ``trtlens
explain`` names with the two builds' diff.
"""

from __future__ import annotations

from trtlens.producers.load.config import ModelSpec, RebuildSpec, VersionSpec

_HEALTHY = VersionSpec(name="v1", weight=0.5, latency_median_ms=8.0, latency_sigma=0.3, error_rate=0.0,
                       cold_start_prob=0.0)

SCENARIOS: dict[str, tuple[str, list[ModelSpec]]] = {
    "cold-start-storm": ("engine_load", [ModelSpec(name="resnet50", versions=[
        _HEALTHY,
        VersionSpec(name="v2", weight=0.5, latency_median_ms=8.0, latency_sigma=0.3, error_rate=0.0,
                    cold_start_prob=0.04, engine_load_median_ms=900.0),
    ])]),
    "slow-compute": ("compute", [ModelSpec(name="resnet50", versions=[
        _HEALTHY,
        VersionSpec(name="v2", weight=0.5, latency_median_ms=48.0, latency_sigma=0.35, error_rate=0.0,
                    cold_start_prob=0.0),
    ])]),
    "overload": ("queue", [ModelSpec(name="resnet50", versions=[
        _HEALTHY,
        VersionSpec(name="v2", weight=0.5, latency_median_ms=8.0, latency_sigma=0.3, error_rate=0.0,
                    cold_start_prob=0.0, queue_median_ms=120.0, queue_sigma=0.5),
    ])]),
    "engine-rebuild": ("compute", [ModelSpec(name="resnet50", versions=[
        _HEALTHY,
        VersionSpec(name="v2", weight=0.5, latency_median_ms=8.0, latency_sigma=0.3, error_rate=0.0,
                    cold_start_prob=0.0, rebuild=RebuildSpec(at_fraction=0.5, compute_factor=8.0,
                                                             fusion_rate_before=0.4, fusion_rate_after=0.2)),
    ])]),
}
"""name → (the stage that must dominate ``resnet50/v2``'s tail, the models)."""


def scenario_models(name: str) -> list[ModelSpec]:
    try:
        return SCENARIOS[name][1]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
