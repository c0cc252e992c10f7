"""HTTP methods as RFC 9110 describes them, for every app: HEAD wherever GET exists, OPTIONS
answered with the path's methods, and a 405 whose ``Allow`` lists every method the path has.

The methods of a path come from the app's own OpenAPI document (what ops teams and clients
read), not from the router's internals, so the answer and the document cannot disagree."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

IMPLICIT = ("HEAD", "OPTIONS")
_PARAMETER = re.compile(r"\{[^}/]+\}")


class PathMethods:
    """The methods of each path template; a path takes those of its most specific match
    (fewest parameters), as routing does: `/v1/models/rollback` is not `/v1/models/{id}`."""

    def __init__(self, paths: Mapping[str, Iterable[str]]) -> None:
        self._templates = sorted(
            ((len(_PARAMETER.findall(template)),
              re.compile("^" + _PARAMETER.sub("[^/]+", re.escape(template).replace(
                  r"\{", "{").replace(r"\}", "}")) + "$"),
              {m.upper() for m in methods})
             for template, methods in paths.items()),
            key=lambda entry: entry[0])

    @staticmethod
    def paths_of(document: Mapping[str, Any]) -> dict[str, list[str]]:
        """Path template -> methods, from an OpenAPI document."""
        return {template: [m for m in item if m in _HTTP_METHODS]
                for template, item in document.get("paths", {}).items()}

    def allowed(self, path: str) -> list[str]:
        """Every method of ``path`` (with HEAD and OPTIONS); empty if no template matches."""
        methods: set[str] = set()
        specificity: int | None = None
        for parameters, pattern, template_methods in self._templates:
            if specificity is not None and parameters > specificity:
                break
            if pattern.match(path):
                specificity = parameters
                methods |= template_methods
        if not methods:
            return []
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods | {"OPTIONS"})


_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def allowed_methods(app: object, path: str) -> list[str]:
    """The methods of ``path`` for ``app`` (a FastAPI app with ``state.path_methods``)."""
    state = getattr(app, "state", None)
    methods_of: Callable[[], PathMethods] | None = getattr(state, "path_methods", None)
    return methods_of().allowed(path) if methods_of is not None else []


class MethodsMiddleware:
    """HEAD runs the GET route and drops the body; OPTIONS lists the path's methods.
    Paths matching ``pass_through`` are left alone (the gateway forwards them)."""

    def __init__(self, app: ASGIApp, *, pass_through: re.Pattern[str] | None = None) -> None:
        self.app = app
        self.pass_through = pass_through

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] not in IMPLICIT
                or (self.pass_through and self.pass_through.match(scope["path"]))):
            await self.app(scope, receive, send)
            return
        methods = allowed_methods(scope.get("app"), scope["path"])
        if scope["method"] == "OPTIONS" and methods:
            await send({"type": "http.response.start", "status": 204,
                        "headers": [(b"allow", ", ".join(methods).encode())]})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
