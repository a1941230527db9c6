"""deploy/kubernetes: valid against the Kubernetes and KEDA schemas offline, and built as promised.

Kubernetes kinds are checked with the schemas the kubernetes-validate package ships (no
network), KEDA's against the CRD schemas vendored in deploy/kubernetes/schemas/, closed so
that an unknown field is an error (the API server would drop it without a word).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from django.db import connection
from kubernetes_validate.utils import latest_version

from jobs import queueing
from jobs.operations import queue_pause
from tests.jobs.queue_helpers import defer, finish, start

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "deploy" / "kubernetes"
# The oldest Kubernetes the manifests need (user namespaces and procMount on by default in
# 1.33) and the newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.33", latest_version())
# What the image's processes write (found by running web, a worker and a narration with
# everything else read-only): Dockerfile ENV paths, and /tmp.
WRITTEN_PATHS = {"/tmp", "/var/lib/slidecast", "/home/slidecast"}
WORKER_WRITTEN_PATHS = WRITTEN_PATHS | {"/tmp/slidecast"}
SANDBOX_EXCEPTIONS = {
    "procMount": "Unmasked",
    "seccompProfile": {"type": "Unconfined"},
    "appArmorProfile": {"type": "Unconfined"},
}


def render() -> list[dict]:
    """The documents `kubectl apply -k deploy/kubernetes` applies (resources + namespace)."""
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    # Anything more (patches, generators) needs this renderer taught, or kubectl kustomize.
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "resources"}
    documents = []
    for resource in kustomization["resources"]:
        for document in yaml.safe_load_all((MANIFESTS / resource).read_text()):
            if document["kind"] != "Namespace":
                document["metadata"].setdefault("namespace", kustomization["namespace"])
            documents.append(document)
    return documents


DOCUMENTS = render()
EXAMPLE_SECRETS = {
    secret["metadata"]["name"]: secret
    for secret in yaml.safe_load_all((MANIFESTS / "secret.example.yaml").read_text())
}


def find(kind: str, name: str) -> dict:
    [found] = [d for d in DOCUMENTS if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def pod_templates() -> dict[str, dict]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]
        for d in DOCUMENTS
        if d["kind"] in ("Deployment", "Job")
    }


def containers(pod: dict) -> list[dict]:
    return pod["spec"].get("initContainers", []) + pod["spec"]["containers"]


def worker(queue: str) -> dict:
    return pod_templates()[f"slidecast-worker-{queue}"]["spec"]["containers"][0]


def env_of(container: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


CONFIG = find("ConfigMap", "slidecast-config")["data"]


def _closed(schema):
    """The schema with every object that lists its properties closed to any other."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if "properties" in closed and "additionalProperties" not in closed:
        closed["additionalProperties"] = False
    return closed


KEDA = {
    kind: _closed(
        json.loads((MANIFESTS / "schemas" / f"{kind.lower()}-keda-v1alpha1.json").read_text())
    )
    for kind in ("ScaledObject", "TriggerAuthentication")
}


def validation_errors(document: dict, version: str) -> list[str]:
    """What the schema of the document's kind finds wrong with it; [] when it is valid."""
    if document["apiVersion"] == "keda.sh/v1alpha1":
        validator = jsonschema.Draft7Validator(KEDA[document["kind"]])
        errors = [
            f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validator.iter_errors(document)
        ]
        # A custom resource's metadata is ObjectMeta, as for every other kind.
        meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": document["metadata"]}
        return errors + validation_errors(meta, version)
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"]
    return []


def quantity(value: str | int) -> float:
    """A Kubernetes quantity ("250m", "3Gi") as a plain number."""
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value)).groups()
    scale = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20,
             "Gi": 2**30, "Ti": 2**40}  # fmt: skip
    return float(number) * scale[unit]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_and_keda_schemas(version):
    kinds = {document["kind"] for document in DOCUMENTS}
    assert {"ScaledObject", "TriggerAuthentication", "Deployment", "Job"} <= kinds
    for document in DOCUMENTS + list(EXAMPLE_SECRETS.values()):
        assert validation_errors(document, version) == [], document["metadata"]["name"]


