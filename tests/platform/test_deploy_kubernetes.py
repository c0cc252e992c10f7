"""k8s/ is valid against the Kubernetes schemas of a pinned version (offline, the schemas ship
in the kubernetes-validate package), kustomize lists every file, and every process of the
registry runs in a hardened, probed, resourced Deployment that the Services, autoscalers,
disruption budgets and the Ingress point at."""

from __future__ import annotations

import tomllib
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from riskwatch import envexample
from riskwatch.cli import build_parser
from riskwatch.processes import API_APPS, WORKERS
from shared.settings import Settings
from tests.stack import ROOT

KUBERNETES_VERSION = "1.30.0"
K8S = ROOT / "k8s"
# Autoscaled on CPU: the request path's busy processes and every queue worker.
AUTOSCALED = {"gateway", "ingest", "scoring"} | {w.name for w in WORKERS if w.role == "worker"}

Doc = dict[str, Any]


def kustomization() -> Doc:
    loaded: Doc = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return loaded


def documents() -> list[Doc]:
    return [doc for name in kustomization()["resources"]
            for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def of_kind(kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in documents() if doc["kind"] == kind}


def pod_specs() -> dict[str, Doc]:
    """Pod template of every Deployment and Job, by workload name."""
    return {name: doc["spec"]["template"]["spec"]
            for kind in ("Deployment", "Job") for name, doc in of_kind(kind).items()}


def container(deployment: str) -> Doc:
    containers = of_kind("Deployment")[deployment]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    only: Doc = containers[0]
    return only


def test_kustomization_lists_every_manifest() -> None:
    files = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization()["resources"]) == sorted(files)
    assert kustomization()["namespace"] == "riskwatch"
    assert all(doc["metadata"].get("namespace", "riskwatch") == "riskwatch"
               for doc in documents())


def test_every_manifest_is_valid_against_the_pinned_kubernetes_schemas() -> None:
    for doc in documents():
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_an_invalid_manifest() -> None:
    broken = dict(of_kind("Deployment")["gateway"], spec={"replicas": "two"})
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_one_deployment_per_process_of_the_registry_with_its_command() -> None:
    expected = {name: ("riskwatch", "serve", name) for name in API_APPS} | {
        worker.name if worker.role != "worker" else f"{worker.service}-worker":
        ("riskwatch", "worker", worker.argument) for worker in WORKERS}
    deployments = of_kind("Deployment")
    assert set(deployments) == set(expected)
    for name, command in expected.items():
        assert tuple(container(name)["command"][:3]) == command, name
    for spec in pod_specs().values():
        for each in spec["containers"]:
            build_parser().parse_args(each["command"][1:])
    assert pod_specs()["riskwatch-migrate"]["containers"][0]["command"] == [
        "riskwatch", "migrate"]


def test_every_container_has_requests_limits_and_a_locked_down_security_context() -> None:
    for name, spec in pod_specs().items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for each in spec["containers"]:
            resources = each["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert {"cpu", "memory"} <= set(resources["limits"]), name
            security = each["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            # the one writable place, for libraries' temporary files
            mounts = {m["mountPath"]: m["name"] for m in each["volumeMounts"]}
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name


def test_apis_are_probed_on_healthz_and_readyz_and_workers_by_the_healthcheck() -> None:
    for name, app in API_APPS.items():
        each = container(name)
        port = app.default_port
        assert each["command"][-2:] == ["--port", str(port)]
        assert {p["name"]: p["containerPort"] for p in each["ports"]}["http"] == port
        assert each["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        # The gateway's /readyz is "every service up": as its readiness, one service down
        # would take the whole API out of its Service (see k8s/gateway.yaml).
        ready = "/healthz" if name == "gateway" else "/readyz"
        assert each["readinessProbe"]["httpGet"] == {"path": ready, "port": "http"}, name
    for worker in WORKERS:
        name = worker.name if worker.role != "worker" else f"{worker.service}-worker"
        probe = container(name)["readinessProbe"]["exec"]["command"]
        assert probe == ["riskwatch", "healthcheck", "--ready"], name
        build_parser().parse_args(probe[1:])


def deployment_labels() -> dict[str, dict[str, str]]:
    return {name: doc["spec"]["template"]["metadata"]["labels"]
            for name, doc in of_kind("Deployment").items()}


def selects(selector: dict[str, str]) -> list[str]:
    return [name for name, labels in deployment_labels().items()
            if selector.items() <= labels.items()]


def test_every_api_has_a_service_and_every_service_selects_pods_on_a_named_port() -> None:
    services = of_kind("Service")
    assert set(API_APPS) <= set(services)
    for name, service in services.items():
        (target,) = selects(service["spec"]["selector"])
        ports = {p["name"] for p in container(target)["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports, name
    for name, app in API_APPS.items():
        assert services[name]["spec"]["ports"][0]["port"] == app.default_port


def test_autoscalers_and_disruption_budgets_point_at_deployments() -> None:
    autoscalers = of_kind("HorizontalPodAutoscaler")
    assert set(autoscalers) >= AUTOSCALED
    for hpa in autoscalers.values():
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["apiVersion"]) == ("Deployment", "apps/v1")
        assert target["name"] in of_kind("Deployment")
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    budgets = of_kind("PodDisruptionBudget")
    assert set(API_APPS) <= set(budgets)
    for name, budget in budgets.items():
        assert selects(budget["spec"]["selector"]["matchLabels"]) == [name]
        # a budget that no replica count can meet would block every node drain
        assert budget["spec"]["minAvailable"] < of_kind("Deployment")[name]["spec"]["replicas"]


def test_the_ingress_reaches_the_gateway_service_only() -> None:
    (ingress,) = of_kind("Ingress").values()
    backends = [path["backend"]["service"] for rule in ingress["spec"]["rules"]
                for path in rule["http"]["paths"]]
    gateway_ports = {p["name"] for p in of_kind("Service")["gateway"]["spec"]["ports"]}
    assert backends and all(b["name"] == "gateway" and b["port"]["name"] in gateway_ports
                            for b in backends)


def test_config_and_secret_hold_only_variables_the_settings_know() -> None:
    known = envexample.env_names()
    assert set(of_kind("ConfigMap")["riskwatch"]["data"]) <= known
    assert set(of_kind("Secret")["riskwatch"]["stringData"]) <= known


def test_the_secret_is_a_template_that_production_refuses() -> None:
    values = of_kind("Secret")["riskwatch"]["stringData"]
    assert set(envexample.REQUIRED) <= set(values)
    assert all("REPLACE-ME" in value for value in values.values())
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(env="prod", internal_secret=values["RISKWATCH_INTERNAL_SECRET"])


def test_every_pod_runs_the_image_of_this_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = {each["image"] for spec in pod_specs().values() for each in spec["containers"]}
    assert images == {f"riskwatch:{version}"}
    assert kustomization()["images"] == [{"name": "riskwatch", "newTag": version}]


def test_only_the_gateway_is_reachable_and_services_only_from_it() -> None:
    policies = of_kind("NetworkPolicy")
    assert policies["default-deny"]["spec"]["podSelector"] == {}
    services = policies["services-from-gateway-only"]["spec"]
    assert services["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {"app": "gateway"}}}]
    selected = services["podSelector"]["matchExpressions"][0]["values"]
    assert set(selected) == set(API_APPS) - {"gateway"}
