"""Webhook adapters: Standard Webhooks signatures, Zoho CRM notifications, Salesforce SOAP."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.ingest.webhooks.signatures import sign
from shared.db import Database
from shared.models import Customer, CustomerAlias, Event
from tests.conftest import auth_headers
from tests.ingest.conftest import SF_ORG, SF_TOKEN, WEBHOOK_SECRET, ZOHO_CHANNEL, ZOHO_TOKEN
from tests.ingest.factories import cloudevent

OTHER_SECRET = "whsec_" + "b3RoZXItc2VjcmV0LW5vdC1jb25maWd1cmVkLTEyMzQ1Ng=="


def signed(body: bytes, *, secret: str = WEBHOOK_SECRET, msg_id: str = "msg-1",
           timestamp: int | None = None, extra_sigs: str = "") -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = sign(secret, msg_id=msg_id, timestamp=stamp, body=body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp),
            "webhook-signature": f"{extra_sigs} {signature}".strip(),
            "content-type": "application/json"}


def events_stored(db: Database) -> int:
    with db.transaction() as s:
        return s.scalar(select(func.count()).select_from(Event)) or 0


def test_generic_signed_event_and_batch(client: TestClient, db: Database) -> None:
    body = json.dumps(cloudevent()).encode()
    # Two signatures (key rotation): an unknown one and the right one.
    rotated = sign(OTHER_SECRET, msg_id="msg-1", timestamp=int(time.time()), body=body)
    response = client.post("/v1/webhooks/generic/erp", content=body,
                           headers=signed(body, extra_sigs=rotated))
    assert response.status_code == 202, response.text
    redelivered = client.post("/v1/webhooks/generic/erp", content=body, headers=signed(body))
    assert redelivered.status_code == 200 and redelivered.json()["status"] == "duplicate"
    batch = json.dumps([cloudevent(), cloudevent(subject="c-2")]).encode()
    response = client.post("/v1/webhooks/generic/erp", content=batch,
                           headers=signed(batch, msg_id="msg-2"))
    assert response.status_code == 202 and response.json()["accepted"] == 2
    assert events_stored(db) == 3


@pytest.mark.parametrize("case", ["wrong-secret", "stale", "future", "tampered", "missing",
                                  "unknown-source", "v2-only"])
def test_generic_bad_signature_is_401_and_stores_nothing(
        client: TestClient, db: Database, case: str, caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps(cloudevent()).encode()
    path = "/v1/webhooks/generic/erp"
    headers = signed(body)
    if case == "wrong-secret":
        headers = signed(body, secret=OTHER_SECRET)
    elif case == "stale":
        headers = signed(body, timestamp=int(time.time()) - 301)
    elif case == "future":
        headers = signed(body, timestamp=int(time.time()) + 310)  # margin: the clock moves on
    elif case == "tampered":
        body = body.replace(b"cust-1", b"cust-2")
    elif case == "missing":
        headers = {"content-type": "application/json"}
    elif case == "unknown-source":
        path = "/v1/webhooks/generic/crm"
    elif case == "v2-only":
        headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,")
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert events_stored(db) == 0
    secret_part = WEBHOOK_SECRET.removeprefix("whsec_")
    assert secret_part not in response.text and secret_part not in caplog.text


def test_generic_signed_but_invalid_event_is_422(client: TestClient, db: Database) -> None:
    body = json.dumps(cloudevent(subject=None)).encode()
    response = client.post("/v1/webhooks/generic/erp", content=body, headers=signed(body))
    assert response.status_code == 422
    assert events_stored(db) == 0
    fixed = json.dumps(cloudevent()).encode()
    # The refused delivery left no trace: the sender's retry with the same id is processed.
    assert client.post("/v1/webhooks/generic/erp", content=fixed,
                       headers=signed(fixed)).status_code == 202


def zoho_note(module: str = "Accounts", operation: str = "update", *,
              token: str = ZOHO_TOKEN, values: dict[str, Any] | None = None,
              record: str = "3652397000000415057", server_time: int = 1764400000000
              ) -> dict[str, Any]:
    return {
        "server_time": server_time, "module": module, "operation": operation,
        "resource_uri": f"https://www.zohoapis.com/crm/v2/{module}", "ids": [record],
        "channel_id": ZOHO_CHANNEL, "token": token, "query_params": {},
        "affected_fields": [{record: list((values or {}).keys())}],
        "affected_values": [{"record_id": record, "values": values or {}}],
    }


def test_zoho_accounts_become_customers_and_deals_events(
        client: TestClient, db: Database) -> None:
    account = zoho_note(values={"Account_Name": "Acme", "Industry": "Retail",
                                "Employees": 25, "Owner": {"name": "Kim", "id": "1"}})
    response = client.post("/v1/webhooks/zoho-crm", json=account)
    assert response.status_code == 200, response.text
    assert response.json()["customers"] == {"created": 1}
    retry = client.post("/v1/webhooks/zoho-crm", json=account)
    assert retry.json() == {"status": "duplicate"}
    deal = zoho_note("Deals", "insert", record="D-1", values={
        "Amount": 5000, "Account_Name": {"name": "Acme", "id": "3652397000000415057"}})
    assert client.post("/v1/webhooks/zoho-crm", json=deal).json()["events"]["accepted"] == 1
    orphan = zoho_note("Deals", "insert", record="D-2", values={"Amount": 1})
    assert client.post("/v1/webhooks/zoho-crm", json=orphan).json()["ignored"] == 1
    profile = client.get("/v1/customers/3652397000000415057").json()
    assert (profile["customer"]["name"], profile["customer"]["owner"]) == ("Acme", "Kim")
    assert profile["history"]["event_counts"] == {"zoho-crm.deals.insert": 1}


def test_zoho_alias_to_existing_customer_and_older_update(client: TestClient) -> None:
    client.post("/v1/customers", json={
        "customer_id": "cust-9", "name": "Nine", "updated_at": "2026-12-01T00:00:00Z",
        "aliases": [{"source": "zoho-crm", "external_id": "Z9"}]})
    old = zoho_note(record="Z9", values={"Account_Name": "Older name"},
                    server_time=1700000000000)
    assert client.post("/v1/webhooks/zoho-crm", json=old).json()["customers"] == {"stale": 1}
    new = zoho_note(record="Z9", values={"Account_Name": "Newer name"},
                    server_time=1900000000000)
    assert client.post("/v1/webhooks/zoho-crm", json=new).json()["customers"] == {"updated": 1}
    assert client.get("/v1/customers/cust-9").json()["customer"]["name"] == "Newer name"


def test_zoho_wrong_token_or_channel_is_401(client: TestClient, db: Database) -> None:
    assert client.post("/v1/webhooks/zoho-crm",
                       json=zoho_note(token="guess")).status_code == 401
    unknown = zoho_note()
    unknown["channel_id"] = "999"
    assert client.post("/v1/webhooks/zoho-crm", json=unknown).status_code == 401
    assert client.post("/v1/webhooks/zoho-crm", json={"module": "x"}).status_code == 400
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def sf_message(*objects: str, org: str = SF_ORG) -> bytes:
    notifications = "".join(
        f"<Notification><Id>{nid}</Id>{obj}</Notification>" for nid, obj in objects_with_ids(
            objects))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k000000000001</ActionId>
   <SessionId xsi:nil="true"/>
   {notifications}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>""".encode()


