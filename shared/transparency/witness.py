"""Witnesses: keep the latest checkpoint outside the database and accept a new one only with
a valid signature and a consistency proof from the one they hold, so a log that was
truncated or rewritten (even re-signed) cannot move them.

- :class:`FileWitness` keeps it in a file (point it at storage the database's operators
  cannot write); it is also the state behind ``riskwatch audit witness`` (witness_server).
- :class:`HttpWitness` pushes each checkpoint to any witness speaking the C2SP
  ``tlog-witness`` protocol (https://c2sp.org/tlog-witness: ``POST <prefix>/add-checkpoint``
  with the old size and a consistency proof) and brings back its cosignatures, which the
  sequencer appends to the stored checkpoint so every reader of the log gets them."""

from __future__ import annotations

import base64
import binascii
import fcntl
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

import httpx

from shared.transparency import merkle
from shared.transparency.cosignature import CosignerVerifier, note_text
from shared.transparency.note import Checkpoint, NoteError, Verifier, open_checkpoint

log = logging.getLogger("riskwatch.audit.witness")

ProofSource = Callable[[int, int], list[bytes]]
SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63  # the protocol's bound: a proof of a tree of 2^63 leaves


class Witness(Protocol):
    def update(self, note: str, proof_source: ProofSource) -> list[str]:
        """Take the checkpoint ``note`` (proving consistency with what the witness holds
        through ``proof_source(old, new)``); its cosignature lines, if it signs any."""


class WitnessRefused(Exception):
    """The witness did not take the checkpoint; ``status`` is the HTTP answer to give."""

    def __init__(self, message: str, *, status: int = 409, held_size: int | None = None
                 ) -> None:
        super().__init__(message)
        self.status = status
        self.held_size = held_size


