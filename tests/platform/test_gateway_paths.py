"""Path tricks at the gateway, sent byte for byte over real sockets (http.client does not
normalise paths the way httpx does): a path is routed and limited exactly as forwarded,
redirects never show a service's internal address, and each service enforces its own body
limit as well."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from shared.db import Database
from shared.settings import Settings
from tests.conftest import auth_headers
from tests.stack import Stack

EVENT = {"specversion": "1.0", "id": "path-trick-1", "source": "erp", "type": "crm.note",
         "subject": "c-path", "time": "2026-10-01T00:00:00Z", "data": {"text": "hi"}}


def send_raw(base_url: str, method: str, target: str, *, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request with ``target`` on the request line exactly as given. A Content-Length
    given in ``headers`` is sent as is, and then the body is not sent: the answer is read
    straight after the headers."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in {"Content-Length": str(len(body or b"")), **(headers or {})}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, \
            response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("target", [
    "/v1/imports/..%2Fevents/batch",
    "/v1/imports/..%2fevents/batch",
    "/v1/imports/%2e%2e/events/batch",
    "/v1/imports/.%2E/events/batch",
    "/v1/imports/../events/batch",
    "/v1/imports/..%5Cevents/batch",
    "/v1/imports/./../events/batch",
])
def test_a_path_that_would_normalise_to_another_route_is_refused(
        live: Stack, db: Database, target: str) -> None:
    status, headers, body = send_raw(
        live.gateway, "POST", target, body=json.dumps([EVENT]).encode(),
        headers={**live.headers(), "Content-Type": "application/json"})
    assert status == 400, body
    assert headers["content-type"].startswith("application/problem+json")
    assert json.loads(body)["code"] == "invalid-path"
    with live.client() as client:
        assert client.get("/v1/customers/c-path").status_code == 404  # nothing stored


def test_an_encoded_slash_in_a_customer_id_is_refused_not_rerouted(live: Stack) -> None:
    # Decoded, this reads /v1/customers/x/risk (scoring); as sent it names a customer id.
    status, _, body = send_raw(live.gateway, "GET", "/v1/customers/x%2Frisk",
                               headers=live.headers())
    assert status == 400
    assert json.loads(body)["code"] == "invalid-path"


def test_percent_encoding_reaches_the_service_as_sent(live: Stack, db: Database) -> None:
    with live.client() as client:
        # An id holding '/' could never be read back, so it is refused when written ...
        refused = client.post("/v1/customers", json={"customer_id": "acme 1/?", "name": "A"})
        assert refused.status_code == 422, refused.text
    status, _, body = send_raw(live.gateway, "GET", "/v1/customers/acme%201%2F%3F",
                               headers=live.headers())
    # ... and an encoded '/' in a path is refused outright ...
    assert status == 400
    with live.client() as client:
        created = client.post("/v1/customers", json={"customer_id": "acme 2?", "name": "B"})
        assert created.status_code in (200, 201, 202), created.text
    # ... while other encodings pass through untouched, neither decoded nor re-encoded.
    status, _, body = send_raw(live.gateway, "GET", "/v1/customers/acme%202%3F",
                               headers=live.headers())
    assert status == 200, body
    assert json.loads(body)["customer"]["customer_id"] == "acme 2?"


def test_a_service_redirect_never_reveals_its_internal_address(live: Stack) -> None:
    response = httpx.post(f"{live.gateway}/v1/events/batch/", headers=live.headers(),
                          json=[EVENT], follow_redirects=False)
    assert response.status_code in (307, 308), response.text
    location = response.headers["location"]
    assert location == "/v1/events/batch"
    for service in live.ports:
        assert str(live.ports[service]) not in location


def test_a_service_refuses_a_streamed_body_over_its_limit(live: Stack) -> None:
    limit = Settings().max_body_bytes

    def chunks() -> Iterator[bytes]:
        sent = 0
        while sent <= limit:
            yield b" " * 65536
            sent += 65536

    # Straight at the service, without the gateway's check, and without a Content-Length.
    response = httpx.post(f"{live.url('ingest')}/v1/events/batch", content=chunks(),
                          headers={**auth_headers("ingest:write"),
                                   "Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "payload-too-large"


def test_a_service_refuses_a_declared_body_over_its_limit_before_reading_it(
        live: Stack) -> None:
    limit = Settings().max_body_bytes
    status, _, body = send_raw(live.url("ingest"), "POST", "/v1/events/batch",
                               headers={**auth_headers("ingest:write"),
                                        "Content-Type": "application/json",
                                        "Content-Length": str(limit + 1)})
    assert status == 413
    assert json.loads(body)["code"] == "payload-too-large"


def test_a_service_keeps_the_large_limit_for_imports(live: Stack) -> None:
    # The declared length alone would be refused at once under the general limit.
    limit = Settings().max_body_bytes
    status, _, body = send_raw(live.url("ingest"), "POST", "/v1/imports/customers",
                               body=b"x" * (limit + 1),
                               headers={**auth_headers("ingest:write"),
                                        "Content-Type": "text/csv"})
    assert status != 413, body[:300]
