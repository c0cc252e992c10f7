"""The image and docker-compose.yml run every process of the registry with a command the
`riskwatch` CLI accepts, with healthchecks, after the migration, and configured only with
variables the settings classes read. The Dockerfile is checked as text here, where Docker may
be absent; `make image-check` (deploy/check-image.sh) builds nothing but runs a built image."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from riskwatch import envexample
from riskwatch.cli import build_parser
from riskwatch.processes import API_APPS, WORKERS
from tests.stack import ROOT

COMPOSE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make|cmake|[a-z0-9]+-dev)\b")


def registry_commands() -> set[tuple[str, ...]]:
    return {("riskwatch", "serve", name) for name in API_APPS} | {
        ("riskwatch", "worker", worker.argument) for worker in WORKERS}


def role(command: list[str]) -> tuple[str, ...]:
    """The command without its flags (``--port``), as the registry names it."""
    return tuple(command[:3])


def parses(command: list[str]) -> bool:
    assert command[0] == "riskwatch", command
    build_parser().parse_args(command[1:])  # exits (SystemExit) on a command it refuses
    return True


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def riskwatch_services() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose()["services"].items()
            if service.get("command", [""])[0] == "riskwatch"}


def long_running() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in riskwatch_services().items() if s["command"][1] != "migrate"}


def test_compose_runs_every_process_of_the_registry_with_a_command_the_cli_accepts() -> None:
    services = riskwatch_services()
    assert registry_commands() <= {role(s["command"]) for s in services.values()}
    assert all(parses(s["command"]) for s in services.values())
    # One image for all, built from the Dockerfile.
    assert {(s["build"], s["image"]) for s in services.values()} == {(".", "riskwatch:0.1.0")}


def test_every_long_running_service_has_a_healthcheck_and_waits_for_the_migration() -> None:
    for name, service in long_running().items():
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD" and parses(test[1:]), name
        assert service["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"}, name
        assert service["read_only"] and service["cap_drop"] == ["ALL"], name
    migrate = compose()["services"]["migrate"]
    assert migrate["command"] == ["riskwatch", "migrate"]
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_postgres_keeps_its_data_in_a_named_volume_and_reports_ready() -> None:
    definition = compose()
    postgres = definition["services"]["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in definition["volumes"]


def test_compose_uses_only_variables_the_settings_know() -> None:
    known = envexample.env_names()
    for name, service in riskwatch_services().items():
        assert service["env_file"] == ".env", name
        assert set(service["environment"]) <= known, set(service["environment"]) - known
    interpolated = set(COMPOSE_VARIABLE.findall((ROOT / "docker-compose.yml").read_text()))
    assert interpolated <= known | set(envexample.COMPOSE_VARIABLES)
    # The secrets without a usable default stop `docker compose up` while they are empty.
    assert set(envexample.REQUIRED) <= interpolated


def dockerfile_instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def dockerfile_stages() -> list[list[str]]:
    """Instructions of each build stage (the global ARGs before the first FROM left out)."""
    stages: list[list[str]] = []
    for instruction in dockerfile_instructions():
        if instruction.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def exec_form(instruction: str, keyword: str) -> list[str]:
    command: list[str] = json.loads(instruction.split(keyword, 1)[1].strip())
    return command


def test_both_stages_start_from_one_base_a_build_argument_that_defaults_to_slim_python() -> None:
    # deploy/build-base-image.sh makes a stand-in where Docker Hub is out of reach.
    preamble = dockerfile_instructions()[:1]
    assert preamble == ["ARG PYTHON_IMAGE=python:3.11-slim-bookworm"]
    builder, final = dockerfile_stages()
    assert builder[0] == "FROM ${PYTHON_IMAGE} AS builder"
    assert final[0] == "FROM ${PYTHON_IMAGE}"


def test_the_image_is_built_in_one_stage_and_runs_from_another_without_build_tools() -> None:
    builder, final = dockerfile_stages()
    for package in ("shared", "services", "gateway", "riskwatch"):
        assert f"COPY {package} ./{package}" in builder
    assert any(line.startswith("COPY --from=builder ") for line in final)
    runs = " ".join(line for line in final if line.startswith("RUN "))
    assert not BUILD_TOOLS.search(runs), BUILD_TOOLS.search(runs)
    assert "pip install" not in runs  # nothing is built or fetched in the final stage
    # Only the virtualenv: no source tree, no extra CA the builder may have trusted.
    copies = [line for line in final if line.startswith("COPY ")]
    assert all(line.startswith("COPY --from=builder ") for line in copies), copies


def test_the_image_runs_as_a_user_without_privileges() -> None:
    users = [line.split()[1] for line in dockerfile_stages()[-1] if line.startswith("USER ")]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_image_checks_its_health_and_starts_a_process_of_the_registry() -> None:
    final = dockerfile_stages()[-1]
    healthcheck = next(line for line in final if line.startswith("HEALTHCHECK "))
    assert parses(exec_form(healthcheck, " CMD "))
    command = exec_form(next(line for line in final if line.startswith("CMD ")), "CMD")
    assert parses(command) and role(command) in registry_commands()
