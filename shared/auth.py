"""API keys (stored as hashes, compared in constant time) and the signed caller identity the
gateway hands to services, which enforce each route's scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.errors import Forbidden, Unauthorized, problem_responses
from shared.models import ApiKey, utcnow
from shared.settings import get_settings

SCOPES = (
    "ingest:write",
    "risk:read",
    "models:write",
    "alerts:read",
    "alerts:write",
    "reviews:read",
    "reviews:write",
    "audit:read",
    "admin",
)
PRINCIPAL_HEADER = "x-riskwatch-principal"
SIGNATURE_HEADER = "x-riskwatch-signature"
IDENTITY_MAX_AGE_SECONDS = 300


class KeyState(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


def key_state(key: ApiKey) -> KeyState:
    return KeyState.REVOKED if key.revoked_at is not None else KeyState.ACTIVE


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    scopes: frozenset[str]
    rate_limit_per_second: float | None = None

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    @property
    def actor(self) -> str:
        """The caller as the audit log names them: the key's name, and its id, which names
        one key even when several share a name."""
        return f"{self.name} ({self.key_id})"


# --- keys -------------------------------------------------------------------------------

def key_id_for(raw_key: str) -> str:
    """Public handle of a key, derived from it so any string (a bootstrap key) can be a key."""
    return hashlib.sha256(b"riskwatch-key-id:" + raw_key.encode()).hexdigest()[:20]


def secret_hash_for(raw_key: str) -> str:
    # Keys are 256-bit random tokens (or operator-chosen bootstrap keys), so a fast hash is
    # enough; what matters is that the database never holds the key itself.
    return hashlib.sha256(b"riskwatch-key-secret:" + raw_key.encode()).hexdigest()


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    scopes = [s.strip() for s in scopes if s.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)} (known: {', '.join(SCOPES)})")
    if not scopes:
        raise ValueError("a key needs at least one scope")
    return sorted(set(scopes))


def create_key(
    session: Session, *, name: str, scopes: Iterable[str], raw_key: str | None = None,
    rate_limit_per_second: float | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key and return it with the raw key, which is shown once and never stored."""
    raw_key = raw_key or "rw_" + secrets.token_urlsafe(32)
    key = ApiKey(
        id=key_id_for(raw_key), name=name, secret_hash=secret_hash_for(raw_key),
        scopes=validate_scopes(scopes), rate_limit_per_second=rate_limit_per_second,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    return key, raw_key


def ensure_bootstrap_key(session: Session, raw_key: str) -> ApiKey:
    """Make sure the operator-supplied key exists with scope admin (idempotent)."""
    existing = session.get(ApiKey, key_id_for(raw_key))
    if existing is not None:
        existing.scopes = ["admin"]
        existing.revoked_at = None
        existing.secret_hash = secret_hash_for(raw_key)
        return existing
    key, _ = create_key(session, name="bootstrap", scopes=["admin"], raw_key=raw_key)
    return key


def revoke_key(session: Session, key_id: str) -> bool:
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    return True


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def authenticate(session: Session, raw_key: str) -> Principal | None:
    key = session.get(ApiKey, key_id_for(raw_key))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, secret_hash_for(raw_key)):
        return None
    return Principal(key.id, key.name, frozenset(key.scopes), key.rate_limit_per_second)


def raw_key_from_headers(headers: Any) -> str | None:
    auth = headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return str(auth[7:].strip()) or None
    api_key = headers.get("x-api-key")
    return str(api_key).strip() if api_key else None


# --- identity passed from gateway to services ------------------------------------------

def _sign(payload: str, secret: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def identity_headers(principal: Principal, *, secret: str | None = None,
                     now: float | None = None) -> dict[str, str]:
    secret = secret or get_settings().internal_secret
    stamp = int(now if now is not None else time.time())
    payload = f"{principal.key_id}|{principal.name}|{','.join(sorted(principal.scopes))}|{stamp}"
    return {PRINCIPAL_HEADER: payload, SIGNATURE_HEADER: _sign(payload, secret)}


def principal_from_headers(headers: Any, *, secret: str | None = None) -> Principal | None:
    payload = headers.get(PRINCIPAL_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if not payload or not signature:
        return None
    secret = secret or get_settings().internal_secret
    if not hmac.compare_digest(_sign(payload, secret), signature):
        return None
    try:
        key_id, name, scopes, stamp = payload.split("|")
        if abs(time.time() - int(stamp)) > IDENTITY_MAX_AGE_SECONDS:
            return None
    except ValueError:
        return None
    return Principal(key_id, name, frozenset(s for s in scopes.split(",") if s))


def require_scopes(*scopes: str) -> Callable[[Request], Awaitable[Principal]]:
    """FastAPI dependency: the caller (as vouched for by the gateway) must hold every scope."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes {unknown}")

    # Async: pure CPU work, so it runs on the event loop instead of costing a thread hop.
    async def dependency(request: Request) -> Principal:
        principal = principal_from_headers(request.headers)
        if principal is None:
            raise Unauthorized("Send an API key as 'Authorization: Bearer <key>' or 'X-API-Key'.")
        missing = [s for s in scopes if not principal.allows(s)]
        if missing:
            raise Forbidden(f"This route needs scope {', '.join(missing)}.",
                            required_scopes=list(scopes))
        request.state.principal = principal
        return principal

    return dependency


def secured(
    *scopes: str,
    extra_errors: Iterable[int] = (),
    responses: dict[int | str, dict[str, Any]] | None = None,
    request_body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    dependencies: list[Any] | None = None,
) -> dict[str, Any]:
    """Route keyword arguments: the scope check, its OpenAPI security entry and error shapes.

    ``request_body`` and ``parameters`` document what a route reads by hand (raw bytes,
    headers) where FastAPI cannot infer it; ``dependencies`` run after the scope check.
    """
    from fastapi import Depends

    openapi_extra: dict[str, Any] = {
        "security": [{"ApiKeyAuth": list(scopes)}, {"BearerAuth": list(scopes)}],
        "x-required-scopes": list(scopes),
    }
    if request_body is not None:
        openapi_extra["requestBody"] = request_body
    if parameters is not None:
        openapi_extra["parameters"] = parameters
    return {
        "dependencies": [Depends(require_scopes(*scopes)), *(dependencies or [])],
        "openapi_extra": openapi_extra,
        "responses": {**problem_responses(401, 403, *extra_errors), **(responses or {})},
    }


def current_principal(request: Request) -> Principal:
    """The principal a ``secured`` route's scope check stored on the request."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        principal = principal_from_headers(request.headers)
    if principal is None:
        raise Unauthorized("No authenticated caller.")
    return principal
