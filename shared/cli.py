"""The ``riskwatch`` command: migrate, manage keys, serve a service, run a worker, run it all."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable

from shared.settings import get_settings

SERVICES = ("ingest", "scoring", "alerts", "reviews")
APPS = {
    "gateway": "gateway.app:create_app",
    **{name: f"services.{name}.app:create_app" for name in SERVICES},
}


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
    port = args.port or getattr(settings, f"{args.service}_port")
    uvicorn.run(APPS[args.service], factory=True, host=args.host or settings.host, port=port,
                log_config=None, access_log=False, workers=args.workers)
    return 0


def worker_factory(service: str) -> Callable[..., object] | None:
    """A service's ``worker.build_worker`` if it has a worker, else None."""
    try:
        module = importlib.import_module(f"services.{service}.worker")
    except ModuleNotFoundError as exc:
        if exc.name == f"services.{service}.worker":
            return None
        raise
    factory: Callable[..., object] = module.build_worker
    return factory


def cmd_worker(args: argparse.Namespace) -> int:
    from shared.db import Database
    from shared.observability import configure_logging
    from shared.worker import Worker

    settings = get_settings()
    configure_logging(f"{args.service}-worker", settings.log_level)
    factory = worker_factory(args.service)
    if factory is None:
        print(f"service {args.service} has no worker", file=sys.stderr)
        return 2
    db = Database()
    worker = factory(db)
    assert isinstance(worker, Worker)
    worker.install_signal_handlers()
    worker.run_forever()
    db.dispose()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from shared.runner import run_stack

    return run_stack(with_workers=not args.no_workers)


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
    serve.add_argument("service", choices=sorted(APPS))
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None, help="uvicorn worker processes")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run a service's queue consumer")
    worker.add_argument("service", choices=SERVICES)
    worker.set_defaults(func=cmd_worker)

    run = sub.add_parser("run", help="migrate and run gateway, services and workers")
    run.add_argument("--no-workers", action="store_true")
    run.set_defaults(func=cmd_run)

    _add_plugin_commands(sub)
    return parser


def _add_plugin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Commands a service contributes (e.g. scoring's ``simulate``) via ``cli.register``."""
    for service in SERVICES:
        try:
            module = importlib.import_module(f"services.{service}.cli")
        except ModuleNotFoundError as exc:
            if exc.name == f"services.{service}.cli":
                continue
            raise
        module.register(sub)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
