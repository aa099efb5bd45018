"""The deployments (issue 16): docker-compose.yml and the Kubernetes kustomization.

No container engine or cluster runs here, so what is validated is what can be
without one: the compose file by ``docker-compose config`` (Debian's compose
package, installed by .ci/run), the kustomization rendered by ``kubectl
kustomize`` and every object checked against the Kubernetes 1.31 API schemas
(``kubernetes-validate``, strict: unknown fields fail); and for both, that every
command is a real ``trtlens`` subcommand, every ``TRTLENS_*`` variable is a
valid setting, and every long-running service has probes, resources and a
scrapeable metrics port. Nothing here was ever started.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from trtlens.cli import build_parser
from trtlens.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "infra" / "deploy" / "kubernetes"
LONG_RUNNING = {"streams", "sink", "notify", "collect", "dashboard"}


def _check_settings(env: dict[str, str], where: str) -> None:
    """Every TRTLENS_* variable names a real setting with a valid value."""
    saved = dict(os.environ)
    try:
        os.environ.update({k: v for k, v in env.items() if k.startswith("TRTLENS_")})
        load_settings()
    except SettingsError as exc:
        raise AssertionError(f"{where}: {exc}") from None
    finally:
        os.environ.clear()
        os.environ.update(saved)


# ---------------------------------------------------------------- compose

def _compose() -> dict:
    text = (ROOT / "docker-compose.yml").read_text()
    text = re.sub(r"\$\{(TRTLENS_\w+):\?[^}]*\}", "a-test-token-of-enough-length", text)  # the required tokens
    return yaml.safe_load(text)


def test_compose_services_carry_the_production_values_and_valid_settings():
    services = _compose()["services"]
    assert {"kafka", "elasticsearch", "kibana", "topics", "streams", "sink", "notify", "collect", "dashboard"} <= set(services)
    for name, service in services.items():
        if service.get("build") != ".":
            continue
        env = {k: str(v) for k, v in service["environment"].items()}
        _check_settings(env, f"docker-compose.yml service {name}")
        assert env["TRTLENS_STREAMS__PRODUCER_MAX_BATCH_SIZE"] == "16384"  # not the embedded broker's workaround
        assert int(env["TRTLENS_KAFKA__SESSION_TIMEOUT_MS"]) >= 30000
        if name in LONG_RUNNING:
            assert service["healthcheck"]["test"] == ["CMD", "trtlens", "health", "--ready"], name
            assert env["TRTLENS_OBS__HOST"] == "0.0.0.0" and env["TRTLENS_OBS__AUTH_TOKEN"], name
    assert services["streams"]["deploy"]["replicas"] >= 2


def test_compose_config_validates():
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (.ci/run installs Debian's docker-compose package)")
    env = {**os.environ, **{k: "a-test-token-of-enough-length" for k in
                            ("TRTLENS_OBS_TOKEN", "TRTLENS_COLLECT_API_KEY", "TRTLENS_DASHBOARD_TOKEN")}}
    out = subprocess.run([binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


# ---------------------------------------------------------------- kubernetes

def _rendered() -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        out = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return [d for d in yaml.safe_load_all(out.stdout) if d]
    # without kubectl: the kustomization lists plain resources (no patches), so load them as they are
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [d for f in kustomization["resources"] for d in yaml.safe_load_all((K8S / f).read_text()) if d]


DOCS = _rendered()


@pytest.mark.parametrize("doc", DOCS, ids=[f"{d['kind']}/{d['metadata']['name']}" for d in DOCS])
def test_kubernetes_objects_follow_the_api_schema(doc):
    import kubernetes_validate

    kubernetes_validate.validate(doc, "1.31.0", strict=True)


def _containers():
    for doc in DOCS:
        if doc["kind"] in ("Deployment", "Job"):
            for c in doc["spec"]["template"]["spec"]["containers"]:
                yield doc, c


def test_kubernetes_containers_run_real_commands_with_valid_settings():
    config = next(d for d in DOCS if d["kind"] == "ConfigMap")["data"]
    secrets = {k: v for d in DOCS if d["kind"] == "Secret" for k, v in d.get("stringData", {}).items()}
    parser = build_parser()
    for doc, c in _containers():
        args = parser.parse_args(c["args"])
        assert args.command == c["args"][0]
        refs = {r.get("configMapRef", r.get("secretRef"))["name"] for r in c["envFrom"]}
        assert refs == {"trtlens-settings", "trtlens-secrets"}
        _check_settings({**config, **{k: v for k, v in secrets.items() if k.startswith("TRTLENS_")}},
                        f"{doc['kind']}/{doc['metadata']['name']}")
        assert c["resources"]["requests"] and c["resources"]["limits"]
    assert config["TRTLENS_STREAMS__PRODUCER_MAX_BATCH_SIZE"] == "16384"
    assert int(config["TRTLENS_TOPICS__REPLICATION_FACTOR"]) >= 3


def test_long_running_deployments_have_probes_and_scrapeable_metrics():
    deployments = {d["metadata"]["name"]: d for d in DOCS if d["kind"] == "Deployment"}
    assert set(deployments) == {f"trtlens-{n}" for n in LONG_RUNNING}
    assert deployments["trtlens-streams"]["spec"]["replicas"] >= 2
    for name, d in deployments.items():
        pod = d["spec"]["template"]
        assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true", name
        [c] = pod["spec"]["containers"]
        assert c["livenessProbe"]["exec"]["command"] == ["trtlens", "health"], name
        assert c["readinessProbe"]["exec"]["command"] == ["trtlens", "health", "--ready"], name
        assert str(c["ports"][0]["containerPort"]) == pod["metadata"]["annotations"]["prometheus.io/port"]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
