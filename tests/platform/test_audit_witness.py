"""Witnessing the audit log over HTTP (C2SP tlog-witness and tlog-cosignature): the sequencer
pushes each checkpoint with a consistency proof to a real `riskwatch audit witness` process,
keeps the cosignatures it answers, and a truncated or rewritten log gets none; a partner's
offline check can demand the witness's cosignature."""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update

from shared import audit
from shared.db import Database
from shared.models import AuditCheckpoint, AuditEntry, AuditTile
from shared.transparency import log as tlog
from shared.transparency.cosignature import (
    Cosigner,
    CosignerVerifier,
    note_text,
    signature_lines,
)
from shared.transparency.note import Signer
from shared.transparency.settings import AuditSettings, get_audit_settings, get_signer
from shared.transparency.verify import verify_export
from shared.transparency.witness import (
    SIZE_CONTENT_TYPE,
    HttpWitness,
    WitnessRefused,
    add_checkpoint_body,
)

ORIGIN = get_audit_settings().origin
ROOT = Path(__file__).resolve().parents[2]


def append(db: Database, n: int, *, subject: str = "c") -> None:
    for i in range(n):
        with db.transaction() as session:
            audit.record(session, actor="analyst@x", action="credit.decided",
                         subject_type="customer", subject_id=f"{subject}{i}",
                         details={"limit": "5000.00", "n": i})


def sequencer(db: Database, *witnesses: HttpWitness) -> tlog.Sequencer:
    return tlog.Sequencer(db, get_signer(), origin=ORIGIN, witnesses=witnesses)


def stored_note(db: Database, size: int) -> str:
    with db.transaction() as session:
        checkpoint = tlog.checkpoint_at(session, size)
        assert checkpoint is not None
        return checkpoint.note


def forget_tree(db: Database, *, drop_newest: int) -> None:
    with db.transaction() as session:
        newest = session.scalars(select(AuditEntry.id).order_by(AuditEntry.id.desc())
                                 .limit(drop_newest)).all()
        session.execute(delete(AuditEntry).where(AuditEntry.id.in_(newest)))
        session.execute(delete(AuditCheckpoint))
        session.execute(delete(AuditTile))
        session.execute(update(AuditEntry).values(leaf_index=None))