# Mistakes the API server would reject, or worse, accept and drop without a word.
BREAKAGES = {
    "misspelt ScaledObject field": (
        "ScaledObject", "slidecast-worker-gpu", "spec.minReplicas", 0,
        "'minReplicas' was unexpected",
    ),
    "trigger metadata not a string": (
        "ScaledObject", "slidecast-worker-cpu", "spec.triggers.0.metadata.targetQueryValue", 2,
        "2 is not of type 'string'",
    ),
    "secret key missing": (
        "TriggerAuthentication", "slidecast-keda-postgres", "spec.secretTargetRef.0.key", None,
        "None is not of type 'string'",
    ),
    "resources as a string": (
        "Deployment", "slidecast-worker-cpu", "spec.template.spec.containers.0.resources",
        "2 cores", "'2 cores' is not of type 'object'",
    ),
    "security setting out of place": (
        "Deployment", "slidecast-web", "spec.template.spec.containers.0.readOnlyRootFilesystem",
        True, "'readOnlyRootFilesystem' was unexpected",
    ),
}  # fmt: skip


@pytest.mark.parametrize("breakage", BREAKAGES.values(), ids=BREAKAGES.keys())
def test_the_validation_rejects_a_broken_manifest(breakage):
    kind, name, path, value, message = breakage
    *parents, field = [int(key) if key.isdigit() else key for key in path.split(".")]
    broken = copy.deepcopy(find(kind, name))
    target = broken
    for key in parents:
        target = target[key]
    target[field] = value
    errors = validation_errors(broken, KUBERNETES_VERSIONS[0])
    assert any(message in error for error in errors), errors


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_renders_the_same_documents():
    result = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS)], capture_output=True, text=True, check=True
    )
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(yaml.safe_load_all(result.stdout), key=key) == sorted(DOCUMENTS, key=key)


