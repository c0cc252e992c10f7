"""The one registry of riskwatch processes: every API app, worker and public route.

`riskwatch run`, `riskwatch serve|worker`, the gateway's upstreams and routing, the tests'
live stack and the benches all read this module, so adding a service is one edit here.
Factories are named as ``"module:callable"`` strings and imported only when a process
starts, so reading the registry imports no service.

Schedulers have no process of their own: scoring's nightly rescore and reviews' due and
overdue passes run inside their workers (a unique key keeps each to one effect with several
replicas).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.settings import Settings


@dataclass(frozen=True)
class ApiApp:
    """An HTTP process: uvicorn calls ``factory`` (``module:callable``) with no arguments."""

    name: str
    factory: str

    def port(self, settings: Settings) -> int:
        # Ports are settings (RISKWATCH_<NAME>_PORT) so compose, k8s and tests can move them.
        port: int = getattr(settings, f"{self.name}_port")
        return port

    @property
    def default_port(self) -> int:
        default: int = Settings.model_fields[f"{self.name}_port"].default
        return default


@dataclass(frozen=True)
class WorkerProcess:
    """A background process of a service: ``factory(db)`` returns an object that has
    ``run_forever()`` and ``install_signal_handlers()`` (a ``shared.worker.Worker`` for the
    queue consumer, role "worker"; another role names another loop, e.g. the audit sequencer)."""

    service: str
    factory: str
    role: str = "worker"

    @property
    def name(self) -> str:
        return f"{self.service}-{self.role}"

    @property
    def argument(self) -> str:
        """What `riskwatch worker` is given: the service for its queue worker, else the name."""
        return self.service if self.role == "worker" else self.name


@dataclass(frozen=True)
class Route:
    """Public paths (matched on the raw request path) owned by one service."""

    pattern: re.Pattern[str]
    service: str


GATEWAY = ApiApp("gateway", "riskwatch.apps:create_gateway")
SERVICES: tuple[ApiApp, ...] = (
    ApiApp("ingest", "services.ingest.app:create_app"),
    ApiApp("scoring", "services.scoring.app:create_app"),
    ApiApp("alerts", "services.alerts.app:create_app"),
    ApiApp("reviews", "services.reviews.app:create_app"),
    ApiApp("cockpit", "services.cockpit.app:create_app"),
)
WORKERS: tuple[WorkerProcess, ...] = (
    # Applies queued Fxiaoke pushes and polls Fxiaoke corps (ingest.fxiaoke, a schedule).
    WorkerProcess("ingest", "services.ingest.worker:build_worker"),
    # CloudEvents from RabbitMQ / NATS JetStream (RISKWATCH_BUS_SOURCES); idle without any.
    WorkerProcess("ingest", "services.ingest.bus.worker:build_bus_worker", role="bus"),
    WorkerProcess("scoring", "services.scoring.worker:build_worker"),
    WorkerProcess("alerts", "services.alerts.worker:build_worker"),
    WorkerProcess("reviews", "services.reviews.worker:build_worker"),
    WorkerProcess("reviews", "services.reviews.sequencer:build_sequencer", role="sequencer"),
)
# Modules whose pydantic-settings classes configure a process; the README's configuration
# table is generated from them (`python -m riskwatch.configdoc --write`).
SETTINGS_MODULES: tuple[str, ...] = (
    "shared.settings",
    "shared.transparency.settings",
    "services.ingest.settings",
    "services.ingest.bus.settings",
    "services.alerts.settings",
    "services.scoring.settings",
    "services.alerts.receivers.settings",
    "services.reviews.settings",
    "services.cockpit.settings",
)
# ``register(subparsers)`` functions that add a service's own commands to `riskwatch`.
COMMAND_PLUGINS: tuple[str, ...] = ("services.scoring.cli:register", "riskwatch.demo:register",
                                     "services.reviews.audit.cli:register")

# Tried in order, first match wins: customer sub-resources come before the general
# /v1/customers root because three services share that root.
ROUTES: tuple[Route, ...] = tuple(Route(re.compile(pattern), service) for pattern, service in (
    (r"^/v1/customers/[^/]+/(risk|scores)(/.*)?$", "scoring"),
    (r"^/v1/customers/[^/]+/profile-history(/.*)?$", "reviews"),
    (r"^/v1/(customers|events|webhooks|webhook-sources|imports)(/.*)?$", "ingest"),
    (r"^/v1/(decisions|models|tiers|scoring|watchlist)(/.*)?$", "scoring"),
    (r"^/v1/(alerts|alert-rules|silences|receivers|playbooks|playbook-runs|drills)(/.*)?$",
     "alerts"),
    (r"^/v1/(reviews|review-policies|reports|audit|queue)(/.*)?$", "reviews"),
    # The web desk: pages and their static assets; the gateway forwards them without a key.
    (r"^/ui(/.*)?$", "cockpit"),
))

SERVICE_NAMES: tuple[str, ...] = tuple(app.name for app in SERVICES)
API_APPS: dict[str, ApiApp] = {app.name: app for app in (GATEWAY, *SERVICES)}


def worker_for(name: str) -> WorkerProcess | None:
    """A worker by process name (``reviews-sequencer``), or a service's queue worker."""
    return next((w for w in WORKERS if w.name == name
                 or (w.service == name and w.role == "worker")), None)


def upstreams(settings: Settings) -> dict[str, str]:
    """Base URL of every service, as the gateway reaches it."""
    return {name: settings.service_url(name) for name in SERVICE_NAMES}


def load(factory: str) -> Callable[..., Any]:
    """Import ``module:callable`` (at process start, never when the registry is read)."""
    module_name, _, attribute = factory.partition(":")
    loaded: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    return loaded
