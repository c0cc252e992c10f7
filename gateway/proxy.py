"""Forward one request to its service: streamed body with a size cap, identity headers in,
hop-by-hop headers out, and 503/504 problems when the service is down or slow."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from shared.errors import problem_response

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
}
# Never forwarded: the caller's key stays at the gateway; identity is re-signed by us.
STRIPPED_REQUEST = HOP_BY_HOP | {"authorization", "x-api-key", "x-riskwatch-principal",
                                 "x-riskwatch-signature"}


class BodyTooLarge(Exception):
    pass


async def _capped(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge
        yield chunk


async def forward(
    request: Request,
    *,
    client: httpx.AsyncClient,
    base_url: str,
    service: str,
    extra_headers: dict[str, str],
    body_limit: int,
) -> Response:
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in STRIPPED_REQUEST]
    headers.extend(extra_headers.items())
    if request.client:
        headers.append(("x-forwarded-for", request.client.host))
    content_length = request.headers.get("content-length")
    if content_length is not None:
        headers.append(("content-length", content_length))
    method = request.method
    body = _capped(request.stream(), body_limit) if method not in ("GET", "HEAD") else None
    upstream = client.build_request(
        method, base_url + request.url.path, params=request.url.query or None,
        headers=headers, content=body,
    )
    instance = request.url.path
    try:
        response = await client.send(upstream, stream=True)
    except BodyTooLarge:
        return problem_response(status=413, code="payload-too-large",
                                title="Request body too large",
                                detail=f"The body exceeds {body_limit} bytes.", instance=instance)
    except httpx.ConnectTimeout:
        return _unavailable(service, instance, "did not accept the connection in time")
    except httpx.TimeoutException:
        return problem_response(status=504, code="gateway-timeout",
                                title="Upstream service timed out",
                                detail=f"The {service} service did not answer in time.",
                                instance=instance, service=service)
    except httpx.TransportError:
        return _unavailable(service, instance, "is not reachable")
    response_headers = {k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP}
    if "content-length" in response.headers:
        response_headers["content-length"] = response.headers["content-length"]
    return StreamingResponse(response.aiter_raw(), status_code=response.status_code,
                             headers=response_headers, background=BackgroundTask(response.aclose))


def _unavailable(service: str, instance: str, why: str) -> Response:
    return problem_response(status=503, code="service-unavailable", title="Service unavailable",
                            detail=f"The {service} service {why}; other services are unaffected.",
                            instance=instance, service=service, headers={"Retry-After": "5"})