class FileWitness:
    def __init__(self, path: Path, verifier: Verifier, *, origin: str) -> None:
        self.path = path
        self.verifier = verifier
        self.origin = origin

    def current(self) -> str | None:
        return self.path.read_text() if self.path.exists() else None

    def held(self) -> Checkpoint | None:
        note = self.current()
        return open_checkpoint(note, self.verifier, origin=self.origin) if note else None

    def update(self, note: str, proof_source: ProofSource) -> list[str]:
        """Keep ``note`` if it extends the witnessed checkpoint; raise otherwise. A file
        witness signs nothing: no cosignature lines come back."""
        with self._locked():
            held = self.held()
            old_size = held.size if held else 0
            new = self._open(note)
            if new.size < old_size:
                raise WitnessRefused(f"the log shrank from {old_size} to {new.size} entries "
                                     "(truncated?)", held_size=old_size)
            proof = proof_source(old_size, new.size) if held and old_size else []
            self._accept(note, new, held, old_size, proof)
        return []

    def add_checkpoint(self, note: str, old_size: int, proof: Sequence[bytes]) -> Checkpoint:
        """The ``tlog-witness`` check: ``old_size`` must be the size this witness holds;
        atomically (one writer at a time) verifies and keeps ``note``."""
        with self._locked():
            new = self._open(note)
            if old_size > new.size:
                raise WitnessRefused(f"old size {old_size} is above the checkpoint's size "
                                     f"{new.size}", status=400)
            held = self.held()
            held_size = held.size if held else 0
            if old_size != held_size:
                raise WitnessRefused(f"this witness holds size {held_size}, not {old_size}",
                                     held_size=held_size)
            self._accept(note, new, held, old_size, proof)
            return new

    def _locked(self) -> AbstractContextManager[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return _file_lock(self.path.with_suffix(self.path.suffix + ".lock"))

    def _open(self, note: str) -> Checkpoint:
        try:
            return open_checkpoint(note, self.verifier, origin=self.origin)
        except NoteError as exc:
            raise WitnessRefused(f"new checkpoint: {exc}", status=403) from exc

    def _accept(self, note: str, new: Checkpoint, held: Checkpoint | None, old_size: int,
                proof: Sequence[bytes]) -> None:
        if held is not None and old_size:
            if old_size == new.size and held.root != new.root:
                raise WitnessRefused(f"two different trees of size {new.size}: a split view "
                                     "or a rewritten log", held_size=held.size)
            try:
                merkle.verify_consistency(old_size, new.size, held.root, new.root, list(proof))
            except merkle.ProofError as exc:
                raise WitnessRefused(f"checkpoint {new.size} is not consistent with the "
                                     f"witnessed checkpoint {old_size}: {exc}",
                                     status=422) from exc
        elif proof:
            raise WitnessRefused("the proof from size 0 must be empty", status=422)
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        temporary.write_text(note)
        os.replace(temporary, self.path)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Sequencers (or witness requests) on one host take turns, so none writes back an
    older checkpoint: the check and the write are one atomic step, as tlog-witness asks."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def add_checkpoint_body(note: str, old_size: int, proof: Sequence[bytes]) -> bytes:
    lines = [f"old {old_size}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n" + note).encode()


def parse_add_checkpoint_body(body: bytes) -> tuple[int, list[bytes], str]:
    """(old size, proof, checkpoint note) from a ``tlog-witness`` request body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WitnessRefused("the body is not UTF-8", status=400) from exc
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise WitnessRefused("the body is an 'old <size>' line, proof lines, an empty line "
                             "and the checkpoint", status=400)
    size = lines[0][4:]
    if not size.isdigit() or (size != "0" and size.startswith("0")) or len(size) > 20:
        raise WitnessRefused("the old size is a decimal with no leading zeroes", status=400)
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessRefused(f"at most {MAX_PROOF_LINES} proof lines", status=400)
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    except binascii.Error as exc:
        raise WitnessRefused("a proof line is not base64", status=400) from exc
    if any(len(h) != 32 for h in proof):
        raise WitnessRefused("a proof line is not a 32-byte hash", status=400)
    return int(size), proof, note


class HttpWitness:
    """Client of a ``tlog-witness`` witness. Remembers the size the witness holds (learnt
    from a 409 the first time) so each push carries the right consistency proof; a witness
    that is down costs one timeout per checkpoint and never blocks sequencing."""

    def __init__(self, url: str, *, cosigners: Sequence[CosignerVerifier] = (),
                 timeout_seconds: float = 5.0, client: httpx.Client | None = None) -> None:
        self.endpoint = url.rstrip("/") + "/add-checkpoint"
        self.cosigners = tuple(cosigners)
        self._client = client or httpx.Client(timeout=timeout_seconds)
        self._held_size: int | None = None

    def update(self, note: str, proof_source: ProofSource) -> list[str]:
        """The witness's cosignature lines on ``note`` (only verified ones when cosigner
        keys are configured). Raises :class:`WitnessRefused` if it will not cosign."""
        text = note_text(note)
        size = Checkpoint.parse(text).size
        old = self._held_size if self._held_size is not None else 0
        for _ in range(2):  # a 409 tells the size the witness holds: one retry from there
            if old > size:
                raise WitnessRefused(f"the witness holds size {old}, above this checkpoint's "
                                     f"{size}: the log was truncated or rolled back")
            proof = proof_source(old, size) if 0 < old < size else []
            try:
                answer = self._client.post(
                    self.endpoint, content=add_checkpoint_body(note, old, proof),
                    headers={"content-type": "text/plain; charset=utf-8"})
            except httpx.HTTPError as exc:
                raise WitnessRefused(f"the witness at {self.endpoint} is unreachable: "
                                     f"{exc.__class__.__name__}", status=503) from exc
            if answer.status_code == 409 and answer.headers.get(
                    "content-type", "").startswith(SIZE_CONTENT_TYPE):
                held = answer.text.strip()
                if not held.isdigit() or int(held) == old:
                    break
                old = self._held_size = int(held)
                continue
            if answer.status_code != 200:
                break
            self._held_size = size
            return self._cosignatures(answer.text, text)
        raise WitnessRefused(f"the witness answered {answer.status_code}: "
                             f"{answer.text[:200]!r}", status=answer.status_code)

    def _cosignatures(self, body: str, text: str) -> list[str]:
        lines = [line for line in body.split("\n") if line.startswith("\u2014 ")]
        if not self.cosigners:
            return lines
        valid = [line for line in lines
                 if any(c.timestamp_of(line, text) is not None for c in self.cosigners)]
        if not valid:
            raise WitnessRefused("the witness answered no valid cosignature by a configured "
                                 "cosigner key", status=502)
        return valid

    def close(self) -> None:
        self._client.close()
