"""The container definitions run every process of the registry with the `riskwatch`
command, and the shipped Kubernetes secret cannot start a production deployment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from riskwatch.cli import build_parser
from riskwatch.processes import API_APPS, WORKERS
from shared.settings import Settings
from tests.stack import ROOT


def registry_commands() -> set[tuple[str, ...]]:
    return {("riskwatch", "serve", name) for name in API_APPS} | {
        ("riskwatch", "worker", worker.argument) for worker in WORKERS}


def role(command: list[str]) -> tuple[str, ...]:
    """The command without its flags (``--port``), as the registry names it."""
    return tuple(command[:3])


def k8s_documents() -> list[dict[str, object]]:
    return [doc for path in sorted((ROOT / "k8s").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_compose_runs_every_process_of_the_registry() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    commands = {role(service["command"]) for service in compose["services"].values()
                if service.get("command", [""])[0] == "riskwatch"}
    assert registry_commands() <= commands


def test_kubernetes_runs_every_process_of_the_registry() -> None:
    commands = set()
    for doc in k8s_documents():
        if doc["kind"] in ("Deployment", "Job"):
            spec = doc["spec"]["template"]["spec"]  # type: ignore[index]
            commands.update(role(c["command"]) for c in spec["containers"])
    assert registry_commands() <= commands
    assert ("riskwatch", "migrate") in {c[:2] for c in commands}


def test_every_container_command_parses_with_the_riskwatch_cli() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    commands = [s["command"] for s in compose["services"].values() if "command" in s
                and s["command"][0] == "riskwatch"]
    for doc in k8s_documents():
        if doc["kind"] in ("Deployment", "Job"):
            commands += [c["command"]
                         for c in doc["spec"]["template"]["spec"]["containers"]]  # type: ignore[index]
    for command in commands:
        build_parser().parse_args(command[1:])


def test_the_shipped_kubernetes_secret_is_refused_in_production() -> None:
    secret = next(doc for doc in k8s_documents() if doc["kind"] == "Secret")
    value = secret["stringData"]["RISKWATCH_INTERNAL_SECRET"]  # type: ignore[index]
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(env="prod", internal_secret=value)


def test_only_the_gateway_is_reachable_and_services_only_from_it() -> None:
    policies = {doc["metadata"]["name"]: doc for doc in k8s_documents()  # type: ignore[index]
                if doc["kind"] == "NetworkPolicy"}
    assert policies["default-deny"]["spec"]["podSelector"] == {}  # type: ignore[index]
    services = policies["services-from-gateway-only"]["spec"]  # type: ignore[index]
    allowed = services["ingress"][0]["from"]
    assert allowed == [{"podSelector": {"matchLabels": {"app": "gateway"}}}]
    selected = services["podSelector"]["matchExpressions"][0]["values"]
    assert set(selected) == set(API_APPS) - {"gateway"}


def test_the_image_contains_the_composition_root() -> None:
    dockerfile = Path(ROOT / "Dockerfile").read_text()
    for package in ("shared", "services", "gateway", "riskwatch"):
        assert f"COPY {package} ./{package}" in dockerfile
