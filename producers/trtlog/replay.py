"""TensorRT text logs (build logs, trtexec output, profiles) as a ``trtlens replay`` format.

A whole log becomes one ``engine_build`` event plus its ``layer_profile``
events, published like any other replayed event. Event time is the last
timestamp printed in the log; a log without timestamps takes the file's
modification time, so replaying the same file twice yields the same events
(ids are a digest of the content) and dedup removes the second copy.

Names are redacted by ``Settings.builds.redact`` (read from the environment and
``TRTLENS_CONFIG``, as every reader is created before the command's settings;
``trtlens replay --config FILE`` does not reach it — set the environment).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import orjson

from trtlens.greybox.redact import RedactionPolicy, redact_events
from trtlens.producers.replay.formats import Item, open_binary, register_reader
from trtlens.producers.trtlog.classify import classify
from trtlens.producers.trtlog.parse import parse_log

log = logging.getLogger(__name__)
HEAD_LINES = 40
# families the classifier gives to lines it recognises as TensorRT output of some tool
_NOT_TRT = {"plain", "blank", "app"}  # "app": any application logger, not necessarily around TensorRT


class TensorRTLogReader:
    name = "tensorrt-log"

    def matches(self, path: Path, head: bytes) -> bool:
        text = head.decode("utf-8", errors="replace")
        lines = text.splitlines()[:HEAD_LINES]
        first = next((line for line in lines if line.strip()), "")
        try:
            orjson.loads(first)
            return False  # JSON lines / documents belong to the JSON readers
        except orjson.JSONDecodeError:
            pass
        return any(classify(line, i).family not in _NOT_TRT for i, line in enumerate(lines, start=1))

    def read(self, path: Path, source: str, start_line: int) -> Iterator[Item]:
        with open_binary(path) as f:
            lines = f.read().decode("utf-8", errors="replace").split("\n")
        last_line = len(lines)
        if start_line >= last_line:
            return  # already replayed (the whole log is one report)
        mtime_ms = int(path.stat().st_mtime * 1000)
        result = parse_log(lines, source=source, now_ms=mtime_ms)
        policy = _policy()
        events = redact_events(result.events, policy)
        log.info("trtlog=replay source=%s engine_id=%s events=%d redact=%s", source, result.build.engine_id, len(events), policy.mode)
        for event in events:
            yield Item(last_line, event=event.model_dump(mode="json", exclude_none=True))


def _policy() -> RedactionPolicy:
    from trtlens.settings import load_settings

    return RedactionPolicy.from_settings(load_settings().builds)


register_reader(TensorRTLogReader())
