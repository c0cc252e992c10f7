"""ECharts options built on the server from API answers: the page embeds each option as
JSON beside a table of the same numbers (the browser only draws). ``say`` translates a
label for the request's locale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.cockpit.web import _

Say = Callable[[str], str]
TIERS = ("low", "medium", "high")
# Dark enough for 3:1 against white (WCAG non-text contrast); tiers also carry text and an
# icon, and ECharts' decal patterns (aria.decal) tell series apart without colour.
TIER_COLOURS = {"low": "#1b7f3b", "medium": "#a15c00", "high": "#b3261e", "unscored": "#5f6368"}
TIER_NAMES = {"low": _("Low"), "medium": _("Medium"), "high": _("High"),
              "unscored": _("Unscored")}
BUCKETS = ("1-30", "31-60", "61-90", "90+")


def _base(title: str, say: Say) -> dict[str, Any]:
    return {"aria": {"enabled": True, "decal": {"show": True}},
            "title": {"text": say(title), "left": "center", "textStyle": {"fontSize": 14}},
            "tooltip": {}, "animation": False}


def tier_mix(mix: dict[str, Any], say: Say) -> dict[str, Any]:
    names = [say(TIER_NAMES[t]) for t in TIERS]
    option = _base(_("Tier mix by customers and exposure"), say)
    option.update({
        "legend": {"bottom": 0},
        "grid": {"top": 40, "bottom": 30, "containLabel": True},
        "xAxis": {"type": "category", "data": names},
        "yAxis": [{"type": "value", "name": say("Customers")},
                  {"type": "value", "name": say("Exposure") + f" ({mix['currency']})"}],
        "series": [
            {"name": say("Customers"), "type": "bar", "data": [
                {"value": mix["customers"][t], "itemStyle": {"color": TIER_COLOURS[t]}}
                for t in TIERS]},
            {"name": say("Exposure"), "type": "bar", "yAxisIndex": 1, "itemStyle": {
                "color": "#3c4a8f"},
             "data": [round(mix["exposure"][t], 2) for t in TIERS]},
        ]})
    return option


def tier_trend(trend: dict[str, Any], say: Say) -> dict[str, Any]:
    option = _base(_("Customers per tier by week"), say)
    option.update({
        "legend": {"bottom": 0}, "tooltip": {"trigger": "axis"},
        "grid": {"top": 40, "bottom": 30, "containLabel": True},
        "xAxis": {"type": "category", "data": [p["week"] for p in trend["points"]]},
        "yAxis": {"type": "value"},
        "series": [{"name": say(TIER_NAMES[t]), "type": "line", "stack": "tiers",
                    "areaStyle": {}, "color": TIER_COLOURS[t],
                    "data": [p[t] for p in trend["points"]]} for t in TIERS]})
    return option


def reasons(items: list[dict[str, Any]], say: Say) -> dict[str, Any] | None:
    if not items:
        return None
    ordered = list(reversed(items))
    option = _base(_("Reasons (points)"), say)
    option.update({
        "grid": {"left": 8, "right": 24, "top": 36, "containLabel": True},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "data": [r["feature"] for r in ordered]},
        "series": [{"type": "bar", "name": say("Points"), "data": [
            {"value": r["points"], "itemStyle": {
                "color": "#b3261e" if (r["points"] or 0) < 0 else "#1b7f3b"}}
            for r in ordered]}]})
    return option


def pd_history(points: list[dict[str, Any]], thresholds: dict[str, float],
               say: Say) -> dict[str, Any]:
    """PD and points over time; tier bands behind the PD line, model changes marked."""
    times = [p["scored_at"] for p in points]
    changes = [{"xAxis": p["scored_at"], "name": p["model_version"]}
               for before, p in zip(points, points[1:], strict=False)
               if p["model_version"] != before["model_version"]]
    medium, high = thresholds.get("medium", 0.02), thresholds.get("high", 0.1)
    # Room for the high band above the worst PD seen, not the whole 0–1 range.
    top = min(1.0, round(max([p["pd"] for p in points] + [high]) * 1.3, 3))
    option = _base(_("PD and points over time"), say)
    option.update({
        "legend": {"bottom": 0}, "tooltip": {"trigger": "axis"},
        "grid": {"top": 40, "bottom": 30, "containLabel": True},
        "xAxis": {"type": "category", "data": [t[:16].replace("T", " ") for t in times]},
        "yAxis": [{"type": "value", "name": "PD", "max": top},
                  {"type": "value", "name": say("Points")}],
        "series": [
            {"name": "PD", "type": "line", "color": "#3c4a8f",
             "data": [round(p["pd"], 6) for p in points],
             "markArea": {"silent": True, "data": [
                 [{"yAxis": 0, "itemStyle": {"color": "rgba(27,127,59,0.08)"},
                   "name": say("Low")}, {"yAxis": medium}],
                 [{"yAxis": medium, "itemStyle": {"color": "rgba(161,92,0,0.10)"},
                   "name": say("Medium")}, {"yAxis": high}],
                 [{"yAxis": high, "itemStyle": {"color": "rgba(179,38,30,0.08)"},
                   "name": say("High")}, {"yAxis": top}]]},
             "markLine": {"symbol": "none", "label": {"formatter": "{b}"},
                          "data": changes}},
            {"name": say("Points"), "type": "line", "yAxisIndex": 1, "color": "#5f6368",
             "data": [p["points"] for p in points]},
        ]})
    return option


def migration_matrix(rows: list[dict[str, Any]]) -> dict[str, Any]:
    order = ["unscored", *TIERS]
    present = [t for t in order if any(r["from_tier"] == t or r["to_tier"] == t
                                       for r in rows)] or list(TIERS)
    cells = {(r["from_tier"], r["to_tier"]): r for r in rows}
    return {"tiers": present, "cells": {
        f: {t: {"customers": cells[(f, t)]["customers"], "rate": cells[(f, t)]["rate"]}
            if (f, t) in cells else {"customers": 0, "rate": 0.0} for t in present}
        for f in present}}


def migration_heatmap(matrix: dict[str, Any], say: Say) -> dict[str, Any]:
    tiers = matrix["tiers"]
    data = [[j, i, matrix["cells"][f][t]["customers"]]
            for i, f in enumerate(tiers) for j, t in enumerate(tiers)]
    option = _base(_("Tier migration (customers)"), say)
    option.update({
        "tooltip": {"position": "top"},
        "grid": {"top": 40, "bottom": 60, "containLabel": True},
        "xAxis": {"type": "category", "name": say("To"),
                  "data": [say(TIER_NAMES[t]) for t in tiers]},
        "yAxis": {"type": "category", "name": say("From"),
                  "data": [say(TIER_NAMES[t]) for t in tiers]},
        "visualMap": {"min": 0, "max": max([d[2] for d in data] + [1]), "calculable": True,
                      "orient": "horizontal", "left": "center", "bottom": 0,
                      "inRange": {"color": ["#f1f3f9", "#3c4a8f"]}},
        "series": [{"type": "heatmap", "name": say("Customers"), "data": data,
                    "label": {"show": True}}]})
    return option


def aging(rows: list[dict[str, Any]], say: Say) -> dict[str, Any]:
    amounts = dict.fromkeys(BUCKETS, 0.0)
    for row in rows:
        amounts[row["bucket"]] = amounts.get(row["bucket"], 0.0) + float(row["overdue_amount"])
    option = _base(_("Overdue by age"), say)
    option.update({
        "grid": {"top": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": list(amounts)},
        "yAxis": {"type": "value"},
        "series": [{"type": "bar", "name": say("Overdue amount"), "color": "#a15c00",
                    "data": [round(v, 2) for v in amounts.values()]}]})
    return option


def pareto(rows: list[dict[str, Any]], say: Say) -> dict[str, Any]:
    cumulative, running = [], 0.0
    for row in rows:
        running += row["share_of_currency_total"]
        cumulative.append(round(running * 100, 2))
    option = _base(_("Largest exposures (Pareto)"), say)
    option.update({
        "legend": {"bottom": 0}, "tooltip": {"trigger": "axis"},
        "grid": {"top": 40, "bottom": 30, "containLabel": True},
        "xAxis": {"type": "category", "data": [r["customer_id"] for r in rows],
                  "axisLabel": {"rotate": 45}},
        "yAxis": [{"type": "value", "name": say("Exposure")},
                  {"type": "value", "name": "%", "max": 100}],
        "series": [
            {"type": "bar", "name": say("Exposure"), "color": "#3c4a8f",
             "data": [float(r["exposure"]) for r in rows]},
            {"type": "line", "name": say("Cumulative share"), "yAxisIndex": 1,
             "color": "#b3261e", "data": cumulative}]})
    return option


def treemap(industries: list[dict[str, Any]], say: Say) -> dict[str, Any]:
    totals: dict[str, float] = {}
    for row in industries:
        totals[row["value"]] = totals.get(row["value"], 0.0) + float(row["exposure"])
    option = _base(_("Exposure by industry"), say)
    option.update({"series": [{
        "type": "treemap", "name": say("Exposure"), "roam": False, "nodeClick": False,
        "breadcrumb": {"show": False}, "top": 36,
        "data": [{"name": name, "value": round(value, 2)}
                 for name, value in sorted(totals.items(), key=lambda kv: -kv[1])]}]})
    return option


def drift(report: dict[str, Any], say: Say) -> dict[str, Any]:
    features = sorted(report["features"].items(), key=lambda kv: -(kv[1]["psi"] or 0))
    option = _base(_("Drift (PSI per feature)"), say)
    option.update({
        "grid": {"top": 40, "containLabel": True},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "data": [name for name, _check in features]},
        "series": [{"type": "bar", "name": "PSI", "color": "#3c4a8f",
                    "data": [round(check["psi"] or 0, 4) for _name, check in features]}]})
    return option


def pd_label(low: float, high: float) -> str:
    return f"{low * 100:g}–{high * 100:g}%"


def pd_distribution(dist: dict[str, Any], say: Say) -> dict[str, Any]:
    """Customers per PD bucket, each bar in its tier's colour, a line where each tier
    starts."""
    labels = [pd_label(b["from_pd"], b["to_pd"]) for b in dist["buckets"]]
    starts = []
    for name in ("medium", "high"):
        cut = dist["thresholds"][name]
        at = next((i for i, b in enumerate(dist["buckets"]) if b["from_pd"] == cut), None)
        if at is not None:
            starts.append({"xAxis": labels[at], "name": f"{say(TIER_NAMES[name])} ≥ "
                                                        f"{cut * 100:g}%"})
    option = _base(_("Score distribution with tier cut-offs"), say)
    option.update({
        "grid": {"top": 40, "bottom": 30, "containLabel": True},
        "xAxis": {"type": "category", "data": labels, "name": "PD",
                  "axisLabel": {"rotate": 45}},
        "yAxis": {"type": "value", "name": say("Customers")},
        "series": [{"type": "bar", "name": say("Customers"), "barCategoryGap": "5%",
                    "data": [{"value": b["customers"],
                              "itemStyle": {"color": TIER_COLOURS[b["tier"]]}}
                             for b in dist["buckets"]],
                    "markLine": {"symbol": "none", "lineStyle": {"color": "#202124",
                                                                 "type": "dashed"},
                                 "label": {"formatter": "{b}", "position": "insideEndTop"},
                                 "data": starts}}]})
    return option


def calibration(deciles: list[dict[str, Any]], say: Say) -> dict[str, Any]:
    """Predicted and observed default rate per decile, with the 95 % binomial interval of the
    observed rate drawn as a band (a transparent lower bound with the width stacked on it)."""
    labels = [str(i + 1) for i in range(len(deciles))]
    low = [round(d["interval"][0], 6) for d in deciles]
    width = [round(d["interval"][1] - d["interval"][0], 6) for d in deciles]
    option = _base(_("Calibration by decile"), say)
    option.update({
        "legend": {"bottom": 0, "data": [say("Predicted"), say("Observed"),
                                         say("95% interval")]},
        "tooltip": {"trigger": "axis"},
        "grid": {"top": 40, "bottom": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": labels, "name": say("Decile")},
        "yAxis": {"type": "value", "name": say("Default rate")},
        "series": [
            {"name": "lower", "type": "line", "stack": "interval", "symbol": "none",
             "lineStyle": {"opacity": 0}, "tooltip": {"show": False}, "data": low},
            {"name": say("95% interval"), "type": "line", "stack": "interval",
             "symbol": "none", "lineStyle": {"opacity": 0}, "color": "#9aa0c8",
             "areaStyle": {"color": "#9aa0c8", "opacity": 0.5}, "data": width},
            {"name": say("Predicted"), "type": "line", "color": "#3c4a8f",
             "data": [d["predicted"] for d in deciles]},
            {"name": say("Observed"), "type": "line", "color": "#b3261e",
             "lineStyle": {"type": "dashed"}, "symbol": "diamond",
             "data": [d["observed"] for d in deciles]},
        ]})
    return option
