"""Forward one request to its service: streamed body with a size cap, identity headers in,
hop-by-hop headers out, redirects kept to public paths, and 503/504 problems when the
service is down or slow.

aiohttp rather than httpx here: on loopback, httpx's async pool fell from 1,700 req/s at
8 connections to 460 req/s at 32, while aiohttp held 15,000 req/s (bench/gateway.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse
from yarl import URL

from shared.errors import GatewayTimeout, PayloadTooLarge, ServiceUnavailable

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
})
# Never forwarded: the caller's key stays at the gateway; identity is re-signed by us.
STRIPPED_REQUEST = HOP_BY_HOP | {"authorization", "x-api-key", "x-riskwatch-principal",
                                 "x-riskwatch-signature"}


class BodyTooLarge(Exception):
    pass


def new_session(*, connect_timeout: float, read_timeout: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=512, limit_per_host=256, ttl_dns_cache=300),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout,
                                      sock_read=read_timeout),
        auto_decompress=False,  # pass bodies through byte for byte
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
    )


async def _capped(stream: AsyncIterator[bytes], limit: int, exceeded: list[bool]
                  ) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > limit:
            exceeded.append(True)
            raise BodyTooLarge
        yield chunk


async def forward(
    request: Request,
    *,
    client: aiohttp.ClientSession,
    base_url: str,
    path: str,
    query: str,
    service: str,
    extra_headers: dict[str, str],
    body_limit: int,
    internal_origins: Collection[str],
) -> Response:
    """Forward to ``base_url`` + ``path`` (+ ``query``): the raw path that was routed,
    percent-encoding untouched (``encoded=True`` stops yarl from normalising it)."""
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in STRIPPED_REQUEST]
    headers.extend(extra_headers.items())
    if request.client:
        headers.append(("x-forwarded-for", request.client.host))
    content_length = request.headers.get("content-length")
    exceeded: list[bool] = []
    body: AsyncIterator[bytes] | bytes | None = None
    if request.method not in ("GET", "HEAD", "DELETE") or content_length:
        if content_length is not None and content_length.isdigit():
            # Known size (already checked against the limit): forward as is, not chunked.
            headers.append(("content-length", content_length))
            body = await request.body() if int(content_length) <= 65536 else \
                _capped(request.stream(), body_limit, exceeded)
        else:
            body = _capped(request.stream(), body_limit, exceeded)
    url = URL(base_url + path + (f"?{query}" if query else ""), encoded=True)
    try:
        upstream = await client.request(request.method, url, headers=headers, data=body,
                                        allow_redirects=False)
    except aiohttp.ServerTimeoutError as exc:
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            raise _unavailable(service, "did not accept the connection in time") from exc
        raise _timeout(service) from exc
    except TimeoutError as exc:
        raise _timeout(service) from exc
    except (aiohttp.ClientError, BodyTooLarge) as exc:
        if exceeded or isinstance(exc, BodyTooLarge):
            raise PayloadTooLarge(f"The body exceeds {body_limit} bytes.") from exc
        raise _unavailable(service, "is not reachable") from exc
    response_headers = {k: v for k, v in upstream.headers.items()
                        if k.lower() not in HOP_BY_HOP and k.lower() != "set-cookie"}
    # A dict keeps one value per name; several cookies need one Set-Cookie line each.
    cookies = upstream.headers.getall("set-cookie", [])
    if "location" in {k.lower() for k in response_headers}:
        _publish_location(response_headers, internal_origins)
    if upstream.content_length is not None:
        response_headers["content-length"] = str(upstream.content_length)
    if upstream.content_length is not None and upstream.content_length <= 65536:
        # Small answers (nearly all of them): read at once, cheaper than a streamed response.
        try:
            payload = await upstream.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            upstream.release()
            raise _timeout(service) from exc
        upstream.release()
        return _with_cookies(Response(payload, status_code=upstream.status,
                                      headers=response_headers), cookies)
    return _with_cookies(StreamingResponse(
        upstream.content.iter_chunked(65536), status_code=upstream.status,
        headers=response_headers, background=BackgroundTask(upstream.release)), cookies)


def _with_cookies(response: Response, cookies: list[str]) -> Response:
    for cookie in cookies:
        response.headers.append("set-cookie", cookie)
    return response


def _publish_location(headers: dict[str, str], internal_origins: Collection[str]) -> None:
    """A service builds absolute redirects from the Host the gateway sent (its internal
    address, e.g. FastAPI's trailing-slash redirect): keep only the path and query, which
    the gateway serves as they are. A redirect to any other site is left alone."""
    for name in [k for k in headers if k.lower() == "location"]:
        parts = urlsplit(headers[name])
        if parts.netloc and f"{parts.scheme}://{parts.netloc}".lower() in internal_origins:
            headers[name] = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _timeout(service: str) -> GatewayTimeout:
    return GatewayTimeout(f"The {service} service did not answer in time.", service=service)


def _unavailable(service: str, why: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"The {service} service {why}; other services are unaffected.",
                              service=service, headers={"Retry-After": "5"})
