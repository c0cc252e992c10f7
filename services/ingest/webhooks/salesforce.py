"""Salesforce Outbound Messages: a SOAP ``notifications`` envelope with up to 100
``Notification{Id, sObject}``, answered with the SOAP ``Ack``.

Parsed with defusedxml, which refuses a DTD wherever the parser meets one, so after the
encoding is decoded (UTF-16 included): no entity expansion (billion laughs), no external
entities. The sender is authorised as soon as the ``OrganizationId`` is read, before the
notifications are."""

from __future__ import annotations

import datetime as dt
import io
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeET

from services.ingest.events.cloudevents import parse_time
from services.ingest.webhooks.crm import ProfileUpdate

ADAPTER = "salesforce"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_ORGANIZATION_ID = f"{{{OUTBOUND_NS}}}OrganizationId"
MAX_NOTIFICATIONS = 100
ACCOUNT_FIELDS = {
    "Name": "name",
    "Industry": "industry",
    "NumberOfEmployees": "employees",
    "AnnualRevenue": "annual_revenue",
    "CurrencyIsoCode": "revenue_currency",
    "BillingCountryCode": "country",
}

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>"
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


class MessageInvalid(Exception):
    pass


@dataclass
class SObject:
    notification_id: str
    type: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class OutboundMessage:
    organization_id: str
    action_id: str | None
    objects: list[SObject]


def parse(body: bytes, *, authorise: Callable[[str], None]) -> OutboundMessage:
    """The message; ``authorise(organization_id)`` runs (and may raise) as soon as the
    organisation is known, so an unauthenticated sender never has the rest parsed."""
    org: str | None = None
    try:
        events = SafeET.iterparse(io.BytesIO(body), events=("end",), forbid_dtd=True)
        for _, element in events:
            if org is None and element.tag == _ORGANIZATION_ID:
                org = (element.text or "").strip()
                if not org:
                    raise MessageInvalid("OrganizationId is empty")
                authorise(org)
        root = events.root  # type: ignore[attr-defined]
    except defusedxml.DefusedXmlException:
        raise MessageInvalid("DTDs and entity declarations are not accepted") from None
    except ET.ParseError as exc:
        raise MessageInvalid(f"not well-formed XML: {exc}") from None
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise MessageInvalid("no outbound-message 'notifications' element")
    if org is None:
        raise MessageInvalid("OrganizationId is missing")
    found = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
    if len(found) > MAX_NOTIFICATIONS:
        raise MessageInvalid(f"at most {MAX_NOTIFICATIONS} notifications per message")
    objects = []
    for notification in found:
        notification_id = notification.findtext(f"{{{OUTBOUND_NS}}}Id")
        sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
        if not notification_id or sobject is None:
            raise MessageInvalid("a Notification needs an Id and an sObject")
        sobject_type = (sobject.get(XSI_TYPE) or "sObject").split(":")[-1]
        fields = {child.tag.split("}")[-1]: (child.text or "").strip() for child in sobject
                  if child.get(XSI_NIL) != "true"}
        objects.append(SObject(notification_id.strip(), sobject_type, fields))
    return OutboundMessage(org, notifications.findtext(f"{{{OUTBOUND_NS}}}ActionId"), objects)


def translate(obj: SObject, *, organization_id: str) -> ProfileUpdate | dict[str, Any] | None:
    """An Account becomes a profile update, another object an event
    ``salesforce.<object>.updated`` for its ``AccountId``; None when it has no account."""
    modified = _time(obj.fields.get("LastModifiedDate"))
    if obj.type == "Account" and obj.fields.get("Id"):
        return ProfileUpdate(obj.fields["Id"], account_fields(obj.fields), modified)
    account = obj.fields.get("AccountId")
    if not account:
        return None
    event: dict[str, Any] = {
        "specversion": "1.0", "id": obj.notification_id,
        "source": ADAPTER, "subject": account,
        "type": f"salesforce.{obj.type.lower()}.updated", "data": obj.fields,
        "organizationid": organization_id}
    if modified:
        event["time"] = modified.isoformat()
    return event


def account_fields(fields: dict[str, str]) -> dict[str, str]:
    return {ours: fields[theirs] for theirs, ours in ACCOUNT_FIELDS.items()
            if fields.get(theirs)}


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None
