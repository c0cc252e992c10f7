"""The audit log as a transparency log in the database: the sequencer's batch step, proofs
answered from the stored tiles, the whole-log verification and the partner export.

Limits: a sequencer batch integrates at most ``RISKWATCH_AUDIT_BATCH_SIZE`` entries; proofs
read O(log n) tiles in one query; verification and export stream rows in pages, holding
O(log n) hashes (verification) or the tiles the exported range touches (export) in memory."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.orm import Session

from shared.audit import content_of, leaf_data
from shared.db import Database, Lock, dialect_insert, is_postgres, try_xact_lock
from shared.models import AuditCheckpoint, AuditEntry, AuditTile, utcnow
from shared.transparency import merkle
from shared.transparency.cosignature import with_cosignatures
from shared.transparency.note import Checkpoint, NoteError, Signer, Verifier, open_checkpoint
from shared.transparency.tiles import (
    TILE_WIDTH,
    MissingTile,
    TileKey,
    TreeEdge,
    TreeReader,
    tiles_for_nodes,
)
from shared.transparency.verify import EXPORT_FORMAT
from shared.transparency.witness import Witness, WitnessRefused

EXPORT_MAX_ENTRIES = 100_000
log = logging.getLogger("riskwatch.audit")

_ENTRY_COLUMNS = (AuditEntry.id, AuditEntry.occurred_at, AuditEntry.actor, AuditEntry.action,
                  AuditEntry.subject_type, AuditEntry.subject_id, AuditEntry.details,
                  AuditEntry.content)


class LogStateError(RuntimeError):
    """The stored tree does not match its own latest checkpoint: the sequencer stops rather
    than sign a tree built on damaged data (an operator must look; `verify` says where)."""


class NotSequenced(LookupError):
    pass


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- repository ---------------------------------------------------------------------------

def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc())
                           .limit(1)).first()


def checkpoint_at(session: Session, tree_size: int) -> AuditCheckpoint | None:
    return session.get(AuditCheckpoint, tree_size)


def read_tiles(session: Session, keys: set[TileKey]) -> dict[TileKey, bytes]:
    if not keys:
        return {}
    rows = session.execute(
        select(AuditTile.tile_level, AuditTile.tile_index, AuditTile.hashes)
        .where(tuple_(AuditTile.tile_level, AuditTile.tile_index).in_(sorted(keys)))).all()
    return {(level, index): bytes(hashes) for level, index, hashes in rows}


def write_tiles(session: Session, tiles: dict[TileKey, bytes]) -> None:
    if not tiles:
        return
    insert = dialect_insert(session)(AuditTile).values(
        [{"tile_level": level, "tile_index": index, "hashes": data}
         for (level, index), data in sorted(tiles.items())])
    session.execute(insert.on_conflict_do_update(
        index_elements=["tile_level", "tile_index"], set_={"hashes": insert.excluded.hashes}))


def unsequenced(session: Session, limit: int) -> Sequence[tuple[int, str]]:
    """The oldest committed entries not in the tree yet: only id and sealed content, which is
    all a leaf needs (reading and decoding every column cost the sequencer half its time)."""
    rows = session.execute(select(AuditEntry.id, AuditEntry.content)
                           .where(AuditEntry.leaf_index.is_(None))
                           .order_by(AuditEntry.id).limit(limit)).all()
    return [(entry_id, content) for entry_id, content in rows]


def assign_leaf_indexes(session: Session, entry_ids: list[int], first_index: int) -> None:
    indexes = list(range(first_index, first_index + len(entry_ids)))
    if is_postgres(session):
        result = session.execute(text(
            "UPDATE audit_entry SET leaf_index = v.leaf_index "
            "FROM unnest(CAST(:ids AS bigint[]), CAST(:indexes AS bigint[])) "
            "AS v(id, leaf_index) WHERE audit_entry.id = v.id AND audit_entry.leaf_index IS NULL"),
            {"ids": entry_ids, "indexes": indexes})
        updated = result.rowcount  # type: ignore[attr-defined]
    else:
        result = session.execute(text(
            "UPDATE audit_entry SET leaf_index = :leaf_index "
            "WHERE id = :id AND leaf_index IS NULL"),
            [{"id": i, "leaf_index": n} for i, n in zip(entry_ids, indexes, strict=True)])
        updated = result.rowcount  # type: ignore[attr-defined]
    if updated != len(entry_ids):
        raise LogStateError(f"{len(entry_ids) - updated} entries were sequenced by someone "
                            "else during this batch")


def _reader(session: Session, ranges: Sequence[merkle.Range]) -> TreeReader:
    """A reader that has every tile the hashes of ``ranges`` need, read in one query."""
    nodes = [piece for a, b in ranges for piece in merkle.perfect_pieces(a, b)]
    tiles = read_tiles(session, tiles_for_nodes(nodes))
    return TreeReader(lambda key: tiles.get(key, b""))


def _lazy_reader(session: Session) -> TreeReader:
    cache: dict[TileKey, bytes] = {}

    def read(key: TileKey) -> bytes:
        if key not in cache:
            cache.update(read_tiles(session, {key}))
            cache.setdefault(key, b"")
        return cache[key]

    return TreeReader(read)


# --- sequencing ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Batch:
    integrated: int
    tree_size: int
    checkpoint: str | None = None
    skipped: bool = False  # another sequencer holds the lock


class Sequencer:
    """Integrates committed entries into the tree, one batch per call of :meth:`run_once`,
    and signs a checkpoint after each non-empty batch. Safe to run on every replica: a
    database lock lets one batch run at a time, and each batch starts from the stored tree,
    so replicas take turns without ever integrating an entry twice."""

    def __init__(self, db: Database, signer: Signer, *, origin: str, batch_size: int = 20_000,
                 witnesses: Sequence[Witness] = ()) -> None:
        self.db = db
        self.signer = signer
        self.origin = origin
        self.batch_size = batch_size
        self.witnesses = tuple(witnesses)
        self._edge: TreeEdge | None = None
        self._root = merkle.EMPTY_ROOT

    def run_once(self) -> Batch:
        try:
            batch = self._integrate()
        except Exception:
            self._edge = None  # the transaction rolled back: reload the stored edge next time
            raise
        if batch.checkpoint and self.witnesses:
            self._tell_witnesses(batch.tree_size, batch.checkpoint)
        return batch

    def _integrate(self) -> Batch:
        with self.db.transaction() as session:
            if not try_xact_lock(session, Lock.AUDIT_SEQUENCER, "tree"):
                return Batch(0, self._edge.size if self._edge else 0, skipped=True)
            edge = self._current_edge(session)
            rows = unsequenced(session, self.batch_size)
            if not rows:
                return Batch(0, edge.size)
            first = edge.size
            for entry_id, content in rows:
                edge.append(merkle.leaf_hash(leaf_data(entry_id, content)))
            assign_leaf_indexes(session, [entry_id for entry_id, _ in rows], first)
            write_tiles(session, edge.flush())
            self._root = edge.root()
            note = self.signer.sign(Checkpoint(self.origin, edge.size, self._root).text())
            session.add(AuditCheckpoint(tree_size=edge.size, root_hash=self._root, note=note,
                                        created_at=utcnow()))
            return Batch(len(rows), edge.size, note)

    def _current_edge(self, session: Session) -> TreeEdge:
        latest = latest_checkpoint(session)
        size = latest.tree_size if latest else 0
        root = bytes(latest.root_hash) if latest else merkle.EMPTY_ROOT
        if self._edge is not None and self._edge.size == size and self._root == root:
            return self._edge  # nobody else sequenced since our last batch
        stored = read_tiles(session, set(TreeEdge.edge_keys(size)))
        try:
            edge = TreeEdge(size, {level: stored.get((level, index), b"")
                                   for level, index in TreeEdge.edge_keys(size)})
        except MissingTile as exc:
            raise LogStateError(f"the stored tree is damaged: {exc}") from exc
        if edge.root() != root:
            raise LogStateError(f"the stored tiles do not reproduce checkpoint {size}")
        # max, not count: O(log n) on the unique index, and this runs whenever replicas
        # take turns. `verify` does the full walk.
        highest = session.scalar(select(func.max(AuditEntry.leaf_index)))
        if (highest if highest is not None else -1) != size - 1:
            raise LogStateError(f"the highest leaf index is {highest}, the latest checkpoint "
                                f"covers {size} leaves")
        self._edge, self._root = edge, root
        return edge

    def _tell_witnesses(self, tree_size: int, note: str) -> None:
        """Push the new checkpoint to every witness; their cosignatures join the stored
        note, so readers of GET /v1/audit/checkpoint and of exports get them too."""
        cosignatures: list[str] = []
        for witness in self.witnesses:
            try:
                with self.db.transaction() as session:
                    cosignatures += witness.update(
                        note, lambda old, new: consistency_proof(session, old, new))
            except WitnessRefused as exc:
                log.error("the witness refused checkpoint %s: %s", tree_size, exc)
        if cosignatures:
            with self.db.transaction() as session:
                stored = checkpoint_at(session, tree_size)
                if stored is not None:
                    stored.note = with_cosignatures(stored.note, cosignatures)


# --- proofs -------------------------------------------------------------------------------

@dataclass(frozen=True)
class InclusionProof:
    entry_id: int
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    proof: list[bytes]
    root_hash: bytes
    checkpoint: str | None


def _published_size(session: Session, tree_size: int | None) -> int:
    latest = latest_checkpoint(session)
    size = latest.tree_size if latest else 0
    if tree_size is None:
        return size
    if tree_size > size:
        raise NotSequenced(f"the log has {size} sequenced entries; tree size {tree_size} is "
                           "not published yet")
    return tree_size


def inclusion(session: Session, *, entry_id: int | None = None, leaf_index: int | None = None,
              tree_size: int | None = None) -> InclusionProof:
    """The RFC 9162 audit path of one entry (by id or leaf index) in the tree of
    ``tree_size`` leaves (default: the latest checkpoint's)."""
    if entry_id is not None:
        found = session.get(AuditEntry, entry_id)
        if found is None:
            raise LookupError(f"no audit entry {entry_id}")
        if found.leaf_index is None:
            raise NotSequenced(f"audit entry {entry_id} is not sequenced yet (within a second "
                               "or two of its commit)")
        leaf_index = found.leaf_index
    elif leaf_index is not None:
        entry_id = session.scalar(select(AuditEntry.id).where(AuditEntry.leaf_index == leaf_index))
        if entry_id is None:
            raise LookupError(f"no audit entry at leaf index {leaf_index}")
    else:
        raise ValueError("an entry id or a leaf index is needed")
    size = _published_size(session, tree_size)
    if leaf_index >= size:
        raise NotSequenced(f"leaf {leaf_index} is not in the tree of size {size}")
    ranges = merkle.inclusion_ranges(leaf_index, size)
    reader = _reader(session, [*ranges, (leaf_index, leaf_index + 1), (0, size)])
    stored = checkpoint_at(session, size)
    return InclusionProof(entry_id, leaf_index, size, reader.leaf(leaf_index),
                          [reader.subtree(a, b) for a, b in ranges], reader.root(size),
                          stored.note if stored else None)


def consistency_proof(session: Session, old_size: int, new_size: int) -> list[bytes]:
    ranges = merkle.consistency_ranges(old_size, new_size)
    reader = _reader(session, ranges)
    return [reader.subtree(a, b) for a, b in ranges]


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]


