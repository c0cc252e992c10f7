"""Playbooks: create, change, enable or disable (each change audited), the built-in ones of
a fresh install, and the statistics of their runs (real and drills apart)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.alerts.playbooks import repository
from services.alerts.playbooks.builtin import BUILTIN_PLAYBOOKS
from services.alerts.playbooks.schemas import (
    DrillEvent,
    PlaybookIn,
    PlaybookOut,
    PlaybookPatch,
    PlaybookStats,
    RunStats,
    StepIn,
    Trigger,
)
from shared import audit
from shared.errors import Conflict, NotFound, ValidationFailed, field_error
from shared.models import utcnow
from shared.models.alerts import AlertRule
from shared.models.playbooks import Playbook

SYSTEM_ACTOR = "alerts (built-in playbooks)"


def out(playbook: Playbook) -> PlaybookOut:
    return PlaybookOut(
        id=playbook.id, name=playbook.name, description=playbook.description,
        trigger=Trigger.model_validate(playbook.trigger),
        steps=[StepIn.model_validate(s) for s in playbook.steps],
        drill_events=[DrillEvent.model_validate(e) for e in playbook.drill_events or []],
        enabled=playbook.enabled, builtin=playbook.builtin_key is not None,
        created_by=playbook.created_by, created_at=playbook.created_at,
        updated_at=playbook.updated_at)


def _definition(playbook: Playbook) -> dict[str, Any]:
    return {"name": playbook.name, "description": playbook.description,
            "trigger": playbook.trigger, "steps": playbook.steps,
            "drill_events": playbook.drill_events, "enabled": playbook.enabled}


def get_playbook(session: Session, playbook_id: int) -> Playbook:
    playbook = repository.get(session, playbook_id)
    if playbook is None:
        raise NotFound(f"No playbook {playbook_id}.")
    return playbook


def _unique_name(session: Session, name: str, playbook_id: int | None = None) -> None:
    existing = repository.by_name(session, name)
    if existing is not None and existing.id != playbook_id:
        raise Conflict(f"A playbook named {name!r} exists already (id {existing.id}).",
                       errors=[field_error("name", "taken")])


def _known_rules(session: Session, trigger: Trigger) -> None:
    if not trigger.rule_ids:
        return
    found = set(session.scalars(select(AlertRule.id).where(
        AlertRule.id.in_(trigger.rule_ids), AlertRule.deleted_at.is_(None))))
    missing = [rule_id for rule_id in trigger.rule_ids if rule_id not in found]
    if missing:
        raise ValidationFailed(f"No alert rule {missing[0]}.", errors=[
            field_error(f"trigger.rule_ids.{trigger.rule_ids.index(missing[0])}",
                        f"no alert rule {missing[0]}")])


def create_playbook(session: Session, *, body: PlaybookIn, actor: str) -> PlaybookOut:
    _unique_name(session, body.name)
    _known_rules(session, body.trigger)
    now = utcnow()
    playbook = Playbook(
        name=body.name, description=body.description,
        trigger=body.trigger.model_dump(mode="json"),
        steps=[s.model_dump(mode="json") for s in body.steps],
        drill_events=[e.model_dump(mode="json") for e in body.drill_events],
        enabled=body.enabled, created_by=actor, created_at=now, updated_at=now)
    session.add(playbook)
    session.flush()
    audit.record(session, actor=actor, action="playbook.created", subject_type="playbook",
                 subject_id=str(playbook.id), details=_definition(playbook))
    return out(playbook)


def update_playbook(session: Session, *, playbook_id: int, patch: PlaybookPatch,
                    actor: str) -> PlaybookOut:
    """Runs already started keep the steps they were started with."""
    playbook = get_playbook(session, playbook_id)
    given = patch.model_fields_set
    before = _definition(playbook)
    if "name" in given and patch.name is not None:
        _unique_name(session, patch.name, playbook.id)
        playbook.name = patch.name
    if "description" in given:
        playbook.description = patch.description
    if "trigger" in given and patch.trigger is not None:
        _known_rules(session, patch.trigger)
        playbook.trigger = patch.trigger.model_dump(mode="json")
    if "steps" in given and patch.steps is not None:
        playbook.steps = [s.model_dump(mode="json") for s in patch.steps]
    if "drill_events" in given and patch.drill_events is not None:
        playbook.drill_events = [e.model_dump(mode="json") for e in patch.drill_events]
    if "enabled" in given and patch.enabled is not None:
        playbook.enabled = patch.enabled
    after = _definition(playbook)
    if after != before:
        playbook.updated_at = utcnow()
        session.flush()
        audit.record(session, actor=actor, action="playbook.updated",
                     subject_type="playbook", subject_id=str(playbook.id),
                     details={"changed": sorted(k for k in after if after[k] != before[k])})
    return out(playbook)


def list_playbooks(session: Session, *, enabled: bool | None) -> list[PlaybookOut]:
    return [out(p) for p in repository.listing(session, enabled=enabled)]


def ensure_builtin_playbooks(session: Session) -> int:
    """Add the built-in playbooks that are missing (by key), triggered by the built-in
    rules they name (those an operator deleted are left out); returns how many were added.
    Call after the built-in rules are seeded."""
    keys = {spec_key for spec in BUILTIN_PLAYBOOKS for spec_key in spec["rule_keys"]}
    rule_ids = dict(session.execute(select(AlertRule.builtin_key, AlertRule.id).where(
        AlertRule.builtin_key.in_(sorted(keys)))).all())
    added = 0
    now = utcnow()
    for spec in BUILTIN_PLAYBOOKS:
        ids = [rule_ids[key] for key in spec["rule_keys"] if key in rule_ids]
        if not ids:
            continue  # its rules were deleted: nothing could trigger it
        row = {"name": spec["name"], "description": spec["description"],
               "trigger": Trigger(rule_ids=ids).model_dump(mode="json"),
               "steps": [StepIn.model_validate(s).model_dump(mode="json")
                         for s in spec["steps"]],
               "drill_events": [DrillEvent.model_validate(e).model_dump(mode="json")
                                for e in spec["drill_events"]],
               "enabled": True, "builtin_key": spec["key"], "created_by": SYSTEM_ACTOR,
               "created_at": now, "updated_at": now}
        if repository.insert_builtin(session, row) is not None:
            added += 1
    return added


# --- statistics ------------------------------------------------------------------------

def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (a value that occurred, never an interpolation)."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _stats(rows: Sequence[tuple[Any, Any]]) -> RunStats:
    durations = sorted((done - started).total_seconds() for started, done in rows
                       if done is not None)
    return RunStats(runs=len(rows), open=len(rows) - len(durations), completed=len(durations),
                    median_seconds_to_complete=(statistics.median(durations)
                                                if durations else None),
                    p90_seconds_to_complete=(_percentile(durations, 0.9)
                                             if durations else None))


def stats(session: Session, *, playbook_id: int) -> PlaybookStats:
    get_playbook(session, playbook_id)
    rows = repository.run_times(session, playbook_id)
    return PlaybookStats(
        playbook_id=playbook_id,
        real=_stats([(s, c) for drill, s, c in rows if not drill]),
        drills=_stats([(s, c) for drill, s, c in rows if drill]))
