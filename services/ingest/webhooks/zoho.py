"""Zoho CRM Notifications API callbacks: what a notification says, as profile fields (the
Accounts module) or events (every other module)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from services.ingest.webhooks.crm import ProfileUpdate, Translation

ADAPTER = "zoho-crm"
# Zoho field API name -> customer profile field.
ACCOUNT_FIELDS = {
    "Account_Name": "name",
    "Industry": "industry",
    "Employees": "employees",
    "Annual_Revenue": "annual_revenue",
    "Currency": "revenue_currency",
}


class NotificationInvalid(Exception):
    pass


@dataclass
class Notification:
    channel_id: str
    token: str
    module: str
    operation: str
    ids: list[str]
    server_time: dt.datetime | None
    values: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse(body: Any) -> Notification:
    if not isinstance(body, dict):
        raise NotificationInvalid("the notification must be a JSON object")
    missing = [k for k in ("channel_id", "module", "operation", "ids") if body.get(k) is None]
    if missing:
        raise NotificationInvalid(f"missing: {', '.join(missing)}")
    ids = body["ids"]
    if not isinstance(ids, list) or not all(isinstance(i, str | int) for i in ids):
        raise NotificationInvalid("ids must be a list of record ids")
    server_time = None
    if isinstance(body.get("server_time"), int | float):
        try:
            server_time = dt.datetime.fromtimestamp(body["server_time"] / 1000, dt.UTC)
        except (OverflowError, ValueError, OSError):
            raise NotificationInvalid("server_time is not a time in milliseconds") from None
    values: dict[str, dict[str, Any]] = {}
    for entry in body.get("affected_values") or []:
        if isinstance(entry, dict) and isinstance(entry.get("values"), dict):
            values[str(entry.get("record_id"))] = entry["values"]
    return Notification(
        channel_id=str(body["channel_id"]), token=str(body.get("token") or ""),
        module=str(body["module"]), operation=str(body["operation"]).lower(),
        ids=[str(i) for i in ids], server_time=server_time, values=values)


def translate(note: Notification) -> Translation:
    """Accounts records (not deleted) update profiles; every other record becomes an event
    ``zoho-crm.<module>.<operation>`` for its account, or is ignored without one."""
    result = Translation()
    stamp = int(note.server_time.timestamp() * 1000) if note.server_time else 0
    for record_id in note.ids:
        values = note.values.get(record_id, {})
        if note.module == "Accounts" and note.operation != "delete":
            result.profiles.append(ProfileUpdate(record_id, account_fields(values),
                                                 note.server_time))
            continue
        subject = record_id if note.module == "Accounts" else account_of(values)
        if subject is None:
            result.ignored += 1
            continue
        event: dict[str, Any] = {
            "specversion": "1.0", "id": f"{note.module}/{record_id}/{note.operation}/{stamp}",
            "source": ADAPTER, "subject": subject,
            "type": f"zoho-crm.{note.module.lower()}.{note.operation}",
            "data": {"module": note.module, "record_id": record_id,
                     "operation": note.operation, "values": values},
        }
        if note.server_time:
            event["time"] = note.server_time.isoformat()
        result.events.append(event)
    return result


def account_fields(values: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for zoho_name, ours in ACCOUNT_FIELDS.items():
        if values.get(zoho_name) not in (None, ""):
            fields[ours] = values[zoho_name]
    owner = values.get("Owner")
    if isinstance(owner, dict) and owner.get("name"):
        fields["owner"] = owner["name"]
    country = values.get("Billing_Country")
    if isinstance(country, str) and len(country) == 2:
        fields["country"] = country.upper()
    return fields


def account_of(values: dict[str, Any]) -> str | None:
    """The Accounts record a non-account record belongs to (its Account_Name lookup)."""
    lookup = values.get("Account_Name")
    if isinstance(lookup, dict) and lookup.get("id"):
        return str(lookup["id"])
    return None
