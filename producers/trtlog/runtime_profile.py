"""A runtime profile as trtlens itself records it, for ``trtlens check --profile``.

Besides trtexec's ``--dumpProfile`` text and ``--exportProfile`` JSON (parsed by
``parse.py``), ``--profile`` takes what the runtime path produces:

* JSON lines of ``layer_profile`` events (a worker's profiled requests, e.g. dumped
  from ``trtlens.events``): rows are summed per layer, ``avg_ms`` = mean per request;
* JSON lines (or a JSON array, or an Elasticsearch search response) of layer
  documents from ``trtlens-layers-*``: windows are merged per layer weighted by count.

:func:`read_runtime_profile` returns ``None`` when the file is neither, so the
caller falls back to the TensorRT log parser.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from trtlens.schemas.events import LayerProfile


def plan_engine_id(path: str | Path) -> str:
    """The engine id the workers report for a plan file: ``trtlens.producers.worker.identity.engine_id``.

    Repeated here (first 16 hex of the file's sha256) because the worker package imports this one;
    a unit test keeps the two equal.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _objects(text: str) -> list[dict[str, Any]] | None:
    text = text.strip()
    if not text or text[0] not in "[{":
        return None
    try:
        whole = orjson.loads(text)
    except orjson.JSONDecodeError:
        whole = None
    if isinstance(whole, list):
        return [o for o in whole if isinstance(o, dict)]
    if isinstance(whole, dict):
        hits = whole.get("hits", {}).get("hits") if isinstance(whole.get("hits"), dict) else None
        return [h.get("_source", {}) for h in hits] if isinstance(hits, list) else [whole]
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _is_event(o: dict[str, Any]) -> bool:
    return o.get("event") == "layer_profile"


def _is_layer_doc(o: dict[str, Any]) -> bool:
    return "layer" in o and "window_start_ms" in o and "count" in o and "engine_id" in o


def read_runtime_profile(path: str | Path, *, engine_id: str | None = None) -> list[LayerProfile] | None:
    """Layer rows of a trtlens runtime profile file, or None if it is not one (a TensorRT log then)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    objs = _objects(text)
    if not objs or not (all(_is_event(o) for o in objs) or all(_is_layer_doc(o) for o in objs)):
        return None
    if engine_id is not None:
        objs = [o for o in objs if o.get("engine_id") in (engine_id, None)] or objs
    sums: dict[str, list[float]] = {}  # layer → [total_ms, count]
    types: dict[str, str | None] = {}
    eid = engine_id or objs[0].get("engine_id") or "runtime"
    for o in objs:
        layer = str(o["layer"])
        slot = sums.setdefault(layer, [0.0, 0.0])
        if _is_event(o):
            ev = LayerProfile.model_validate(o)
            ms = ev.avg_ms if ev.avg_ms is not None else (ev.time_ms or 0.0) / (ev.iterations or 1)
            slot[0] += ms
            slot[1] += 1
        else:
            n = float(o.get("count") or 0)
            slot[0] += float(o.get("mean_ms") or 0.0) * n
            slot[1] += n
        types[layer] = types.get(layer) or o.get("layer_type")
    grand = sum(total for total, _ in sums.values())
    return [
        LayerProfile(event_id=f"runtime:{eid}:{i}", ts_ms=0, worker_id="trtlens-check", engine_id=eid, layer=layer,
                     layer_type=types.get(layer), time_ms=round(total, 6),
                     avg_ms=round(total / n, 6) if n else None,
                     time_pct=round(total / grand * 100, 4) if grand > 0 else None)
        for i, (layer, (total, n)) in enumerate(sums.items())
    ]
