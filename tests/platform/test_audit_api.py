"""The audit log through the gateway with the real sequencer process running: proofs a
client checks itself, verification, and an export a partner checks offline with the CLI."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared import audit
from shared.auth import create_key
from shared.db import Database
from shared.transparency import merkle
from shared.transparency.note import Verifier, open_checkpoint
from tests.stack import ROOT, Stack


def _append(db: Database, n: int) -> list[int]:
    with db.transaction() as session:
        return [audit.record(session, actor="analyst@x", action="tiers.override_set",
                             subject_type="customer", subject_id=f"c{i}",
                             details={"tier": "high", "n": i}).id for i in range(n)]


def _checkpoint_covering(client: httpx.Client, size: int) -> dict[str, object]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        response = client.get("/v1/audit/checkpoint")
        if response.status_code == 200 and response.json()["tree_size"] >= size:
            return dict(response.json())
        time.sleep(0.1)
    raise AssertionError("the sequencer did not sign a checkpoint covering the entries")


def test_entries_are_sequenced_and_their_proofs_verify_against_the_signed_checkpoint(
        live: Stack, db: Database) -> None:
    first = _append(db, 2)
    with live.client() as client:
        old = _checkpoint_covering(client, 2)
        ids = first + _append(db, 3)
        new = _checkpoint_covering(client, 5)
        verifier = Verifier.parse(client.get("/v1/audit/public-key").json()["verifier_key"])
        signed = open_checkpoint(str(new["note"]), verifier, origin=str(new["origin"]))
        proof = client.get(f"/v1/audit/entries/{ids[3]}/inclusion").json()
        consistency = client.get("/v1/audit/consistency",
                                 params={"from": old["tree_size"]}).json()
        listed = client.get("/v1/audit", params={"subject_id": "c1"}).json()
        verification = client.get("/v1/audit/verify").json()
    assert proof["tree_size"] == signed.size == 5
    merkle.verify_inclusion(proof["leaf_index"], signed.size,
                            base64.b64decode(proof["leaf_hash"]),
                            [base64.b64decode(h) for h in proof["proof"]], signed.root)
    merkle.verify_consistency(int(str(old["tree_size"])), signed.size,
                              base64.b64decode(str(old["root_hash"])), signed.root,
                              [base64.b64decode(h) for h in consistency["proof"]])
    assert [(e["subject_id"], e["leaf_index"] is not None) for e in listed["items"]] == [
        ("c1", True), ("c1", True)]
    assert verification["ok"] and verification["entries"] == 5


def test_a_partner_verifies_an_export_offline_and_the_cli_catches_an_edit(
        live: Stack, db: Database, tmp_path: Path) -> None:
    _append(db, 4)
    with live.client() as client:
        _checkpoint_covering(client, 4)
        key = client.get("/v1/audit/public-key").json()["verifier_key"]
        export = client.get("/v1/audit/export")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    path = tmp_path / "export.ndjson"
    path.write_text(export.text)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        # The partner's side: no database, no server.
        return subprocess.run([sys.executable, "-m", "riskwatch", "audit", "verify-export",
                               *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin"})

    ok = cli(str(path), "--public-key", key)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK 4 entries are in the log")
    path.write_text(export.text.replace("analyst@x", "analyst@y", 1))
    tampered = cli(str(path), "--public-key", key)
    assert tampered.returncode == 1
    assert "is not in the signed tree" in tampered.stdout


def test_audit_reads_need_the_audit_read_scope_or_admin(live: Stack, db: Database) -> None:
    with db.transaction() as session:
        _, reader = create_key(session, name="auditor", scopes=["audit:read"])
        _, scorer = create_key(session, name="scorer", scopes=["risk:read"])
    assert httpx.get(f"{live.gateway}/v1/audit/public-key",
                     headers=live.headers(reader)).status_code == 200
    denied = httpx.get(f"{live.gateway}/v1/audit", headers=live.headers(scorer))
    assert denied.status_code == 403
