"""Check an audit log export offline: no database, no server, only the export file and the
log's public (verifier) key — what a partner or an auditor runs.

    python -m shared.transparency.verify EXPORT.ndjson --public-key 'origin+1a2b3c4d+AQ...'
    riskwatch audit verify-export EXPORT.ndjson --public-key KEY [--trusted-checkpoint FILE]

Each entry's exact bytes are hashed into its leaf hash, and its inclusion proof must lead to
the root of the checkpoint the key signed. With ``--trusted-checkpoint`` (a checkpoint kept
from an earlier export) the export's consistency proof must show the log only grew since."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.transparency import merkle
from shared.transparency.cosignature import CosignerVerifier, note_text, signature_lines
from shared.transparency.note import Checkpoint, NoteError, Verifier, open_checkpoint

EXPORT_FORMAT = "riskwatch-audit-export/1"


@dataclass
class ExportCheck:
    entries: int = 0
    checkpoint: Checkpoint | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.checkpoint is not None


def _hashes(values: Iterable[str]) -> list[bytes]:
    return [base64.b64decode(v, validate=True) for v in values]


def verify_export(lines: Iterable[str], verifier: Verifier, *,
                  trusted_checkpoint: str | None = None,
                  witnesses: Iterable[CosignerVerifier] = ()) -> ExportCheck:
    """Every problem found in the export (an empty list: it verifies)."""
    result = ExportCheck()
    header: dict[str, Any] | None = None
    closing: dict[str, Any] | None = None
    previous_index: int | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            result.problems.append(f"line {number}: not JSON")
            continue
        kind = record.get("type")
        if kind == "checkpoint" and header is None:
            header = record
            result.checkpoint = _open_header(record, verifier, trusted_checkpoint, result)
            _check_cosignatures(record.get("checkpoint") or "", witnesses, result)
            if result.checkpoint is None:
                return result
        elif kind == "entry" and header is not None and result.checkpoint is not None:
            _check_entry(record, result.checkpoint, result, number)
            index = record.get("leaf_index")
            if (header.get("subject_id") is None and isinstance(index, int)
                    and index != (header.get("from", 0) if previous_index is None
                                  else previous_index + 1)):
                result.problems.append(f"line {number}: leaf {index} follows "
                                       f"{previous_index}: entries are missing from the export")
            previous_index = index if isinstance(index, int) else previous_index
            result.entries += 1
        elif kind == "end" and header is not None:
            closing = record
        else:
            result.problems.append(f"line {number}: unexpected {kind!r} line")
    if header is None:
        result.problems.append("no checkpoint line: not an audit export")
    elif closing is None:
        result.problems.append("no closing line: the export is cut off")
    elif closing.get("entries") != result.entries:
        result.problems.append(f"the export says {closing.get('entries')} entries, it holds "
                               f"{result.entries}")
    return result


def _open_header(header: dict[str, Any], verifier: Verifier, trusted_checkpoint: str | None,
                 result: ExportCheck) -> Checkpoint | None:
    if header.get("format") != EXPORT_FORMAT:
        result.problems.append(f"unknown export format {header.get('format')!r}")
        return None
    try:
        checkpoint = open_checkpoint(header.get("checkpoint") or "", verifier)
    except NoteError as exc:
        result.problems.append(f"checkpoint: {exc}")
        return None
    if trusted_checkpoint is not None:
        try:
            trusted = open_checkpoint(trusted_checkpoint, verifier, origin=checkpoint.origin)
            consistency = header.get("consistency") or {}
            if consistency.get("from_size") != trusted.size:
                raise merkle.ProofError(
                    f"the export carries no consistency proof from your checkpoint's size "
                    f"{trusted.size}; export again with since={trusted.size}")
            merkle.verify_consistency(trusted.size, checkpoint.size, trusted.root,
                                      checkpoint.root, _hashes(consistency.get("proof", [])))
        except (NoteError, merkle.ProofError, binascii.Error) as exc:
            result.problems.append(f"the log is not an extension of your trusted checkpoint: "
                                   f"{exc}")
    return checkpoint


def _check_cosignatures(note: str, witnesses: Iterable[CosignerVerifier],
                        result: ExportCheck) -> None:
    """Each witness asked for must have cosigned the export's checkpoint: then the log
    showed this tree to someone outside its database, not a view made for you alone."""
    if result.checkpoint is None:
        return
    text, lines = note_text(note), signature_lines(note)
    for witness in witnesses:
        if not any(witness.timestamp_of(line, text) is not None for line in lines):
            result.problems.append(f"the checkpoint carries no valid cosignature by witness "
                                   f"{witness.name}+{witness.key_id.hex()}")


def _check_entry(record: dict[str, Any], checkpoint: Checkpoint, result: ExportCheck,
                 number: int) -> None:
    index, canonical = record.get("leaf_index"), record.get("canonical")
    if not isinstance(index, int) or not isinstance(canonical, str):
        result.problems.append(f"line {number}: an entry needs leaf_index and canonical")
        return
    try:
        entry_id = json.loads(canonical).get("id")
    except (json.JSONDecodeError, AttributeError):
        result.problems.append(f"line {number}: leaf {index}: the entry is not a JSON object")
        return
    if record.get("entry_id") != entry_id:
        result.problems.append(f"line {number}: leaf {index}: entry_id "
                               f"{record.get('entry_id')} differs from the entry's own id "
                               f"{entry_id}")
    try:
        merkle.verify_inclusion(index, checkpoint.size,
                                merkle.leaf_hash(canonical.encode()),
                                _hashes(record.get("inclusion", [])), checkpoint.root)
    except (merkle.ProofError, binascii.Error) as exc:
        result.problems.append(f"line {number}: entry {entry_id} (leaf {index}) is not in the "
                               f"signed tree: {exc}")


def key_text(value: str) -> str:
    path = Path(value)
    return path.read_text().strip() if "+" not in value and path.exists() else value


def _read_key(value: str) -> Verifier:
    return Verifier.parse(key_text(value))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the export (NDJSON), '-' for stdin")
    parser.add_argument("--public-key", required=True,
                        help="the log's verifier key (name+id+key, as GET "
                             "/v1/audit/public-key shows it) or a file holding it")
    parser.add_argument("--trusted-checkpoint", type=Path, default=None,
                        help="a signed checkpoint you kept earlier: the export must prove "
                             "the log only grew since")
    parser.add_argument("--witness-key", action="append", default=[],
                        help="a witness's cosigner key (or a file holding it): the export's "
                             "checkpoint must carry its valid cosignature (repeatable)")


def run(args: argparse.Namespace) -> int:
    try:
        verifier = _read_key(args.public_key)
    except NoteError as exc:
        print(f"error: --public-key: {exc}", file=sys.stderr)
        return 2
    try:
        witnesses = [CosignerVerifier.parse(key_text(key)) for key in args.witness_key]
    except NoteError as exc:
        print(f"error: --witness-key: {exc}", file=sys.stderr)
        return 2
    trusted = args.trusted_checkpoint.read_text() if args.trusted_checkpoint else None
    if str(args.file) == "-":
        result = verify_export(sys.stdin, verifier, trusted_checkpoint=trusted,
                               witnesses=witnesses)
    else:
        with args.file.open(encoding="utf-8") as lines:
            result = verify_export(lines, verifier, trusted_checkpoint=trusted,
                                   witnesses=witnesses)
    for problem in result.problems:
        print(f"FAIL {problem}")
    if not result.ok:
        print(f"export does NOT verify ({len(result.problems)} problems)")
        return 1
    assert result.checkpoint is not None
    print(f"OK {result.entries} entries are in the log {result.checkpoint.origin} at tree "
          f"size {result.checkpoint.size}, root "
          f"{base64.b64encode(result.checkpoint.root).decode()}, signed by "
          f"{verifier.name}+{verifier.key_id.hex()}"
          + "".join(f", cosigned by {w.name}+{w.key_id.hex()}" for w in witnesses))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.transparency.verify",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
