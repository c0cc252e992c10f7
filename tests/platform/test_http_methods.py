"""Methods and answers as the OpenAPI document and RFC 9110 describe them, through the
gateway: HEAD wherever GET exists, OPTIONS and 405 list the path's real methods, and every
error answer is documented as an RFC 9457 problem."""

from __future__ import annotations

from tests.stack import Stack


def _allow(value: str) -> list[str]:
    return sorted(m.strip() for m in value.split(","))


def test_head_answers_like_get_without_a_body(live: Stack) -> None:
    with live.client() as client:
        get = client.get("/v1/tiers")
        head = client.head("/v1/tiers")
        gateway_head = client.head("/healthz")
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert gateway_head.status_code == 200


def test_options_and_405_list_every_method_of_the_path(live: Stack) -> None:
    with live.client() as client:
        options = client.options("/v1/tiers")
        wrong = client.delete("/v1/tiers")
        rollback = client.get("/v1/models/rollback")
    assert options.status_code == 204
    assert _allow(options.headers["allow"]) == ["GET", "HEAD", "OPTIONS", "PUT"]
    assert wrong.status_code == 405
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert _allow(wrong.headers["allow"]) == ["GET", "HEAD", "OPTIONS", "PUT"]
    # Not swallowed by GET /v1/models/{model_id}: the path exists, for POST only.
    assert rollback.status_code == 405
    assert _allow(rollback.headers["allow"]) == ["OPTIONS", "POST"]


def test_the_document_describes_errors_as_problems_and_duplicates_as_200(live: Stack) -> None:
    with live.client() as client:
        document = client.get("/openapi.json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                if status[0] in "45":
                    assert list(response["content"]) == ["application/problem+json"], (
                        method, path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "200" in document["paths"]["/v1/events"]["post"]["responses"]
    assert "200" in document["paths"]["/v1/events/batch"]["post"]["responses"]
    amount = document["components"]["schemas"]["CreditRequest"]["properties"]["amount"]
    assert any("pattern" in variant for variant in amount["anyOf"])
