"""Request body limits: which paths may carry large bodies, and an ASGI middleware that
enforces the limit in every service (the gateway enforces the same limits first; this is
the second line, for a request that reaches a service some other way).

The middleware counts the bytes actually received, whatever ``Content-Length`` says, so a
chunked upload cannot slip past it.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PayloadTooLarge, send_problem
from shared.settings import Settings

# Streamed CSV uploads may be far larger than any JSON body.
LARGE_BODY_PATHS = re.compile(r"^/v1/(imports|models/train-from-file)(/.*)?$")
_DOT_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)")


def body_limit_for(path: str, settings: Settings) -> int:
    """The largest body ``path`` accepts. A path with dot segments never gets the large
    limit: after normalisation it would name another route."""
    if LARGE_BODY_PATHS.match(path) and not _DOT_SEGMENT.search(path):
        return settings.max_import_body_bytes
    return settings.max_body_bytes


class BodyLimitMiddleware:
    """Answers 413 (problem details) once a request body exceeds its path's limit."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = body_limit_for(path, self.settings)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_too_large(send, path, limit)
            return

        received = 0
        refused = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not response_started:
                        await _send_too_large(send, path, limit)
                    # The app sees a client that went away and stops reading.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return  # the 413 is the answer; whatever the app says after it is dropped
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _send_too_large(send: Send, path: str, limit: int) -> None:
    error = PayloadTooLarge(f"The body exceeds {limit} bytes.")
    await send_problem(send, status=error.status, code=error.code, title=error.title,
                       detail=error.detail, instance=path,
                       headers=[(b"connection", b"close")])
