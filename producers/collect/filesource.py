"""The file source: a :class:`~trtlens.producers.collect.follow.Follower` wired to the intake and checkpoints.

Each poll: read what files gained, decode + map every record (bad ones → DLQ with file path and byte
offset), publish under the commit gate, then register a checkpoint of the offsets reached; the
committer writes it only after the publisher's flush succeeded. After a crash the files restart at the
last checkpoint: lines after it are read again with the same deterministic ids (``cl-<file identity,
byte offset>``, or the line's own ``event_id``), so dedup removes what was already delivered.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from trtlens.producers.collect.checkpoint import CheckpointStore
from trtlens.producers.collect.config import FilesConfig
from trtlens.producers.collect.follow import Follower
from trtlens.producers.collect.intake import Intake
from trtlens.schemas.codec import DecodeError

log = logging.getLogger(__name__)


class FileSource:
    kind = "file"

    def __init__(self, config: FilesConfig, intake: Intake, checkpoint_dir: Path) -> None:
        self.config = config
        self.intake = intake
        self.store = CheckpointStore(checkpoint_dir)
        self.follower = Follower(config, self.store.load())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.bytes_read = 0

    def poll_once(self) -> int:
        """Read, publish, register the checkpoint; returns the number of records handled."""
        chunks = self.follower.read()
        if not chunks:
            return 0
        intake = self.intake
        plain_skip = self.config.plain_text == "skip"
        handled = 0
        for chunk in chunks:
            events: list[dict] = []
            dead: list[dict] = []
            skipped = 0
            path = chunk.position.path
            sid = chunk.source_id
            where = chunk.dlq_context  # a .gz: the offset is into its decompressed stream
            for offset, err in chunk.errors:
                dead.append(err.to_dlq(source=path, offset=offset, file_identity=sid, **where))
            for rec in chunk.records:
                try:
                    events.append(intake.decode(rec.payload, source_id=sid, position=rec.start,
                                                fallback_ts_ms=rec.ts_ms))
                except DecodeError as err:
                    if plain_skip and err.code == "not_an_event" and err.reason.startswith("plain text"):
                        skipped += 1
                        continue
                    dead.append(err.to_dlq(source=path, offset=rec.start, file_identity=sid, **where))
            handled += len(chunk.records) + len(chunk.errors)
            intake.submit(self.kind, events, dead, dlq_key=Path(path).name, skipped=skipped)
        snapshot = self.follower.positions()
        # keyed: a newer snapshot replaces a pending older one, so one checkpoint write (fsync) per commit round
        self.intake.committer.after_ack(lambda: self.store.save(snapshot), key=f"files:{self.store.path}")
        return handled

    def run(self) -> None:
        poll_s = self.config.poll_interval_ms / 1000
        glob_s = self.config.glob_interval_ms / 1000
        next_scan = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_scan:
                self.follower.scan()
                next_scan = now + glob_s
            if self.intake.paused():
                self._stop.wait(poll_s)
                continue
            try:
                n = self.poll_once()
            except Exception:
                log.exception("source=file msg='poll failed; retrying'")
                n = 0
            if n == 0:
                self._stop.wait(poll_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="trtlens-collect-files", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.follower.close()
