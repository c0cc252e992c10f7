"""The cockpit in a real headless Chromium (Debian's, never a downloaded browser), with every
request to another host refused: sign-in, each screen in both locales without a console
error, chart data equal to the API's, an alert acknowledged and an override set through the
pages and seen through the API, filters kept in the URL across back/forward, keyboard use,
and an axe scan with no serious or critical finding.

``RISKWATCH_SCREENSHOT_DIR=docs/screenshots`` also writes a screenshot of each screen in
both locales (the README links the committed set)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser import launch_chromium
from tests.cockpit.conftest import Desk

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENS = ["/ui/", "/ui/watchlist", "/ui/alerts", "/ui/playbook-runs",
           "/ui/customers/{customer}", "/ui/decisions", "/ui/reports", "/ui/reviews",
           "/ui/models", "/ui/operations"]
LOCAL = ("127.0.0.1", "localhost")


class Tab:
    """One signed-in page, its console errors and the requests it tried off the machine."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.page = context.new_page()
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._offline)

    def _offline(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOCAL:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def open(self, url: str) -> Any:
        self.page.goto(url)
        self.wait_for_charts()
        return self.page

    def wait_for_charts(self) -> None:
        if self.page.locator("#trend[aria-busy]").count():  # the overview's lazy section
            self.page.wait_for_selector("#chart-trend", timeout=20_000)
        self.page.wait_for_function(
            "() => [...document.querySelectorAll('[data-chart]')].every("
            "el => el.querySelector('svg'))", timeout=10_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium("cockpit browser tests")


@pytest.fixture(scope="module")
def tab(browser: Any, desk: Desk) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    tab = Tab(context)
    page = tab.page
    page.goto(f"{desk.gateway}/ui/")
    assert "/ui/sign-in" in page.url
    page.fill("#api_key", desk.stack.admin_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{desk.gateway}/ui/")
    assert page.get_by_role("heading", level=1).inner_text() == "Overview"
    yield tab
    context.close()


def api_get(desk: Desk, path: str, **params: Any) -> Any:
    with desk.api() as api:
        answer = api.get(path, params=params)
        answer.raise_for_status()
        return answer.json()


def a_customer(desk: Desk) -> str:
    """A customer with an alert (so its risk file shows one)."""
    customer: str = api_get(desk, "/v1/alerts", limit=1)["items"][0]["customer_id"]
    return customer


def test_every_screen_in_both_locales_draws_offline_without_console_errors(
        tab: Tab, desk: Desk) -> None:
    shots = os.environ.get("RISKWATCH_SCREENSHOT_DIR")
    customer = a_customer(desk)
    for locale in ("zh_CN", "en"):
        tab.page.goto(f"{desk.gateway}/ui/lang/{locale}?next=/ui/")
        for screen in SCREENS:
            page = tab.open(desk.gateway + screen.format(customer=customer))
            assert page.locator("main h1").count() == 1
            if shots:
                name = screen.strip("/").split("/")[1] if screen != "/ui/" else "overview"
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(shots) / f"{name}-{locale}.png"), full_page=True)
        assert tab.page.locator("html").get_attribute("lang") == (
            "zh-CN" if locale == "zh_CN" else "en")
    assert tab.errors == []
    assert tab.blocked == []  # nothing tried to leave the machine


def test_chart_data_equals_the_api(tab: Tab, desk: Desk) -> None:
    page = tab.open(f"{desk.gateway}/ui/")
    drawn = page.evaluate("""() => echarts.getInstanceByDom(document.getElementById('chart-mix'))
        .getOption().series[0].data.map(d => d.value)""")
    portfolio = api_get(desk, "/v1/reports/portfolio")
    expected = {t: 0 for t in ("low", "medium", "high")}
    for row in portfolio["rows"]:
        if row["dimension"] == "tier" and row["value"] in expected:
            expected[row["value"]] += row["customers"]
    assert drawn == list(expected.values())

    page = tab.open(f"{desk.gateway}/ui/reports")
    cells = page.evaluate("""() => echarts.getInstanceByDom(
        document.getElementById('chart-migration')).getOption().series[0].data""")
    tiers = page.evaluate("""() => echarts.getInstanceByDom(
        document.getElementById('chart-migration')).getOption().yAxis[0].data.length""")
    migration = api_get(desk, "/v1/reports/migration")
    assert sum(c[2] for c in cells) == sum(r["customers"] for r in migration["rows"])
    assert len(cells) == tiers * tiers
    table = page.locator("#table-migration td[data-value]").evaluate_all(
        "tds => tds.map(td => Number(td.dataset.value))")
    assert sorted(table) == sorted(c[2] for c in cells)  # the table shows the same numbers

    page = tab.open(f"{desk.gateway}/ui/models")
    bars = page.evaluate("""() => echarts.getInstanceByDom(
        document.getElementById('chart-distribution')).getOption().series[0].data
        .map(d => d.value)""")
    assert bars == [b["customers"] for b in api_get(desk, "/v1/tiers/distribution")["buckets"]]
    model = next(m for m in api_get(desk, "/v1/models") if m["target"] == "default")
    deciles = api_get(desk, f"/v1/models/{model['id']}")["report"]["calibration"]["deciles"]
    drawn = page.evaluate(f"""() => echarts.getInstanceByDom(
        document.getElementById('chart-calibration-{model["id"]}')).getOption().series
        .slice(2).map(s => s.data)""")
    assert drawn == [[d["predicted"] for d in deciles], [d["observed"] for d in deciles]]


def test_an_alert_acknowledged_on_the_page_is_acknowledged_in_the_api(
        tab: Tab, desk: Desk) -> None:
    page = tab.open(f"{desk.gateway}/ui/alerts?status=open")
    row = page.locator("#alerts-table tbody tr", has=page.get_by_role(
        "button", name="Acknowledge")).first
    alert_id = int(row.get_attribute("id").removeprefix("alert-"))
    row.get_by_role("button", name="Acknowledge").click()
    page.wait_for_function(f"() => !document.querySelector('#alert-{alert_id} button')")
    assert api_get(desk, f"/v1/alerts/{alert_id}")["status"] == "acknowledged"
    assert "/ui/alerts?status=open" in page.url  # still the filtered queue
    assert tab.errors == []


def test_filters_stay_in_the_url_across_back_and_forward(tab: Tab, desk: Desk) -> None:
    page = tab.open(f"{desk.gateway}/ui/alerts")
    page.get_by_label("Severity").select_option("warning")
    page.wait_for_url("**/ui/alerts?*severity=warning*")
    page.get_by_role("navigation", name="Screens").get_by_role("link", name="Reports").click()
    page.wait_for_url("**/ui/reports")
    page.go_back()
    page.wait_for_url("**/ui/alerts?*severity=warning*")
    assert page.get_by_label("Severity").input_value() == "warning"
    severities = page.locator("#alerts-table tbody .sev").all_inner_texts()
    assert severities and all("Warning" in s for s in severities)
    page.go_forward()
    page.wait_for_url("**/ui/reports")


def test_an_override_set_on_the_risk_file_is_in_force_in_the_api(tab: Tab, desk: Desk) -> None:
    customer = a_customer(desk)
    page = tab.open(f"{desk.gateway}/ui/customers/{customer}")
    form = page.locator("#override-form")
    form.get_by_label("Tier").select_option("high")
    form.get_by_label("Reason").fill("Main customer lost, awaiting accounts")
    form.get_by_role("button", name="Set override").click()
    page.wait_for_selector("#override-info")
    in_force = [o for o in api_get(desk, f"/v1/tiers/overrides/{customer}") if o["in_force"]]
    assert len(in_force) == 1 and in_force[0]["tier"] == "high"
    override = in_force[0]
    assert override["reason"] == "Main customer lost, awaiting accounts"


def test_the_desk_works_from_the_keyboard(tab: Tab, desk: Desk) -> None:
    page = tab.open(f"{desk.gateway}/ui/alerts")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.locator("a.brand").focus()
    for _ in range(12):
        page.keyboard.press("Tab")
        if (page.evaluate("document.activeElement.getAttribute('href')") or ""
                ).endswith("/ui/reports"):
            break
    else:
        pytest.fail("the Reports link is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/reports")


def test_no_serious_or_critical_accessibility_finding(browser: Any, tab: Tab,
                                                      desk: Desk) -> None:
    # axe is injected as a script, which the cockpit's CSP refuses: a context of its own
    # bypasses the CSP, signed in with the same session cookie.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.add_cookies(tab.context.cookies())
    scanner = Tab(context)
    customer = a_customer(desk)
    findings = {}
    for screen in SCREENS:
        page = scanner.open(desk.gateway + screen.format(customer=customer))
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        assert len(result["passes"]) > 10  # axe really ran its rules on the page
        bad = [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in result["violations"]
               if v["impact"] in ("serious", "critical")]
        if bad:
            findings[screen] = bad
    context.close()
    assert findings == {}
