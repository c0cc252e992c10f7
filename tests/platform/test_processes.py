"""The process registry is the one list of processes, and the library below it knows none."""

from __future__ import annotations

import ast

from riskwatch.processes import API_APPS, ROUTES, SERVICE_NAMES, WORKERS, load
from shared.settings import Settings
from tests.stack import ROOT


def test_every_registered_factory_imports_and_is_callable() -> None:
    for app in API_APPS.values():
        assert callable(load(app.factory)), app.factory
    for worker in WORKERS:
        assert callable(load(worker.factory)), worker.factory
        assert worker.service in SERVICE_NAMES


def test_every_app_has_its_own_port_setting() -> None:
    ports = [app.port(Settings()) for app in API_APPS.values()]
    assert len(set(ports)) == len(ports)
    assert API_APPS["gateway"].default_port == 8000


def test_every_route_names_a_registered_service() -> None:
    assert {route.service for route in ROUTES} <= set(SERVICE_NAMES)


def test_the_shared_library_imports_no_service_gateway_or_composition_root() -> None:
    offenders = []
    for path in (ROOT / "shared").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}: {name}" for name in names
                          if name.split(".")[0] in ("services", "gateway", "riskwatch")]
    assert offenders == []