def objects_with_ids(objects: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(f"04l00000000000{i}", obj) for i, obj in enumerate(objects)]


SF = 'xmlns:sf="urn:sobject.enterprise.soap.sforce.com"'
ACCOUNT = f"""<sObject xsi:type="sf:Account" {SF}>
 <sf:Id>001A</sf:Id><sf:Name>Sales Co</sf:Name><sf:NumberOfEmployees>12</sf:NumberOfEmployees>
 <sf:BillingCountryCode>FR</sf:BillingCountryCode>
 <sf:LastModifiedDate>2026-11-01T10:00:00.000Z</sf:LastModifiedDate></sObject>"""
OPPORTUNITY = f"""<sObject xsi:type="sf:Opportunity" {SF}>
 <sf:Id>006B</sf:Id><sf:AccountId>001A</sf:AccountId><sf:Amount>900</sf:Amount></sObject>"""


def test_salesforce_outbound_message_is_acked_and_deduplicated(
        client: TestClient, db: Database) -> None:
    url = f"/v1/webhooks/salesforce?token={SF_TOKEN}"
    message = sf_message(ACCOUNT, OPPORTUNITY)
    response = client.post(url, content=message, headers={"content-type": "text/xml"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Ack>true</Ack>" in response.text
    again = client.post(url, content=message, headers={"content-type": "text/xml"})
    assert "<Ack>true</Ack>" in again.text
    with db.transaction() as s:
        customer = s.get(Customer, "001A")
        assert customer is not None
        assert (customer.name, customer.employees, customer.country) == ("Sales Co", 12, "FR")
        assert s.get(CustomerAlias, ("salesforce", "001A")) is not None
        event = s.scalars(select(Event)).one()
        assert (event.type, event.customer_id) == ("salesforce.opportunity.updated", "001A")


def test_salesforce_refuses_dtd_bad_xml_and_wrong_token(client: TestClient, db: Database) -> None:
    url = f"/v1/webhooks/salesforce?token={SF_TOKEN}"
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;">]><notifications>&lol2;</notifications>')
    assert client.post(url, content=bomb).status_code == 400
    assert client.post(url, content=b"<not-closed>").status_code == 400
    assert client.post("/v1/webhooks/salesforce?token=nope",
                       content=sf_message(ACCOUNT)).status_code == 401
    assert client.post("/v1/webhooks/salesforce",
                       content=sf_message(ACCOUNT)).status_code == 401
    assert client.post(url, content=sf_message(ACCOUNT, org="00Dother")).status_code == 401
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def utf16_entity_message(name: str = "&evil;") -> bytes:
    account = ACCOUNT.replace("<sf:Name>Sales Co</sf:Name>", f"<sf:Name>{name}</sf:Name>")
    text = sf_message(account).decode().replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<!DOCTYPE soapenv:Envelope [<!ENTITY evil "Entity Text Co">]>')
    return text.encode("utf-16")


def test_salesforce_refuses_a_utf16_dtd_and_never_stores_entity_text(
        client: TestClient, db: Database) -> None:
    url = f"/v1/webhooks/salesforce?token={SF_TOKEN}"
    response = client.post(url, content=utf16_entity_message(),
                           headers={"content-type": "text/xml"})
    assert response.status_code == 400, response.text
    assert "DTD" in response.json()["detail"]
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_salesforce_utf16_billion_laughs_is_refused_fast(client: TestClient, db: Database) -> None:
    entities = '<!ENTITY l0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    bomb = (f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE n [{entities}]>'
            "<n>&l9;</n>").encode("utf-16")
    started = time.perf_counter()
    response = client.post(f"/v1/webhooks/salesforce?token={SF_TOKEN}", content=bomb,
                           headers={"content-type": "text/xml"})
    assert response.status_code == 400
    assert time.perf_counter() - started < 2
    assert events_stored(db) == 0


def test_salesforce_checks_the_token_before_parsing_and_the_org_before_notifications(
        client: TestClient) -> None:
    # Not even XML: without a token it is refused as unauthenticated, never parsed.
    assert client.post("/v1/webhooks/salesforce", content=b"<unclosed").status_code == 401
    # The org is read first; with a wrong token the broken notifications are never reached.
    broken = sf_message(ACCOUNT).replace(b"</notifications>", b"<Notification></notifications>")
    assert client.post(f"/v1/webhooks/salesforce?token={SF_TOKEN}",
                       content=broken).status_code == 400
    assert client.post("/v1/webhooks/salesforce?token=wrong",
                       content=broken).status_code == 401


def test_salesforce_body_past_the_cap_is_413(client: TestClient, db: Database) -> None:
    filler = "<!-- " + "x" * (2 * 1024 * 1024) + " -->"
    big = sf_message(ACCOUNT).replace(b"<soapenv:Body>", f"<soapenv:Body>{filler}".encode())
    response = client.post(f"/v1/webhooks/salesforce?token={SF_TOKEN}", content=big,
                           headers={"content-type": "text/xml"})
    assert response.status_code == 413, response.text
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_generic_401_does_not_say_whether_the_source_is_configured(
        client: TestClient) -> None:
    body = json.dumps(cloudevent()).encode()
    wrong = client.post("/v1/webhooks/generic/erp", content=body,
                        headers=signed(body, secret=OTHER_SECRET))
    unknown = client.post("/v1/webhooks/generic/crm", content=body, headers=signed(body))
    assert wrong.status_code == unknown.status_code == 401

    def shown(response: Any) -> dict[str, Any]:
        return {k: v for k, v in response.json().items() if k != "instance"}

    assert shown(wrong) == shown(unknown)
    assert "crm" not in unknown.json()["detail"] and "configured" not in unknown.text


def test_zoho_and_salesforce_401_do_not_say_whether_the_sender_is_known(
        client: TestClient) -> None:
    unknown = zoho_note()
    unknown["channel_id"] = "999"
    answers = [client.post("/v1/webhooks/zoho-crm", json=zoho_note(token="guess")),
               client.post("/v1/webhooks/zoho-crm", json=unknown)]
    assert answers[0].json() == answers[1].json()
    answers = [client.post("/v1/webhooks/salesforce?token=nope", content=sf_message(ACCOUNT)),
               client.post(f"/v1/webhooks/salesforce?token={SF_TOKEN}",
                           content=sf_message(ACCOUNT, org="00Dother"))]
    assert answers[0].json() == answers[1].json()


def test_zoho_values_that_cannot_be_stored_are_422_and_store_nothing(
        client: TestClient, db: Database) -> None:
    note = zoho_note(values={"Account_Name": "Acme\x00"})
    response = client.post("/v1/webhooks/zoho-crm", json=note)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "affected_values.0.values.Account_Name"
    far_future = zoho_note(server_time=10**30)
    assert client.post("/v1/webhooks/zoho-crm", json=far_future).status_code == 400
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_a_generic_source_with_a_long_name_records_its_deliveries(
        client: TestClient, db: Database) -> None:
    name = "s" * 200  # longer than the delivery table's adapter column
    put = client.put(f"/v1/webhook-sources/generic/{name}", json={"secrets": [WEBHOOK_SECRET]},
                     headers=auth_headers("admin"))
    assert put.status_code == 201, put.text
    body = json.dumps(cloudevent()).encode()
    path = f"/v1/webhooks/generic/{name}"
    assert client.post(path, content=body, headers=signed(body)).status_code == 202
    again = client.post(path, content=body, headers=signed(body))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert events_stored(db) == 1
