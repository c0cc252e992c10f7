"""/v1/watchlist: customers whose risk moved the wrong way, for the desk's watch list."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from services.scoring.watchlist import service
from services.scoring.watchlist.schemas import Signal, SortKey, WatchFilter, WatchPage
from shared.app import DatabaseDep
from shared.auth import secured
from shared.db import Database

router = APIRouter(prefix="/v1/watchlist", tags=["risk"])
Text = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("", operation_id="risk-watchlist", summary="The watch list",
            description="Every scored customer beside its last default score before the "
                        "window (`since_days`): the tier then and now and the PD change. "
                        "`signal=tier_worsened` keeps those who moved down a tier, "
                        "`signal=pd_up` those whose PD rose by more than `min_pd_change`, "
                        "`signal=overdue_grew` those whose overdue amount grew; filter by "
                        "current tier, industry and owner; sort by `pd_change`, `pd`, "
                        "`overdue` or `overdue_change` (largest first); `cursor` pages on. "
                        "Each item "
                        "carries its last 12 PDs for a sparkline.",
            response_model=WatchPage, **secured("risk:read", extra_errors=[400, 422]))
def watch_list(
    db: Database = DatabaseDep,
    since_days: Annotated[int, Query(ge=1, le=3650)] = 30,
    signal: Signal = "all",
    min_pd_change: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
    tier: Literal["low", "medium", "high"] | None = None,
    industry: Text = None,
    owner: Text = None,
    sort: SortKey = "pd_change",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> WatchPage:
    filters = WatchFilter(since_days=since_days, signal=signal, min_pd_change=min_pd_change,
                          tier=tier, industry=industry, owner=owner, sort=sort)
    with db.read() as session:
        return service.watch_list(session, filters=filters, cursor=cursor, limit=limit)
