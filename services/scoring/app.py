"""Scoring service: features, models, scores, tiers and credit decisions."""

from __future__ import annotations

from fastapi import FastAPI

from services.scoring.decisions.router import router as decisions_router
from services.scoring.jobs.router import router as jobs_router
from services.scoring.models.router import router as models_router
from services.scoring.scores.router import router as risk_router
from services.scoring.tiers.router import router as tiers_router
from services.scoring.watchlist.router import router as watchlist_router
from shared import audit
from shared.app import create_service_app

TAGS = [
    {"name": "risk", "description": "Current risk and score history per customer"},
    {"name": "decisions", "description": "Credit decisions"},
    {"name": "models", "description": "Training, backtests, promotion and drift"},
    {"name": "tiers", "description": "Tier thresholds and strategies"},
]


def create_app(database_url: str | None = None) -> FastAPI:
    return create_service_app(
        name="scoring",
        title="riskwatch scoring",
        description="Default and churn risk, explained, tiered and used for credit decisions.",
        routers=[risk_router, watchlist_router, decisions_router, tiers_router, models_router,
                 jobs_router],
        tags=TAGS,
        database_url=database_url,
        on_startup=_on_startup,
    )


def _on_startup(app: FastAPI) -> None:
    # Credit decisions' audit entries, committed together when they arrive together. An
    # entry is one small INSERT, so a batch mostly waits for its commit's flush to disk:
    # four batches in flight kept the p99 of one at a time's (bench/README.md).
    app.state.audit_log = audit.appender(
        app.state.db, writers=4, on_flush=app.state.metrics.group_commit_observer("audit"))
