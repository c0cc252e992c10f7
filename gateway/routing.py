"""Which service owns a public path, decided on the raw path exactly as it will be forwarded.

Routing on the decoded path and forwarding a path that is normalised later lets
``/v1/imports/..%2Fevents/batch`` take the import body limit and land on
``/v1/events/batch``. So a path is refused when decoding or normalising it could change
which route it names: dot segments (plain or percent-encoded), encoded ``/`` or ``\\``,
and a raw backslash. Anything else is forwarded byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote

from shared.errors import InvalidPath

_ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)


class RouteTable:
    """Ordered ``(pattern, service)`` pairs; the first match wins."""

    def __init__(self, routes: Sequence[tuple[re.Pattern[str], str]]) -> None:
        self.routes = list(routes)

    def service_for(self, path: str) -> str | None:
        for pattern, service in self.routes:
            if pattern.match(path):
                return service
        return None


def routable_path(raw_path: bytes) -> str:
    """The raw request path, or InvalidPath when it could be read as another path."""
    try:
        path = raw_path.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidPath("The path must be ASCII; percent-encode other characters.") from None
    if "\\" in path or _ENCODED_SEPARATOR.search(path):
        raise InvalidPath("Encoded '/' (%2F) and '\\' (raw or %5C) are not allowed in paths.")
    if any(unquote(segment) in (".", "..") for segment in path.split("/")):
        raise InvalidPath("Dot segments ('.' and '..', plain or encoded) are not allowed "
                          "in paths.")
    return path


def raw_query(query_string: bytes) -> str:
    try:
        return query_string.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidPath("The query must be ASCII; percent-encode other characters.") from None
