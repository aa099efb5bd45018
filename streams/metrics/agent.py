"""The merge agent (thin): partial windows + watermarks in, final windows and alerts out.

Consumes the internal partials topic (keyed by scope, so one scope's windows
and alert state live on one partition), applies each record to the
:class:`Merger` of its partition, sends what became final (and alerts), flushes,
then writes the changed scope states (one table key per scope per group).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

import orjson

from trtlens.streams.metrics.merger import Merger

log = logging.getLogger("trtlens.streams.metrics")

WM_KEY = b"wm"
SCOPE_PREFIX = b"s|"


class MergeAgent:
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.settings = runtime.settings
        self.mergers: dict[int, Merger] = {}

    def merger(self, partition: int) -> Merger:
        m = self.mergers.get(partition)
        if m is None:
            s = self.settings.streams
            m = Merger(s.metrics, s.alerts, source_partitions=self.settings.topics.partitions)
            scopes, wms = {}, None
            skip = len(b"%05d:" % partition)
            for key, value in self.rt.merge_state.items_for(partition):
                name = key[skip:]
                if name == WM_KEY:
                    wms = orjson.loads(value)
                elif name.startswith(SCOPE_PREFIX):
                    scopes[name[len(SCOPE_PREFIX):].decode()] = orjson.loads(value)
            m.load(scopes, wms, self.rt.now_ms())
            if scopes:
                log.info("merge_partition=%d recovered scopes=%d", partition, len(scopes))
            self.mergers[partition] = m
        return m

    def forget(self, partitions: set[int]) -> None:
        for p in partitions:
            self.mergers.pop(p, None)

    async def process_group(self, events: list[Any]) -> None:
        by_partition: dict[int, list[Any]] = defaultdict(list)
        for ev in events:
            by_partition[ev.message.partition].append(ev)
        async with self.rt.lock:
            now = self.rt.now_ms()
            for partition, evs in by_partition.items():
                m = self.merger(partition)
                for ev in sorted(evs, key=lambda e: e.message.offset):
                    try:
                        m.apply(orjson.loads(ev.message.value), now)
                    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                        log.error("merge_partition=%d offset=%d msg='bad partial record skipped' error=%r",
                                  partition, ev.message.offset, exc)
            await self._flush(list(by_partition), now)

    async def on_tick(self) -> None:
        async with self.rt.lock:
            await self._flush(list(self.mergers), self.rt.now_ms())

    async def _flush(self, partitions: list[int], now: int) -> None:
        results = []
        metrics = alerts = 0
        for p in partitions:
            m = self.merger(p)
            out = m.flush(now)
            results.append((p, m, out))
            await self.rt.sender.send_docs(self.settings.topics.metrics, out.metrics)
            await self.rt.sender.send_docs(self.settings.topics.alerts, out.alerts)
            metrics += len(out.metrics)
            alerts += len(out.alerts)
        if metrics or alerts:
            await self.rt.sender.flush()
            log.info("merge metrics_out=%d alerts_out=%d", metrics, alerts)
        for p, m, out in results:
            st = self.rt.merge_state
            for sid in out.dirty_scopes:
                key = st.key(p, SCOPE_PREFIX + sid.encode())
                if sid in m.scopes:
                    st.put(p, key, orjson.dumps(m.scopes[sid].to_dict()))
                else:
                    st.delete(p, key)
            if out.watermarks_dirty:
                st.put(p, st.key(p, WM_KEY), orjson.dumps(m.watermarks_to_dict()))
