"""``riskwatch audit verify-export``: check an audit log export offline (what a partner runs)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from shared.transparency import verify

    audit = subparsers.add_parser("audit", help="the verifiable audit log").add_subparsers(
        dest="audit_cmd", required=True)
    parser = audit.add_parser(
        "verify-export", help="check an export offline with the log's public key",
        description="Needs no database and no server: only the export file and the verifier "
                    "key (GET /v1/audit/public-key). Exit code 0 when it verifies, 1 if not.")
    verify.add_arguments(parser)
    parser.set_defaults(func=verify.run)
