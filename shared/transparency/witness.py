"""A file witness: keeps the latest checkpoint outside the database and accepts a new one
only with a valid signature and a consistency proof from the one it holds, so a log that
was truncated or rewritten (even re-signed) cannot move it. Point it at storage the
database's operators cannot write; a partner's copy of a checkpoint plays the same role."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from shared.transparency import merkle
from shared.transparency.note import NoteError, Verifier, open_checkpoint

ProofSource = Callable[[int, int], list[bytes]]


class WitnessRefused(Exception):
    pass


class FileWitness:
    def __init__(self, path: Path, verifier: Verifier, *, origin: str) -> None:
        self.path = path
        self.verifier = verifier
        self.origin = origin

    def current(self) -> str | None:
        return self.path.read_text() if self.path.exists() else None

    def update(self, note: str, proof_source: ProofSource) -> None:
        """Keep ``note`` if it extends the witnessed checkpoint; raise otherwise."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Sequencers on one host take turns, so none writes back an older checkpoint.
        with open(self.path.with_suffix(self.path.suffix + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._update(note, proof_source)

    def _update(self, note: str, proof_source: ProofSource) -> None:
        try:
            new = open_checkpoint(note, self.verifier, origin=self.origin)
        except NoteError as exc:
            raise WitnessRefused(f"new checkpoint: {exc}") from exc
        held = self.current()
        if held is not None:
            old = open_checkpoint(held, self.verifier, origin=self.origin)
            if new.size < old.size:
                raise WitnessRefused(f"the log shrank from {old.size} to {new.size} entries "
                                     "(truncated?)")
            try:
                merkle.verify_consistency(old.size, new.size, old.root, new.root,
                                          proof_source(old.size, new.size))
            except merkle.ProofError as exc:
                raise WitnessRefused(f"checkpoint {new.size} is not consistent with the "
                                     f"witnessed checkpoint {old.size}: {exc}") from exc
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        temporary.write_text(note)
        os.replace(temporary, self.path)
