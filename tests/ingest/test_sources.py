"""/v1/webhook-sources: senders configured at runtime, secrets encrypted and never shown."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping

from fastapi.testclient import TestClient
from sqlalchemy import select

from services.ingest.webhooks.signatures import sign
from shared.db import Database
from shared.models import AuditEntry
from shared.models.ingest import WebhookSource
from tests.conftest import auth_headers
from tests.ingest.factories import cloudevent


class _SignedWhenSent(Mapping[str, str]):
    """The admin caller's headers, signed when a request is sent: a signed identity expires
    after five minutes, and a module-level one did in a long suite run."""

    signed_at = 0.0
    headers: dict[str, str] = {}

    def _headers(self) -> dict[str, str]:
        # Re-signed once a minute, so the two headers of one request always match.
        if time.monotonic() - self.signed_at > 60:
            self.headers = auth_headers("admin", key_id="admin-key", name="ops")
            self.signed_at = time.monotonic()
        return self.headers

    def __getitem__(self, name: str) -> str:
        return self._headers()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers())

    def __len__(self) -> int:
        return len(self._headers())


ADMIN = _SignedWhenSent()
NEW_SECRET = "whsec_" + "cnVudGltZS1zZWNyZXQtZm9yLXRoZS1jcm0tMDAx"


def signed_post(client: TestClient, source: str, secret: str, msg_id: str) -> int:
    body = json.dumps(cloudevent()).encode()
    stamp = int(time.time())
    return client.post(f"/v1/webhooks/generic/{source}", content=body, headers={
        "webhook-id": msg_id, "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, msg_id=msg_id, timestamp=stamp, body=body),
        "content-type": "application/json"}).status_code


def test_source_set_at_runtime_signs_deliveries_and_stays_secret(
        client: TestClient, db: Database) -> None:
    assert signed_post(client, "crm", NEW_SECRET, "m1") == 401
    created = client.put("/v1/webhook-sources/generic/crm", json={"secrets": [NEW_SECRET]},
                         headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["secret_count"] == 1 and created.json()["created_by"] == "ops (admin-key)"
    assert signed_post(client, "crm", NEW_SECRET, "m2") == 202
    listed = client.get("/v1/webhook-sources", headers=ADMIN)
    secret_part = NEW_SECRET.removeprefix("whsec_")
    assert [s["name"] for s in listed.json()] == ["crm"]
    assert secret_part not in listed.text and secret_part not in created.text
    with db.transaction() as s:
        stored = s.scalars(select(WebhookSource)).one()
        assert secret_part not in stored.secrets_ciphertext
        audit = s.scalars(select(AuditEntry)).all()
        assert [a.action for a in audit] == ["webhook_source.put"]
        assert secret_part not in json.dumps(audit[0].details)
    assert client.delete("/v1/webhook-sources/generic/crm", headers=ADMIN).status_code == 204
    assert signed_post(client, "crm", NEW_SECRET, "m3") == 401
    assert client.delete("/v1/webhook-sources/generic/crm", headers=ADMIN).status_code == 404


def test_zoho_and_salesforce_tokens_from_the_api(client: TestClient) -> None:
    token = "a-token-set-through-the-api"
    assert client.put("/v1/webhook-sources/zoho-crm/777", json={"secrets": [token]},
                      headers=ADMIN).status_code == 201
    note = {"server_time": 1764400000000, "module": "Deals", "operation": "insert",
            "ids": ["D1"], "channel_id": "777", "token": token,
            "affected_values": [{"record_id": "D1", "values": {"Account_Name": {"id": "A1"}}}]}
    assert client.post("/v1/webhooks/zoho-crm", json=note).status_code == 200
    assert client.post("/v1/webhooks/zoho-crm",
                       json={**note, "token": "wrong-token-value"}).status_code == 401


def test_sources_need_admin_and_valid_secrets(client: TestClient) -> None:
    writer = client.put("/v1/webhook-sources/generic/crm", json={"secrets": [NEW_SECRET]})
    assert writer.status_code == 403
    bad = client.put("/v1/webhook-sources/generic/crm", json={"secrets": ["not-a-whsec-secret"]},
                     headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "secrets.0"
    short = client.put("/v1/webhook-sources/zoho-crm/1", json={"secrets": ["short"]},
                       headers=ADMIN)
    assert short.status_code == 422
    unknown = client.put("/v1/webhook-sources/pipedrive/1", json={"secrets": [NEW_SECRET]},
                         headers=ADMIN)
    assert unknown.status_code == 422
