"""The cockpit's screens: each route gathers its API reads at once, shapes them for the page
(charts get their data and a table of the same numbers) and renders; each action posts to
the API as the signed-in user and returns to the page it came from."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.cockpit import charts
from services.cockpit.api import Api, ApiError, gather
from services.cockpit.web import (
    PREFIX,
    _,
    api_for,
    check_csrf,
    current_session,
    is_htmx,
    message,
    redirect,
    render,
    require,
    safe_next,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
ROUTERS = (router,)
TIERS = ("low", "medium", "high")
SEVERITIES = ("info", "warning", "critical")
ALERT_STATUSES = ("open", "acknowledged", "resolved")
REVIEW_DECISIONS = ("confirm", "override_tier", "change_credit_limit", "escalate", "exit")
REPORTS = ("portfolio", "migration", "aging", "concentration", "reviews")


class UnknownAction(Exception):
    pass


async def act(request: Request, back: str, work: Callable[[], Awaitable[Any]], *,
              refused: tuple[int, ...] = (401, 403)) -> Response:
    """Run one write through the API and go back to the page with what happened: the API's
    own words when it refuses (409, 422 …), a sign-in or a 403 page for ``refused``."""
    try:
        await work()
    except UnknownAction:
        return Response(status_code=404)
    except ApiError as error:
        if error.status in refused:
            raise
        return redirect(request, back, flash=("error", error.detail))
    return redirect(request, back, flash=("ok", message(request, "Done.")))


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


# --- overview ------------------------------------------------------------------------------

@router.get("")
async def root() -> Response:
    return Response(status_code=307, headers={"Location": f"{PREFIX}/"})


@router.get("/")
async def overview(request: Request) -> Response:
    session = current_session(request)
    api = api_for(request, session)
    reports = session.allows("reviews:read")
    portfolio, counts, sla, run_counts = await gather(
        api.maybe("/v1/reports/portfolio", allowed=reports),
        api.maybe("/v1/alerts/counts", allowed=session.allows("alerts:read")),
        api.maybe("/v1/reports/reviews", allowed=reports),
        api.maybe("/v1/playbook-runs/counts", {"drill": "false"},
                  allowed=session.allows("alerts:read")),
    )
    mix = tier_mix(portfolio) if portfolio else None
    tiles: dict[str, Any] = {}
    if mix:
        tiles["high_customers"] = mix["high_customer_share"]
        tiles["high_exposure"] = mix["high_exposure_share"]
    if counts:
        tiles["alerts"] = counts["unresolved_by_severity"]
    if sla:
        tiles["overdue_reviews"] = sum(row["overdue"] for row in sla["rows"])
    if run_counts:  # drills rehearse; they are not work in progress
        tiles["runs"] = {"open": run_counts["by_status"]["open"],
                         "overdue": run_counts["overdue"]}
    return render(request, "overview.html", {
        "tiles": tiles, "mix": mix, "show_trend": reports,
        "mix_chart": charts.tier_mix(mix, message_of(request)) if mix else None,
    }, session=session)


@router.get("/overview/trend")
async def overview_trend(request: Request) -> Response:
    """The weekly trend, loaded by the overview after it shows (a pass over the whole score
    history is the slowest read of the page; the tiles and the mix need not wait for it)."""
    session = current_session(request)
    require(session, "reports")
    trend = await tier_trend(api_for(request, session), weeks=6)
    return render(request, "_trend.html", {
        "trend": trend, "trend_chart": charts.tier_trend(trend, message_of(request))},
        session=session)


def message_of(request: Request) -> Any:
    return lambda text: message(request, text)


def tier_mix(portfolio: dict[str, Any]) -> dict[str, Any]:
    """Customers and exposure per tier (exposure in the portfolio's main currency)."""
    rows = [r for r in portfolio["rows"] if r["dimension"] == "tier"]
    by_currency: dict[str, float] = defaultdict(float)
    for row in rows:
        by_currency[row["currency"]] += float(row["exposure"])
    currency = max(by_currency, key=lambda c: by_currency[c]) if by_currency else "EUR"
    customers = dict.fromkeys(TIERS, 0)
    exposure = dict.fromkeys(TIERS, 0.0)
    for row in rows:
        if row["value"] in customers:
            customers[row["value"]] += row["customers"]
            if row["currency"] == currency:
                exposure[row["value"]] += float(row["exposure"])
    total_customers = sum(customers.values())
    total_exposure = sum(exposure.values())
    return {
        "currency": currency, "customers": customers, "exposure": exposure,
        "high_customer_share": customers["high"] / total_customers if total_customers else None,
        "high_exposure_share": exposure["high"] / total_exposure if total_exposure else None,
    }


async def tier_trend(api: Api, *, weeks: int) -> dict[str, Any]:
    """Customers per tier at the end of each of the last ``weeks`` weeks (one report read:
    the tier-trend report counts every week in one pass over the score history)."""
    answer = await api.get("/v1/reports/tier-trend", {"weeks": weeks,
                                                      "to_date": _today().isoformat()})
    counts: dict[str, dict[str, int]] = {}
    for row in answer["rows"]:
        week = counts.setdefault(row["date"], dict.fromkeys(TIERS, 0))
        if row["tier"] in week:
            week[row["tier"]] += row["customers"]
    ends = [_today() - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    return {"points": [{"week": end.isoformat(), **counts.get(end.isoformat(),
                                                              dict.fromkeys(TIERS, 0))}
                       for end in ends]}


# --- watch list ----------------------------------------------------------------------------

WATCH_FILTERS = ("signal", "tier", "industry", "owner", "sort", "since_days", "cursor")


@router.get("/watchlist")
async def watchlist(request: Request) -> Response:
    session = current_session(request)
    require(session, "watchlist")
    api = api_for(request, session)
    filters = {name: request.query_params.get(name) or None for name in WATCH_FILTERS}
    filters["signal"] = filters["signal"] or "all"
    page = await api.get("/v1/watchlist", {**filters, "limit": 50})
    for item in page["items"]:
        item["sparkline"] = sparkline(item["pd_history"])
    context = {"page": page, "filters": filters, "tiers": TIERS,
               "can_review": session.allows("reviews:write"),
               "next_url": _with(request, cursor=page.get("next_cursor"))}
    template = "_watch_table.html" if is_htmx(request) and \
        request.headers.get("hx-target") == "watch-table" else "watchlist.html"
    return render(request, template, context, session=session)


def sparkline(values: list[float], width: int = 96, height: int = 24) -> str:
    """SVG polyline points of a PD series (drawn on the server: fifty charts per page would
    cost the browser more than the table)."""
    if not values:
        return ""
    if len(values) == 1:  # one score so far: a flat line, "no change yet"
        values = values * 2
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
                    for i, v in enumerate(values))


@router.post("/watchlist/reviews")
async def open_reviews(request: Request) -> Response:
    """Bulk "open review" for the ticked customers; those with one open already are counted,
    not failed."""
    session = current_session(request)
    await check_csrf(request, session)
    form = await request.form()
    customers = [c for c in form.getlist("customer_id") if isinstance(c, str) and c][:200]
    back = safe_next(str(form.get("next") or ""), f"{PREFIX}/watchlist")
    reason = str(form.get("reason") or "") or message(request, "Opened from the watch list")
    api = api_for(request, session)

    async def one(customer_id: str) -> str:
        try:
            await api.post("/v1/reviews", {"customer_id": customer_id, "reason": reason,
                                           "assignee": session.name})
            return "opened"
        except ApiError as error:
            if error.status in (401, 403):
                raise
            return "open already" if error.status == 409 else "failed"

    outcomes = await gather(*(one(c) for c in customers))
    opened = outcomes.count("opened")
    text = message(request, "Reviews opened: %(opened)d; already open: %(open)d.") % {
        "opened": opened, "open": outcomes.count("open already")}
    return redirect(request, back, flash=("ok" if opened or not customers else "info", text))


# --- alerts --------------------------------------------------------------------------------

ALERT_FILTERS = ("status", "severity", "tier", "assignee", "customer_id", "cursor")


@router.get("/alerts")
async def alerts(request: Request) -> Response:
    session = current_session(request)
    require(session, "alerts")
    api = api_for(request, session)
    query = request.query_params
    filters = {name: query.get(name) or None for name in ALERT_FILTERS}
    if "status" not in query:
        filters["status"] = "open"
    page, counts = await gather(
        api.get("/v1/alerts", {**filters, "limit": 50}),
        api.get("/v1/alerts/counts", {k: v for k, v in filters.items() if k != "cursor"}))
    context = {"page": page, "counts": counts, "filters": filters,
               "statuses": ALERT_STATUSES, "severities": SEVERITIES, "tiers": TIERS,
               "can_write": session.allows("alerts:write"),
               "next_url": _with(request, cursor=page.get("next_cursor"))}
    template = "_alerts_table.html" if is_htmx(request) and \
        request.headers.get("hx-target") == "alerts-table" else "alerts.html"
    return render(request, template, context, session=session)


@router.get("/alerts/{alert_id}")
async def alert_detail(request: Request, alert_id: int) -> Response:
    session = current_session(request)
    require(session, "alerts")
    api = api_for(request, session)
    alert, comments = await gather(api.get(f"/v1/alerts/{alert_id}"),
                                   api.get(f"/v1/alerts/{alert_id}/comments"))
    runs = await api.maybe("/v1/playbook-runs", {"customer_id": alert["customer_id"],
                                                 "limit": 50})
    return render(request, "alert.html", {
        "alert": alert, "comments": comments, "can_write": session.allows("alerts:write"),
        "runs": [r for r in (runs or {}).get("items", []) if r["alert_id"] == alert_id],
        "reasons_chart": charts.reasons(alert.get("reasons") or [], message_of(request))},
        session=session)


@router.post("/alerts/take-next")
async def take_next(request: Request) -> Response:
    """The oldest open alert nobody holds, assigned to me; the API's conditional assignment
    (``if_unassigned``, decided under the row lock) makes two people never get the same."""
    session = current_session(request)
    form = await check_csrf(request, session)
    api = api_for(request, session)
    page = await api.get("/v1/alerts", {"status": "open", "since_id": 0, "limit": 200,
                                        "severity": form.get("severity") or None})
    for alert in page["items"]:
        if alert["assignee"] is not None:
            continue
        try:
            await api.put(f"/v1/alerts/{alert['id']}/assignee",
                          {"assignee": session.name, "if_unassigned": True})
        except ApiError as error:
            if error.status == 409:
                continue
            raise
        return redirect(request, f"{PREFIX}/alerts/{alert['id']}", flash=(
            "ok", message(request, "This alert is yours now.")))
    return redirect(request, safe_next(form.get("next"), f"{PREFIX}/alerts"), flash=(
        "info", message(request, "No unassigned open alert is left.")))


@router.post("/alerts/{alert_id}/{action}")
async def alert_action(request: Request, alert_id: int, action: str) -> Response:
    session = current_session(request)
    form = await check_csrf(request, session)
    api = api_for(request, session)
    back = safe_next(form.get("next"), f"{PREFIX}/alerts/{alert_id}")

    async def work() -> None:
        if action in ("acknowledge", "reopen"):
            await api.post(f"/v1/alerts/{alert_id}/{action}")
        elif action == "resolve":
            await api.post(f"/v1/alerts/{alert_id}/resolve")
        elif action == "assign":
            assignee = form.get("assignee", "").strip() or None
            await api.put(f"/v1/alerts/{alert_id}/assignee", {"assignee": assignee})
        elif action == "comment":
            await api.post(f"/v1/alerts/{alert_id}/comments", {"body": form.get("body", "")})
        elif action == "silence":
            hours_text = form.get("hours") or "24"
            hours = int(hours_text) if hours_text.isdigit() else 24
            alert = await api.get(f"/v1/alerts/{alert_id}")
            now = dt.datetime.now(dt.UTC)
            await api.post("/v1/silences", {
                "rule_id": alert["rule_id"], "customer_id": alert["customer_id"],
                "ends_at": (now + dt.timedelta(hours=max(1, min(hours, 24 * 90)))).isoformat(),
                "comment": form.get("comment") or message(request, "Silenced from the cockpit")})
        else:
            raise UnknownAction

    return await act(request, back, work, refused=(401, 403, 404))


def _with(request: Request, **changes: str | None) -> str | None:
    if any(v is None for v in changes.values()):
        return None
    params = dict(request.query_params)
    params.update({k: v for k, v in changes.items() if v is not None})
    query = "&".join(f"{quote(k)}={quote(str(v))}" for k, v in params.items() if v != "")
    return f"{request.url.path}?{query}"


# --- playbook runs -------------------------------------------------------------------------

RUN_FILTERS = ("status", "overdue", "assignee", "owner_role", "customer_id", "drill", "cursor")
STEP_ACTIONS = ("start", "done", "skip", "assign")


@router.get("/playbook-runs")
async def playbook_runs(request: Request) -> Response:
    session = current_session(request)
    require(session, "playbook-runs")
    filters = {name: request.query_params.get(name) or None for name in RUN_FILTERS}
    if "status" not in request.query_params:
        filters["status"] = "open"
    page = await api_for(request, session).get("/v1/playbook-runs", {**filters, "limit": 50})
    for run in page["items"]:
        run["done"] = sum(s["status"] in ("done", "skipped") for s in run["steps"])
        run["next_step"] = next((s for s in run["steps"]
                                 if s["status"] in ("pending", "in_progress")), None)
    context = {"page": page, "filters": filters,
               "next_url": _with(request, cursor=page.get("next_cursor"))}
    template = "_runs_table.html" if is_htmx(request) and \
        request.headers.get("hx-target") == "runs-table" else "playbook_runs.html"
    return render(request, template, context, session=session)


@router.get("/playbook-runs/{run_id}")
async def playbook_run(request: Request, run_id: int) -> Response:
    session = current_session(request)
    require(session, "playbook-runs")
    run = await api_for(request, session).get(f"/v1/playbook-runs/{run_id}")
    return render(request, "playbook_run.html", {
        "run": run, "can_write": session.allows("alerts:write")}, session=session)


@router.post("/playbook-runs/{run_id}/steps/{position}/{action}")
async def step_action(request: Request, run_id: int, position: int, action: str) -> Response:
    session = current_session(request)
    form = await check_csrf(request, session)
    api = api_for(request, session)
    back = f"{PREFIX}/playbook-runs/{run_id}"
    step = f"/v1/playbook-runs/{run_id}/steps/{position}"

    async def work() -> None:
        if action in ("start", "done"):
            await api.post(f"{step}/{action}")
        elif action == "skip":
            await api.post(f"{step}/skip", {"reason": form.get("reason", "")})
        elif action == "assign":
            await api.put(f"{step}/assignee",
                          {"assignee": form.get("assignee", "").strip() or None})
        else:
            raise UnknownAction

    return await act(request, back, work)


# --- customers -----------------------------------------------------------------------------

@router.get("/customers")
async def customer_search(request: Request) -> Response:
    session = current_session(request)
    require(session, "customers")
    wanted = (request.query_params.get("customer_id") or "").strip()
    if wanted:
        return redirect(request, f"{PREFIX}/customers/{quote(wanted, safe='')}")
    return render(request, "customers.html", {}, session=session)


@router.get("/customers/{customer_id}")
async def customer_file(request: Request, customer_id: str) -> Response:
    session = current_session(request)
    require(session, "customers")
    api = api_for(request, session)
    cid = quote(customer_id, safe="")
    customer, risk, scores, history, alerts_page, reviews_page, overrides, tiers = await gather(
        api.get(f"/v1/customers/{cid}"),
        api.maybe(f"/v1/customers/{cid}/risk"),
        api.maybe(f"/v1/customers/{cid}/scores", {"target": "default", "limit": 200}),
        api.maybe(f"/v1/customers/{cid}/profile-history", {"limit": 20},
                  allowed=session.allows("reviews:read")),
        api.maybe("/v1/alerts", {"customer_id": customer_id, "limit": 20},
                  allowed=session.allows("alerts:read")),
        api.maybe("/v1/reviews", {"customer_id": customer_id, "limit": 20},
                  allowed=session.allows("reviews:read")),
        api.maybe(f"/v1/tiers/overrides/{cid}"),
        api.get("/v1/tiers"),
    )
    say = message_of(request)
    points = sorted((scores or {}).get("items", []), key=lambda s: s["scored_at"])
    return render(request, "customer.html", {
        "customer": customer["customer"], "background": customer.get("history") or {},
        "risk": risk, "scores": points, "history": (history or {}).get("items", []),
        "alerts": (alerts_page or {}).get("items"), "reviews": (reviews_page or {}).get("items"),
        "override": next((o for o in overrides or [] if o["in_force"]), None),
        "tiers": TIERS, "thresholds": tiers["thresholds"],
        "pd_chart": charts.pd_history(points, tiers["thresholds"], say) if points else None,
        "reasons_chart": charts.reasons((risk or {}).get("reasons") or [], say),
        "can_override": session.allows("models:write"),
        "can_review": session.allows("reviews:write"),
        "default_expiry": (_today() + dt.timedelta(days=90)).isoformat(),
    }, session=session)


@router.post("/customers/{customer_id}/{action}")
async def customer_action(request: Request, customer_id: str, action: str) -> Response:
    session = current_session(request)
    form = await check_csrf(request, session)
    api = api_for(request, session)
    cid = quote(customer_id, safe="")
    back = f"{PREFIX}/customers/{cid}"

    async def work() -> None:
        if action == "override":
            expires = form.get("expires_on") or ""
            await api.put(f"/v1/tiers/overrides/{cid}", {
                "tier": form.get("tier"), "reason": form.get("reason", ""),
                "expires_at": f"{expires}T00:00:00Z" if expires else None})
        elif action == "lift-override":
            await api.delete(f"/v1/tiers/overrides/{cid}")
        elif action == "review":
            await api.post("/v1/reviews", {"customer_id": customer_id,
                                           "reason": form.get("reason", ""),
                                           "assignee": form.get("assignee") or None})
        else:
            raise UnknownAction

    return await act(request, back, work)


# --- credit decision -----------------------------------------------------------------------

@router.get("/decisions")
async def decision_form(request: Request) -> Response:
    session = current_session(request)
    require(session, "decisions")
    return render(request, "decision.html", {
        "form": {"customer_id": request.query_params.get("customer_id", ""),
                 "amount": "", "currency": "EUR"}, "result": None, "error": None},
        session=session)


@router.post("/decisions")
async def decide(request: Request) -> Response:
    session = current_session(request)
    require(session, "decisions")
    form = await check_csrf(request, session)
    api = api_for(request, session)
    result, error, status = None, None, 200
    try:
        result = await api.post("/v1/decisions/credit", {
            "customer_id": form.get("customer_id", "").strip(),
            "amount": form.get("amount", "").strip(),
            "currency": form.get("currency", "").strip().upper() or None})
    except ApiError as failure:
        if failure.status in (401, 403):
            raise
        error, status = failure.detail, failure.status
    template = "_decision_result.html" if is_htmx(request) else "decision.html"
    return render(request, template, {"form": form, "result": result, "error": error},
                  session=session, status_code=status)


# --- reports -------------------------------------------------------------------------------

@router.get("/reports")
async def reports(request: Request) -> Response:
    session = current_session(request)
    require(session, "reports")
    api = api_for(request, session)
    today = _today()
    from_date = request.query_params.get("from_date") or (today - dt.timedelta(days=90)
                                                          ).isoformat()
    to_date = request.query_params.get("to_date") or today.isoformat()
    top = request.query_params.get("top") or "20"
    period = {"from_date": from_date, "to_date": to_date}
    migration, aging, concentration, portfolio, sla = await gather(
        api.get("/v1/reports/migration", period), api.get("/v1/reports/aging"),
        api.get("/v1/reports/concentration", {"top": top}), api.get("/v1/reports/portfolio"),
        api.get("/v1/reports/reviews", period))
    say = message_of(request)
    matrix = charts.migration_matrix(migration["rows"])
    industries = [r for r in portfolio["rows"] if r["dimension"] == "industry"]
    return render(request, "reports.html", {
        "period": period, "top": top, "matrix": matrix, "aging": aging["rows"],
        "concentration": concentration, "industries": industries, "sla": sla["rows"],
        "migration_chart": charts.migration_heatmap(matrix, say),
        "aging_chart": charts.aging(aging["rows"], say),
        "pareto_chart": charts.pareto(concentration["rows"], say),
        "treemap_chart": charts.treemap(industries, say),
    }, session=session)


@router.get("/reports/{name}.csv")
async def report_csv(request: Request, name: str) -> Response:
    session = current_session(request)
    require(session, "reports")
    if name not in REPORTS:
        return Response(status_code=404)
    api = api_for(request, session)
    params = {k: v for k, v in request.query_params.items()
              if k in ("from_date", "to_date", "top")}
    answer = await api.request("GET", f"/v1/reports/{name}", params=params, accept="text/csv")
    return Response(answer.content, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="riskwatch-{name}.csv"'})


# --- reviews -------------------------------------------------------------------------------

REVIEW_FILTERS = ("status", "tier", "assignee", "customer_id", "due", "overdue", "cursor")


@router.get("/reviews")
async def reviews(request: Request) -> Response:
    session = current_session(request)
    require(session, "reviews")
    api = api_for(request, session)
    filters = {name: request.query_params.get(name) or None for name in REVIEW_FILTERS}
    page = await api.get("/v1/reviews", {**filters, "limit": 50})
    context = {"page": page, "filters": filters, "tiers": TIERS,
               "decisions": REVIEW_DECISIONS, "can_write": session.allows("reviews:write"),
               "next_url": _with(request, cursor=page.get("next_cursor"))}
    template = "_reviews_table.html" if is_htmx(request) and \
        request.headers.get("hx-target") == "reviews-table" else "reviews.html"
    return render(request, template, context, session=session)


@router.post("/reviews/{review_id}/{action}")
async def review_action(request: Request, review_id: int, action: str) -> Response:
    session = current_session(request)
    form = await check_csrf(request, session)
    api = api_for(request, session)
    back = safe_next(form.get("next"), f"{PREFIX}/reviews")

    async def work() -> None:
        if action == "assign":
            await api.post(f"/v1/reviews/{review_id}/assign",
                           {"assignee": form.get("assignee") or session.name})
        elif action == "start":
            await api.post(f"/v1/reviews/{review_id}/start")
        elif action == "complete":
            decision: dict[str, Any] = {"decision": form.get("decision"),
                                        "reason": form.get("reason", "")}
            if form.get("tier"):
                decision["tier"] = form["tier"]
            if form.get("expires_on"):
                decision["expires_at"] = f"{form['expires_on']}T00:00:00Z"
            if form.get("credit_limit"):
                decision["credit_limit"] = form["credit_limit"]
                decision["currency"] = (form.get("currency") or "EUR").upper()
            if form.get("escalate_to"):
                decision["escalate_to"] = form["escalate_to"]
            await api.post(f"/v1/reviews/{review_id}/complete", decision)
        else:
            raise UnknownAction

    return await act(request, back, work)


# --- models and tiers ----------------------------------------------------------------------

@router.get("/models")
async def models(request: Request) -> Response:
    session = current_session(request)
    require(session, "models")
    api = api_for(request, session)
    registry, tiers, distribution = await gather(
        api.get("/v1/models", {"limit": 50}), api.get("/v1/tiers"),
        api.get("/v1/tiers/distribution"))
    champions = [m for m in registry if m["status"] == "champion"]
    drifts, reports = await gather(
        gather(*(api.maybe(f"/v1/models/{m['id']}/drift") for m in champions)),
        gather(*(api.maybe(f"/v1/models/{m['id']}") for m in calibrated(registry))))
    drift = [d for d in drifts if d]
    say = message_of(request)
    calibrations = [{"model": m, "deciles": m["report"]["calibration"]["deciles"],
                     "slope": m["report"]["calibration"].get("slope")}
                    for m in reports if m and (m.get("report") or {}).get("calibration")]
    for bucket in distribution["buckets"]:
        bucket["label"] = charts.pd_label(bucket["from_pd"], bucket["to_pd"])
    return render(request, "models.html", {
        "models": registry, "tiers": tiers, "drift": drift,
        "drift_charts": [charts.drift(d, say) for d in drift],
        "distribution": distribution,
        "distribution_chart": charts.pd_distribution(distribution, say),
        "calibrations": calibrations,
        "calibration_charts": [charts.calibration(c["deciles"], say) for c in calibrations],
        "can_write": session.allows("models:write")}, session=session)


def calibrated(registry: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model of each target whose calibration the desk looks at: the champion, else the
    newest (the registry lists newest first)."""
    chosen: dict[str, dict[str, Any]] = {}
    for model in registry:
        held = chosen.get(model["target"])
        if held is None or (model["status"] == "champion" and held["status"] != "champion"):
            chosen[model["target"]] = model
    return list(chosen.values())


@router.post("/models/{model_id}/promote")
async def promote(request: Request, model_id: int) -> Response:
    session = current_session(request)
    form = await check_csrf(request, session)
    back = f"{PREFIX}/models"
    if form.get("confirm") != "yes":
        return redirect(request, back, flash=("error", message(
            request, "Tick the confirmation box to promote a model.")))
    return await act(request, back, lambda: api_for(request, session).post(
        f"/v1/models/{model_id}/promote"))


@router.post("/models/rollback")
async def rollback(request: Request) -> Response:
    session = current_session(request)
    form = await check_csrf(request, session)
    back = f"{PREFIX}/models"
    if form.get("confirm") != "yes":
        return redirect(request, back, flash=("error", message(
            request, "Tick the confirmation box to roll back.")))
    return await act(request, back, lambda: api_for(request, session).post(
        "/v1/models/rollback", {"target": form.get("target") or "default"}))


# --- operations ----------------------------------------------------------------------------

@router.get("/operations")
async def operations(request: Request) -> Response:
    session = current_session(request)
    require(session, "operations")
    api = api_for(request, session)
    admin, audit = session.allows("admin"), session.allows("audit:read")
    depth, dead, checkpoint = await gather(
        api.maybe("/v1/queue/depth", allowed=admin),
        api.maybe("/v1/queue/dead-letters", {"limit": 50}, allowed=admin),
        api.maybe("/v1/audit/checkpoint", allowed=audit))
    entries = None
    if checkpoint:
        entries = await api.maybe("/v1/audit", {
            "after_id": max(0, int(checkpoint["tree_size"]) - 25), "limit": 25})
    return render(request, "operations.html", {
        "depth": depth, "dead": dead, "checkpoint": checkpoint,
        "entries": list(reversed((entries or {}).get("items", []))), "admin": admin},
        session=session)


@router.post("/operations/dead-letters/{item_id}/retry")
async def retry_dead_letter(request: Request, item_id: int) -> Response:
    session = current_session(request)
    await check_csrf(request, session)
    back = f"{PREFIX}/operations"
    return await act(request, back, lambda: api_for(request, session).post(
        f"/v1/queue/dead-letters/{item_id}/retry"))


KEEP_FOR_CATALOGUE = (_("Silenced from the cockpit"),)
