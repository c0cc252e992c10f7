"""What the cockpit ships without a running stack: vendored assets unchanged and licensed,
complete catalogues, the sealed session, locale choice and the redirect guard."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from services.cockpit.api import ReportCache
from services.cockpit.catalogue import extracted, missing
from services.cockpit.i18n import LOCALES, Formatter, negotiate
from services.cockpit.screens import sparkline
from services.cockpit.session import SessionBox
from services.cockpit.web import safe_next
from tests.stack import ROOT

VENDOR_DIRS = [ROOT / "services/cockpit/static/vendor", ROOT / "tests/cockpit/vendor"]


@pytest.mark.parametrize("vendor", VENDOR_DIRS, ids=lambda p: p.parent.name)
def test_vendored_assets_match_their_checksums_and_carry_their_licences(vendor: Path) -> None:
    listed = {}
    for line in (vendor / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    for name, digest in listed.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    shipped = {str(p.relative_to(vendor)) for p in vendor.rglob("*")
               if p.is_file() and p.name not in ("SHA256SUMS", "README.md")}
    assert shipped == set(listed)  # nothing unlisted is served
    for script in (n for n in listed if n.endswith(".js")):
        folder = (vendor / script).parent
        assert (folder / "LICENSE").exists(), f"no licence beside {script}"


def test_templates_load_assets_from_this_origin_only() -> None:
    for template in (ROOT / "services/cockpit/templates").glob("*.html"):
        text = template.read_text()
        assert "http://" not in text and "https://" not in text, template.name


@pytest.mark.parametrize("locale", LOCALES)
def test_every_text_of_the_cockpit_is_translated(locale: str) -> None:
    assert len(extracted()) > 150  # the extraction really reads the templates
    assert missing(locale) == []


def test_the_session_cookie_is_sealed_and_refused_when_tampered_or_old() -> None:
    box = SessionBox(keys=None, max_age_seconds=60)
    session, sealed = box.new(api_key="rw_secret_key", name="ana", scopes=["alerts:read"])
    assert "rw_secret_key" not in sealed
    opened = box.open(sealed)
    assert opened == session and opened.allows("alerts:read") and not opened.allows("admin")
    assert box.open(sealed[:-2] + ("AA" if sealed[-2:] != "AA" else "BB")) is None
    assert box.open("not a cookie") is None and box.open(None) is None
    short = SessionBox(keys=None, max_age_seconds=0.01)
    _, brief = short.new(api_key="rw_secret_key", name="ana", scopes=[])
    time.sleep(0.05)
    assert short.open(brief) is None  # expired
    assert session.csrf_ok(session.csrf) and not session.csrf_ok("") \
        and not session.csrf_ok(None)


def test_the_locale_is_the_users_choice_then_the_browsers() -> None:
    assert negotiate("en", "zh-CN,zh;q=0.9") == "en"
    assert negotiate(None, "en-GB,en;q=0.9") == "en"
    assert negotiate(None, "de;q=0.9,zh-TW;q=0.8") == "zh_CN"
    assert negotiate("fr", None) == "zh_CN"
    assert Formatter("zh_CN").money("1234.5", "CNY") == "¥1,234.50"
    assert Formatter("en").pct(0.4167) == "41.7%"
    assert Formatter("en").num(None) == "–"


def test_only_paths_of_the_desk_are_redirect_targets() -> None:
    assert safe_next("/ui/alerts?status=open") == "/ui/alerts?status=open"
    for bad in ("//evil.example/ui", "https://evil.example/ui", "/elsewhere", "/ui\\x", None):
        assert safe_next(bad) == "/ui/"


def test_a_sparkline_spans_its_box_with_the_highest_pd_on_top() -> None:
    points = [tuple(map(float, p.split(","))) for p in sparkline([0.1, 0.3, 0.2]).split()]
    assert [x for x, _ in points] == [0.0, 48.0, 96.0]
    assert min(points, key=lambda p: p[1])[0] == 48.0  # SVG y grows downwards
    assert len(sparkline([0.2]).split()) == 2 and sparkline([]) == ""


def test_report_answers_are_reused_per_key_until_they_expire() -> None:
    cache = ReportCache(seconds=0.05)
    mine = cache.key("rw_key_a", "/v1/reports/aging", {"top": 5})
    assert mine == cache.key("rw_key_a", "/v1/reports/aging", [("top", "5")])
    assert mine != cache.key("rw_key_b", "/v1/reports/aging", {"top": 5})  # per key
    assert mine != cache.key("rw_key_a", "/v1/reports/aging", {"top": 6})
    cache.put(mine, {"rows": [1]})
    assert cache.get(mine) == {"rows": [1]}
    time.sleep(0.08)
    assert cache.get(mine) is None
    small = ReportCache(seconds=60, max_entries=2)
    for n in range(3):
        small.put(str(n), n)
    assert small.get("2") == 2 and len(small._entries) <= 2
