"""Small helpers the scoring routers share."""

from __future__ import annotations

from fastapi import Request

from shared.auth import current_principal


def actor_of(request: Request) -> str:
    """Who is acting, as the audit log names them: the API key's name and id."""
    principal = current_principal(request)
    return f"{principal.name} ({principal.key_id})"
