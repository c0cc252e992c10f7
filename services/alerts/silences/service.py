"""Silences: create (author from the caller), list, expire early. They stop applying on
their own at ``ends_at``; evaluation reads them through :mod:`matching`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.alerts.silences.schemas import SilenceIn, SilenceOut, SilenceState
from shared import audit
from shared.errors import Conflict, NotFound, ValidationFailed, field_error
from shared.models import utcnow
from shared.models.alerts import AlertRule, Silence


def state(silence: Silence, now: dt.datetime) -> SilenceState:
    if silence.expired_early_at is not None or silence.ends_at <= now:
        return SilenceState.EXPIRED
    return SilenceState.PENDING if silence.starts_at > now else SilenceState.ACTIVE


def out(silence: Silence, now: dt.datetime | None = None) -> SilenceOut:
    return SilenceOut(id=silence.id, rule_id=silence.rule_id, customer_id=silence.customer_id,
                      tier=silence.tier, severity=silence.severity,
                      starts_at=silence.starts_at, ends_at=silence.ends_at,
                      comment=silence.comment, created_by=silence.created_by,
                      created_at=silence.created_at,
                      expired_early_at=silence.expired_early_at,
                      state=state(silence, now or utcnow()))


def create(session: Session, *, body: SilenceIn, actor: str) -> SilenceOut:
    now = utcnow()
    starts = body.starts_at or now
    if body.ends_at <= now:
        raise ValidationFailed("ends_at is in the past.",
                               errors=[field_error("ends_at", "must be in the future")])
    if body.ends_at <= starts:
        raise ValidationFailed("ends_at must be after starts_at.",
                               errors=[field_error("ends_at", "must be after starts_at")])
    if body.rule_id is not None and session.get(AlertRule, body.rule_id) is None:
        raise ValidationFailed(f"No alert rule {body.rule_id}.",
                               errors=[field_error("rule_id", "no such rule")])
    silence = Silence(rule_id=body.rule_id, customer_id=body.customer_id, tier=body.tier,
                      severity=body.severity, starts_at=starts, ends_at=body.ends_at,
                      comment=body.comment, created_by=actor, created_at=now)
    session.add(silence)
    session.flush()
    audit.record(session, actor=actor, action="silence.created", subject_type="silence",
                 subject_id=str(silence.id), details=out(silence, now).model_dump(mode="json"))
    return out(silence, now)


def listing(session: Session, *, states: list[SilenceState] | None) -> list[SilenceOut]:
    now = utcnow()
    rows = session.scalars(select(Silence).order_by(Silence.id.desc()).limit(1000))
    found = [out(s, now) for s in rows]
    return [s for s in found if not states or s.state in states]


def get(session: Session, silence_id: int) -> SilenceOut:
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(f"No silence {silence_id}.")
    return out(silence)


def expire(session: Session, *, silence_id: int, actor: str) -> None:
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(f"No silence {silence_id}.")
    now = utcnow()
    if state(silence, now) == SilenceState.EXPIRED:
        raise Conflict(f"Silence {silence_id} has expired already.")
    silence.expired_early_at = now
    audit.record(session, actor=actor, action="silence.expired", subject_type="silence",
                 subject_id=str(silence.id), details={})
