"""Index templates (mappings, aliases, settings) and sink settings validation."""

from __future__ import annotations

import pytest

from trtlens.schemas.documents import Trace
from trtlens.sinks.core import FAMILY_MODELS
from trtlens.settings import IndexSettings, SettingsError, load_settings
from trtlens.sinks.config import FAMILIES
from trtlens.sinks.templates import MAPPINGS, composable_template, ilm_policy_body, legacy_template

MODELS = FAMILY_MODELS


def _names(model) -> set[str]:
    """Stored fields and the derived ones (``@timestamp``) under the name they are serialised as."""
    computed = {c.alias or name for name, c in model.model_computed_fields.items()}
    return set(model.model_fields) | computed


@pytest.mark.parametrize("family", FAMILIES)
def test_every_mapped_field_exists_in_the_document_model(family):
    assert set(MAPPINGS[family]) <= _names(MODELS[family])


@pytest.mark.parametrize(
    ("family", "field", "expected"),
    [
        ("traces", "request_id", {"type": "keyword"}),
        ("traces", "model_version", {"type": "keyword"}),
        ("traces", "worker_id", {"type": "keyword"}),
        ("traces", "start_ts_ms", {"type": "date", "format": "epoch_millis"}),
        ("traces", "sample_weight", {"type": "double"}),
        ("metrics", "window_start_ms", {"type": "date", "format": "epoch_millis"}),
        ("metrics", "sketch", {"type": "object", "enabled": False}),
        ("alerts", "state", {"type": "keyword"}),
        ("builds", "built_at_ms", {"type": "date", "format": "epoch_millis"}),
    ],
)
def test_explicit_field_types(family, field, expected):
    assert MAPPINGS[family][field] == expected


def test_stage_breakdown_is_an_object_of_float_latencies():
    stages = MAPPINGS["traces"]["stages"]["properties"]
    assert set(stages) == set(Trace.model_fields["stages"].annotation.model_fields)
    assert all(v == {"type": "float"} for v in stages.values())


def test_composable_template_names_pattern_alias_settings_and_ilm():
    idx = IndexSettings(traces="x-traces", shards=2, replicas=1)
    body = composable_template(idx, "traces", ilm_policy="keep30")
    assert body["index_patterns"] == ["x-traces-*"]
    assert body["template"]["aliases"] == {"x-traces": {}}
    assert body["template"]["settings"] == {"number_of_shards": 2, "number_of_replicas": 1, "index.lifecycle.name": "keep30"}
    assert body["template"]["mappings"]["dynamic"] is False
    legacy = legacy_template(idx, "traces")
    assert legacy["index_patterns"] == ["x-traces-*"] and legacy["aliases"] == {"x-traces": {}}
    assert "index.lifecycle.name" not in legacy["settings"]


def test_ilm_policy_deletes_after_retention_without_rollover():
    body = ilm_policy_body(7)
    assert body["phases"]["delete"] == {"min_age": "7d", "actions": {"delete": {}}}
    assert "rollover" not in str(body)


@pytest.mark.parametrize(
    ("env", "key", "fragment"),
    [
        ({"TRTLENS_SINK__CHUNK_DOCS": "0"}, "sink.chunk_docs", "greater than or equal to 1"),
        ({"TRTLENS_SINK__CHUNK_BYTES": "10"}, "sink.chunk_bytes", "greater than or equal to 1024"),
        ({"TRTLENS_SINK__FAMILIES": '["traces", "logs"]'}, "sink.families", "Input should be"),
        ({"TRTLENS_SINK__BACKOFF_INITIAL_MS": "5000", "TRTLENS_SINK__BACKOFF_MAX_MS": "100"}, "sink", "backoff_max_ms"),
        ({"TRTLENS_SINK__UNKNOWN": "1"}, "sink.unknown", "Extra inputs"),
    ],
)
def test_invalid_sink_settings_name_key_and_rule(monkeypatch, env, key, fragment):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert any(p[0].startswith(key) and fragment in p[2] for p in err.value.problems), err.value.problems


def test_sink_settings_from_env(monkeypatch):
    monkeypatch.setenv("TRTLENS_SINK__GROUP_ID", "g2")
    monkeypatch.setenv("TRTLENS_SINK__CHUNK_DOCS", "500")
    s = load_settings().sink
    assert (s.group_id, s.chunk_docs, s.families) == ("g2", 500, list(FAMILIES))
