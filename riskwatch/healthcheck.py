"""`riskwatch healthcheck`: the image's HEALTHCHECK, and the exec probe of worker pods.

One image runs every process, so the check finds out which one its container runs from the
command line of the container's main process (PID 1, or ``--pid``): for ``riskwatch serve
<app>`` it asks the app's ``/healthz`` (``/readyz`` with ``--ready``) on its own port; a
worker listens on no port, so its check is what it needs to do any work: the database
reachable and migrated to this image's head (the same test as the APIs' ``/readyz``)."""

from __future__ import annotations

import argparse
import urllib.error
import urllib.request
from pathlib import Path

from riskwatch.processes import API_APPS
from shared.settings import get_settings

ROLES = ("serve", "worker")
# Bind-all addresses: the process is reached on loopback from inside its container.
ANY_ADDRESS = ("", "0.0.0.0", "::")


def process_command(pid: int) -> list[str]:
    """``[role, name, flags…]`` of the riskwatch process ``pid`` runs, whether it was
    started as ``riskwatch serve …``, ``python -m riskwatch serve …`` or behind an init."""
    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    argv = [part.decode() for part in raw.split(b"\0") if part]
    start = next((i for i, part in enumerate(argv) if part in ROLES), None)
    if start is None:
        shown = " ".join(argv)[:120]
        raise LookupError(f"process {pid} runs no `riskwatch serve|worker`: {shown}")
    return argv[start:]


def check_http(url: str, timeout: float) -> str | None:
    """None when ``url`` answers 200, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - http only
            return None if answer.status == 200 else f"{url} answered {answer.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except OSError as exc:
        return f"{url} unreachable: {exc}"


def check_database() -> str | None:
    from shared.app import database_readiness
    from shared.db import Database

    db = Database(get_settings().database_url)
    try:
        checks = database_readiness(db)
    finally:
        db.dispose()
    failed = {name: state for name, state in checks.items() if state != "ok"}
    return f"database {failed}" if failed else None


def problem(command: list[str], *, ready: bool, timeout: float) -> str | None:
    """Why the process of ``command`` is not healthy (not ready), or None."""
    from riskwatch.cli import build_parser

    args = build_parser().parse_args(command)
    if args.command == "worker":
        return check_database()
    settings = get_settings()
    host = args.host or settings.host
    host = "127.0.0.1" if host in ANY_ADDRESS else host
    port = args.port or API_APPS[args.service].port(settings)
    return check_http(f"http://{host}:{port}/{'readyz' if ready else 'healthz'}", timeout)


def cmd_healthcheck(args: argparse.Namespace) -> int:
    try:
        command = process_command(args.pid)
    except (OSError, LookupError) as exc:
        print(f"unhealthy: {exc}")
        return 1
    why = problem(command, ready=args.ready, timeout=args.timeout)
    print(f"unhealthy: {why}" if why else f"healthy: {' '.join(command[:2])}")
    return 1 if why else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = sub.add_parser("healthcheck", help="exit 0 when this container's riskwatch process "
                           "is healthy (the image's HEALTHCHECK, worker pods' probes)")
    check.add_argument("--ready", action="store_true",
                       help="ask an API's /readyz (database reachable and migrated) instead of "
                            "/healthz; workers are checked the same either way")
    check.add_argument("--pid", type=int, default=1,
                       help="the process to check (default 1, a container's main process)")
    check.add_argument("--timeout", type=float, default=4.0, help="seconds per HTTP check")
    check.set_defaults(func=cmd_healthcheck)
