"""Locales of the cockpit: Babel catalogues (zh_CN, en) read from their ``.po`` files at start
(compiled in memory, so no build step and no binary in the repository), the locale chosen by
the user's cookie, then the browser's Accept-Language, and numbers, money and dates formatted
per locale."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"  # the source text's market
LANG_COOKIE = "rw_lang"


@cache
def translations(locale: str) -> Translations:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The user's choice (cookie), else the browser's first supported language."""
    if cookie in LOCALES:
        return cookie
    wanted = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            wanted.append((quality, tag.replace("-", "_")))
    for _, tag in sorted(wanted, key=lambda w: -w[0]):
        if tag.lower().startswith("zh"):
            return "zh_CN"
        if tag.lower().startswith("en"):
            return "en"
    return DEFAULT_LOCALE


@dataclass(frozen=True)
class Formatter:
    """Numbers, money, shares and times in one locale (``None`` and junk show as a dash)."""

    locale: str

    @property
    def babel_locale(self) -> Locale:
        return Locale.parse(self.locale)

    def num(self, value: object, digits: int = 0) -> str:
        number = _decimal(value)
        if number is None:
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return numbers.format_decimal(number, format=pattern, locale=self.locale)

    def money(self, value: object, currency: str | None) -> str:
        number = _decimal(value)
        if number is None:
            return "–"
        return numbers.format_currency(number, currency or "EUR", locale=self.locale)

    def pct(self, value: object, digits: int = 1) -> str:
        number = _decimal(value)
        if number is None:
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
        return numbers.format_percent(number, format=pattern, locale=self.locale)

    def when(self, value: object) -> str:
        moment = _datetime(value)
        if moment is None:
            return "–"
        return dates.format_datetime(moment, format="short", tzinfo=dt.UTC,
                                     locale=self.locale) + " UTC"

    def day(self, value: object) -> str:
        day: object = value
        if isinstance(value, str):
            try:
                day = dt.date.fromisoformat(value[:10])
            except ValueError:
                return value
        if not isinstance(day, dt.date):
            return "–"
        return dates.format_date(day, format="medium", locale=self.locale)


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _datetime(value: object) -> dt.datetime | None:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if isinstance(value, dt.datetime) else None
