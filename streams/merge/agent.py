"""The merge agent (thin): partial windows + watermarks in, final windows and alerts out.

Consumes the internal partials topic (keyed by scope, so one scope's windows
and alert state live on one partition), applies each record to the
:class:`Merger` of its partition, sends what became final (and alerts), flushes,
then writes the changed scope states (one table key per scope per group).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import orjson

from trtlens.streams.merge.core import Merger

log = logging.getLogger("trtlens.streams.metrics")

WM_KEY = b"wm"
OFFSET_KEY = b"off"  # the last partials-topic offset applied (streams/offsets.py)
SCOPE_PREFIX = b"s|"


class MergeAgent:
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.settings = runtime.settings
        self.mergers: dict[int, Merger] = {}
        self.applied: dict[int, int] = {}  # merge partition → last offset applied
        self.persisted: dict[int, int] = {}  # merge partition → last offset whose outputs and state are written
        self.rereads = runtime.rereads_for(runtime.settings.topics.metrics_partials)
        self._tail_seen: dict[int, int] = {}
        self.bad_records = 0
        self.too_late_partials: dict[int, int] = {}  # merge partition → partials of forgotten windows (Merger.apply)
        self.windows_emitted = 0  # self-metrics (selfmetrics.py)
        self.alerts_emitted = 0

    def merger(self, partition: int) -> Merger:
        m = self.mergers.get(partition)
        if m is None:
            s = self.settings.streams
            m = Merger(s.metrics, s.alerts, source_partitions=self.settings.topics.partitions)
            scopes, wms, applied = {}, None, -1
            skip = len(b"%05d:" % partition)
            for key, value in self.rt.merge_state.items_for(partition):
                name = key[skip:]
                if name == WM_KEY:
                    wms = orjson.loads(value)
                elif name == OFFSET_KEY:
                    applied = int(value)
                elif name.startswith(SCOPE_PREFIX):
                    scopes[name[len(SCOPE_PREFIX):].decode()] = orjson.loads(value)
            m.load(scopes, wms, self.rt.now_ms())
            if scopes:
                log.info("merge_partition=%d recovered scopes=%d applied_offset=%d", partition, len(scopes), applied)
            self.mergers[partition] = m
            self.applied[partition] = self.persisted[partition] = applied
        return m

    def forget(self, partitions: set[int]) -> None:
        for p in partitions:
            self.mergers.pop(p, None)
            self.applied.pop(p, None)
            self.persisted.pop(p, None)
        self.rereads.forget(partitions)

    def commit_limit(self, partition: int) -> int | None:
        off = self.persisted.get(partition)
        return off + 1 if off is not None and off >= 0 else None

    async def process_group(self, events: list[Any]) -> None:
        by_partition: dict[int, list[Any]] = defaultdict(list)
        for ev in events:
            by_partition[ev.message.partition].append(ev)
        async with self.rt.lock:
            now = self.rt.now_ms()
            gaps = []
            for partition, evs in by_partition.items():
                m = self.merger(partition)
                too_late: list[dict[str, Any]] = []
                evs.sort(key=lambda e: e.message.offset)
                for i, ev in enumerate(evs):
                    offset, applied = ev.message.offset, self.applied[partition]
                    if offset <= applied:
                        continue  # redelivered
                    if offset > applied + 1:  # a gap: streams/offsets.py
                        gaps.append((partition, applied + 1, offset, len(evs) - i))
                        break
                    try:
                        record = orjson.loads(ev.message.value)
                        if not m.apply(record, now):
                            too_late.append(record)
                    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                        # written only by this app's workers: a bug, not bad input
                        self.bad_records += 1
                        log.error("merge_partition=%d offset=%d msg='bad partial record skipped' error=%r",
                                  partition, offset, exc)
                    self.applied[partition] = offset
                if too_late:
                    self._count_too_late(partition, too_late)
            await self._flush(list(by_partition), now)
            for partition, target, seen, held in gaps:
                await self.rereads.resolve(partition, target, seen, self._accept_gap(partition), held=held)

    def _count_too_late(self, partition: int, records: list[dict[str, Any]]) -> None:
        """Partials the merger refused because their window was forgotten: counted, one warning per group."""
        self.too_late_partials[partition] = self.too_late_partials.get(partition, 0) + len(records)
        first = min(records, key=lambda r: r["window_start_ms"])
        log.warning(
            "merge_partition=%d too_late_partials=%d msg='partials for windows already final and forgotten, not "
            "applied: their source partition was idle or behind for longer than late_retention_ms' first_scope=%s|%s "
            "window_start_ms=%d source_partition=%s requests=%s",
            partition, len(records), first["scope"], first["scope_key"], first["window_start_ms"],
            first.get("partition"), first.get("requests"))

    def _accept_gap(self, partition: int):  # noqa: ANN202
        def accept(first_present: int) -> None:
            self.applied[partition] = max(self.applied[partition], first_present - 1)

        return accept

    async def on_tick(self) -> None:
        async with self.rt.lock:
            await self._flush(list(self.mergers), self.rt.now_ms())
            await self.rereads.retry_overdue()
            await self._reread_tails()

    async def _reread_tails(self) -> None:
        """Records on the broker past the applied offset and nothing arriving: re-read (see the pipeline agent)."""
        topic = self.settings.topics.metrics_partials
        for partition, applied in list(self.applied.items()):
            hw = self.rt.highwater(topic, partition)
            if hw and hw > applied + 1 and partition not in self.rereads.book.pending:
                seen = self._tail_seen.get(partition)
                if seen == hw:  # the same tail on two ticks in a row: nothing is on its way
                    await self.rereads.resolve(partition, applied + 1, hw - 1, self._accept_gap(partition))
                self._tail_seen[partition] = hw
            else:
                self._tail_seen.pop(partition, None)

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
            self.windows_emitted += metrics
            self.alerts_emitted += alerts
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
            applied = self.applied.get(p, -1)
            if applied != self.persisted.get(p):
                st.put(p, st.key(p, OFFSET_KEY), b"%d" % applied)
                self.persisted[p] = applied
                self.rereads.progressed(p, applied)
