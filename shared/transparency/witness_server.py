"""A ``tlog-witness`` server (https://c2sp.org/tlog-witness) over a :class:`FileWitness`:
what a partner, an auditor or another team runs to watch riskwatch's audit log from outside
its database, with ``riskwatch audit witness``. It answers ``POST /add-checkpoint``:

- 200 and a cosignature line (C2SP tlog-cosignature/v1) when the checkpoint is signed by
  the log's key and extends, by a valid consistency proof, the one it holds;
- 409 with its size (``text/x.tlog.size``) when the old size is not the one it holds,
  or a different tree of the same size is offered (a split view);
- 422 when the consistency proof fails, 403 when the log's signature does not verify,
  404 for another log's origin, 400 for a malformed body.

``GET /checkpoint`` gives the checkpoint it holds, cosigned, for anyone who wants to compare.
"""

from __future__ import annotations

import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from shared.transparency.cosignature import Cosigner, note_text
from shared.transparency.note import Checkpoint, NoteError, Verifier
from shared.transparency.witness import (
    SIZE_CONTENT_TYPE,
    FileWitness,
    WitnessRefused,
    parse_add_checkpoint_body,
)

MAX_BODY_BYTES = 64 * 1024  # 63 proof lines and a checkpoint with many signatures fit


def create_witness_app(log_verifier: Verifier, cosigner: Cosigner, state: Path) -> Starlette:
    witness = FileWitness(state, log_verifier, origin=log_verifier.name)

    async def add_checkpoint(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return PlainTextResponse("body too large\n", status_code=413)
        try:
            old_size, proof, note = parse_add_checkpoint_body(body)
            try:
                origin = Checkpoint.parse(note_text(note)).origin
            except NoteError as exc:
                raise WitnessRefused(f"checkpoint: {exc}", status=400) from exc
            if origin != log_verifier.name:
                raise WitnessRefused(f"unknown log {origin!r}", status=404)
            witness.add_checkpoint(note, old_size, proof)
        except WitnessRefused as refused:
            if refused.status == 409 and refused.held_size is not None:
                # Exactly this type, no charset parameter: clients compare it as is.
                return Response(f"{refused.held_size}\n", status_code=409,
                                headers={"content-type": SIZE_CONTENT_TYPE})
            return PlainTextResponse(f"{refused}\n", status_code=refused.status)
        # The whole note text, extension lines included, as tlog-cosignature asks.
        return PlainTextResponse(cosigner.cosign(note_text(note), int(time.time())))

    async def held_checkpoint(_: Request) -> Response:
        note = witness.current()
        if note is None:
            return PlainTextResponse("no checkpoint witnessed yet\n", status_code=404)
        return PlainTextResponse(note + cosigner.cosign(note_text(note), int(time.time())))

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
                             Route("/checkpoint", held_checkpoint, methods=["GET"])])
