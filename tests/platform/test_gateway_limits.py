"""Gateway behaviour under limits and failures, with the gateway in-process and the services
(or a deliberately dead or silent one) over real sockets."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.routing import RouteTable
from riskwatch.apps import create_gateway
from riskwatch.processes import ROUTES
from shared.settings import Settings
from tests.conftest import TEST_SECRET
from tests.stack import SERVICES, Stack, free_port


def _gateway(live: Stack, **overrides: object) -> TestClient:
    urls = {f"{name}_url": live.url(name) for name in SERVICES}
    settings = Settings(database_url=live.database_url, internal_secret=TEST_SECRET,
                        **{**urls, **overrides})  # type: ignore[arg-type]
    return TestClient(create_gateway(settings))


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: a service that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_rate_limit_answers_429_with_retry_after(live: Stack) -> None:
    with _gateway(live, rate_limit_per_second=0.5, rate_limit_burst=2) as client:
        statuses = [client.get("/v1/queue/depth", headers=live.headers()).status_code
                    for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = client.get("/v1/queue/depth", headers=live.headers())
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["code"] == "rate-limited"


def test_oversized_body_is_413_declared_or_streamed(live: Stack) -> None:
    with _gateway(live, max_body_bytes=1000) as client:
        declared = client.post("/v1/queue/dead-letters/1/retry", content=b"x" * 2000,
                               headers=live.headers())
        assert declared.status_code == 413

        def chunks() -> Iterator[bytes]:
            for _ in range(10):
                yield b"y" * 500

        streamed = client.post("/v1/queue/dead-letters/1/retry", content=chunks(),
                               headers=live.headers())
        assert streamed.status_code == 413
        assert streamed.json()["code"] == "payload-too-large"


def test_a_down_service_gives_503_for_its_routes_only(live: Stack) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with _gateway(live, ingest_url=dead) as client:
        down = client.get("/v1/customers/c1", headers=live.headers())
        assert down.status_code == 503
        assert down.json()["service"] == "ingest"
        assert client.get("/v1/audit/verify", headers=live.headers()).status_code == 200
        health = client.get("/healthz").json()
        assert health["status"] == "degraded"
        assert health["services"]["ingest"]["status"] == "down"
        assert health["services"]["reviews"]["status"] == "up"
        assert client.get("/readyz").status_code == 503


def test_a_slow_service_gives_504(live: Stack, silent_server: str) -> None:
    with _gateway(live, scoring_url=silent_server, upstream_read_timeout=0.5) as client:
        slow = client.get("/v1/customers/c1/risk", headers=live.headers())
        assert slow.status_code == 504
        assert slow.json()["service"] == "scoring"
        assert client.get("/v1/audit/verify", headers=live.headers()).status_code == 200


def test_request_id_is_passed_through_or_created(live: Stack) -> None:
    given = httpx.get(f"{live.gateway}/v1/audit/verify", headers={
        **live.headers(), "X-Request-ID": "trace-123"})
    assert given.headers["x-request-id"] == "trace-123"
    created = httpx.get(f"{live.gateway}/v1/audit/verify", headers=live.headers())
    assert re.fullmatch(r"[0-9a-f]{32}", created.headers["x-request-id"])


def test_identity_headers_from_the_caller_are_not_trusted(live: Stack) -> None:
    forged = {"X-Riskwatch-Principal": "x|x|admin|0", "X-Riskwatch-Signature": "00"}
    assert httpx.get(f"{live.gateway}/v1/audit/verify", headers=forged).status_code == 401
    # Straight at the service, a forged identity is refused too.
    assert httpx.get(f"{live.url('reviews')}/v1/audit/verify",
                     headers=forged).status_code == 401


def test_merged_openapi_lists_every_service_and_routes_agree(live: Stack) -> None:
    merged = httpx.get(f"{live.gateway}/openapi.json").json()
    routes = RouteTable([(route.pattern, route.service) for route in ROUTES])
    assert set(merged["components"]["securitySchemes"]) == {"ApiKeyAuth", "BearerAuth"}
    assert set(merged["x-services"]) == set(SERVICES)
    for service in SERVICES:
        own = httpx.get(f"{live.url(service)}/openapi.json").json()
        for path in own["paths"]:
            if not path.startswith("/v1/"):
                continue
            assert path in merged["paths"], f"{service} path {path} missing from merged doc"
            concrete = re.sub(r"\{[^}]+\}", "x1", path)
            assert routes.service_for(concrete) == service, f"{path} would be routed elsewhere"
    assert "/v1/audit/verify" in merged["paths"]
    docs = httpx.get(f"{live.gateway}/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text.lower()


def test_metrics_count_requests_per_route(live: Stack) -> None:
    httpx.get(f"{live.gateway}/v1/audit/verify", headers=live.headers())
    gateway_metrics = httpx.get(f"{live.gateway}/metrics").text
    assert 'riskwatch_http_requests_total{method="GET",route="/v1 -> reviews"' in \
        gateway_metrics.replace('service="gateway",', "")
    service_metrics = httpx.get(f"{live.url('reviews')}/metrics").text
    assert 'route="/v1/audit/verify"' in service_metrics
    assert "riskwatch_http_request_duration_seconds_bucket" in service_metrics
