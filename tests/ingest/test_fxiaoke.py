"""Fxiaoke (纷享销客): the encrypted push callback (envelopes encrypted and signed here the way
the open platform's official demo decrypts and verifies them) and the poller, against a local
fake of the open platform's token and data-query endpoints (a real HTTP server)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from services.ingest.app import create_app
from services.ingest.fxiaoke import repository
from services.ingest.fxiaoke.poller import poll_all
from services.ingest.settings import IngestSettings
from services.ingest.worker import build_worker
from shared.db import Database
from shared.models import Customer, CustomerAlias, Event, WorkItem, utcnow
from shared.topics import INGEST_FXIAOKE
from tests.conftest import auth_headers

TOKEN = "fxiaoke-callback-token-1"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters
OTHER_TOKEN = "another-apps-token-22"
OTHER_KEY = base64.b64encode(bytes(range(100, 132))).decode().rstrip("=")


# The demo's algorithm, written out here (not imported) so the adapter is checked against it.
def demo_encrypt(plaintext: str, encoding_aes_key: str) -> str:
    key = base64.b64decode(encoding_aes_key + "=")
    message = plaintext.encode("utf-8")
    raw = os.urandom(16) + len(message).to_bytes(4, "big") + message
    pad = 32 - len(raw) % 32
    raw += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()


def demo_sig(token: str, timestamp: str, nonce: str, content: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, content])).encode()).hexdigest()


def envelope(message: dict[str, Any], *, token: str = TOKEN, key: str = AES_KEY,
             timestamp_ms: int | None = None, nonce: str | None = None) -> dict[str, str]:
    stamp = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    nonce = nonce or base64.b16encode(os.urandom(8)).decode()
    content = demo_encrypt(json.dumps(message, ensure_ascii=False), key)
    return {"nonce": nonce, "timeStamp": stamp, "content": content,
            "sig": demo_sig(token, stamp, nonce, content)}


def crm_message(api_name: str, data_id: str, data: dict[str, Any],
                event_type: str = "update") -> dict[str, Any]:
    return {"type": "Message", "content": json.dumps(
        {"apiName": api_name, "dataId": data_id, "eventType": event_type, "data": data},
        ensure_ascii=False)}


def settings(**extra: Any) -> IngestSettings:
    return IngestSettings(fxiaoke_apps={"crm": SecretStr(f"{TOKEN} {AES_KEY}")}, **extra)


@pytest.fixture
def fx_client(db: Database, database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url, settings=settings())) as test_client:
        test_client.headers.update(auth_headers("ingest:write", "risk:read", "admin"))
        yield test_client


def count(db: Database, model: Any, *where: Any) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def run_worker(db: Database) -> None:
    worker = build_worker(db)
    while worker.run_once():
        pass


def test_a_push_is_answered_success_then_applied_by_the_worker_and_its_retry_once(
        fx_client: TestClient, db: Database) -> None:
    now_ms = int(time.time() * 1000)
    account = crm_message("AccountObj", "acc-1", {"name": "杭州某某有限公司", "country": "cn",
                                                  "last_modified_time": now_ms})
    body = envelope(account)
    answer = fx_client.post("/v1/webhooks/fxiaoke", json=body)
    assert (answer.status_code, answer.text) == (200, "success")
    assert answer.headers["content-type"].startswith("text/plain")
    assert count(db, Customer) == 0  # applied after the answer, by the worker
    assert count(db, WorkItem, WorkItem.topic == INGEST_FXIAOKE) == 1
    # The platform's retry: the same envelope, or the same message sealed again.
    assert fx_client.post("/v1/webhooks/fxiaoke", json=body).text == "success"
    assert fx_client.post("/v1/webhooks/fxiaoke", json=envelope(account)).text == "success"
    assert count(db, WorkItem, WorkItem.topic == INGEST_FXIAOKE) == 1
    run_worker(db)
    profile = fx_client.get("/v1/customers/acc-1").json()["customer"]
    assert (profile["name"], profile["country"]) == ("杭州某某有限公司", "CN")
    assert count(db, CustomerAlias, CustomerAlias.source == "fxiaoke",
                 CustomerAlias.external_id == "acc-1") == 1
    order = crm_message("SalesOrderObj", "so-9", {"account_id": "acc-1", "order_amount": "80",
                                                  "last_modified_time": now_ms + 1}, "add")
    assert fx_client.post("/v1/webhooks/fxiaoke", json=envelope(order)).text == "success"
    text_message = {"type": "Message", "content": json.dumps({"MsgType": "text"})}
    assert fx_client.post("/v1/webhooks/fxiaoke", json=envelope(text_message)).text == "success"
    run_worker(db)
    with db.transaction() as session:
        stored = session.execute(select(Event.type, Event.customer_id, Event.event_id)).one()
    assert stored == ("fxiaoke.salesorderobj.add", "acc-1", f"SalesOrderObj/so-9/{now_ms + 1}")


def test_the_signature_and_time_stamp_are_checked_before_anything_is_decrypted(
        fx_client: TestClient, db: Database) -> None:
    message = crm_message("AccountObj", "acc-2", {"name": "X"})
    good = envelope(message)
    wrong_sig = {**good, "sig": "0" * 40}
    assert fx_client.post("/v1/webhooks/fxiaoke", json=wrong_sig).status_code == 401
    other_app = envelope(message, token=OTHER_TOKEN)
    assert fx_client.post("/v1/webhooks/fxiaoke", json=other_app).status_code == 401
    stale = envelope(message, timestamp_ms=int(time.time() * 1000) - 600_000)
    assert fx_client.post("/v1/webhooks/fxiaoke", json=stale).status_code == 401
    # Content that does not decrypt: a 401 while unsigned, a 400 only once signed.
    garbage = base64.b64encode(b"x" * 48).decode()
    unsigned = {**good, "content": garbage}
    assert fx_client.post("/v1/webhooks/fxiaoke", json=unsigned).status_code == 401
    signed = {**unsigned, "sig": demo_sig(TOKEN, good["timeStamp"], good["nonce"], garbage)}
    refused = fx_client.post("/v1/webhooks/fxiaoke", json=signed)
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "content"
    # A key of another app does not decrypt, even signed with our token.
    wrong_key = envelope(message, key=OTHER_KEY)
    assert fx_client.post("/v1/webhooks/fxiaoke", json=wrong_key).status_code == 400
    missing = fx_client.post("/v1/webhooks/fxiaoke", json={"nonce": "n", "content": "c"})
    assert missing.status_code == 400 and missing.headers["content-type"].startswith(
        "application/problem+json")
    assert count(db, WorkItem) == 0 and count(db, Customer) == 0


def test_an_app_stored_through_the_admin_api_is_verified_with_its_own_token_and_key(
        fx_client: TestClient, db: Database) -> None:
    put = fx_client.put("/v1/webhook-sources/fxiaoke/second",
                        json={"secrets": [OTHER_TOKEN, OTHER_KEY]})
    assert put.status_code == 201, put.text
    bad = fx_client.put("/v1/webhook-sources/fxiaoke/third",
                        json={"secrets": [OTHER_TOKEN, "not-a-key"]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "secrets.1"
    short = fx_client.put("/v1/webhook-sources/fxiaoke-corp/main",
                          json={"secrets": ["FSAID_1", "s" * 32]})
    assert short.status_code == 422
    body = envelope(crm_message("AccountObj", "acc-3", {"name": "Second"}), token=OTHER_TOKEN,
                    key=OTHER_KEY)
    assert fx_client.post("/v1/webhooks/fxiaoke", json=body).text == "success"
    with db.transaction() as session:
        item = session.scalars(select(WorkItem)).one()
    assert item.payload["app"] == "second"


# The poller against a fake open platform --------------------------------------------------

class FakeFxiaoke:
    """The token and data-query endpoints, with the demo's request and answer shapes."""

    APP = ("FSAID_131860a", "app-secret-0123456789abcdef", "permanent-code-0123456789",
           "FSUID_OPENUSER1")

    def __init__(self) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.tokens: set[str] = set()
        self.token_calls = 0
        self.queries: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                answer = fake.answer(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        app_id, secret, permanent, open_user = self.APP
        if path == "/cgi/corpAccessToken/get/V2":
            self.token_calls += 1
            if (body.get("appId"), body.get("appSecret"),
                    body.get("permanentCode")) != (app_id, secret, permanent):
                return {"errorCode": 20001, "errorMessage": "bad app credentials"}
            token = f"TOKEN{self.token_calls}"
            self.tokens.add(token)
            return {"errorCode": 0, "errorMessage": "success", "corpAccessToken": token,
                    "corpId": "FSCID_FAKE", "expiresIn": 7200}
        if path == "/cgi/crm/data/query":
            if body.get("corpAccessToken") not in self.tokens:
                return {"errorCode": 20016, "errorMessage": "corpAccessToken不存在或者已经过期"}
            assert body["corpId"] == "FSCID_FAKE" and body["currentOpenUserId"] == open_user
            self.queries.append(body)
            query = body["searchQuery"]
            (condition,) = query["rangeConditions"]
            assert condition["fieldName"] == "last_modified_time" and condition["includeLower"]
            rows = sorted((r for r in self.records.get(body["apiName"], [])
                           if r["last_modified_time"] >= condition["from"]),
                          key=lambda r: (r["last_modified_time"], r["_id"]))
            page = rows[query["offset"]:query["offset"] + query["limit"]]
            return {"errorCode": 0, "errorMessage": "success", "totalNumber": len(rows),
                    "datas": page}
        return {"errorCode": -1, "errorMessage": "unknown path"}

    def __enter__(self) -> FakeFxiaoke:
        self.thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def poll_settings(url: str) -> IngestSettings:
    return IngestSettings(fxiaoke_base_url=url, fxiaoke_page_size=2,
                          fxiaoke_poll_objects=["AccountObj", "SalesOrderObj"],
                          fxiaoke_corps={"main": SecretStr(" ".join(FakeFxiaoke.APP))})


def test_the_poller_pages_through_changes_since_its_watermark_with_a_token_it_refreshes(
        db: Database) -> None:
    base = 1_764_400_000_000
    with FakeFxiaoke() as fake:
        # Three accounts changed in the same millisecond: more than a page (2).
        fake.records["AccountObj"] = [
            {"_id": f"A{n}", "name": f"Account {n}", "last_modified_time": base + (n // 3),
             "create_time": base} for n in range(5)]
        fake.records["SalesOrderObj"] = [
            {"_id": "S1", "account_id": "A1", "order_amount": "10", "last_modified_time": base,
             "create_time": base},
            {"_id": "S2", "account_id": None, "last_modified_time": base + 5}]
        cfg = poll_settings(fake.url)
        first = poll_all(db, cfg)["main"]
        assert first is not None and first.error is None, first
        assert first.token_requests == 1
        assert count(db, Customer) == 5
        assert count(db, CustomerAlias, CustomerAlias.source == "fxiaoke") == 5
        with db.transaction() as session:
            events = session.execute(select(Event.type, Event.customer_id)).all()
            marks = {api: repository.watermark(session, "main", api)
                     for api in ("AccountObj", "SalesOrderObj")}
        assert events == [("fxiaoke.salesorderobj.created", "A1")]  # S2 has no account
        assert marks["AccountObj"] == (base + 1, ["A3", "A4"])
        assert marks["SalesOrderObj"][0] == base + 5

        again = poll_all(db, cfg)["main"]
        assert again is not None and (again.records, again.token_requests) == (0, 0)

        fake.records["AccountObj"][0].update(name="Renamed", last_modified_time=base + 9)
        fake.tokens.clear()  # the platform expired our token early
        third = poll_all(db, cfg)["main"]
        assert third is not None and third.error is None
        assert (third.records, third.token_requests) == (1, 1)
        with db.transaction() as session:
            name = session.scalar(select(Customer.name).where(Customer.customer_id == "A0"))
        assert name == "Renamed"
        assert count(db, Event) == 1


def test_one_replica_polls_a_corp_at_a_time_and_bad_credentials_are_recorded(
        db: Database) -> None:
    with FakeFxiaoke() as fake:
        fake.records["AccountObj"] = [{"_id": "A1", "last_modified_time": 1}]
        cfg = poll_settings(fake.url)
        now = utcnow()
        with db.transaction() as session:
            assert repository.take_lease(session, "main", holder="other-replica", now=now,
                                         until=now.replace(year=now.year + 1))
        assert poll_all(db, cfg) == {"main": None}
        assert fake.queries == [] and count(db, Customer) == 0
        with db.transaction() as session:
            repository.release_lease(session, "main", holder="other-replica", now=now,
                                     error=None)
        wrong = IngestSettings(**{**cfg.model_dump(), "fxiaoke_corps": {
            "main": SecretStr("FSAID_131860a wrong-secret-0123456789 permanent-code-0123456789 "
                              "FSUID_OPENUSER1")}})
        failed = poll_all(db, wrong)["main"]
        assert failed is not None and "20001" in (failed.error or "")
        with db.transaction() as session:
            state = repository.state(session, "main")
            assert state is not None and state.locked_by is None
            assert "20001" in (state.last_error or "")
