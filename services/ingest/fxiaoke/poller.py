"""The Fxiaoke poller, a scheduled job of the ingest worker: for each configured corp, one
replica at a time (a lease row), obtain or reuse the corp access token (kept encrypted in the
database, refreshed three minutes before it expires or when the platform says it expired),
then page through each polled object's records changed since its watermark, oldest first,
applying each page and moving the watermark in one transaction (a crash re-reads a page;
de-duplication makes that harmless)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import httpx

from services.ingest.fxiaoke import repository
from services.ingest.fxiaoke.client import (
    TOKEN_EXPIRED,
    CorpCredentials,
    CorpToken,
    FxiaokeClient,
    FxiaokeError,
    Page,
)
from services.ingest.settings import IngestSettings, get_ingest_settings
from services.ingest.sources.schemas import Adapter
from services.ingest.sources.service import all_secrets, secret_box
from services.ingest.webhooks import fxiaoke
from services.ingest.webhooks.crm import Translation
from services.ingest.webhooks.service import apply_translation
from shared.db import Database
from shared.models import utcnow

log = logging.getLogger("riskwatch.ingest.fxiaoke")
REFRESH_MARGIN = dt.timedelta(minutes=3)  # as the official demo: renew 3 minutes early
T = TypeVar("T")


@dataclass
class PollResult:
    records: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    token_requests: int = 0
    error: str | None = None


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def poll_all(db: Database, settings: IngestSettings | None = None, *,
             transport: httpx.BaseTransport | None = None) -> dict[str, PollResult | None]:
    """Poll every configured corp; None for a corp another replica is polling."""
    settings = settings or get_ingest_settings()
    with db.transaction() as session:
        corps = all_secrets(session, settings, adapter=Adapter.fxiaoke_corp)
    results: dict[str, PollResult | None] = {}
    client = FxiaokeClient(settings.fxiaoke_base_url, timeout=settings.fxiaoke_timeout_seconds,
                           transport=transport)
    try:
        for name, secrets in sorted(corps.items()):
            try:
                credentials = CorpCredentials.from_secrets(secrets)
            except ValueError as exc:
                log.error("fxiaoke corp %s misconfigured: %s", name, exc)
                continue
            results[name] = Poller(db, settings, client, name, credentials).run()
    finally:
        client.close()
    return results


class Poller:
    def __init__(self, db: Database, settings: IngestSettings, client: FxiaokeClient,
                 name: str, credentials: CorpCredentials) -> None:
        self.db, self.settings, self.client = db, settings, client
        self.name, self.credentials = name, credentials
        self.holder = _holder()
        self.box = secret_box(settings)
        self.token: CorpToken | None = None
        self.result = PollResult()

    def run(self) -> PollResult | None:
        now = utcnow()
        with self.db.transaction() as session:
            taken = repository.take_lease(
                session, self.name, holder=self.holder, now=now,
                until=now + dt.timedelta(seconds=self.settings.fxiaoke_lease_seconds))
        if not taken:
            return None
        try:
            for api_name in self.settings.fxiaoke_poll_objects:
                self._poll_object(api_name)
        except FxiaokeError as exc:
            self.result.error = str(exc)
            log.warning("fxiaoke poll of %s failed: %s", self.name, exc)
        finally:
            with self.db.transaction() as session:
                repository.release_lease(session, self.name, holder=self.holder,
                                         now=utcnow(), error=self.result.error)
        return self.result

    # The corp access token -------------------------------------------------------------
    def _cached_token(self) -> CorpToken | None:
        with self.db.transaction() as session:
            state = repository.state(session, self.name)
            if state is None or not state.token_ciphertext or state.token_expires_at is None \
                    or state.token_expires_at - REFRESH_MARGIN <= utcnow():
                return None
            cached = json.loads(self.box.open(state.token_ciphertext))
        return CorpToken(cached["token"], cached["corpId"], 0)

    def _fresh_token(self) -> CorpToken:
        token = self.client.corp_token(self.credentials)
        self.result.token_requests += 1
        sealed = self.box.seal(json.dumps({"token": token.token, "corpId": token.corp_id}))
        with self.db.transaction() as session:
            repository.save_token(session, self.name, ciphertext=sealed,
                                  expires_at=utcnow() + dt.timedelta(seconds=token.expires_in))
        return token

    def _with_token(self, call: Callable[[CorpToken], T]) -> T:
        if self.token is None:
            self.token = self._cached_token() or self._fresh_token()
        try:
            return call(self.token)
        except FxiaokeError as exc:
            if exc.code != TOKEN_EXPIRED:
                raise
            self.token = self._fresh_token()  # revoked or expired early: once more
            return call(self.token)

    # Paging -------------------------------------------------------------------------------
    def _poll_object(self, api_name: str) -> None:
        with self.db.transaction() as session:
            mark, seen = repository.watermark(session, self.name, api_name)
        limit, offset = self.settings.fxiaoke_page_size, 0
        for _ in range(self.settings.fxiaoke_max_pages):
            page = self._with_token(partial(
                self._page, api_name=api_name, from_ms=mark, offset=offset, limit=limit))
            fresh = [r for r in page.records if _modified(r) is not None
                     and not (_modified(r) == mark and r.get("_id") in seen)]
            if fresh:
                mark, seen = self._apply(api_name, fresh, mark=mark, seen=seen)
                offset = 0
            else:
                # A full page of records already applied (more than a page modified in the
                # same millisecond): step over them rather than read them again.
                offset += len(page.records)
            if len(page.records) < limit:
                return

    def _page(self, token: CorpToken, *, api_name: str, from_ms: int, offset: int,
              limit: int) -> Page:
        return self.client.changed_since(token, self.credentials, api_name=api_name,
                                         from_ms=from_ms, offset=offset, limit=limit)

    def _apply(self, api_name: str, records: list[dict[str, Any]], *, mark: int,
               seen: list[str]) -> tuple[int, list[str]]:
        translation = Translation()
        for record in records:
            operation = "created" if record.get("create_time") == record.get(
                fxiaoke.MODIFIED) else "updated"
            fxiaoke.translate_record(api_name, record, operation=operation,
                                     result=translation)
        newest = max(m for r in records if (m := _modified(r)) is not None)
        at_newest = [str(r["_id"]) for r in records if _modified(r) == newest]
        new_seen = sorted(set(at_newest) | (set(seen) if newest == mark else set()))
        with self.db.transaction() as session:
            counts = apply_translation(session, source=fxiaoke.ADAPTER,
                                       translation=translation)
            repository.set_watermark(session, self.name, api_name, modified_ms=newest,
                                     seen_ids=new_seen, now=utcnow())
        self.result.records += len(records)
        for key, value in counts.items():
            self.result.counts[key] = self.result.counts.get(key, 0) + value
        return newest, new_seen


def _modified(record: dict[str, Any]) -> int | None:
    value = record.get(fxiaoke.MODIFIED)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value