@dataclass
class WitnessProcess:
    url: str
    cosigner: CosignerVerifier
    state: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[WitnessProcess]:
    port = _free_port()
    state = tmp_path / "witness" / "checkpoint"
    process = subprocess.Popen(
        [sys.executable, "-m", "riskwatch", "audit", "witness", "--log-key",
         get_signer().verifier.vkey, "--name", "partner.example/witness", "--key-file",
         str(tmp_path / "witness.key"), "--state", str(state), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(3)]
        vkey = banner[1].rsplit(" ", 1)[-1].strip()
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(url + "/checkpoint")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield WitnessProcess(url, CosignerVerifier.parse(vkey), state)
    finally:
        process.terminate()
        process.wait(10)


# --- the cosignature format, computed here from the spec's text -----------------------------

def test_a_cosignature_is_the_spec_s_timestamped_ed25519_signature_line() -> None:
    seed = bytes(range(32))
    cosigner = Cosigner("witness.example/w1", seed)
    checkpoint = "example.com/behind-the-sofa\n20852163\n" \
                 "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    line = cosigner.cosign(checkpoint, 1679315147)

    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = cosigner.verifier.public_key
    key_id = hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
    message = b"cosignature/v1\ntime 1679315147\n" + checkpoint.encode()
    blob = key_id + struct.pack(">Q", 1679315147) + key.sign(message)
    assert line == f"\u2014 witness.example/w1 {base64.b64encode(blob).decode()}\n"

    verifier = CosignerVerifier.parse(cosigner.verifier.vkey)
    assert cosigner.verifier.vkey.startswith(f"witness.example/w1+{key_id.hex()}+BA")
    assert verifier.timestamp_of(line.rstrip("\n"), checkpoint) == 1679315147
    assert verifier.timestamp_of(line, checkpoint.replace("20852163", "20852164")) is None
    other = Cosigner("witness.example/w1", bytes(32)).verifier
    assert other.timestamp_of(line, checkpoint) is None


# --- the sequencer and a real witness process ------------------------------------------------

def test_each_checkpoint_is_cosigned_by_the_witness_and_served_with_its_cosignature(
        db: Database, witness: WitnessProcess) -> None:
    client = HttpWitness(witness.url, cosigners=[witness.cosigner])
    append(db, 5)
    assert sequencer(db, client).run_once().tree_size == 5
    append(db, 3)
    sequencer(db, client).run_once()

    for size in (5, 8):
        note = stored_note(db, size)
        lines = signature_lines(note)
        assert len(lines) == 2  # the log's signature and the witness's cosignature
        assert witness.cosigner.timestamp_of(lines[1], note_text(note)) == pytest.approx(
            time.time(), abs=30)
    with db.transaction() as session:
        assert tlog.verify(session, get_signer().verifier, origin=ORIGIN).ok

    # A new sequencer (another replica, a restart) does not know the witness's size: the
    # witness's 409 tells it, and the next push carries the proof from there.
    append(db, 4)
    assert sequencer(db, HttpWitness(witness.url, cosigners=[witness.cosigner])
                     ).run_once().tree_size == 12
    assert len(signature_lines(stored_note(db, 12))) == 2
    assert witness.state.read_text().startswith(f"{ORIGIN}\n12\n")


def test_a_truncated_and_rewritten_log_gets_no_cosignature(
        db: Database, witness: WitnessProcess, caplog: pytest.LogCaptureFixture) -> None:
    client = HttpWitness(witness.url, cosigners=[witness.cosigner])
    append(db, 6)
    sequencer(db, client).run_once()
    # Drop the last three entries and rebuild the tree with others in their place, signed
    # with the log's own key: only a witness outside the database can tell.
    forget_tree(db, drop_newest=3)
    append(db, 5, subject="forged")
    batch = sequencer(db, HttpWitness(witness.url, cosigners=[witness.cosigner])).run_once()
    assert batch.tree_size == 8  # the log went on; the witness did not follow
    assert len(signature_lines(stored_note(db, 8))) == 1
    assert "the witness refused checkpoint 8" in caplog.text
    assert witness.state.read_text().startswith(f"{ORIGIN}\n6\n")


def test_a_witness_that_is_down_does_not_stop_sequencing(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    append(db, 2)
    batch = sequencer(db, HttpWitness(f"http://127.0.0.1:{_free_port()}",
                                      timeout_seconds=1.0)).run_once()
    assert batch.tree_size == 2 and len(signature_lines(stored_note(db, 2))) == 1
    assert "unreachable" in caplog.text


# --- the protocol's answers --------------------------------------------------------------

def test_the_witness_answers_as_tlog_witness_prescribes(
        db: Database, witness: WitnessProcess) -> None:
    append(db, 3)
    sequencer(db).run_once()
    note3 = stored_note(db, 3)
    post = f"{witness.url}/add-checkpoint"
    assert httpx.post(post, content=b"size 0\n\n" + note3.encode()).status_code == 400
    assert httpx.post(post, content=add_checkpoint_body(note3, 4, [])).status_code == 400
    foreign = Signer("someone.else/log", bytes(32)).sign(f"someone.else/log\n1\n{'A' * 43}=\n")
    assert httpx.post(post, content=add_checkpoint_body(foreign, 0, [])).status_code == 404
    forged = Signer(ORIGIN, bytes(32)).sign(note_text(note3))  # the right name, another key
    assert httpx.post(post, content=add_checkpoint_body(forged, 0, [])).status_code == 403
    assert httpx.post(post, content=add_checkpoint_body(note3, 0, [bytes(32)])
                      ).status_code == 422
    assert httpx.post(post, content=add_checkpoint_body(note3, 0, [])).status_code == 200

    append(db, 2)
    sequencer(db).run_once()
    note5 = stored_note(db, 5)
    stale = httpx.post(post, content=add_checkpoint_body(note5, 0, []))
    assert (stale.status_code, stale.text, stale.headers["content-type"]) == \
        (409, "3\n", SIZE_CONTENT_TYPE)
    assert httpx.post(post, content=add_checkpoint_body(note5, 3, [bytes(32)])
                      ).status_code == 422
    with db.transaction() as session:
        proof = tlog.consistency_proof(session, 3, 5)
    accepted = httpx.post(post, content=add_checkpoint_body(note5, 3, proof))
    assert accepted.status_code == 200
    assert witness.cosigner.timestamp_of(accepted.text.strip(), note_text(note5)) is not None
    assert httpx.post(post, content=b"x" * 70_000).status_code == 413


def test_an_http_witness_refuses_a_witness_that_holds_a_bigger_tree(
        db: Database, witness: WitnessProcess) -> None:
    append(db, 4)
    sequencer(db, HttpWitness(witness.url)).run_once()
    forget_tree(db, drop_newest=2)
    sequencer(db).run_once()
    with pytest.raises(WitnessRefused, match="truncated or rolled back"), \
            db.transaction() as session:
        HttpWitness(witness.url).update(stored_note(db, 2), lambda old, new:
                                        tlog.consistency_proof(session, old, new))


# --- what a partner checks offline ------------------------------------------------------

def test_an_export_can_require_the_witness_s_cosignature(
        db: Database, witness: WitnessProcess) -> None:
    append(db, 3)
    sequencer(db, HttpWitness(witness.url, cosigners=[witness.cosigner])).run_once()
    verifier = get_signer().verifier
    with db.transaction() as session:
        lines = list(tlog.export(session, verifier=verifier))
    assert verify_export(lines, verifier, witnesses=[witness.cosigner]).ok
    stranger = Cosigner("partner.example/witness", bytes(32)).verifier
    problems = verify_export(lines, verifier, witnesses=[stranger]).problems
    assert problems == [f"the checkpoint carries no valid cosignature by witness "
                        f"partner.example/witness+{stranger.key_id.hex()}"]


def test_witness_settings_are_checked_when_read() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        AuditSettings(witness_urls=["ftp://witness.example"])
    with pytest.raises(ValueError, match="type 0x04"):
        AuditSettings(witness_keys=[get_signer().verifier.vkey])
