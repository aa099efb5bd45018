"""Self-metrics of ``trtlens collect`` (read at scrape time; nothing recorded per event). Names: README.md."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.metrics_core import Metric

from trtlens.obs import counter, gauge


class CollectCollector:
    def __init__(self, collector: Any) -> None:
        self.collector = collector

    def collect(self) -> Iterator[Metric]:
        c = self.collector
        counts = dict(c.intake.counts)
        for outcome, name, doc in (
            ("events", "trtlens_collect_events_total", "events handed to the publisher, per source kind"),
            ("invalid", "trtlens_collect_invalid_total", "records dead-lettered, per source kind"),
            ("skipped", "trtlens_collect_skipped_total", "plain-text lines only counted (files.plain_text=skip)"),
        ):
            yield counter(name, doc, {(k,): v for (k, o), v in counts.items() if o == outcome}, ("source",))
        yield counter("trtlens_collect_cold_starts_total", "Lambda invocations that paid for an init",
                      counts.get(("telemetry", "cold_starts"), 0))
        yield counter("trtlens_collect_lambda_reports_total", "platform.report records joined",
                      counts.get(("telemetry", "reports"), 0))
        http = c.http
        if http is not None:
            yield counter("trtlens_collect_http_responses_total", "HTTP pushes answered, per route and status",
                          {(r, str(s)): v for (r, s), v in dict(http.responses).items()}, ("route", "status"))
            yield gauge("trtlens_collect_http_inflight", "pushes waiting for the broker's acknowledgement",
                        http._inflight)
        files = c.files
        if files is not None:
            yield gauge("trtlens_collect_files_followed", "files open now", len(files.follower.files))
            yield counter("trtlens_collect_file_rotations_total", "rotations seen", files.follower.rotations)
            yield counter("trtlens_collect_file_truncations_total", "truncations seen", files.follower.truncations)
            yield counter("trtlens_collect_files_recovered_at_restart_total",
                          "checkpointed files found under a rotated name at restart", files.follower.recovered_at_restart)
            yield counter("trtlens_collect_files_recovered_compressed_at_restart_total",
                          "checkpointed files found compressed (.gz, .bz2, .xz) at restart, their tail read from it",
                          files.follower.recovered_compressed_at_restart)
            yield counter("trtlens_collect_files_missing_at_restart_total",
                          "checkpointed files not found at restart (unread tail lost)", files.follower.missing_at_restart)
            yield counter("trtlens_collect_checkpoint_writes_total", "file checkpoints written",
                          files.store.writes)
        com = c.committer
        yield counter("trtlens_collect_commit_rounds_total", "flush+commit rounds", com.rounds)
        yield counter("trtlens_collect_commit_failures_total", "rounds whose flush did not settle (retried)",
                      com.failed_rounds)
        yield gauge("trtlens_collect_commit_pending", "commits waiting for the next acknowledged flush", com.pending)
