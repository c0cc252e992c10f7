"""The cockpit's message catalogues: extract every translatable text (templates and Python)
and merge it into ``locale/<locale>/LC_MESSAGES/messages.po``, keeping translations.

    python -m services.cockpit.catalogue          # update the .po files
    python -m services.cockpit.catalogue --check  # exit 1 when a text has no translation
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from services.cockpit.i18n import LOCALE_DIR, LOCALES

ROOT = Path(__file__).parent
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
# message(request, "text") and say("text") translate too.
KEYWORDS = {**DEFAULT_KEYWORDS, "message": (2,), "say": None}


def extracted() -> Catalog:
    catalog = Catalog(project="riskwatch cockpit", charset="utf-8")
    for filename, lineno, text, _comments, _context in extract_from_dir(
            ROOT, method_map=METHODS, keywords=KEYWORDS,
            options_map={"templates/**.html": {"trim_blocks": "true",
                                               "lstrip_blocks": "true"}}):
        if isinstance(text, str) and text:
            catalog.add(text, locations=[(filename, lineno)])
    return catalog


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


def missing(locale: str) -> list[str]:
    """Texts the code uses that the locale's catalogue does not translate."""
    with po_path(locale).open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    gaps = []
    for entry in extracted():
        if not isinstance(entry.id, str) or not entry.id:
            continue
        found = catalog.get(entry.id)
        if found is None or not found.string:
            gaps.append(entry.id)
    return sorted(gaps)


def update() -> None:
    template = extracted()
    for locale in LOCALES:
        path = po_path(locale)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=locale)
            catalog.update(template, no_fuzzy_matching=True)
        else:
            catalog = Catalog(locale=locale, project="riskwatch cockpit", charset="utf-8")
            catalog.update(template)
        if locale == "en":  # the source texts are English
            for entry in catalog:
                if entry.id and not entry.string:
                    entry.string = entry.id
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, omit_header=False, sort_output=True, width=100,
                     include_previous=False, ignore_obsolete=True, include_lineno=False)


if __name__ == "__main__":
    if "--check" in sys.argv:
        gaps = {locale: missing(locale) for locale in LOCALES}
        for locale, texts in gaps.items():
            for text in texts:
                print(f"{locale}: {text}")
        sys.exit(1 if any(gaps.values()) else 0)
    update()
