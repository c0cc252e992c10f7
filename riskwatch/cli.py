"""The ``riskwatch`` command: migrate, manage keys, serve a service, run a worker, run it all."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from riskwatch import envexample, healthcheck
from riskwatch.processes import API_APPS, COMMAND_PLUGINS, WORKERS, load, worker_for
from shared.settings import get_settings


def cmd_migrate(_args: argparse.Namespace) -> int:
    from shared.migrate import upgrade

    url = get_settings().database_url
    upgrade(url)
    print(f"database migrated to head: {_redact(url)}")
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    from shared.auth import create_key
    from shared.db import Database

    db = Database()
    try:
        with db.transaction() as session:
            key, raw = create_key(session, name=args.name, scopes=args.scopes.split(","),
                                  rate_limit_per_second=args.rate_limit)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    print(f"key id:  {key.id}\nname:    {key.name}\nscopes:  {','.join(key.scopes)}")
    print(f"api key: {raw}\n(shown once; riskwatch stores only its hash)")
    return 0


def cmd_keys_list(_args: argparse.Namespace) -> int:
    from shared.auth import key_state, list_keys
    from shared.db import Database

    db = Database()
    with db.transaction() as session:
        for key in list_keys(session):
            state = key_state(key)
            print(f"{key.id}  {state:8} {key.name:24} {','.join(key.scopes)}")
    db.dispose()
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from shared.auth import revoke_key
    from shared.db import Database

    db = Database()
    with db.transaction() as session:
        done = revoke_key(session, args.key_id)
    db.dispose()
    print("revoked" if done else "no such active key")
    return 0 if done else 1


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    app = API_APPS[args.service]
    port = args.port or app.port(settings)
    uvicorn.run(app.factory, factory=True, host=args.host or settings.host, port=port,
                log_config=None, access_log=False,
                workers=args.workers or settings.server_workers)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from shared.db import Database
    from shared.observability import configure_logging

    settings = get_settings()
    process = worker_for(args.service)
    if process is None:
        print(f"service {args.service} has no worker", file=sys.stderr)
        return 2
    configure_logging(process.name, settings.log_level)
    if settings.worker_nice:
        os.nice(settings.worker_nice)
    db = Database()
    worker = load(process.factory)(db)
    worker.install_signal_handlers()
    worker.run_forever()
    db.dispose()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from riskwatch.supervisor import run_stack

    return run_stack(with_workers=not args.no_workers, max_restarts=args.max_restarts,
                     restart_window=args.restart_window, state_dir=args.state_dir)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="riskwatch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_cmd",
                                                                         required=True)
    create = keys.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", required=True, help="comma-separated, e.g. risk:read,admin")
    create.add_argument("--rate-limit", type=float, default=None,
                        help="requests per second for this key (default: the gateway's)")
    create.set_defaults(func=cmd_keys_create)
    keys.add_parser("list", help="list keys").set_defaults(func=cmd_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=cmd_keys_revoke)

    serve = sub.add_parser("serve", help="serve one app over HTTP")
    serve.add_argument("service", choices=sorted(API_APPS))
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None, help="uvicorn worker processes")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run a service's queue consumer")
    worker.add_argument("service", metavar="SERVICE|PROCESS",
                        choices=sorted({w.service for w in WORKERS if w.role == "worker"}
                                       | {w.name for w in WORKERS}),
                        help="a service (its queue worker) or a process, e.g. reviews-sequencer")
    worker.set_defaults(func=cmd_worker)

    run = sub.add_parser("run", help="migrate and run gateway, services and workers")
    run.add_argument("--no-workers", action="store_true")
    run.add_argument("--max-restarts", type=int, default=5,
                     help="give up (exit 1) when one process needs more restarts than this "
                          "within --restart-window seconds")
    run.add_argument("--restart-window", type=float, default=60.0)
    run.add_argument("--state-dir", type=Path, default=None,
                     help="admin key, logs and processes.json (default: var/ in the checkout)")
    run.set_defaults(func=cmd_run)

    envexample.register(sub)
    healthcheck.register(sub)
    _add_plugin_commands(sub)
    return parser


def _add_plugin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Commands a service contributes (e.g. scoring's ``simulate``), named in the registry."""
    for register in COMMAND_PLUGINS:
        load(register)(sub)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except ValidationError as exc:
        # Refused settings (e.g. a placeholder secret in prod): say why, without a trace and
        # without echoing the values (pydantic's message would print the secret).
        for error in exc.errors():
            print(f"riskwatch: configuration refused: {error['msg']}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
