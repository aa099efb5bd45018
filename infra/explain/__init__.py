"""``trtlens explain``: why a model version's P99 jumped, read back from the store.

Given a model/version and a time (default: the latest firing alert), it reads
the window, the windows before it, the other versions in the same window, the
exemplar traces and the build reports of the engines (of those windows too: an
engine the previous windows ran and this one does not is a rebuilt or
re-deployed engine, diffed against the new one), and prints the diagnosis
(:mod:`trtlens.explain.core`); ``--json`` prints it as one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from typing import Any

BASELINE_WINDOWS = 6


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain",
        help="why a model version's P99 jumped: tail causes, baseline, other versions, build diff, exemplar traces",
        description="Reads the store (TRTLENS_ELASTICSEARCH__URL) and explains one window of one model version: "
        "by default the window of the latest firing alert (of --model/--version when given). Causes are ranked "
        "by the share of the tail they cover, with their evidence; the exemplar traces are shown as stage "
        "timelines; when build reports exist for the engines of this and another version, or for this window's "
        "engine and the one the previous windows ran (a rebuilt engine), their grey-box diff.",
    )
    p.add_argument("--model", help="model name (default: the latest firing alert's)")
    p.add_argument("--version", dest="model_version", help="model version (default: the latest firing alert's)")
    p.add_argument("--at", help="a time inside the window: epoch ms or ISO 8601 (default: the latest firing alert)")
    p.add_argument("--json", action="store_true", help="print the diagnosis as one JSON object")
    p.set_defaults(func=run)


class ExplainError(Exception):
    """Nothing to explain: says what to pass instead."""


def parse_time(text: str) -> int:
    """Epoch ms, or ISO 8601 (``2026-12-02T01:00:00Z``; no zone = UTC)."""
    if text.isdigit():
        return int(text)
    try:
        dt = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ExplainError(f"--at {text!r}: not epoch milliseconds nor an ISO 8601 time (e.g. 2026-12-02T01:00:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.timezone.utc)
    return int(dt.timestamp() * 1000)


def _hits(es: Any, index: str, query: dict, *, size: int, sort: list | None = None) -> list[dict[str, Any]]:
    from elasticsearch import NotFoundError

    try:
        res = es.search(index=index, query=query, size=size, sort=sort, ignore_unavailable=True)
    except NotFoundError:
        return []
    return [h["_source"] for h in res["hits"]["hits"]]


def _term(field: str, value: Any) -> dict:
    return {"term": {field: value}}


def gather(es: Any, indices: Any, *, model: str | None, model_version: str | None, at_ms: int | None) -> dict[str, Any]:
    """Every document :func:`trtlens.explain.core.diagnose` needs, read from the store."""
    alert = None
    if at_ms is None:
        filters = [_term("state", "firing"), _term("scope", "model_version")]
        if model and model_version:
            filters.append(_term("scope_key", f"{model}/{model_version}"))
        hits = _hits(es, indices.alerts, {"bool": {"filter": filters}}, size=50,
                     sort=[{"window_start_ms": "desc"}])
        if model and not model_version:
            hits = [h for h in hits if str(h.get("scope_key", "")).startswith(f"{model}/")]
        if not hits:
            who = f" for {model}/{model_version or '*'}" if model else ""
            raise ExplainError(f"no firing alert in {indices.alerts}{who}: pass --model, --version and --at "
                               f"to explain a window without one")
        alert = hits[0]
        model, model_version = alert["scope_key"].split("/", 1)
        at_ms = alert["window_start_ms"]
    elif not (model and model_version):
        raise ExplainError("--at needs --model and --version")
    scope = [_term("scope", "model_version"), _term("scope_key", f"{model}/{model_version}")]
    window_q = {"bool": {"filter": [*scope, {"range": {"window_start_ms": {"lte": at_ms}}}]}}
    recent = _hits(es, indices.metrics, window_q, size=BASELINE_WINDOWS + 1, sort=[{"window_start_ms": "desc"}])
    recent = [m for m in recent if m["window_start_ms"] <= at_ms < m["window_start_ms"] + m["window_ms"]] + \
        [m for m in recent if not (m["window_start_ms"] <= at_ms < m["window_start_ms"] + m["window_ms"])]
    if not recent or not recent[0]["window_start_ms"] <= at_ms < recent[0]["window_start_ms"] + recent[0]["window_ms"]:
        raise ExplainError(f"no window of {model}/{model_version} in {indices.metrics} contains {at_ms}")
    window, previous = recent[0], [m for m in recent[1:] if m["window_start_ms"] < recent[0]["window_start_ms"]]
    if alert is None:
        hits = _hits(es, indices.alerts, {"bool": {"filter": [
            _term("scope_key", f"{model}/{model_version}"), _term("window_start_ms", window["window_start_ms"]),
            _term("state", "firing")]}}, size=1)
        alert = hits[0] if hits else None
    others = [m for m in _hits(es, indices.metrics, {"bool": {"filter": [
        _term("scope", "model_version"), _term("model", model), _term("window_start_ms", window["window_start_ms"]),
        _term("window_ms", window["window_ms"])]}}, size=100) if m.get("model_version") != model_version]
    ids = window.get("exemplars") or []
    traces = _hits(es, indices.traces, {"terms": {"request_id": ids}}, size=len(ids)) if ids else []
    order = {rid: i for i, rid in enumerate(ids)}
    traces.sort(key=lambda t: order.get(t.get("request_id"), len(order)))
    engines = sorted({e for m in [window, *others, *previous] for e in m.get("engines", [])})
    builds: dict[str, dict[str, Any]] = {}
    if engines:
        for b in _hits(es, indices.builds, {"terms": {"engine_id": engines}}, size=len(engines) * 4,
                       sort=[{"built_at_ms": "desc"}]):
            builds.setdefault(b["engine_id"], b)  # the newest report of each engine
    return {"window": window, "alert": alert, "previous": previous, "others": others, "traces": traces,
            "builds": builds}


def run(args: argparse.Namespace) -> int:
    from trtlens.es import es_client
    from trtlens.explain.core import diagnose, render
    from trtlens.settings import load_settings

    settings = load_settings(args.config)
    es = es_client(settings.elasticsearch)
    try:
        at = parse_time(args.at) if args.at else None
        for index in (settings.indices.traces, settings.indices.metrics, settings.indices.alerts):
            es.indices.refresh(index=index, ignore_unavailable=True)
        docs = gather(es, settings.indices, model=args.model, model_version=args.model_version, at_ms=at)
    except ExplainError as exc:
        print(f"explain: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the store unreachable or refusing: say where
        print(f"explain: cannot read {settings.elasticsearch.url}: {exc} "
              f"(is the store up? set TRTLENS_ELASTICSEARCH__URL)", file=sys.stderr)
        return 2
    finally:
        es.close()
    d = diagnose(docs["window"], alert=docs["alert"], previous=docs["previous"], others=docs["others"],
                 traces=docs["traces"], builds=docs["builds"])
    print(json.dumps(d, indent=2, sort_keys=True) if args.json else render(d))
    return 0
