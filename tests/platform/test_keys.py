"""API keys: stored hashed, shown once, revocable; the bootstrap key is idempotent."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from sqlalchemy import select

from shared.auth import authenticate, create_key, ensure_bootstrap_key, revoke_key
from shared.db import Database
from shared.models import ApiKey
from tests.stack import ROOT, Stack


def test_key_is_stored_only_as_a_hash(db: Database) -> None:
    with db.transaction() as session:
        key, raw = create_key(session, name="erp", scopes=["ingest:write", "risk:read"])
    with db.sessions() as session:
        stored = session.scalars(select(ApiKey)).one()
        assert raw not in (stored.id, stored.secret_hash, stored.name)
        assert stored.scopes == ["ingest:write", "risk:read"]
        principal = authenticate(session, raw)
        assert principal is not None and principal.allows("risk:read")
        assert not principal.allows("admin")
        assert authenticate(session, raw + "x") is None


def test_revoked_key_stops_working(db: Database) -> None:
    with db.transaction() as session:
        key, raw = create_key(session, name="tmp", scopes=["risk:read"])
    with db.transaction() as session:
        assert revoke_key(session, key.id)
    with db.sessions() as session:
        assert authenticate(session, raw) is None


def test_bootstrap_key_is_idempotent(db: Database) -> None:
    for _ in range(3):
        with db.transaction() as session:
            ensure_bootstrap_key(session, "my-known-bootstrap-key")
    with db.sessions() as session:
        keys = session.scalars(select(ApiKey)).all()
        assert len(keys) == 1 and keys[0].scopes == ["admin"]


def test_cli_creates_a_key_that_works_through_the_gateway(live: Stack, db: Database) -> None:
    env = {**os.environ, "RISKWATCH_DATABASE_URL": live.database_url}
    result = subprocess.run(
        [sys.executable, "-m", "riskwatch", "keys", "create", "--name", "ops",
         "--scopes", "admin"], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    raw = next(line.split()[-1] for line in result.stdout.splitlines()
               if line.startswith("api key:"))
    response = httpx.get(f"{live.gateway}/v1/queue/depth", headers=live.headers(raw))
    assert response.status_code == 200
    bad = subprocess.run(
        [sys.executable, "-m", "riskwatch", "keys", "create", "--name", "x",
         "--scopes", "root"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown scopes: root" in bad.stderr
