"""Scoring customers: features -> champion scores -> current risk, score history, and
score-changed work for alerts and reviews when the risk moved materially.

Idempotent: scoring twice from the same stored events gives the same result, and a history
entry is written only when the result differs from the current one (so a redelivered work
item or a quiet nightly run adds nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.scoring.features.service import FeatureFrame, features_for
from services.scoring.scores import engine, repository
from services.scoring.scores.points import points_array
from services.scoring.tiers.service import (
    TierInForce,
    TierPolicy,
    current_policy,
    policy_at_version,
    tier_in_force,
)
from shared import audit, queue
from shared.bulk import table_of
from shared.db import Database, Lock, among, xact_lock
from shared.models import Customer, utcnow
from shared.models.scoring import CustomerRisk, Score
from shared.topics import (
    ALERTS_SCORE_CHANGED,
    REVIEWS_SCORE_CHANGED,
    SCORING_EXPLAIN,
    has_consumer,
)

# A move is material when the tier changes, PD moves by 2 points of percentage, or by a
# quarter of itself (for PDs from 1 % up).
MATERIAL_ABSOLUTE = 0.02
MATERIAL_RELATIVE = 0.25
IN_DEFAULT_REASON = {"feature": "in_default", "value": 1, "points": None,
                     "text": "The customer is in default (a default was reported)"}


@dataclass(frozen=True)
class Scored:
    customer_id: str
    pd: float
    tier: str
    moved: bool


def material_move(previous: Any, pd: float, tier: str) -> bool:
    """Whether a score moved enough to tell alerts and reviews (``previous``: the stored
    risk's row, None for a first score)."""
    if previous is None:
        return tier != "low"
    if previous.tier != tier:
        return True
    old = float(previous.pd_default)
    if abs(pd - old) >= MATERIAL_ABSOLUTE:
        return True
    return max(pd, old) >= 0.01 and abs(pd - old) >= MATERIAL_RELATIVE * max(old, 1e-9)


def lock_customers(session: Session, customer_ids: Sequence[str]) -> None:
    """Serialise scoring of a customer across worker replicas (PostgreSQL; SQLite's single
    writer already does), so an older computation never overwrites a newer one. Locks are
    taken in id order, so two batches never deadlock."""
    xact_lock(session, Lock.CUSTOMER_SCORING, *customer_ids)


# What a new score is compared with. Not the stored reasons: an unchanged score keeps its
# reasons by not writing them (reading and writing them back was a fifth of a rescore).
_PREVIOUS = (CustomerRisk.customer_id, CustomerRisk.pd_default, CustomerRisk.tier,
             CustomerRisk.model_version, CustomerRisk.pd_churn,
             CustomerRisk.churn_model_version, CustomerRisk.overdue_amount)


def score_frame(session: Session, frame: FeatureFrame, *, trigger: str,
                now: dt.datetime | None = None, policy: TierPolicy | None = None,
                scorers: dict[str, engine.Scorer] | None = None,
                shadow: Sequence[engine.Scorer] | None = None,
                explain_later: bool = False) -> list[Scored]:
    """Score every customer of the frame and store the results (flush only).

    ``explain_later``: scores first, explanations after. The moved scores are stored without
    their (tree model's) reasons, and their score-changed notices go to ``scoring.explain``
    instead of alerts and reviews: :mod:`services.scoring.scores.explain` adds the reasons,
    then tells them. For a rescore after a promotion, which moves nearly every score and
    would otherwise spend most of its time in ``pred_contrib``."""
    if len(frame) == 0:
        return []
    now = now or utcnow()
    policy = policy or current_policy(session)
    scorers = scorers or engine.champions(session)
    shadow = engine.challengers(session) if shadow is None else shadow
    ids = frame.customer_ids
    default = scorers["default"].score(session, frame)
    churn = scorers["churn"].score(session, frame)
    pd_default = default.pd.copy()
    pd_default[frame.in_default] = 1.0
    pd_churn = churn.pd
    points = points_array(pd_default)
    churn_points = points_array(pd_churn)
    previous = {row.customer_id: row for row in session.execute(
        select(*_PREVIOUS).where(among(session, CustomerRisk.customer_id, ids)))}
    d_scorer, c_scorer = scorers["default"], scorers["churn"]
    tiers = [policy.tier_for(float(pd)) for pd in pd_default]
    moved = np.array([material_move(previous.get(cid), float(pd_default[i]), tiers[i])
                      for i, cid in enumerate(ids)], dtype=bool)
    default_same = np.array([_same(previous.get(cid), "pd_default", "model_version",
                                   float(pd_default[i]), d_scorer.model_version)
                             for i, cid in enumerate(ids)], dtype=bool)
    churn_same = np.array([_same(previous.get(cid), "pd_churn", "churn_model_version",
                                 float(pd_churn[i]), c_scorer.model_version)
                           for i, cid in enumerate(ids)], dtype=bool)
    # Reasons are computed for the scores that changed; an unchanged score keeps its stored
    # reasons. A tree model's (costly) only where the score moved materially (alerts and
    # reviews are told, and show why): any other is explained on first read. A scorecard's
    # (cheap) wherever the score changed, and for every row of recomputed features, whose
    # values its sentences quote.
    deferred = explain_later and not default.cheap
    explain_now = ~frame.in_default & (
        (~default_same | (not frame.stored)) if default.cheap else (moved & (not deferred)))
    default_reasons = default.reasons_for(np.flatnonzero(explain_now))
    churn_reasons_now = churn.reasons_for(np.flatnonzero(
        ~churn_same | (not frame.stored))) if churn.cheap else {}
    risk_rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    # History entries of an unchanged score (its tier or overdue amount changed): they carry
    # the stored reasons, read below for just those customers.
    with_stored_reasons: list[dict[str, Any]] = []
    notices: list[tuple[str, dict[str, Any]]] = []  # (customer, score-changed payload)
    results: list[Scored] = []
    feature_rows = [] if frame.stored else frame.rows()
    for i, cid in enumerate(ids):
        pd, tier = float(pd_default[i]), tiers[i]
        prev = previous.get(cid)
        churn_pd = float(pd_churn[i])
        risk_row = {
            "customer_id": cid, "pd_default": pd, "points": int(points[i]), "tier": tier,
            "model_id": d_scorer.model_id, "model_version": d_scorer.model_version,
            "pd_churn": churn_pd, "churn_model_id": c_scorer.model_id,
            "churn_model_version": c_scorer.model_version,
            "feature_set": d_scorer.feature_set,
            "feature_set_version": d_scorer.feature_set_version,
            "tier_config_version": policy.version, "trigger": trigger, "scored_at": now,
        }
        if frame.in_default[i]:
            risk_row["reasons"] = [IN_DEFAULT_REASON]
        elif i in default_reasons:
            risk_row["reasons"] = default_reasons[i]
        elif not default_same[i]:
            risk_row["reasons"] = None  # explained later, or on first read
        if i in churn_reasons_now:
            risk_row["churn_reasons"] = churn_reasons_now[i]
        elif not churn_same[i]:
            risk_row["churn_reasons"] = None
        if not frame.stored:
            risk_row.update({
                "features": feature_rows[i], "outstanding_balance": frame.outstanding[i],
                "overdue_amount": frame.overdue[i], "credit_limit": frame.credit_limit[i],
                "credit_currency": frame.credit_currency[i],
                "in_default": bool(frame.in_default[i])})
        risk_rows.append(risk_row)
        base = {"customer_id": cid, "scored_at": now, "trigger": trigger, "shadow": False,
                "overdue_amount": frame.overdue[i]}
        # The overdue amount is history too: the watch list compares it with the last row
        # before a date, so a change of it alone writes a row.
        overdue_moved = prev is not None and prev.overdue_amount != frame.overdue[i]
        if prev is None or not default_same[i] or prev.tier != tier or overdue_moved:
            entry = {**base, "target": "default", "pd": pd, "points": int(points[i]),
                     "tier": tier, "model_id": d_scorer.model_id,
                     "model_version": d_scorer.model_version,
                     "feature_set": d_scorer.feature_set,
                     "feature_set_version": d_scorer.feature_set_version,
                     "reasons": risk_row.get("reasons")}
            history.append(entry)
            if "reasons" not in risk_row:
                with_stored_reasons.append(entry)
        if not churn_same[i]:
            history.append({**base, "target": "churn", "pd": churn_pd,
                            "points": int(churn_points[i]), "tier": None,
                            "model_id": c_scorer.model_id,
                            "model_version": c_scorer.model_version,
                            "feature_set": c_scorer.feature_set,
                            "feature_set_version": c_scorer.feature_set_version,
                            "reasons": risk_row.get("churn_reasons")})
        results.append(Scored(cid, pd, tier, bool(moved[i])))
        if moved[i]:
            payload = {"customer_id": cid, "pd": pd, "points": int(points[i]), "tier": tier,
                       "previous_pd": None if prev is None else prev.pd_default,
                       "previous_tier": None if prev is None else prev.tier,
                       "model_version": d_scorer.model_version, "trigger": trigger,
                       "scored_at": now.isoformat()}
            notices.append((cid, payload))
    _fill_stored_reasons(session, with_stored_reasons)
    changed = {h["customer_id"] for h in history}
    for scorer in shadow:
        if not changed:
            break
        result = scorer.score(session, frame)
        shadow_points = points_array(result.pd)
        for i, cid in enumerate(ids):
            if cid in changed:
                history.append({"customer_id": cid, "scored_at": now, "trigger": trigger,
                                "shadow": True, "target": scorer.target,
                                "overdue_amount": frame.overdue[i],
                                "pd": float(result.pd[i]), "points": int(shadow_points[i]),
                                "tier": policy.tier_for(float(result.pd[i]))
                                if scorer.target == "default" else None,
                                "model_id": scorer.model_id,
                                "model_version": scorer.model_version,
                                "feature_set": scorer.feature_set,
                                "feature_set_version": scorer.feature_set_version,
                                # A challenger's score is compared, not explained.
                                "reasons": None})
    _write_risks(session, risk_rows, stored=frame.stored)
    repository.bulk_write(session, table_of(Score), history)
    for topic in (SCORING_EXPLAIN,) if deferred else (ALERTS_SCORE_CHANGED,
                                                      REVIEWS_SCORE_CHANGED):
        if has_consumer(topic):  # not until the alerts and reviews workers exist
            queue.enqueue_batch(session, topic=topic, items=notices, coalesce=False, now=now)
    # A material move is a risk decision: audited with the scores, in their transaction.
    audit.record_many(session, [_change_fact(payload) for _, payload in notices])
    return results


def _same(previous: Any, pd_column: str, version_column: str, pd: float,
          model_version: str) -> bool:
    """The stored score of this target is this one: the same model gave the same PD."""
    if previous is None:
        return False
    old = getattr(previous, pd_column)
    return (old is not None and abs(old - pd) <= 1e-9
            and getattr(previous, version_column) == model_version)


def _fill_stored_reasons(session: Session, entries: list[dict[str, Any]]) -> None:
    """Set the stored reasons on these history entries (a few per batch at most)."""
    if not entries:
        return
    stored: dict[str, Any] = dict(session.execute(
        select(CustomerRisk.customer_id, CustomerRisk.reasons)
        .where(among(session, CustomerRisk.customer_id, [e["customer_id"] for e in entries]))
    ).all())
    for entry in entries:
        entry["reasons"] = stored.get(entry["customer_id"])


def _write_risks(session: Session, rows: list[dict[str, Any]], *, stored: bool) -> None:
    """One statement per shape of row: rows that keep their stored reasons leave those
    columns out, so they are neither sent nor rewritten."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        shapes.setdefault(tuple(row), []).append(row)
    for group in shapes.values():
        if stored:
            # Scored from its stored row, so the row exists: only the score columns change,
            # and the feature vector (the widest column) is not sent back.
            repository.bulk_update(session, table_of(CustomerRisk), group, key="customer_id")
        else:
            repository.bulk_write(session, table_of(CustomerRisk), group,
                                  upsert_key="customer_id")


def _change_fact(notice: dict[str, Any]) -> audit.Fact:
    tier_changed = notice["tier"] != notice["previous_tier"]
    return audit.Fact(
        actor=f"scoring ({notice['trigger']})",
        action="risk.tier_changed" if tier_changed else "risk.score_changed",
        subject_type="customer", subject_id=notice["customer_id"],
        details={key: notice[key] for key in ("previous_tier", "tier", "previous_pd", "pd",
                                               "points", "model_version")})


def rescore_customer(session: Session, *, customer_id: str, trigger: str) -> Scored | None:
    """Recompute one customer's features and scores now."""
    scored = rescore_customers(session, customer_ids=[customer_id], trigger=trigger)
    return scored[0] if scored else None


def rescore_customers(session: Session, *, customer_ids: Sequence[str],
                      trigger: str) -> list[Scored]:
    """Recompute several customers at once (the worker's batch): one feature query, one
    write per table. Unknown customers (e.g. deleted since) are skipped."""
    ids = sorted(set(customer_ids))
    lock_customers(session, ids)
    now = utcnow()
    frame = features_for(session, customer_ids=ids, as_of=now)
    return score_frame(session, frame, trigger=trigger, now=now)


def customer_exists(session: Session, customer_id: str) -> bool:
    return session.get(Customer, customer_id) is not None


def current_risk(session: Session, customer_id: str) -> CustomerRisk | None:
    return session.get(CustomerRisk, customer_id)


@dataclass(frozen=True)
class RiskView:
    """A customer's stored current risk with the tier in force: the one view the risk API
    and credit decisions both answer from."""

    risk: CustomerRisk
    tiering: TierInForce


@dataclass(frozen=True)
class RiskLookup:
    exists: bool  # the customer is known
    view: RiskView | None  # None while not scored yet


def lookup_risk(db: Database, customer_id: str, *, now: dt.datetime | None = None
                ) -> RiskLookup:
    """One statement: the stored risk, the override in force and the policy version (the
    policy itself comes from this process's copy of that version)."""
    found = repository.risk_row(db, customer_id, now or utcnow())
    if found is None:
        return RiskLookup(exists=False, view=None)
    risk, override, policy_version = found
    if risk is None:
        return RiskLookup(exists=True, view=None)
    policy = policy_at_version(db, policy_version)
    return RiskLookup(exists=True, view=RiskView(
        risk=risk, tiering=tier_in_force(policy, risk.pd_default, override)))


def _unexplained(risk: CustomerRisk) -> dict[str, tuple[str, int | None]]:
    """The reasons columns of ``risk`` left empty when it was scored: column -> (target,
    the model that scored it)."""
    wanted = {"reasons": ("default", risk.model_id), "churn_reasons": ("churn",
                                                                       risk.churn_model_id)}
    return {column: (target, model_id) for column, (target, model_id) in wanted.items()
            if getattr(risk, column) is None
            and (target == "default" or risk.pd_churn is not None)}


def needs_explaining(risk: CustomerRisk) -> bool:
    """True when a read of ``risk`` must compute reasons first (explain_missing)."""
    return bool(_unexplained(risk))


def explain_missing(session: Session, risk: CustomerRisk) -> dict[str, list[engine.Reason]]:
    """Reasons of ``risk`` not computed when it was scored, computed now from its stored
    feature vector (and set on it, detached, so nothing is flushed by accident)."""
    explained: dict[str, list[engine.Reason]] = {}
    for column, (target, model_id) in _unexplained(risk).items():
        reasons = engine.explain_stored(session, target=target, model_id=model_id,
                                        customer_id=risk.customer_id,
                                        features=risk.features or {})
        if reasons is not None:
            explained[column] = reasons
    if explained:
        if risk in session:
            session.expunge(risk)
        for column, reasons in explained.items():
            setattr(risk, column, reasons)
    return explained


def explain_on_read(db: Database, risk: CustomerRisk) -> None:
    """The first read of a score that moved too little to explain when it was scored:
    compute its reasons (set on ``risk``) and keep them."""
    with db.read() as session:
        explained = explain_missing(session, risk)
    if explained:
        with db.autocommit() as session:
            keep_reasons(session, risk, explained)


def keep_reasons(session: Session, risk: CustomerRisk,
                 explained: dict[str, list[engine.Reason]]) -> None:
    """Store reasons computed on read, unless the customer was scored again since (two
    readers explaining the same score at once write the same reasons)."""
    session.execute(update(CustomerRisk)
                    .where(CustomerRisk.customer_id == risk.customer_id,
                           CustomerRisk.scored_at == risk.scored_at)
                    .values(explained))


def score_history(session: Session, *, customer_id: str, target: str | None, shadow: bool,
                  limit: int, offset: int) -> tuple[list[Score], int]:
    where = [Score.customer_id == customer_id, Score.shadow == shadow]
    if target:
        where.append(Score.target == target)
    total = session.scalar(select(func.count()).select_from(Score).where(*where)) or 0
    rows = session.scalars(select(Score).where(*where)
                           .order_by(Score.scored_at.desc(), Score.id.desc())
                           .limit(limit).offset(offset))
    return list(rows), int(total)


def money(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))
