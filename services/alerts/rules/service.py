"""Alert rules: create, change (each change a new version), disable, delete, and the built-in
rules of a fresh install. Every change is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.alerts.rules import repository
from services.alerts.rules.builtin import BUILTIN_RULES
from services.alerts.rules.compiled import parse_params
from services.alerts.rules.schemas import RuleIn, RuleOut, RulePatch, Scope
from services.alerts.settings import get_alerts_settings
from shared import audit
from shared.errors import Conflict, NotFound
from shared.models import utcnow
from shared.models.alerts import AlertRule, RuleKind

SYSTEM_ACTOR = "alerts (built-in rules)"


def _definition(rule: AlertRule) -> dict[str, Any]:
    return {"name": rule.name, "description": rule.description, "kind": rule.kind,
            "params": rule.params, "scope": rule.scope, "severity": rule.severity,
            "enabled": rule.enabled, "cooldown_seconds": rule.cooldown_seconds,
            "resolve_after_seconds": rule.resolve_after_seconds,
            "repeat_interval_seconds": rule.repeat_interval_seconds}


def out(rule: AlertRule) -> RuleOut:
    return RuleOut(id=rule.id, name=rule.name, description=rule.description,
                   kind=RuleKind(rule.kind), params=rule.params,
                   scope=Scope.model_validate(rule.scope), severity=rule.severity,
                   enabled=rule.enabled, cooldown_seconds=rule.cooldown_seconds,
                   resolve_after_seconds=rule.resolve_after_seconds,
                   repeat_interval_seconds=rule.repeat_interval_seconds, version=rule.version,
                   builtin=rule.builtin_key is not None, created_by=rule.created_by,
                   created_at=rule.created_at, updated_at=rule.updated_at)


def normalised_params(kind: RuleKind, params: dict[str, Any]) -> dict[str, Any]:
    parsed, _ = parse_params(kind, params)
    return parsed.model_dump(mode="json", exclude_none=True)


def _unique_name(session: Session, name: str, rule_id: int | None = None) -> None:
    existing = repository.by_name(session, name)
    if existing is not None and existing.id != rule_id:
        raise Conflict(f"A rule named {name!r} exists already (id {existing.id}).")


def get_rule(session: Session, rule_id: int) -> AlertRule:
    rule = repository.get(session, rule_id)
    if rule is None:
        raise NotFound(f"No alert rule {rule_id}.")
    return rule


def create_rule(session: Session, *, body: RuleIn, actor: str) -> RuleOut:
    settings = get_alerts_settings()
    params = normalised_params(body.kind, body.params)
    _unique_name(session, body.name)
    now = utcnow()
    rule = AlertRule(
        name=body.name, description=body.description, kind=body.kind, params=params,
        scope=body.scope.model_dump(mode="json"), severity=body.severity,
        enabled=body.enabled,
        cooldown_seconds=(settings.default_cooldown_seconds if body.cooldown_seconds is None
                          else body.cooldown_seconds),
        resolve_after_seconds=(settings.default_resolve_after_seconds
                               if body.resolve_after_seconds is None
                               else body.resolve_after_seconds),
        repeat_interval_seconds=(settings.default_repeat_interval_seconds
                                 if body.repeat_interval_seconds is None
                                 else body.repeat_interval_seconds),
        version=1, created_by=actor, created_at=now, updated_at=now)
    session.add(rule)
    session.flush()
    repository.add_version(session, rule, _definition(rule), actor)
    audit.record(session, actor=actor, action="alert_rule.created", subject_type="alert_rule",
                 subject_id=str(rule.id), details=_definition(rule))
    return out(rule)


def update_rule(session: Session, *, rule_id: int, patch: RulePatch, actor: str) -> RuleOut:
    rule = get_rule(session, rule_id)
    changes = patch.model_dump(exclude_unset=True)
    if "params" in changes:
        changes["params"] = normalised_params(RuleKind(rule.kind), changes["params"] or {})
    if "scope" in changes:
        changes["scope"] = (patch.scope or Scope()).model_dump(mode="json")
    if changes.get("name") is not None:
        _unique_name(session, changes["name"], rule.id)
    for required in ("name", "params", "scope", "severity", "enabled", "cooldown_seconds",
                     "resolve_after_seconds"):
        if required in changes and changes[required] is None:
            changes.pop(required)
    before = _definition(rule)
    for key, value in changes.items():
        setattr(rule, key, value)
    after = _definition(rule)
    if after == before:
        return out(rule)
    rule.version += 1
    rule.updated_at = utcnow()
    session.flush()
    repository.add_version(session, rule, after, actor)
    audit.record(session, actor=actor, action="alert_rule.updated", subject_type="alert_rule",
                 subject_id=str(rule.id), details={"version": rule.version,
                                                   "changed": sorted(k for k in after
                                                                     if after[k] != before[k])})
    return out(rule)


def delete_rule(session: Session, *, rule_id: int, actor: str) -> None:
    rule = get_rule(session, rule_id)
    rule.deleted_at = utcnow()
    rule.enabled = False
    # The name is free again; the deleted rule keeps a name of its own for its alerts.
    rule.name = f"{rule.name[:160]} (deleted {rule.id})"
    if rule.builtin_key is not None:
        rule.builtin_key = f"deleted:{rule.builtin_key}"[:64]
    audit.record(session, actor=actor, action="alert_rule.deleted", subject_type="alert_rule",
                 subject_id=str(rule.id), details={})


def ensure_builtin_rules(session: Session) -> int:
    """Add the built-in rules that are missing (by key); returns how many were added. A
    built-in rule an operator deleted stays deleted."""
    settings = get_alerts_settings()
    added = 0
    now = utcnow()
    for spec in BUILTIN_RULES:
        kind = RuleKind(spec["kind"])
        row = {"name": spec["name"], "description": spec.get("description"), "kind": kind,
               "params": normalised_params(kind, spec["params"]), "scope": Scope().model_dump(),
               "severity": spec["severity"], "enabled": True,
               "cooldown_seconds": settings.default_cooldown_seconds,
               "resolve_after_seconds": settings.default_resolve_after_seconds,
               "repeat_interval_seconds": settings.default_repeat_interval_seconds,
               "version": 1, "builtin_key": spec["key"], "created_by": SYSTEM_ACTOR,
               "created_at": now, "updated_at": now}
        if _deleted_builtin(session, spec["key"]):
            continue
        rule_id = repository.insert_builtin(session, row)
        if rule_id is not None:
            rule = session.get(AlertRule, rule_id)
            assert rule is not None
            repository.add_version(session, rule, _definition(rule), SYSTEM_ACTOR)
            added += 1
    return added


def _deleted_builtin(session: Session, key: str) -> bool:
    from sqlalchemy import select

    return session.scalar(select(AlertRule.id).where(
        AlertRule.builtin_key == f"deleted:{key}"[:64])) is not None
