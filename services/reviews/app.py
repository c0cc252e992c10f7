"""Reviews service: periodic reviews, risk profile history, reports; also serves the audit log."""

from __future__ import annotations

from fastapi import FastAPI

from services.reviews.audit.router import router as audit_router
from services.reviews.history.router import router as history_router
from services.reviews.policies.router import router as policies_router
from services.reviews.queue.metrics import install_queue_metrics
from services.reviews.queue.router import router as queue_router
from services.reviews.reports.router import router as reports_router
from services.reviews.reviews.router import router as reviews_router
from shared.app import create_service_app

TAGS = [
    {"name": "reviews", "description": "Periodic, triggered and ad-hoc reviews and decisions"},
    {"name": "review-policies", "description": "Review cadence per tier and the SLA"},
    {"name": "profile-history", "description": "The customer's risk file over time"},
    {"name": "reports", "description": "Portfolio, migration, aging, concentration, reviews"},
    {"name": "audit", "description": "Verifiable audit log of risk decisions: a Merkle tree "
                                     "with signed checkpoints, proofs and exports"},
    {"name": "queue", "description": "Work queue depth and dead letters"},
]


def create_app(database_url: str | None = None) -> FastAPI:
    return create_service_app(
        name="reviews",
        title="riskwatch reviews",
        description="Periodic reviews by tier, decisions, risk history and portfolio reports.",
        routers=[reviews_router, policies_router, history_router, reports_router,
                 audit_router, queue_router],
        tags=TAGS,
        database_url=database_url,
        on_startup=install_queue_metrics,
    )
