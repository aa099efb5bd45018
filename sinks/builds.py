"""Build documents learn their predecessor: ``diff_prev`` against the previous build of the same model.

Build reports are keyed by ``engine_id`` in the streams app, so builds of one
model are spread over partitions and workers; the store is the one place that
holds them all. Before a batch of build documents is indexed, each one that
names its ``model`` (and has no ``diff_prev`` yet) is linked to the newest
build of that model with an earlier ``built_at_ms``: from the same batch, from
the builds this sink indexed (a per-process memory, so a previous build not yet
searchable — real Elasticsearch refreshes each second — is still found), or
from the store (``trtlens-builds`` alias; one search per model per batch).
The diff itself is :func:`trtlens.greybox.diff.diff_prev` (pure).

Deterministic: a replayed build document is linked to the same predecessor as
long as no build of the model with a time in between was indexed meanwhile
(then it is linked to that one, which is the truth by then). A model's first
build has ``diff_prev: null``. A store lookup that fails is retried by the
caller's backoff like a bulk; it never drops the document.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from trtlens.sinks.core import BulkAction

log = logging.getLogger(__name__)

Lookup = Callable[[str, int], Awaitable[dict[str, Any] | None]]
"""``lookup(model, before_ms)`` → the newest stored build document of ``model`` built before ``before_ms``."""


class BuildLinker:
    """Adds ``diff_prev`` to build documents (one instance per sink process)."""

    def __init__(self, lookup: Lookup, *, memory: int = 4096) -> None:
        self._lookup = lookup
        self._memory = memory
        self._seen: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # model → [(built_at_ms, doc)], a few per model
        self.linked = 0
        self.first_builds = 0

    def _remembered(self, model: str, before_ms: int) -> dict[str, Any] | None:
        best = None
        for at, doc in self._seen.get(model, ()):
            if at < before_ms and (best is None or at > best[0]):
                best = (at, doc)
        return best[1] if best else None

    def _remember(self, model: str, doc: dict[str, Any]) -> None:
        docs = self._seen.setdefault(model, [])
        docs.append((int(doc["built_at_ms"]), doc))
        docs.sort(key=lambda x: x[0])
        del docs[:-8]  # the newest few per model are enough to find a predecessor
        if len(self._seen) > self._memory:
            self._seen.pop(next(iter(self._seen)))

    async def link(self, actions: list[BulkAction]) -> list[BulkAction]:
        """The same actions, build documents with ``diff_prev`` filled in (oldest build of a model first)."""
        from trtlens.greybox.diff import diff_prev

        parsed: list[tuple[int, dict[str, Any]]] = []
        for i, action in enumerate(actions):
            doc = orjson.loads(action.source)
            if doc.get("model") and doc.get("diff_prev") is None and "report" in doc:
                parsed.append((i, doc))
        parsed.sort(key=lambda item: int(item[1]["built_at_ms"]))
        out = list(actions)
        for i, doc in parsed:
            model, at = doc["model"], int(doc["built_at_ms"])
            prev = self._remembered(model, at)
            stored = await self._lookup(model, at)
            if stored is not None and (prev is None or int(stored["built_at_ms"]) > int(prev["built_at_ms"])):
                prev = stored
            if prev is None:
                self.first_builds += 1
            else:
                doc["diff_prev"] = diff_prev(prev, doc)
                self.linked += 1
                a = actions[i]
                out[i] = BulkAction(a.index, a.doc_id, orjson.dumps(doc), a.ref)
            self._remember(model, doc)
        return out


def store_lookup(client: Any, alias: str) -> Lookup:
    """``lookup`` over the store: newest build document of a model before a time (None when there is none)."""

    async def lookup(model: str, before_ms: int) -> dict[str, Any] | None:
        try:
            resp = await client.search(
                index=alias, size=1, ignore_unavailable=True, allow_no_indices=True,
                query={"bool": {"filter": [{"term": {"model": model}}, {"range": {"built_at_ms": {"lt": before_ms}}}]}},
                sort=[{"built_at_ms": {"order": "desc"}}],
            )
        except Exception as exc:  # noqa: BLE001 - a missing alias is "no previous build"; other errors propagate
            if getattr(exc, "status_code", None) == 404 or getattr(getattr(exc, "meta", None), "status", None) == 404:
                return None
            raise
        body = resp.body if hasattr(resp, "body") else resp
        hits = body.get("hits", {}).get("hits", [])
        return hits[0]["_source"] if hits else None

    return lookup
