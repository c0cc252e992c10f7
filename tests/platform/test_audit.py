"""The audit log as a transparency log on both engines: appends take no lock, the
sequencer integrates each committed entry exactly once and signs checkpoints, proofs verify,
and every kind of tampering is caught and named."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, event, select, text, update

from shared import audit
from shared.db import Database, Lock, try_xact_lock
from shared.models import AuditCheckpoint, AuditEntry, AuditTile
from shared.transparency import log as tlog
from shared.transparency import merkle
from shared.transparency.note import Checkpoint, Signer, open_checkpoint
from shared.transparency.settings import get_audit_settings, get_signer
from shared.transparency.verify import verify_export
from shared.transparency.witness import FileWitness, WitnessRefused

ORIGIN = get_audit_settings().origin


def sequencer(db: Database, **kwargs: object) -> tlog.Sequencer:
    return tlog.Sequencer(db, get_signer(), origin=ORIGIN, **kwargs)  # type: ignore[arg-type]


def append(db: Database, n: int, *, subject: str = "c") -> list[int]:
    ids = []
    for i in range(n):
        with db.transaction() as session:
            ids.append(audit.record(session, actor="analyst@x", action="tier.override",
                                    subject_type="customer", subject_id=f"{subject}{i % 3}",
                                    details={"tier": "high", "amount": "1250.00", "n": i}).id)
    return ids


def verify(db: Database, trusted: tuple[str, ...] = ()) -> tlog.Verification:
    with db.transaction() as session:
        return tlog.verify(session, get_signer().verifier, origin=ORIGIN, trusted=trusted)


def latest_note(db: Database) -> str:
    with db.transaction() as session:
        latest = tlog.latest_checkpoint(session)
        assert latest is not None
        return latest.note


def leaf_hashes_by_index(db: Database) -> list[bytes]:
    with db.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.leaf_index.is_not(None))
                               .order_by(AuditEntry.leaf_index)).all()
        return [merkle.leaf_hash(audit.leaf_data(r.id, r.content)) for r in rows]


def test_entries_appended_together_get_their_own_ids_in_order(db: Database) -> None:
    facts = [audit.Fact("tests", "credit.decided", "customer", f"c-{i}", {"i": i})
             for i in range(50)]
    appended = audit.append_many(db, facts)
    with db.transaction() as session:
        subjects = dict(session.execute(select(AuditEntry.id, AuditEntry.subject_id)).all())
    assert [subjects[a.id] for a in appended] == [f.subject_id for f in facts]
    assert verify(db).ok


def test_an_append_is_one_insert_with_no_lock_and_no_read_of_other_rows(db: Database) -> None:
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    with db.transaction() as session:
        session.execute(text("SELECT 1"))  # the connection's own set-up happens before
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            audit.record(session, actor="a", action="credit.decided", subject_type="customer",
                         subject_id="c1", details={"amount": 1})
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("INSERT")


def test_the_sequencer_gives_each_entry_a_leaf_and_signs_the_tree_it_built(
        db: Database) -> None:
    ids = append(db, 5)
    batch = sequencer(db).run_once()
    assert (batch.integrated, batch.tree_size) == (5, 5)
    with db.transaction() as session:
        leaves = dict(session.execute(select(AuditEntry.id, AuditEntry.leaf_index)).all())
    assert [leaves[i] for i in ids] == [0, 1, 2, 3, 4]
    assert batch.checkpoint is not None
    signed = open_checkpoint(batch.checkpoint, get_signer().verifier, origin=ORIGIN)
    assert (signed.size, signed.root) == (5, merkle.root_of(leaf_hashes_by_index(db)))
    assert sequencer(db).run_once().integrated == 0  # nothing new: no new checkpoint
    assert verify(db).ok


def test_a_sequencer_resumes_the_stored_tree_and_spans_several_tiles(db: Database) -> None:
    append(db, 3)
    sequencer(db).run_once()
    with db.transaction() as session:  # 600 more entries: past the first full leaf tile
        for i in range(600):
            audit.record(session, actor="bulk", action="x", subject_type="t", subject_id=str(i))
    fresh = sequencer(db, batch_size=250)
    assert [fresh.run_once().integrated for _ in range(4)] == [250, 250, 100, 0]
    result = verify(db)
    assert (result.ok, result.entries, result.checkpoints, result.tree_size) == (True, 603, 4, 603)
    with db.transaction() as session:
        assert session.scalar(select(AuditTile.hashes).where(
            AuditTile.tile_level == 1, AuditTile.tile_index == 0)) is not None


def test_entries_committing_out_of_id_order_are_each_integrated_once(
        db: Database, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's single writer commits transactions in id order")
    with db.sessions() as slow, slow.begin():
        early = audit.record(slow, actor="a", action="x", subject_type="t", subject_id="slow").id
        late = append(db, 1)[0]
        assert late > early
        sequencer(db).run_once()  # sees only the committed, later entry
    assert sequencer(db).run_once().integrated == 1
    with db.transaction() as session:
        leaves = dict(session.execute(select(AuditEntry.id, AuditEntry.leaf_index)).all())
    assert leaves == {late: 0, early: 1}
    assert verify(db).ok


def test_while_one_sequencer_holds_the_lock_another_skips_its_batch(
        db: Database, database_url: str) -> None:
    append(db, 2)
    if not database_url.startswith("postgresql"):
        pytest.skip("on SQLite the single writer makes the second batch wait instead")
    with db.sessions() as holder, holder.begin():
        assert try_xact_lock(holder, Lock.AUDIT_SEQUENCER, "tree")
        assert sequencer(db).run_once().skipped
    assert sequencer(db).run_once().integrated == 2


def test_two_sequencers_running_at_once_integrate_every_entry_exactly_once(
        db: Database) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []
    batches: list[tlog.Batch] = []

    def run(instance: tlog.Sequencer) -> None:
        try:
            while not stop.is_set():
                batches.append(instance.run_once())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(sequencer(db, batch_size=7),))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    append(db, 60)
    while True:  # until both have seen everything
        with db.transaction() as session:
            if not session.scalar(select(AuditEntry.id).where(AuditEntry.leaf_index.is_(None))
                                  .limit(1)):
                break
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.transaction() as session:
        indexes = sorted(session.scalars(select(AuditEntry.leaf_index)).all())
        sizes = session.scalars(select(AuditCheckpoint.tree_size)).all()
    assert indexes == list(range(60))
    assert len(sizes) == len(set(sizes)) == sum(1 for b in batches if b.integrated)
    assert verify(db).ok


def test_proofs_from_the_database_verify_against_the_signed_checkpoints(db: Database) -> None:
    ids = append(db, 9)
    sequencer(db).run_once()
    old = open_checkpoint(latest_note(db), get_signer().verifier)
    append(db, 12)
    sequencer(db).run_once()
    new = open_checkpoint(latest_note(db), get_signer().verifier)
    with db.transaction() as session:
        by_id = tlog.inclusion(session, entry_id=ids[4])
        by_leaf = tlog.inclusion(session, leaf_index=4, tree_size=old.size)
        consistency = tlog.consistency(session, old_size=old.size)
    leaves = leaf_hashes_by_index(db)
    assert by_id.leaf_hash == leaves[4] and by_id.tree_size == 21
    merkle.verify_inclusion(4, new.size, leaves[4], by_id.proof, new.root)
    merkle.verify_inclusion(4, old.size, leaves[4], by_leaf.proof, old.root)
    assert by_leaf.checkpoint is not None and by_leaf.entry_id == ids[4]
    merkle.verify_consistency(old.size, new.size, old.root, new.root, consistency.proof)


def test_an_entry_not_yet_sequenced_has_no_proof_yet(db: Database) -> None:
    entry_id = append(db, 1)[0]
    with db.transaction() as session, pytest.raises(tlog.NotSequenced):
        tlog.inclusion(session, entry_id=entry_id)


# --- tampering ----------------------------------------------------------------------------

@pytest.fixture
def sequenced(db: Database) -> list[int]:
    ids = append(db, 6)
    sequencer(db).run_once()
    ids += append(db, 4)
    sequencer(db).run_once()
    assert verify(db).ok
    return ids


def test_editing_an_entry_is_named(db: Database, sequenced: list[int]) -> None:
    with db.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == sequenced[2])
                        .values(details={"tier": "low", "amount": "1250.00", "n": 2}))
    result = verify(db)
    assert (result.ok, result.entry_id, result.leaf_index) == (False, sequenced[2], 2)
    assert "edited" in (result.problem or "")


def rewrite(db: Database, entry_id: int, **columns: object) -> None:
    """What an attacker who knows the format does: change the columns and reseal the entry."""
    with db.transaction() as session:
        entry = session.get(AuditEntry, entry_id)
        assert entry is not None
        for name, value in columns.items():
            setattr(entry, name, value)
        entry.content = audit.content_of(entry)


def test_editing_an_entry_and_resealing_it_is_named(db: Database, sequenced: list[int]) -> None:
    rewrite(db, sequenced[2], actor="someone-else")
    result = verify(db)
    assert (result.ok, result.entry_id, result.leaf_index) == (False, sequenced[2], 2)
    assert "differs from what the tree holds" in (result.problem or "")


def test_editing_an_entry_and_its_tile_hash_is_caught_by_the_signed_root(
        db: Database, sequenced: list[int]) -> None:
    rewrite(db, sequenced[2], actor="someone-else")
    leaves = leaf_hashes_by_index(db)
    with db.transaction() as session:
        session.execute(update(AuditTile).where(AuditTile.tile_level == 0)
                        .values(hashes=b"".join(leaves)))
    result = verify(db)
    assert not result.ok and "checkpoint 6's root" in (result.problem or "")


def test_deleting_an_entry_in_the_middle_is_named(db: Database, sequenced: list[int]) -> None:
    with db.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id == sequenced[3]))
    result = verify(db)
    assert (result.ok, result.leaf_index, result.entry_id) == (False, 3, sequenced[4])
    assert "deleted" in (result.problem or "")


def test_reordering_two_entries_is_named(db: Database, sequenced: list[int]) -> None:
    with db.transaction() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == sequenced[1])
                        .values(leaf_index=-1))
        session.execute(update(AuditEntry).where(AuditEntry.id == sequenced[2])
                        .values(leaf_index=1))
        session.execute(update(AuditEntry).where(AuditEntry.id == sequenced[1])
                        .values(leaf_index=2))
    result = verify(db)
    assert (result.ok, result.entry_id, result.leaf_index) == (False, sequenced[2], 1)


def test_deleting_the_newest_entries_is_reported_as_truncation(
        db: Database, sequenced: list[int]) -> None:
    with db.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id.in_(sequenced[-3:])))
    result = verify(db)
    assert not result.ok and result.problem is not None
    assert result.problem.startswith("truncated: checkpoint 10 was issued but the log holds 7")


def test_a_truncation_that_also_deletes_checkpoints_and_tiles_is_caught_by_a_kept_checkpoint(
        db: Database, sequenced: list[int]) -> None:
    kept = latest_note(db)  # e.g. the witness file, or a partner's copy
    with db.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id.in_(sequenced[-4:])))
        session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.tree_size > 6))
    assert verify(db).ok  # the database alone now looks like an untouched log of 6
    result = verify(db, trusted=(kept,))
    assert not result.ok and result.problem is not None
    assert result.problem.startswith("truncated: trusted checkpoint 10 was issued")


def test_a_forged_checkpoint_is_caught(db: Database, sequenced: list[int]) -> None:
    forger = Signer(ORIGIN, bytes(32))  # the right name, not the log's key
    leaves = leaf_hashes_by_index(db)
    with db.transaction() as session:
        session.execute(update(AuditCheckpoint).where(AuditCheckpoint.tree_size == 10).values(
            note=forger.sign(Checkpoint(ORIGIN, 10, merkle.root_of(leaves)).text())))
    result = verify(db)
    assert not result.ok and result.problem is not None
    assert result.problem.startswith("checkpoint 10: the note carries no signature by")
    with db.transaction() as session:
        session.execute(update(AuditCheckpoint).where(AuditCheckpoint.tree_size == 10)
                        .values(root_hash=bytes(32)))
        session.execute(update(AuditCheckpoint).where(AuditCheckpoint.tree_size == 10)
                        .values(note=get_signer().sign(Checkpoint(ORIGIN, 10,
                                                                  bytes(32)).text())))
    result = verify(db)  # signed by the log's key, but over a root the entries do not give
    assert not result.ok and "checkpoint 10's root" in (result.problem or "")


def test_the_sequencer_refuses_to_extend_a_tree_whose_tiles_were_altered(
        db: Database, sequenced: list[int]) -> None:
    with db.transaction() as session:
        session.execute(update(AuditTile).values(hashes=bytes(32 * 10)))
    append(db, 1)
    with pytest.raises(tlog.LogStateError, match="do not reproduce checkpoint 10"):
        sequencer(db).run_once()


def test_the_witness_keeps_checkpoints_that_extend_it_and_refuses_a_shrunk_log(
        db: Database, tmp_path: Path) -> None:
    witness = FileWitness(tmp_path / "witness" / "checkpoint", get_signer().verifier,
                          origin=ORIGIN)
    append(db, 5)
    sequencer(db, witnesses=[witness]).run_once()
    append(db, 3)
    sequencer(db, witnesses=[witness]).run_once()
    assert witness.current() == latest_note(db)
    # Truncate everything after the first checkpoint and sequence other entries instead.
    with db.transaction() as session:
        session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.tree_size > 5))
        rewritten_ids = session.scalars(select(AuditEntry.id)
                                        .where(AuditEntry.leaf_index >= 5)).all()
        session.execute(update(AuditEntry).where(AuditEntry.leaf_index >= 5)
                        .values(leaf_index=None))
    for entry_id in rewritten_ids:
        rewrite(db, entry_id, subject_id="rewritten")
    rewritten = sequencer(db)
    rewritten.run_once()
    with db.transaction() as session, pytest.raises(WitnessRefused, match="a rewritten log"):
        witness.update(latest_note(db), lambda old, new: tlog.consistency_proof(session, old,
                                                                                new))
    assert not verify(db, trusted=(witness.current() or "",)).ok


# --- export -------------------------------------------------------------------------------

def test_an_export_verifies_offline_and_any_change_to_it_is_named(db: Database) -> None:
    append(db, 4, subject="a")
    sequencer(db).run_once()
    kept = latest_note(db)
    append(db, 7, subject="b")
    sequencer(db).run_once()
    verifier = get_signer().verifier
    with db.transaction() as session:
        lines = list(tlog.export(session, since_size=4, verifier=verifier))
        one_subject = list(tlog.export(session, subject_id="b1", verifier=verifier))
    result = verify_export(lines, verifier, trusted_checkpoint=kept)
    assert (result.ok, result.entries, result.problems) == (True, 11, [])
    assert verify_export(one_subject, verifier).entries == 2

    edited = [line.replace("high", "low") if i == 3 else line
              for i, line in enumerate(lines)]
    problems = verify_export(edited, verifier).problems
    assert len(problems) == 1 and "line 4: entry 3 (leaf 2) is not in the signed tree" in \
        problems[0]
    assert "entries are missing" in verify_export(lines[:3] + lines[4:], verifier).problems[0]
    assert "cut off" in verify_export(lines[:-1], verifier).problems[0]
    other_log = Signer(ORIGIN, bytes(32)).verifier
    assert "no signature by" in verify_export(lines, other_log).problems[0]


def test_checkpoint_text_root_is_standard_base64_of_the_tree_root(db: Database) -> None:
    append(db, 2)
    note = sequencer(db).run_once().checkpoint or ""
    origin, size, root = note.split("\n")[:3]
    assert (origin, size) == (ORIGIN, "2")
    assert base64.b64decode(root) == merkle.root_of(leaf_hashes_by_index(db))



def test_the_sequencer_refuses_to_extend_a_log_whose_newest_entries_were_deleted(
        db: Database, sequenced: list[int]) -> None:
    with db.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id == sequenced[-1]))
    append(db, 1)
    with pytest.raises(tlog.LogStateError, match="highest leaf index is 8"):
        sequencer(db).run_once()


def test_the_verifier_cli_reads_the_key_from_a_file_and_checks_consistency_with_a_kept_checkpoint(
        db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from shared.transparency.verify import main

    append(db, 3)
    sequencer(db).run_once()
    (tmp_path / "old-checkpoint.txt").write_text(latest_note(db))
    (tmp_path / "audit.vkey").write_text(get_signer().verifier.vkey + "\n")
    append(db, 2)
    sequencer(db).run_once()
    with db.transaction() as session:
        (tmp_path / "export.ndjson").write_text("".join(tlog.export(
            session, since_size=3, verifier=get_signer().verifier)))
        (tmp_path / "no-proof.ndjson").write_text("".join(tlog.export(
            session, verifier=get_signer().verifier)))
    args = ["--public-key", str(tmp_path / "audit.vkey"),
            "--trusted-checkpoint", str(tmp_path / "old-checkpoint.txt")]
    assert main([str(tmp_path / "export.ndjson"), *args]) == 0
    assert capsys.readouterr().out.startswith("OK 5 entries are in the log")
    assert main([str(tmp_path / "no-proof.ndjson"), *args]) == 1
    assert "export again with since=3" in capsys.readouterr().out


def test_the_verify_command_checks_the_whole_log_against_a_kept_checkpoint(
        db: Database, database_url: str, sequenced: list[int], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from riskwatch.cli import main

    kept = tmp_path / "checkpoint.txt"
    kept.write_text(latest_note(db))
    command = ["audit", "verify", "--database-url", database_url, "--trusted-checkpoint",
               str(kept)]
    assert main(command) == 0
    assert capsys.readouterr().out.startswith("OK 10 entries, 2 checkpoints, tree size 10")
    with db.transaction() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id == sequenced[-1]))
        session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.tree_size == 10))
    assert main(command) == 1
    assert "FAIL truncated: trusted checkpoint 10 was issued" in capsys.readouterr().out
