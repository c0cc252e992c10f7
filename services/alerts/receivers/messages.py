"""What a notification says: the JSON document a webhook receives, and the title and text
an e-mail or chat message carries. Rendered from the delivery's stored snapshot only."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

# Chat tools cut long messages (DingTalk ~20 KB, Teams ~28 KB); alerts stay far below.
MAX_TEXT_CHARS = 4000
_VERBS = {"opened": "Alert opened", "repeat": "Still open", "resolved": "Resolved",
          "reopened": "Reopened", "test": "Test notification",
          "run_started": "Playbook started", "step_overdue": "Playbook step overdue",
          "run_completed": "Playbook completed"}


def sample_alert(now: dt.datetime) -> dict[str, Any]:
    """The alert a test notification carries: every field of a real one, plainly fake."""
    stamp = now.isoformat().replace("+00:00", "Z")
    return {"id": None, "rule_id": None, "rule_name": "riskwatch test notification",
            "rule_version": None, "kind": "test", "severity": "info", "status": "open",
            "customer_id": None, "customer_name": None, "tier": None,
            "title": "Test notification from riskwatch",
            "summary": "Sent from POST /v1/receivers/{id}/test: this receiver is reachable.",
            "values": {}, "reasons": [], "opened_at": stamp, "last_seen_at": stamp,
            "hit_count": 0, "drill": False}


def webhook_body(payload: dict[str, Any], *, created_at: dt.datetime) -> bytes:
    """Standard Webhooks' recommended shape: ``type`` (``alert.<notification>``, or
    ``playbook.<notification>`` for a run's), ``timestamp`` and ``data`` (the notification
    and its alert snapshot, and the run's, as the alerts core wrote them)."""
    family = "playbook" if payload.get("playbook") else "alert"
    document = {"type": f"{family}.{payload.get('notification', 'unknown')}",
                "timestamp": created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                "data": payload}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"),
                      default=str).encode()


@dataclass(frozen=True)
class Text:
    title: str
    body: str


def _text(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message_text(payload: dict[str, Any]) -> Text:
    """Title and plain-text body for e-mail and chat (Apprise formats them per tool)."""
    alert: dict[str, Any] = payload.get("alert") or {}
    notification = str(payload.get("notification", ""))
    severity = str(alert.get("severity") or "info").upper()
    customer = alert.get("customer_name") or alert.get("customer_id") or "-"
    title = f"[{severity}] {_VERBS.get(notification, notification)}: " \
            f"{_text(alert.get('title') or alert.get('rule_name') or 'alert', 150)}"
    if alert.get("customer_name") and alert.get("customer_id"):
        customer = f"{alert['customer_name']} ({alert['customer_id']})"
    lines = [f"Customer: {_text(customer)}"
             + (f", tier {_text(alert['tier'])}" if alert.get("tier") else "")]
    if alert.get("rule_name"):
        rule = f"Rule: {_text(alert['rule_name'])}"
        if alert.get("rule_id") is not None:
            rule += f" (#{alert['rule_id']}, version {alert.get('rule_version')})"
        lines.append(rule)
    lines.append(f"Status: {_text(alert.get('status') or '-')} · hits {alert.get('hit_count')}"
                 f" · opened {alert.get('opened_at')} · last seen {alert.get('last_seen_at')}")
    if alert.get("summary"):
        lines.append(_text(alert["summary"], 1000))
    values = alert.get("values")
    if isinstance(values, dict) and values:
        lines.append("Values: " + ", ".join(f"{_text(k, 60)} = {_text(v, 80)}"
                                            for k, v in list(values.items())[:20]))
    reasons = alert.get("reasons")
    if isinstance(reasons, list) and reasons:
        lines.append("Reasons:")
        for reason in reasons[:10]:
            text = reason.get("text") if isinstance(reason, dict) else reason
            lines.append(f"- {_text(text)}")
    playbook = payload.get("playbook")
    if isinstance(playbook, dict):
        lines.append(f"Playbook: {_text(playbook.get('playbook_name') or '-')} "
                     f"(run #{playbook.get('run_id')}, {playbook.get('run_status')})")
        step = playbook.get("step")
        if isinstance(step, dict):
            lines.append(f"Step {step.get('position')}: {_text(step.get('title') or '-')}"
                         f" · owner {_text(step.get('assignee') or step.get('owner_role'))}"
                         f" · due {step.get('due_at')}")
    if alert.get("drill"):
        lines.append("This is a drill.")
    if alert.get("id") is not None:
        lines.append(f"Alert #{alert['id']}")
    body = "\n".join(lines)
    return Text(title=title, body=body[:MAX_TEXT_CHARS])
