"""Admission control: at most ``limit`` API requests in progress per process; the next one
is answered 503 with ``Retry-After`` at once instead of joining the queue.

Why: without a bound, a burst above capacity queues in the thread pool until callers time
out, while the service still does the work of requests nobody waits for. Measured with
``bench.capacity`` (an open-loop generator) at twice the capacity, the accepted rate fell
from about 200 to under 50 events/s and answers took up to 60 s. A caller told "503, retry
in a second" (CRM plugins, buses and the bench all retry) gets its answer in milliseconds,
and the requests that are let in finish in bounded time.

Only ``/v1`` is limited: health, readiness, metrics and docs stay answerable under load.

The default (256, ``RISKWATCH_MAX_IN_FLIGHT``) bounds the wait to a second or two at this
machine's capacity, far below callers' timeouts (the gateway's 30 s). A first default of 64
refused 28 % of a steady 200 events/s on a slow day (``bench.alerts``), when the answers'
p99 was only about 300 ms: it shed load that was not yet a problem.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import send_problem

RETRY_AFTER_SECONDS = 1


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit  # 0: no limit
        # One event loop per process serves every request, so a plain counter is exact.
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limit or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await _send_overloaded(send, scope["path"], self.limit)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _send_overloaded(send: Send, path: str, limit: int) -> None:
    await send_problem(
        send, status=503, code="overloaded", title="Service overloaded",
        detail=f"This service is already serving {limit} requests; retry after "
               f"{RETRY_AFTER_SECONDS} s. Nothing was done with this request.",
        instance=path, headers=[(b"retry-after", str(RETRY_AFTER_SECONDS).encode())])
