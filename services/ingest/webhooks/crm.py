"""What a CRM adapter makes of a callback: profile updates for account records, CloudEvents
for every other record. Plain data, so the adapters stay pure translation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ProfileUpdate:
    """An account record's fields, for the customer the CRM's record id resolves to."""

    external_id: str
    fields: dict[str, Any]
    version: dt.datetime | None


@dataclass
class Translation:
    profiles: list[ProfileUpdate] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    ignored: int = 0
