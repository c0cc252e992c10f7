"""Sign-in (an API key swapped for a sealed session cookie), sign-out, and the language
switch."""

from __future__ import annotations

import hmac
import secrets

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.cockpit.i18n import LANG_COOKIE, LOCALES
from services.cockpit.session import LOGIN_CSRF_COOKIE, SESSION_COOKIE, SessionBox
from services.cockpit.web import (
    PREFIX,
    CsrfRefused,
    check_csrf,
    current_session,
    message,
    render,
    safe_next,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _sign_in_page(request: Request, *, error: str | None = None, status_code: int = 200
                  ) -> Response:
    # Sign-in CSRF: a random token in a cookie and in the form must match (double submit).
    token = secrets.token_urlsafe(24)
    response = render(request, "sign_in.html", {
        "signin_csrf": token, "error": error,
        "next": safe_next(request.query_params.get("next"))}, status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path=PREFIX, httponly=True,
                        samesite="strict",
                        secure=request.app.state.cockpit_settings.cookie_secure)
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    posted = form.get("csrf_token")
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not (isinstance(posted, str) and expected and hmac.compare_digest(posted, expected)):
        raise CsrfRefused
    api_key = form.get("api_key")
    if not isinstance(api_key, str) or not api_key.strip() or len(api_key) > 512:
        return _sign_in_page(request, error=message(request, "Enter an API key."),
                             status_code=422)
    client: httpx.AsyncClient = request.app.state.client
    answer = await client.get("/v1/whoami",
                              headers={"Authorization": f"Bearer {api_key.strip()}"})
    if answer.status_code != 200:
        return _sign_in_page(request, error=message(
            request, "This key is not valid (unknown or revoked)."), status_code=401)
    identity = answer.json()
    box: SessionBox = request.app.state.sessions
    _, sealed = box.new(api_key=api_key.strip(), name=identity["name"],
                        scopes=identity["scopes"])
    target = form.get("next")
    response = RedirectResponse(safe_next(target if isinstance(target, str) else None),
                                status_code=303)
    response.set_cookie(SESSION_COOKIE, sealed, max_age=int(box.max_age), path=PREFIX,
                        httponly=True, samesite="lax",
                        secure=request.app.state.cockpit_settings.cookie_secure)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    await check_csrf(request, current_session(request))
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/lang/{locale}")
async def choose_language(request: Request, locale: str) -> Response:
    """The user's language choice, kept in a cookie (a preference, not account state)."""
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    if locale in LOCALES:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, path=PREFIX,
                            samesite="lax",
                            secure=request.app.state.cockpit_settings.cookie_secure)
    return response
