import pytest
from pydantic import ValidationError

from trtlens.schemas.documents import Alert, BuildReport, Trace, WindowMetric
from trtlens.schemas.events import EngineBuild


@pytest.mark.parametrize(
    ("doc", "doc_id", "ts_ms"),
    [
        (Trace(request_id="r1", start_ts_ms=5, end_ts_ms=9, status="ok", complete=True), "r1", 5),
        (WindowMetric(scope="model_version", scope_key="m/v1", window_start_ms=10_000, window_ms=10_000), "model_version:m/v1:10000:10000", 10_000),
        (Alert(rule_id="p99", rule_kind="p99_above", scope="all", scope_key="*", state="firing", window_start_ms=20, window_ms=10, value=3.0, threshold=2.0, message="m"), "p99:*:20:firing", 20),
        (BuildReport(engine_id="e1", built_at_ms=7, report=EngineBuild(event_id="b", ts_ms=7, worker_id="ci", engine_id="e1")), "e1:7", 7),
    ],
    ids=["trace", "metric", "alert", "build"],
)
def test_doc_ids_are_deterministic(doc, doc_id, ts_ms):
    assert doc.doc_id == doc_id
    assert doc.ts_ms == ts_ms
    assert type(doc).model_validate(doc.model_dump(mode="json")).doc_id == doc_id


def test_documents_reject_unknown_fields():
    with pytest.raises(ValidationError, match="extra"):
        Trace(request_id="r", start_ts_ms=1, end_ts_ms=2, status="ok", complete=True, surprise=1)