def consistency(session: Session, *, old_size: int, new_size: int | None = None
                ) -> ConsistencyProof:
    new = _published_size(session, new_size)
    if old_size > new:
        raise ValueError(f"from ({old_size}) is larger than to ({new})")
    reader = _reader(session, [(0, old_size), (0, new)])
    return ConsistencyProof(old_size, new, reader.root(old_size), reader.root(new),
                            consistency_proof(session, old_size, new))


# --- verification -------------------------------------------------------------------------

@dataclass
class Verification:
    ok: bool = True
    entries: int = 0
    checkpoints: int = 0
    tree_size: int = 0
    unsequenced: int = 0
    problem: str | None = None
    entry_id: int | None = None
    leaf_index: int | None = None
    seconds: float = 0.0
    rows_per_second: float = 0.0
    trusted: list[int] = field(default_factory=list)

    def fail(self, problem: str, *, entry_id: int | None = None,
             leaf_index: int | None = None) -> Verification:
        self.ok, self.problem, self.entry_id, self.leaf_index = False, problem, entry_id, \
            leaf_index
        return self


def verify(session: Session, verifier: Verifier, *, origin: str,
           trusted: Sequence[str] = (), page: int = 5000) -> Verification:
    """Recompute the tree from the stored entries and compare it with every stored checkpoint
    (each signature checked) and with ``trusted`` checkpoints kept outside the database (a
    witness's): the first entry whose hash differs from the tree's, a missing leaf, a root
    that differs from a signed one, or a tree smaller than a checkpoint already issued
    (truncation) is reported, naming the entry where there is one."""
    started = time.perf_counter()
    result = Verification()
    result.unsequenced = session.scalar(select(func.count()).select_from(AuditEntry)
                                        .where(AuditEntry.leaf_index.is_(None))) or 0
    expected: dict[int, tuple[bytes, str]] = {}
    for row in session.execute(select(AuditCheckpoint.tree_size, AuditCheckpoint.root_hash,
                                      AuditCheckpoint.note)):
        try:
            signed = open_checkpoint(row.note, verifier, origin=origin)
        except NoteError as exc:
            return result.fail(f"checkpoint {row.tree_size}: {exc}")
        if (signed.size, signed.root) != (row.tree_size, bytes(row.root_hash)):
            return result.fail(f"checkpoint {row.tree_size}: the stored size or root differs "
                               "from the signed note")
        expected[signed.size] = (signed.root, f"checkpoint {signed.size}")
        result.checkpoints += 1
    for note in trusted:
        try:
            signed = open_checkpoint(note, verifier, origin=origin)
        except NoteError as exc:
            return result.fail(f"trusted checkpoint: {exc}")
        known = expected.get(signed.size)
        if known is not None and known[0] != signed.root:
            return result.fail(f"the database's checkpoint {signed.size} differs from the "
                               "trusted one: the log was rewritten and re-signed")
        expected[signed.size] = (signed.root, f"trusted checkpoint {signed.size}")
        result.trusted.append(signed.size)
    result.tree_size = max((s for s in expected if s != 0), default=0)
    if 0 in expected and expected[0][0] != merkle.EMPTY_ROOT:
        return result.fail("checkpoint 0 does not carry the empty tree's root")

    tree = merkle.CompactRange()
    tiles: dict[int, bytes] = {}
    last_index = -1
    while True:
        rows = session.execute(select(AuditEntry.leaf_index, *_ENTRY_COLUMNS)
                               .where(AuditEntry.leaf_index > last_index)
                               .order_by(AuditEntry.leaf_index).limit(page)).all()
        if not rows:
            break
        wanted = {(0, row.leaf_index // TILE_WIDTH) for row in rows} - {(0, k) for k in tiles}
        tiles.update({k[1]: v for k, v in read_tiles(session, wanted).items()})
        for row in rows:
            index = row.leaf_index
            if index != tree.size:
                return result.fail(
                    f"leaf {tree.size} is missing: entries were deleted (the next entry, "
                    f"{row.id}, has leaf {index})", entry_id=row.id, leaf_index=tree.size)
            if content_of(row) != row.content:
                return result.fail(f"entry {row.id} (leaf {index}): its columns no longer say "
                                   "what its sealed content says: edited after the append",
                                   entry_id=row.id, leaf_index=index)
            leaf = merkle.leaf_hash(leaf_data(row.id, row.content))
            tile = tiles.get(index // TILE_WIDTH, b"")
            position = (index % TILE_WIDTH) * merkle.HASH_SIZE
            if tile[position:position + merkle.HASH_SIZE] != leaf:
                return result.fail(f"entry {row.id} (leaf {index}) differs from what the tree "
                                   "holds for it: edited, replaced or moved after sequencing",
                                   entry_id=row.id, leaf_index=index)
            tree.append(leaf)
            result.entries += 1
            check = expected.get(tree.size)
            if check is not None and tree.root() != check[0]:
                return result.fail(f"the stored entries up to leaf {index} do not reproduce "
                                   f"{check[1]}'s root", entry_id=row.id, leaf_index=index)
            last_index = index
        # Tiles behind us are done with: hold only the current one.
        tiles = {k: v for k, v in tiles.items() if k >= last_index // TILE_WIDTH}
    if tree.size < result.tree_size:
        what = expected[result.tree_size][1]
        return result.fail(f"truncated: {what} was issued but the log holds {tree.size} "
                           f"sequenced entries (the newest {result.tree_size - tree.size} are "
                           "gone)", leaf_index=tree.size)
    result.seconds = time.perf_counter() - started
    result.rows_per_second = result.entries / result.seconds if result.seconds else 0.0
    return result


# --- export -------------------------------------------------------------------------------

def export(session: Session, *, start: int = 0, end: int | None = None,
           subject_id: str | None = None, since_size: int | None = None,
           verifier: Verifier) -> Iterator[str]:
    """NDJSON lines: the latest signed checkpoint (with a consistency proof from
    ``since_size``, the size of a checkpoint the reader already holds), then each entry of
    leaves ``[start, end)`` (of one subject, if given) with its exact leaf bytes and its
    inclusion proof, then a closing line with the count, so a cut-off file is noticed."""
    latest = latest_checkpoint(session)
    size = latest.tree_size if latest else 0
    end = size if end is None else min(end, size)
    header: dict[str, object] = {
        "type": "checkpoint", "format": EXPORT_FORMAT, "tree_size": size,
        "checkpoint": latest.note if latest else None, "verifier_key": verifier.vkey,
        "from": start, "to": end, "subject_id": subject_id}
    if since_size is not None:
        header["consistency"] = {"from_size": since_size, "proof": [
            b64(h) for h in consistency_proof(session, min(since_size, size), size)]}
    yield json.dumps(header) + "\n"
    reader = _lazy_reader(session)
    count, last_index = 0, start - 1
    while count < EXPORT_MAX_ENTRIES:
        query = (select(AuditEntry.leaf_index, AuditEntry.id, AuditEntry.content)
                 .where(AuditEntry.leaf_index > last_index, AuditEntry.leaf_index < end))
        if subject_id:
            query = query.where(AuditEntry.subject_id == subject_id)
        rows = session.execute(query.order_by(AuditEntry.leaf_index)
                               .limit(min(1000, EXPORT_MAX_ENTRIES - count))).all()
        if not rows:
            break
        for row in rows:
            proof = [reader.subtree(a, b) for a, b in merkle.inclusion_ranges(row.leaf_index,
                                                                                size)]
            yield json.dumps({"type": "entry", "leaf_index": row.leaf_index, "entry_id": row.id,
                              "canonical": leaf_data(row.id, row.content).decode(),
                              "inclusion": [b64(h) for h in proof]},
                             ensure_ascii=False) + "\n"
            count += 1
            last_index = row.leaf_index
    yield json.dumps({"type": "end", "entries": count,
                      "complete": count < EXPORT_MAX_ENTRIES}) + "\n"
