"""docker-compose.yml cannot run here (no Docker engine); keep it structurally valid."""

from pathlib import Path

import yaml

from trtlens.cli import build_parser

ROOT = Path(__file__).resolve().parents[3]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_healthchecks():
    services = _compose()["services"]
    assert {"kafka", "elasticsearch", "kibana", "topics", "streams", "sink"} <= set(services)
    for name in ("kafka", "elasticsearch", "kibana"):
        assert services[name]["healthcheck"]["test"], name


def test_pipeline_services_run_real_subcommands():
    parser = build_parser()
    for name, service in _compose()["services"].items():
        if "command" in service and service.get("build") == ".":
            args = parser.parse_args(service["command"])  # raises SystemExit on an unknown command
            assert args.command == service["command"][0], name


def test_elasticsearch_major_matches_the_client():
    import elasticsearch

    image = _compose()["services"]["elasticsearch"]["image"]
    assert image.rsplit(":", 1)[1].split(".")[0] == str(elasticsearch.__versionstr__.split(".")[0])


def test_kibana_objects_load_once_kibana_is_healthy():
    svc = _compose()["services"]["kibana-objects"]
    assert svc["restart"] == "no" and svc["command"][:2] == ["kibana", "import"]
    assert svc["depends_on"] == {"kibana": {"condition": "service_healthy"}}
    assert "http://kibana:5601" in svc["command"]
