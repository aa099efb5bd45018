"""Commit-after-ack: sources learn that what they published is safe only after the broker acknowledged it.

A source publishes under :meth:`Committer.publishing` (a gate) and then registers what to do once it is
safe (:meth:`Committer.after_ack`: write a file checkpoint, answer an HTTP push, commit Kafka offsets).
Every ``commit_interval_ms`` (or sooner, on :meth:`wake`) the committer closes the gate, flushes the
publisher (every pending batch sent and acknowledged, the spool drained) and, if the flush succeeded,
runs the callbacks registered before it; otherwise they wait for the next round (nothing is committed
that the broker has not). Closing the gate is what makes a flush finish under continuous load: the
publisher's flush settles only when nothing new is handed to it meanwhile.

Dead letters count as published: the publisher's flush covers them too.

A callback registered with a ``key`` replaces the pending one with the same key: a file checkpoint
snapshot supersedes the one before it, so a round writes one checkpoint, not one per poll (a poll is one
read chunk, ~3,000 lines: a 1-second round of a busy file used to write and fsync ~30 of them). The
newer one is still run only after a flush that began after it was registered, which covers everything
the older one covered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class Committer:
    def __init__(self, publisher, *, interval_ms: int = 1000, flush_timeout_s: float = 5.0) -> None:
        self.publisher = publisher
        self.interval_s = interval_ms / 1000
        self.flush_timeout_s = flush_timeout_s
        self._gate = threading.Lock()
        self._lock = threading.Lock()
        self._callbacks: list[tuple[str | None, Callable[[], None]]] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0
        self.failed_rounds = 0
        self.last_ack_s: float | None = None

    @contextmanager
    def publishing(self) -> Iterator[None]:
        """Hold while handing events to the publisher (a flush waits for it and vice versa)."""
        with self._gate:
            yield

    def after_ack(self, callback: Callable[[], None], *, key: str | None = None) -> None:
        """Run ``callback`` (on the committer's thread) once everything published so far is acknowledged.

        With ``key``: the pending callback with the same key (not yet taken by a round) is dropped, as this
        one supersedes it (it must cover everything the older one would have done).
        """
        with self._lock:
            if key is not None:
                self._callbacks = [entry for entry in self._callbacks if entry[0] != key]
            self._callbacks.append((key, callback))

    def wake(self) -> None:
        self._wake.set()

    def commit_now(self, *, final: bool = False) -> bool:
        """One round: flush, then run the callbacks registered before it. True when the flush succeeded.

        While the publisher spools (broker away) a round does not close the gate to wait for a flush that
        cannot succeed: sources keep handing events to the spool, and nothing is committed yet.
        """
        if not final and getattr(self.publisher, "spooling", False):
            self.rounds += 1
            self.failed_rounds += 1
            return False
        with self._lock:
            callbacks, self._callbacks = self._callbacks, []
        with self._gate:
            ok = self.publisher.flush(self.flush_timeout_s)
        self.rounds += 1
        if not ok:
            self.failed_rounds += 1
            with self._lock:
                newer = {key for key, _ in self._callbacks if key is not None}
                # retried next round, still before later ones; a keyed one superseded meanwhile is dropped
                self._callbacks[:0] = [entry for entry in callbacks if entry[0] is None or entry[0] not in newer]
            return False
        self.last_ack_s = time.time()
        for _key, cb in callbacks:
            try:
                cb()
            except Exception:  # a failing callback (disk full) must not stop the others
                log.exception("msg='commit callback failed'")
        return True

    @property
    def pending(self) -> int:
        return len(self._callbacks)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="trtlens-collect-commit", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._callbacks:
                self.commit_now()

    def stop(self, *, final: bool = True) -> bool:
        """Stop the thread; with ``final`` run one last round. True when nothing is left uncommitted."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.flush_timeout_s + 5)
        if final and self._callbacks:
            return self.commit_now(final=True)
        return not self._callbacks
