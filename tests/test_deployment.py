"""Deployment files: compose.yaml against the Compose specification, the Dockerfile linted."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import compose_spec
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        value = env.get(name)
        if op in (":-", "-") and not value:
            return arg
        if op in (":?", "?") and not value:
            raise AssertionError(f"{name} is required by compose.yaml: {arg}")
        return value or ""

    return _VARIABLE.sub(replace, text)


@pytest.fixture(scope="module")
def compose() -> dict:
    text = interpolate((REPO / "compose.yaml").read_text(), env_file(REPO / ".env.example"))
    return yaml.safe_load(text)  # YAML merge keys (<<) resolved, as Compose does


def _paths(value, prefix="") -> set[str]:
    if isinstance(value, dict):
        return {
            p
            for key, item in value.items()
            for p in {f"{prefix}/{key}"} | _paths(item, f"{prefix}/{key}")
        }
    if isinstance(value, list):
        return {p for index, item in enumerate(value) for p in _paths(item, f"{prefix}[{index}]")}
    return set()


def test_compose_file_follows_the_compose_specification(compose):
    parsed = compose_spec.PyCompose.from_json(json.dumps(compose))
    # Nothing may be dropped as unknown: a misspelt key would silently do nothing.
    kept = _paths(parsed.to_dict())
    dropped = {p for p in _paths(compose) - kept if not p.startswith("/x-")}
    assert dropped == set()
    assert set(parsed.service_names()) == {
        "postgres", "minio", "minio-setup", "migrate", "web", "worker-cpu", "worker-gpu",
    }  # fmt: skip


def test_compose_services_are_wired_for_scale_out(compose):
    services = compose["services"]
    assert services["postgres"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert services["migrate"]["restart"] == "no" and services["minio-setup"]["restart"] == "no"
    web = services["web"]
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    worker = services["worker-cpu"]
    assert worker["command"] == ["worker", "cpu"]
    assert "ports" not in worker and "container_name" not in worker  # so --scale works
    assert worker["environment"]["SLIDECAST_STORAGE_BACKEND"] == "s3"  # no shared disk
    gpu = services["worker-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["command"] == ["worker", "gpu"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


APP_SERVICES = ("migrate", "web", "worker-cpu", "worker-gpu")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_have_a_read_only_root_and_resource_limits(compose, name):
    service = compose["services"][name]
    assert service["read_only"] is True
    # What the app writes (deploy/kubernetes mounts an emptyDir at each): /tmp on disk,
    # HOME and the data folder in memory.
    assert service["volumes"] == ["/tmp"]
    assert {entry.split(":")[0] for entry in service["tmpfs"]} == {
        "/home/slidecast", "/var/lib/slidecast",
    }  # fmt: skip
    assert all("uid=10001" in entry and "size=" in entry for entry in service["tmpfs"])
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]
    resources = service["deploy"]["resources"]
    for side in ("limits", "reservations"):
        assert float(resources[side]["cpus"]) > 0 and resources[side]["memory"]


def _cores(cpu: str) -> float:
    return float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)


@pytest.mark.parametrize("name", ["web", "worker-cpu", "worker-gpu"])
def test_app_services_get_the_resources_of_their_kubernetes_pods(compose, name):
    manifests = yaml.safe_load_all((REPO / "deploy" / "kubernetes" / f"{name}.yaml").read_text())
    [deployment] = [manifest for manifest in manifests if manifest["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    resources = compose["services"][name]["deploy"]["resources"]
    for compose_side, kubernetes_side in (("limits", "limits"), ("reservations", "requests")):
        given, expected = resources[compose_side], container["resources"][kubernetes_side]
        assert float(given["cpus"]) == _cores(expected["cpu"])
        # Docker's units are binary: 3g is 3Gi.
        assert given["memory"].replace("g", "Gi").replace("m", "Mi") == expected["memory"]


def test_the_cpu_worker_can_run_the_libreoffice_sandbox(compose):
    worker = compose["services"]["worker-cpu"]
    # bubblewrap's namespaces and mounts, and its own /proc (docs/scaling.md).
    assert {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"} <= set(
        worker["security_opt"]
    )
    assert worker["environment"]["SLIDECAST_RENDER_SANDBOX"] == "bwrap"
    assert compose["services"]["web"]["security_opt"] == ["no-new-privileges:true"]


def test_every_required_variable_is_in_env_example():
    text = (REPO / "compose.yaml").read_text()
    required = {m.group("name") for m in _VARIABLE.finditer(text) if m.group("op") == ":?"}
    assert required <= set(env_file(REPO / ".env.example"))


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(REPO / "Dockerfile")],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_a_non_root_user_with_a_healthcheck():
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] != "0" and users[-1].split(":")[0] != "root"
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    stages = [line.split()[-1] for line in lines if line.startswith("FROM ")]
    assert stages == ["wheels", "runtime", "gpu", "default"]