def test_every_container_has_limits_and_a_read_only_unprivileged_root():
    for name, pod in pod_templates().items():
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == 10001, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False
        assert find("ServiceAccount", spec["serviceAccountName"])
        for container in containers(pod):
            where = f"{name}/{container['name']}"
            resources = container["resources"]
            for resource in ("cpu", "memory", "ephemeral-storage"):
                request = quantity(resources["requests"][resource])
                assert 0 < request <= quantity(resources["limits"][resource]), where
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["runAsNonRoot"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert not context.get("privileged"), where
            assert not container["image"].endswith(":latest"), where


def test_every_path_the_app_writes_is_an_empty_dir_within_the_storage_limit():
    dockerfile = (REPO / "Dockerfile").read_text()
    for setting in ("HOME=/home/", "DATA_DIR=/var/lib/slidecast", "WORK_DIR=/tmp/slidecast"):
        assert setting in dockerfile  # the paths below are the image's
    for name, pod in pod_templates().items():
        volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
        [app] = pod["spec"]["containers"]
        mounts = {m["mountPath"]: volumes[m["name"]] for m in app["volumeMounts"]}
        written = WORKER_WRITTEN_PATHS if name.startswith("slidecast-worker") else WRITTEN_PATHS
        assert written <= {path for path, volume in mounts.items() if "emptyDir" in volume}, name
        empty_dirs = [v["emptyDir"] for v in volumes.values() if "emptyDir" in v]
        # The kubelet counts emptyDirs against the pod's ephemeral storage.
        total = sum(quantity(empty_dir["sizeLimit"]) for empty_dir in empty_dirs)
        assert total <= quantity(app["resources"]["limits"]["ephemeral-storage"]), name


def test_only_worker_cpu_leaves_the_restricted_standard_and_only_for_the_sandbox():
    assert CONFIG["SLIDECAST_RENDER_SANDBOX"] == "bwrap"  # required, never a silent fallback
    for name, pod in pod_templates().items():
        departures = [
            {key: c["securityContext"].get(key) for key in SANDBOX_EXCEPTIONS}
            for c in containers(pod)
        ]
        if name == "slidecast-worker-cpu":
            assert pod["spec"]["hostUsers"] is False  # Unmasked /proc is only admitted so
            assert departures == [SANDBOX_EXCEPTIONS, SANDBOX_EXCEPTIONS]
            [check] = pod["spec"]["initContainers"]
            assert check["image"] == pod["spec"]["containers"][0]["image"]
            assert "sandbox_mode('bwrap')" in check["command"][-1]
        else:
            assert "hostUsers" not in pod["spec"]
            assert all(value is None for d in departures for value in d.values()), name


def test_the_sandbox_check_raises_when_bubblewrap_cannot_run(monkeypatch):
    from media_pipeline import sandbox

    monkeypatch.setattr(sandbox, "_works", lambda command: False)
    sandbox._effective_mode.cache_clear()  # a refusal is never cached: nothing to undo
    with pytest.raises(sandbox.ToolMissingError, match="SLIDECAST_RENDER_SANDBOX=bwrap"):
        sandbox.sandbox_mode("bwrap")


@pytest.mark.parametrize("queue", queueing.QUEUES)
def test_each_queue_has_a_worker_running_the_entrypoint_worker_role(queue):
    entrypoint = (REPO / "docker" / "entrypoint.sh").read_text()
    assert 'exec python manage.py procrastinate worker --queues="$queues"' in entrypoint
    deployment = find("Deployment", f"slidecast-worker-{queue}")
    assert "replicas" not in deployment["spec"]  # KEDA owns it; applying again must not reset it
    assert worker(queue)["args"] == ["worker", queue]
    assert env_of(worker(queue))["SLIDECAST_WORKER_QUEUES"] == queue
    assert worker(queue)["livenessProbe"]["exec"]["command"] == ["slidecast", "healthcheck"]


def test_the_gpu_worker_gets_a_gpu_node_and_the_gpu_image():
    assert "AS gpu" in (REPO / "Dockerfile").read_text()
    pod = find("Deployment", "slidecast-worker-gpu")["spec"]["template"]["spec"]
    assert worker("gpu")["image"].startswith("slidecast-gpu:")
    assert worker("gpu")["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] and pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert env_of(worker("gpu"))["SLIDECAST_WORKER_CONCURRENCY"] == "1"


def test_termination_grace_outlasts_the_worker_shutdown_grace():
    grace = float(CONFIG["SLIDECAST_WORKER_SHUTDOWN_GRACE_SECONDS"])
    for queue in queueing.QUEUES:
        pod = find("Deployment", f"slidecast-worker-{queue}")["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] >= grace + 30
    web = find("Deployment", "slidecast-web")["spec"]["template"]["spec"]
    sleep = int(web["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert web["terminationGracePeriodSeconds"] >= sleep + 30  # gunicorn's graceful timeout


@pytest.mark.parametrize(("queue", "minimum"), [("cpu", 1), ("gpu", 0)])
def test_one_scaled_object_per_queue_reads_its_depth_from_postgresql(queue, minimum):
    objects = [d for d in DOCUMENTS if d["kind"] == "ScaledObject"]
    assert sorted(o["spec"]["scaleTargetRef"]["name"] for o in objects) == sorted(
        f"slidecast-worker-{q}" for q in queueing.QUEUES
    )
    spec = find("ScaledObject", f"slidecast-worker-{queue}")["spec"]
    assert spec["minReplicaCount"] == minimum <= spec["maxReplicaCount"]  # KEDA's CEL rule
    assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    [trigger] = spec["triggers"]
    assert trigger["type"] == "postgresql"
    concurrency = env_of(worker(queue))["SLIDECAST_WORKER_CONCURRENCY"]
    assert trigger["metadata"]["targetQueryValue"] == concurrency  # a slot per counted job
    assert f"job.queue_name = '{queue}'" in trigger["metadata"]["query"]
    auth = find("TriggerAuthentication", trigger["authenticationRef"]["name"])
    [reference] = auth["spec"]["secretTargetRef"]
    assert reference["parameter"] == "connection"
    assert reference["key"] in EXAMPLE_SECRETS[reference["name"]]["stringData"]


def _depth(queue: str) -> int:
    query = find("ScaledObject", f"slidecast-worker-{queue}")["spec"]["triggers"][0]
    with connection.cursor() as cursor:
        cursor.execute(query["metadata"]["query"])
        return cursor.fetchone()[0]


def test_the_scaling_query_counts_running_and_ready_jobs_but_not_held_ones(db):
    defer(queue="cpu")
    start(defer(queue="cpu"))
    finish(defer(queue="cpu"), "succeeded")
    later = defer(queue="cpu")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = now() + interval '1 hour' WHERE id = %s",
            [later],
        )
    defer(queue="gpu")
    assert (_depth("cpu"), _depth("gpu")) == (2, 1)  # waiting + running; the gpu job

    queue_pause.queue_pause(queue_name="cpu", by="test")
    defer(queue="cpu")  # held as it arrives
    assert _depth("cpu") == 1  # a paused queue scales down to what still runs
    queue_pause.queue_resume(queue_name="cpu")
    assert _depth("cpu") == 4  # both held jobs, the resume's wake-up ping, the running one


def _read_by_the_app(name: str) -> bool:
    sources = [*(REPO / "project").glob("*.py"), REPO / "docker" / "entrypoint.sh"]
    if any(name in path.read_text() for path in sources):
        return True
    # Per task family: SLIDECAST_LIMIT_<FAMILY>_HOST and the like (project/settings.py).
    match = re.fullmatch(r"SLIDECAST_(LIMIT|RECYCLE)_([A-Z]+)_(HOST|CLUSTER|TASKS|MB)", name)
    return bool(match) and match.group(2).lower() in queueing.FAMILIES


def test_every_setting_the_manifests_give_is_one_the_app_reads():
    names = set(CONFIG) | {
        variable
        for pod in pod_templates().values()
        for container in containers(pod)
        for variable in env_of(container)
    }
    names |= set(EXAMPLE_SECRETS["slidecast-secrets"]["stringData"])
    assert [name for name in sorted(names) if not _read_by_the_app(name)] == []


def test_secrets_are_referenced_and_the_example_is_placeholders_only():
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    assert "secret.example.yaml" not in kustomization["resources"]
    assert not [d for d in DOCUMENTS if d["kind"] == "Secret"]
    for secret in EXAMPLE_SECRETS.values():
        assert all("CHANGE-ME" in value for value in secret["stringData"].values())
    for pod in pod_templates().values():
        for container in pod["spec"]["containers"]:
            sources = {next(iter(s)): s[next(iter(s))]["name"] for s in container["envFrom"]}
            assert find("ConfigMap", sources["configMapRef"])
            assert sources["secretRef"] in EXAMPLE_SECRETS


def test_selectors_and_probes_point_at_what_exists():
    for document in DOCUMENTS:
        if document["kind"] in ("Deployment", "PodDisruptionBudget"):
            # A PodDisruptionBudget is named after its Deployment.
            template = pod_templates()[document["metadata"]["name"]]
            selector = document["spec"]["selector"]["matchLabels"]
            assert selector.items() <= template["metadata"]["labels"].items()
    web = find("Deployment", "slidecast-web")["spec"]["template"]
    [container] = web["spec"]["containers"]
    service = find("Service", "slidecast-web")["spec"]
    assert service["selector"].items() <= web["metadata"]["labels"].items()
    ports = {port["name"] for port in container["ports"]}
    assert {port["targetPort"] for port in service["ports"]} <= ports
    probes = {
        kind: (probe["httpGet"]["path"], probe["httpGet"]["port"], probe["httpGet"]["httpHeaders"])
        for kind in ("startupProbe", "readinessProbe", "livenessProbe")
        for probe in [container[kind]]
    }
    host = [{"name": "Host", "value": "localhost"}]  # the pod IP is not an allowed host
    assert probes == {
        "startupProbe": ("/health/live", "http", host),
        "readinessProbe": ("/health/ready", "http", host),
        "livenessProbe": ("/health/live", "http", host),
    }
