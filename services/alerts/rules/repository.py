"""All SQL for alert rules and their versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import dialect_insert
from shared.models.alerts import AlertRule, AlertRuleVersion


def get(session: Session, rule_id: int) -> AlertRule | None:
    rule = session.get(AlertRule, rule_id)
    return None if rule is None or rule.deleted_at is not None else rule


def by_name(session: Session, name: str) -> AlertRule | None:
    return session.scalar(select(AlertRule).where(AlertRule.name == name))


def listing(session: Session, *, kind: str | None, enabled: bool | None) -> list[AlertRule]:
    query = select(AlertRule).where(AlertRule.deleted_at.is_(None))
    if kind:
        query = query.where(AlertRule.kind == kind)
    if enabled is not None:
        query = query.where(AlertRule.enabled.is_(enabled))
    return list(session.scalars(query.order_by(AlertRule.id)))


def enabled_rules(session: Session) -> list[AlertRule]:
    return list(session.scalars(select(AlertRule).where(
        AlertRule.enabled.is_(True), AlertRule.deleted_at.is_(None)).order_by(AlertRule.id)))


def add_version(session: Session, rule: AlertRule, definition: dict[str, Any],
                actor: str) -> None:
    session.add(AlertRuleVersion(rule_id=rule.id, version=rule.version,
                                 definition=definition, created_by=actor,
                                 created_at=rule.updated_at))


def versions(session: Session, rule_id: int) -> list[AlertRuleVersion]:
    return list(session.scalars(select(AlertRuleVersion).where(
        AlertRuleVersion.rule_id == rule_id).order_by(AlertRuleVersion.version)))


def insert_builtin(session: Session, row: dict[str, Any]) -> int | None:
    """Insert a built-in rule unless its key is there; the new id, or None."""
    stmt = (dialect_insert(session)(AlertRule).values(**row)
            .on_conflict_do_nothing()
            .returning(AlertRule.id))
    return session.execute(stmt).scalar_one_or_none()
