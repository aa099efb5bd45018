from trtlens.cli import main
from trtlens.schemas.documents import DOCUMENT_TYPES
from trtlens.schemas.events import EVENT_TYPES
from trtlens.schemas.jsonschema import all_schemas


def test_schema_covers_every_event_and_document():
    schemas = all_schemas()
    assert set(schemas["events"]) == set(EVENT_TYPES)
    assert set(schemas["documents"]) == set(DOCUMENT_TYPES)
    assert schemas["event"]["discriminator"]["propertyName"] == "event"
    assert "total_ms" in schemas["events"]["request_complete"]["required"]


def test_schema_command_prints_one_schema(capsys):
    assert main(["schema", "trace"]) == 0
    assert '"request_id"' in capsys.readouterr().out


def test_schema_command_rejects_unknown_name(capsys):
    assert main(["schema", "nope"]) == 2
    assert "known:" in capsys.readouterr().err
