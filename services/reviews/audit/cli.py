"""``riskwatch audit verify-export`` (offline, what a partner runs) and ``riskwatch audit
verify`` (the whole log, in-process: no gateway timeout, for logs of millions of entries)."""

from __future__ import annotations

import argparse


def cmd_verify(args: argparse.Namespace) -> int:
    from shared.db import Database
    from shared.transparency import log as tlog
    from shared.transparency.settings import get_audit_settings, get_signer

    settings = get_audit_settings()
    witnessed = settings.witness_file
    trusted = [witnessed.read_text()] if witnessed and witnessed.exists() else []
    trusted += [path.read_text() for path in args.trusted_checkpoint]
    db = Database(args.database_url)
    try:
        with db.transaction() as session:
            result = tlog.verify(session, get_signer().verifier, origin=settings.origin,
                                 trusted=trusted)
    finally:
        db.dispose()
    print(f"{'OK' if result.ok else 'FAIL'} {result.entries:,} entries, {result.checkpoints} "
          f"checkpoints, tree size {result.tree_size}, {result.unsequenced} not sequenced yet, "
          f"{result.rows_per_second:,.0f} rows/s")
    if not result.ok:
        print(f"FAIL {result.problem}")
    return 0 if result.ok else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pathlib import Path

    from shared.transparency import verify

    audit = subparsers.add_parser("audit", help="the verifiable audit log").add_subparsers(
        dest="audit_cmd", required=True)
    parser = audit.add_parser(
        "verify-export", help="check an export offline with the log's public key",
        description="Needs no database and no server: only the export file and the verifier "
                    "key (GET /v1/audit/public-key). Exit code 0 when it verifies, 1 if not.")
    verify.add_arguments(parser)
    parser.set_defaults(func=verify.run)
    whole = audit.add_parser(
        "verify", help="recompute the whole log from the database and check every checkpoint",
        description="As GET /v1/audit/verify, in this process (no gateway timeout), against "
                    "RISKWATCH_DATABASE_URL. Exit code 0 when it verifies, 1 if not.")
    whole.add_argument("--trusted-checkpoint", type=Path, action="append", default=[],
                       help="a signed checkpoint kept outside the database (repeatable)")
    whole.add_argument("--database-url", default=None, help=argparse.SUPPRESS)
    whole.set_defaults(func=cmd_verify)
