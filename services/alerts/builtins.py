"""What a fresh alerts service holds before anyone configures it: the built-in rules, then
the built-in playbooks, which name those rules (so the order matters). Idempotent; the app
and the worker both call it at start, whichever comes up first."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.alerts.playbooks.service import ensure_builtin_playbooks
from services.alerts.rules.service import ensure_builtin_rules


def ensure_builtins(session: Session) -> None:
    ensure_builtin_rules(session)
    ensure_builtin_playbooks(session)
