"""The signed-in user's session: a cookie sealed with Fernet (AES + HMAC, so it is both
encrypted and signed) holding the API key the user signed in with, its name and scopes, a
CSRF token and the time it was issued. The key never reaches the browser in clear, the cookie
is HttpOnly and SameSite=Lax, and the cockpit stores nothing server-side (any replica opens
any session)."""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass

from pydantic import SecretStr

from shared.secrets import SecretBox, SecretUnreadable

SESSION_COOKIE = "rw_session"
LOGIN_CSRF_COOKIE = "rw_signin"


@dataclass(frozen=True)
class Session:
    api_key: str
    name: str
    scopes: frozenset[str]
    csrf: str
    issued_at: float

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, token or "")


class SessionBox:
    def __init__(self, *, keys: SecretStr | None, max_age_seconds: float) -> None:
        self._box = SecretBox(keys=keys, purpose="cockpit-session",
                              setting="RISKWATCH_COCKPIT_SESSION_KEYS")
        self.max_age = max_age_seconds

    def new(self, *, api_key: str, name: str, scopes: list[str]) -> tuple[Session, str]:
        session = Session(api_key=api_key, name=name, scopes=frozenset(scopes),
                          csrf=secrets.token_urlsafe(24), issued_at=time.time())
        sealed = self._box.seal(json.dumps({
            "k": session.api_key, "n": session.name, "s": sorted(session.scopes),
            "c": session.csrf, "t": session.issued_at}))
        return session, sealed

    def open(self, cookie: str | None) -> Session | None:
        """The session, or None when the cookie is missing, forged, unreadable or expired."""
        if not cookie or len(cookie) > 4096:
            return None
        try:
            data = json.loads(self._box.open(cookie))
            session = Session(api_key=str(data["k"]), name=str(data["n"]),
                              scopes=frozenset(str(s) for s in data["s"]),
                              csrf=str(data["c"]), issued_at=float(data["t"]))
        except (SecretUnreadable, ValueError, KeyError, TypeError):
            return None
        if not 0 <= time.time() - session.issued_at <= self.max_age:
            return None
        return session
