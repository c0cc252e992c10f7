"""What every page shares: templates, the session and CSRF checks, locale, flash messages,
the navigation a key's scopes allow, and how API errors become pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.cockpit.api import Api
from services.cockpit.i18n import LANG_COOKIE, Formatter, negotiate, translations
from services.cockpit.session import SESSION_COOKIE, Session, SessionBox

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(["html"]), trim_blocks=True,
                        lstrip_blocks=True)
TEMPLATES.filters["tojson_attr"] = lambda value: json.dumps(value, ensure_ascii=False,
                                                            default=str)
FLASH_COOKIE = "rw_flash"
PREFIX = "/ui"


def _(message: str) -> str:
    """Marks a message in Python code for the catalogues; translated when rendered."""
    return message


@dataclass(frozen=True)
class Screen:
    slug: str
    title: str
    allowed: Callable[[Session], bool]


SCREENS = (
    Screen("", _("Overview"), lambda s: True),
    Screen("watchlist", _("Watch list"), lambda s: s.allows("risk:read")),
    Screen("alerts", _("Alerts"), lambda s: s.allows("alerts:read")),
    Screen("playbook-runs", _("Playbook runs"), lambda s: s.allows("alerts:read")),
    Screen("customers", _("Customer risk file"), lambda s: s.allows("risk:read")),
    Screen("decisions", _("Credit decision"), lambda s: s.allows("risk:read")),
    Screen("reports", _("Reports"), lambda s: s.allows("reviews:read")),
    Screen("reviews", _("Reviews"), lambda s: s.allows("reviews:read")),
    Screen("models", _("Models and tiers"), lambda s: s.allows("risk:read")),
    Screen("operations", _("Operations"),
           lambda s: s.allows("audit:read") or s.allows("admin")),
)
TIER_ICONS = {"low": "●", "medium": "◆", "high": "▲", "unscored": "○"}
SEVERITY_ICONS = {"info": "ⓘ", "warning": "⚠", "critical": "✖"}


class NotSignedIn(Exception):
    pass


class Forbidden(Exception):
    pass


class CsrfRefused(Exception):
    pass


def locale_of(request: Request) -> str:
    return negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def current_session(request: Request) -> Session:
    box: SessionBox = request.app.state.sessions
    session = box.open(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise NotSignedIn
    return session


def api_for(request: Request, session: Session) -> Api:
    return Api(request.app.state.client, session.api_key, request.app.state.report_cache)


def require(session: Session, slug: str) -> None:
    screen = next(s for s in SCREENS if s.slug == slug)
    if not screen.allowed(session):
        raise Forbidden


async def check_csrf(request: Request, session: Session) -> dict[str, str]:
    """The posted form, once its CSRF token matches the session's (else CsrfRefused)."""
    form = await request.form()
    token = request.headers.get("x-csrf-token") or form.get("csrf_token")
    if not session.csrf_ok(token if isinstance(token, str) else None):
        raise CsrfRefused
    return {k: v for k, v in form.items() if isinstance(v, str)}


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def safe_next(target: str | None, default: str = PREFIX + "/") -> str:
    """Only a path of this desk: never an absolute URL (no open redirect)."""
    if target and target.startswith(PREFIX) and not target.startswith("//") \
            and "\\" not in target and "://" not in target:
        return target
    return default


def render(request: Request, template: str, context: dict[str, Any], *,
           session: Session | None = None, status_code: int = 200) -> HTMLResponse:
    locale = locale_of(request)
    catalogue = translations(locale)
    flash = None
    raw_flash = request.cookies.get(FLASH_COOKIE)
    if raw_flash:
        try:
            flash = json.loads(raw_flash)
        except ValueError:
            flash = None
    path = request.url.path
    here = path[len(PREFIX):].strip("/").split("/", 1)[0]
    body = TEMPLATES.get_template(template).render(
        _=catalogue.gettext, ngettext=catalogue.ngettext, fmt=Formatter(locale),
        locale=locale, html_lang="zh-CN" if locale == "zh_CN" else "en",
        session=session, csrf=session.csrf if session else "",
        screens=[s for s in SCREENS if session and s.allowed(session)], here=here,
        current_url=path + (f"?{request.url.query}" if request.url.query else ""),
        tier_icons=TIER_ICONS, severity_icons=SEVERITY_ICONS, flash=flash,
        htmx=is_htmx(request), prefix=PREFIX, **context)
    response = HTMLResponse(body, status_code=status_code)
    if raw_flash:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def redirect(request: Request, target: str, *, flash: tuple[str, str] | None = None
             ) -> Response:
    """303 to ``target``; an htmx request is told to load it (HX-Location keeps the swap)."""
    response: Response = RedirectResponse(target, status_code=303)
    if flash:
        secure = request.app.state.cockpit_settings.cookie_secure
        response.set_cookie(FLASH_COOKIE, json.dumps({"kind": flash[0], "text": flash[1]}),
                            max_age=60, path=PREFIX, httponly=True, samesite="lax",
                            secure=secure)
    return response


def sign_in_redirect(request: Request) -> Response:
    target = f"{PREFIX}/sign-in?next={quote(safe_next(str(request.url.path)))}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def message(request: Request, text: str) -> str:
    """A Python-side message translated for this request's locale."""
    return translations(locale_of(request)).gettext(text)
