"""Index templates (explicit mappings), read aliases and the retention policy.

Every family (``trtlens-traces`` ...) gets one template matching its daily
indices ``<family>-*``: explicit mappings (``dynamic: false`` — fields the
mapping does not name are kept in ``_source`` but not indexed, so a new
document field never breaks indexing and osmem indexes ~50% faster), the
shard/replica settings of :class:`IndexSettings`, and the family's read alias.

:func:`install` prefers composable templates (``_index_template``) and falls
back to legacy ``_template`` where a store lacks them. On real Elasticsearch it
also installs an ILM policy deleting daily indices after ``retention_days``
(daily indices need no rollover); where the store has no ILM (osmem,
OpenSearch) it says so in one log line and skips it.
"""

from __future__ import annotations

import logging
from typing import Any

from trtlens.schemas.documents import LATENCY_BUCKET_FIELDS, STAGE_FIELDS
from trtlens.settings import IndexSettings
from trtlens.sinks.config import FAMILIES, Family, SinkSettings

log = logging.getLogger(__name__)

KEYWORD = {"type": "keyword"}
DATE_MS = {"type": "date", "format": "epoch_millis"}
DATE_ISO = {"type": "date", "format": "strict_date_optional_time"}
FLOAT = {"type": "float"}
DOUBLE = {"type": "double"}
LONG = {"type": "long"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
TEXT = {"type": "text"}
NOT_INDEXED = {"type": "object", "enabled": False}
NOT_INDEXED_KEYWORD = {"type": "keyword", "index": False}

STAGES = {"properties": {k: FLOAT for k in STAGE_FIELDS}}
QUANTILES = {
    "properties": {"count": LONG, **{k: FLOAT for k in ("min", "max", "mean", "p50", "p90", "p95", "p99")}}
}
_ATTR_STAGES = ("queue", "engine_load", "h2d", "compute", "d2h", "other")  # streams/metrics/attribution.STAGES
_PER_STAGE = {"properties": {s: FLOAT for s in _ATTR_STAGES}}
TAIL = {"properties": {
    "threshold_ms": FLOAT, "count": LONG, "cold_start_share": FLOAT, "dominant_stage_share": _PER_STAGE,
    "stage_mean_ms_tail": _PER_STAGE, "stage_mean_ms_body": _PER_STAGE, "delta_prev": NOT_INDEXED,
}}
ATTRIBUTION = {"properties": {"p99": TAIL, "p95": TAIL}}
LATENCY_STATS = {"properties": {k: FLOAT for k in ("min_ms", "max_ms", "mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms")}}

MAPPINGS: dict[Family, dict[str, Any]] = {
    "traces": {
        "request_id": KEYWORD,
        "model": KEYWORD,
        "model_version": KEYWORD,
        "worker_id": KEYWORD,
        "host": KEYWORD,
        "backend": KEYWORD,
        "start_ts_ms": DATE_MS,
        "end_ts_ms": DATE_MS,
        "status": KEYWORD,
        "complete": BOOLEAN,
        "missing_stages": KEYWORD,
        "cold_start": BOOLEAN,
        "batch_size": INTEGER,
        "precision": KEYWORD,
        "engine_id": KEYWORD,
        "stages": STAGES,
        "error": {"properties": {"error_type": KEYWORD, "message": TEXT, "stage": KEYWORD}},
        "event_ids": KEYWORD,
        "event_count": INTEGER,
        "sample_weight": DOUBLE,
        "sample_reason": KEYWORD,
    },
    "metrics": {
        "scope": KEYWORD,
        "scope_key": KEYWORD,
        "model": KEYWORD,
        "model_version": KEYWORD,
        "worker_id": KEYWORD,
        "window_start_ms": DATE_MS,
        "window_ms": LONG,
        "final": BOOLEAN,
        "requests": LONG,
        "sampled_requests": LONG,
        "qps": DOUBLE,
        "errors": LONG,
        "error_rate": DOUBLE,
        "cold_starts": LONG,
        "cold_start_rate": DOUBLE,
        "latency_ms": QUANTILES,
        "first_inference_ms": QUANTILES,
        "engine_load_ms": QUANTILES,
        "gpu_memory_max_bytes": LONG,
        "gpu_utilization_max_pct": FLOAT,
        "late_events": LONG,
        "partitions": INTEGER,
        "engines": KEYWORD,
        "exemplars": KEYWORD,
        "attribution": ATTRIBUTION,
        "gpus": {"properties": {"gpu_index": INTEGER, "memory_used_max_bytes": LONG, "memory_total_bytes": LONG}},
        "sketch": NOT_INDEXED,  # kept for merging longer windows, never searched
        # heatmaps: one long per fixed bucket (osmem has no `histogram` type; sums work everywhere)
        "latency_buckets": {"properties": {k: LONG for k in LATENCY_BUCKET_FIELDS}},
    },
    "alerts": {
        "rule_id": KEYWORD,
        "rule_kind": KEYWORD,
        "scope": KEYWORD,
        "scope_key": KEYWORD,
        "state": KEYWORD,
        "window_start_ms": DATE_MS,
        "window_ms": LONG,
        "value": DOUBLE,
        "threshold": DOUBLE,
        "message": TEXT,
        "breaching_windows": INTEGER,
        "model": KEYWORD,
        "model_version": KEYWORD,
        "explanation": TEXT,
        "attribution": TAIL,
        "exemplars": KEYWORD,
        "exemplar_query": NOT_INDEXED_KEYWORD,
        "url": NOT_INDEXED_KEYWORD,
        "engines": KEYWORD,
        "gpu_index": INTEGER,
        "projected_bytes": LONG,
    },
    "builds": {
        "@timestamp": DATE_ISO,
        "engine_id": KEYWORD,
        "built_at_ms": DATE_MS,
        "model": KEYWORD,
        "model_version": KEYWORD,
        "fallback_count": INTEGER,
        "peak_memory_bytes": LONG,
        "versions": {"properties": {"tensorrt": KEYWORD, "cuda": KEYWORD, "cudnn": KEYWORD}},
        "diff_prev": {
            "properties": {
                "prev_engine_id": KEYWORD,
                "prev_built_at_ms": DATE_MS,
                "prev_model_version": KEYWORD,
                "fusion_rate_delta": FLOAT,
                "int8_coverage_delta": FLOAT,
                "newly_unfused": KEYWORD,
                "newly_fused": KEYWORD,
                "new_plugin_fallbacks": KEYWORD,
                "precision_downgrades": INTEGER,
                # the full BuildDiff (memory/latency deltas, warnings, per-layer changes): stored, not indexed
                "diff": NOT_INDEXED,
            }
        },
        "findings": {"properties": {"kind": KEYWORD, "layer": KEYWORD, "message": TEXT, "reason": KEYWORD,
                                    "value": DOUBLE, "expected": DOUBLE}},
        "fusion_rate": FLOAT,
        "int8_coverage": FLOAT,
        "passed": BOOLEAN,
        "status": KEYWORD,
        # value/limit mix numbers and strings: keyword takes both
        "violations": {"properties": {"rule": KEYWORD, "message": TEXT, "value": KEYWORD, "limit": KEYWORD}},
        "report": {
            "properties": {
                "event_id": KEYWORD,
                "ts_ms": DATE_MS,
                "worker_id": KEYWORD,
                "host": KEYWORD,
                "model": KEYWORD,
                "model_version": KEYWORD,
                "backend": KEYWORD,
                "engine_id": KEYWORD,
                "source": KEYWORD,
                "trt_version": KEYWORD,
                "precisions": KEYWORD,
                "status": KEYWORD,
                "build_time_ms": FLOAT,
                "layers_before": INTEGER,
                "layers_after": INTEGER,
                "plugin_fallbacks": KEYWORD,
                "removed_layers": KEYWORD,
                "unparsed_lines": INTEGER,
                "memory": {"properties": {k: LONG for k in (
                    "peak_gpu_bytes", "activation_bytes", "weights_bytes", "engine_bytes", "requested_bytes")}},
                "perf": {"properties": {"throughput_qps": FLOAT, "latency": LATENCY_STATS, "gpu_compute": LATENCY_STATS}},
                # layer lists, calibration tables, diagnostics: stored, not indexed (unbounded keys)
                "calibration": NOT_INDEXED,
                "fp16_weight_warnings": NOT_INDEXED,
            }
        },
    },
    "layers": {
        "@timestamp": DATE_ISO,
        "window_start_ms": DATE_MS,
        "window_end_ms": DATE_MS,
        "window_ms": LONG,
        "model": KEYWORD,
        "model_version": KEYWORD,
        "engine_id": KEYWORD,
        "layer": KEYWORD,
        "layer_type": KEYWORD,
        "count": LONG,
        "mean_ms": DOUBLE,
        "p50_ms": DOUBLE,
        "p99_ms": DOUBLE,
        "total_ms": DOUBLE,
        "share": DOUBLE,
        "final": BOOLEAN,
    },
    "findings": {
        "@timestamp": DATE_ISO,
        "engine_id": KEYWORD,
        "kind": KEYWORD,
        "message": TEXT,
        "ref_ms": DATE_MS,
        "window_start_ms": DATE_MS,
        "model": KEYWORD,
        "model_version": KEYWORD,
        "worker_id": KEYWORD,
        "layer": KEYWORD,
        "layers": KEYWORD,
        # numbers or version strings: keyword takes both
        "value": KEYWORD,
        "expected": KEYWORD,
        "build_versions": {"type": "object", "dynamic": True},
        "runtime_versions": {"type": "object", "dynamic": True},
    },
}


def mappings(family: Family) -> dict[str, Any]:
    return {"dynamic": False, "properties": MAPPINGS[family]}


def index_settings(indices: IndexSettings, *, ilm_policy: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"number_of_shards": indices.shards, "number_of_replicas": indices.replicas}
    if ilm_policy:
        out["index.lifecycle.name"] = ilm_policy
    return out


def composable_template(indices: IndexSettings, family: Family, *, ilm_policy: str | None = None) -> dict[str, Any]:
    """Body of ``PUT _index_template/<alias>``: daily indices ``<alias>-*`` behind ``<alias>``."""
    alias = getattr(indices, family)
    return {
        "index_patterns": [f"{alias}-*"],
        "priority": 200,
        "template": {
            "settings": index_settings(indices, ilm_policy=ilm_policy),
            "mappings": mappings(family),
            "aliases": {alias: {}},
        },
        "_meta": {"managed_by": "trtlens", "family": family},
    }


def legacy_template(indices: IndexSettings, family: Family, *, ilm_policy: str | None = None) -> dict[str, Any]:
    """Body of ``PUT _template/<alias>`` for stores without composable templates."""
    alias = getattr(indices, family)
    return {
        "index_patterns": [f"{alias}-*"],
        "order": 200,
        "settings": index_settings(indices, ilm_policy=ilm_policy),
        "mappings": mappings(family),
        "aliases": {alias: {}},
    }


def ilm_policy_body(retention_days: int) -> dict[str, Any]:
    """Delete a daily index ``retention_days`` after its creation; no rollover (indices are daily)."""
    return {"phases": {"hot": {"actions": {}}, "delete": {"min_age": f"{retention_days}d", "actions": {"delete": {}}}}}


def _status(exc: BaseException) -> int | None:
    meta = getattr(exc, "meta", None)
    return getattr(meta, "status", None) if meta is not None else getattr(exc, "status_code", None)


async def install(client: Any, indices: IndexSettings, sink: SinkSettings, families=FAMILIES) -> dict[str, Any]:
    """Install the retention policy (where supported) and one template per family.

    Returns what was done: ``{"ilm": "installed" | "skipped: ...", "templates": {family: "composable" | "legacy"}}``.
    """
    from elasticsearch import ApiError

    result: dict[str, Any] = {"templates": {}}
    policy: str | None = None
    info = await client.info()
    distribution = (info.get("version") or {}).get("distribution")
    if distribution == "opensearch":
        result["ilm"] = f"skipped: the store is {distribution} {info['version'].get('number')} (no ILM API)"
    else:
        try:
            await client.ilm.put_lifecycle(name=sink.ilm_policy, policy=ilm_policy_body(indices.retention_days))
            policy = sink.ilm_policy
            result["ilm"] = "installed"
        except ApiError as exc:
            if _status(exc) in (400, 404, 405, 410, 501):
                result["ilm"] = f"skipped: the store has no ILM ({_status(exc)} {str(exc)[:120]})"
            else:
                raise
    if policy:
        log.info("ilm=installed policy=%s delete_after_days=%d", policy, indices.retention_days)
    else:
        log.info("ilm=skipped reason=%r retention=not_enforced_by_store", result["ilm"].removeprefix("skipped: "))
    for family in families:
        name = getattr(indices, family)
        try:
            await client.indices.put_index_template(name=name, **composable_template(indices, family, ilm_policy=policy))
            result["templates"][family] = "composable"
        except ApiError as exc:
            if _status(exc) not in (400, 404, 405, 501):
                raise
            log.warning("template=%s composable=unsupported status=%s falling_back=legacy", name, _status(exc))
            await client.indices.put_template(name=name, **legacy_template(indices, family, ilm_policy=policy))
            result["templates"][family] = "legacy"
    log.info(
        "templates=installed %s",
        " ".join(f"{fam}={getattr(indices, fam)}-*:{kind}" for fam, kind in result["templates"].items()),
    )
    return result
