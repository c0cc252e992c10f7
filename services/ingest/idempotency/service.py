"""Idempotency-Key handling: the key, its request digest and the stored answer are written in
the request's own transaction, so a failed request leaves no trace and a retry runs again,
while a successful one is answered from storage with exactly the same status and body."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.idempotency import repository
from shared.errors import Conflict, ValidationFailed, field_error
from shared.models import utcnow

HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: Any


def request_digest(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.hexdigest()


def json_digest(method: str, path: str, body: Any) -> str:
    return request_digest(method, path, json.dumps(body, sort_keys=True, default=str))


def begin(session: Session, *, owner: str, key: str, request_hash: str,
          retention: dt.timedelta = dt.timedelta(hours=24)) -> StoredAnswer | None:
    """The stored answer for a replay, or None when this request should run (and is now
    registered under the key). Raises 409 while the first request runs, 422 on reuse of the
    key with another request. Keys older than ``retention`` are forgotten."""
    if not key or len(key) > 255:
        raise ValidationFailed(f"The {HEADER} header must be 1 to 255 characters.",
                               errors=[field_error(HEADER, "1 to 255 characters")])
    if not repository.try_lock(session, owner, key):
        raise Conflict(f"A request with this {HEADER} is still running; retry later.",
                       headers={"Retry-After": "1"})
    now = utcnow()
    repository.purge_expired(session, owner, before=now - retention)
    existing = repository.get(session, owner, key)
    if existing is None:
        repository.insert_running(session, owner=owner, key=key, request_hash=request_hash,
                                  now=now)
        return None
    if existing.request_hash != request_hash:
        raise ValidationFailed(
            f"This {HEADER} was used with a different request.",
            errors=[field_error(HEADER, "already used with a different method, path or body")])
    if existing.state != "done" or existing.response_status is None:
        raise Conflict(f"A request with this {HEADER} is still running; retry later.",
                       headers={"Retry-After": "1"})
    return StoredAnswer(existing.response_status, existing.response_body)


def finish(session: Session, *, owner: str, key: str, status: int, body: Any) -> None:
    repository.store_answer(session, owner=owner, key=key, status=status, body=body)
