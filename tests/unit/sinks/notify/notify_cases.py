"""Alert records for the notifier's unit tests."""

from __future__ import annotations

import orjson

from trtlens.schemas.documents import Alert
from trtlens.sinks.core import RecordRef
from trtlens.sinks.notify.core import AlertRecord, parse_alert

W0 = 1_795_222_800_000  # 2026-11-21T01:00:00Z


def alert(state: str = "firing", window: int = 0, *, rule_id: str = "p99_above_1s", scope_key: str = "resnet50/v2",
          **kw) -> Alert:
    base = dict(rule_id=rule_id, rule_kind="p99_above", scope="model_version", scope_key=scope_key, state=state,
                window_start_ms=W0 + window * 10_000, window_ms=10_000, value=1450.25 if state == "firing" else 812.0,
                threshold=1000.0, message="p99 above 1000 ms for 3 windows", breaching_windows=3)
    return Alert(**{**base, **kw})


def record(a: Alert | None = None, *, extra: dict | None = None, offset: int = 7) -> AlertRecord:
    a = a or alert()
    doc = {**a.model_dump(mode="json"), **(extra or {})}
    rec = parse_alert(RecordRef("trtlens.alerts", 1, offset, a.doc_id.encode()), orjson.dumps(doc))
    assert isinstance(rec, AlertRecord), rec
    return rec
