"""Resolve API keys to principals, with a short cache so the hot path skips the database.
A revoked key stops working within ``key_cache_seconds``."""

from __future__ import annotations

import time

from anyio import to_thread

from shared.auth import Principal, authenticate, secret_hash_for
from shared.db import Database


class KeyResolver:
    def __init__(self, db: Database, *, ttl: float) -> None:
        self.db = db
        self.ttl = ttl
        # Cached by the key's hash, never by the key itself.
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    def _lookup(self, raw_key: str) -> Principal | None:
        with self.db.sessions() as session:
            return authenticate(session, raw_key)

    async def resolve(self, raw_key: str) -> Principal | None:
        digest = secret_hash_for(raw_key)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit and hit[0] > now:
            return hit[1]
        principal = await to_thread.run_sync(self._lookup, raw_key)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self.ttl, principal)
        return principal
