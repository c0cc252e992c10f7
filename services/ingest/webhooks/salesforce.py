"""Salesforce Outbound Messages: a SOAP ``notifications`` envelope with up to 100
``Notification{Id, sObject}``, answered with the SOAP ``Ack``.

Parsed with the standard library's ElementTree after refusing any DTD: without a DOCTYPE
there are no entity declarations, so no entity expansion (billion laughs) and no external
entities can happen."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

ADAPTER = "salesforce"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
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


def parse(body: bytes) -> OutboundMessage:
    if _DTD.search(body):
        raise MessageInvalid("DTDs and entity declarations are not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise MessageInvalid(f"not well-formed XML: {exc}") from None
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise MessageInvalid("no outbound-message 'notifications' element")
    org = notifications.findtext(f"{{{OUTBOUND_NS}}}OrganizationId")
    if not org:
        raise MessageInvalid("OrganizationId is missing")
    objects = []
    for notification in notifications.findall(f"{{{OUTBOUND_NS}}}Notification"):
        notification_id = notification.findtext(f"{{{OUTBOUND_NS}}}Id")
        sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
        if not notification_id or sobject is None:
            raise MessageInvalid("a Notification needs an Id and an sObject")
        sobject_type = (sobject.get(XSI_TYPE) or "sObject").split(":")[-1]
        fields = {child.tag.split("}")[-1]: (child.text or "").strip() for child in sobject
                  if child.get("{http://www.w3.org/2001/XMLSchema-instance}nil") != "true"}
        objects.append(SObject(notification_id.strip(), sobject_type, fields))
    if len(objects) > 100:
        raise MessageInvalid("at most 100 notifications per message")
    return OutboundMessage(org.strip(), notifications.findtext(f"{{{OUTBOUND_NS}}}ActionId"),
                           objects)


def account_fields(fields: dict[str, str]) -> dict[str, str]:
    return {ours: fields[theirs] for theirs, ours in ACCOUNT_FIELDS.items()
            if fields.get(theirs)}
