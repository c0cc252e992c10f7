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


def cmd_witness(args: argparse.Namespace) -> int:
    import base64
    import os

    import uvicorn

    from shared.transparency.cosignature import Cosigner
    from shared.transparency.note import NoteError, Verifier
    from shared.transparency.verify import key_text
    from shared.transparency.witness_server import create_witness_app

    try:
        log_key = Verifier.parse(key_text(args.log_key))
    except NoteError as exc:
        print(f"error: --log-key: {exc}")
        return 2
    key_file = args.key_file
    if not key_file.exists():
        # A new witness: its signing key is made once and kept, readable by its owner only.
        key_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    try:
        cosigner = Cosigner(args.name, base64.b64decode(key_file.read_text().strip(),
                                                        validate=True))
    except (NoteError, ValueError) as exc:
        print(f"error: --key-file {key_file}: {exc}")
        return 2
    print(f"witness {args.name} for log {log_key.name}, holding {args.state}\n"
          f"cosigner key (give it to the log as RISKWATCH_AUDIT_WITNESS_KEYS): "
          f"{cosigner.verifier.vkey}\n"
          f"submission prefix (RISKWATCH_AUDIT_WITNESS_URLS): http://{args.host}:{args.port}",
          flush=True)
    uvicorn.run(create_witness_app(log_key, cosigner, args.state), host=args.host,
                port=args.port, log_level="warning")
    return 0


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
    witness = audit.add_parser(
        "witness", help="run a C2SP tlog-witness that checks and cosigns the log's checkpoints",
        description="What a partner or an auditor runs outside riskwatch's database: it "
                    "accepts a checkpoint only if the log's key signed it and a consistency "
                    "proof shows it extends the one it holds, and answers a cosignature "
                    "(c2sp.org/tlog-witness). Point RISKWATCH_AUDIT_WITNESS_URLS at it.")
    witness.add_argument("--log-key", required=True,
                         help="the log's verifier key (GET /v1/audit/public-key) or a file "
                              "holding it")
    witness.add_argument("--name", required=True,
                         help="this witness's name, e.g. partner.example.com/witness")
    witness.add_argument("--key-file", type=Path, required=True,
                         help="this witness's signing key (base64 Ed25519 seed); made on "
                              "first start")
    witness.add_argument("--state", type=Path, required=True,
                         help="the file holding the latest checkpoint witnessed")
    witness.add_argument("--host", default="127.0.0.1")
    witness.add_argument("--port", type=int, default=7380)
    witness.set_defaults(func=cmd_witness)
