"""Input every service refuses the same way: text a database cannot hold, JSON nested too deep
to parse safely, integers beyond 64 bits.

PostgreSQL ``text``/``jsonb`` cannot hold NUL (U+0000) nor NaN, and no engine can encode an
unpaired UTF-16 surrogate (JSON's ``"\\ud800"``) as UTF-8: each reached the database as a 500.
They are refused here once, where input is validated: :class:`SafeModel` for request models,
:func:`value_problems` for documents parsed by hand (CloudEvents, CRM callbacks), and
:class:`InputGuardMiddleware` for paths, query strings and the depth of every JSON body.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any
from urllib.parse import parse_qsl

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from shared.errors import field_error, problem_response

# Deepest nesting (objects and arrays) of a whole JSON body, checked before it is parsed, so
# the parser never recurses far: Python's json recurses once per level (RecursionError).
MAX_DOCUMENT_DEPTH = 64
# Deepest nesting inside one field of free-form content (`data`, `attributes`, CRM values).
MAX_FREEFORM_DEPTH = 32
# Field problems reported per document; the first ones name the fault well enough.
MAX_REPORTED = 20

INT32_MAX = 2**31 - 1  # an INTEGER column
INT64_MAX = 2**63 - 1  # a BIGINT column
# Ids and offsets as the database holds them (BIGINT): a larger number is a 422, not a 500.
RowId = Annotated[int, annotated_types.Ge(1), annotated_types.Le(INT64_MAX)]
Offset = Annotated[int, annotated_types.Ge(0), annotated_types.Le(INT64_MAX)]

# A customer id must come back through a URL path (`/v1/customers/{customer_id}/…`): no `/`
# or `\\` (the gateway refuses encoded ones), no control characters, not `.` or `..`.
CUSTOMER_ID_MAX_LENGTH = 128  # customer.customer_id
CUSTOMER_ID_PATTERN = r"^[^/\\\x00-\x1f\x7f]+$"  # '.' and '..' are refused apart
_CUSTOMER_ID = re.compile(CUSTOMER_ID_PATTERN)
CUSTOMER_ID_MESSAGE = ("cannot be a customer id: it must round-trip in a URL path (no '/', "
                       "'\\', control characters, and not '.' or '..')")


def _not_a_dot_segment(value: str) -> str:
    if value in (".", ".."):
        raise PydanticCustomError("customer_id", CUSTOMER_ID_MESSAGE)
    return value


CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=CUSTOMER_ID_MAX_LENGTH,
                                              pattern=CUSTOMER_ID_PATTERN),
                       AfterValidator(_not_a_dot_segment)]


def _date_as_text(value: Any) -> Any:
    # JSON has no dates: a number (pydantic would read it as Unix time) is not one.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise PydanticCustomError("date_type", "Input should be a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_date_as_text)]


def customer_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a customer id, or None."""
    if not 0 < len(value) <= CUSTOMER_ID_MAX_LENGTH:
        return f"must be 1 to {CUSTOMER_ID_MAX_LENGTH} characters"
    if value in (".", "..") or not _CUSTOMER_ID.match(value):
        return CUSTOMER_ID_MESSAGE
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")
NUL_MESSAGE = "contains a NUL character (\\u0000), which cannot be stored"
SURROGATE_MESSAGE = "contains an unpaired UTF-16 surrogate, which is not valid Unicode text"


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None."""
    if "\x00" in value:
        return NUL_MESSAGE
    if not value.isascii() and _SURROGATE.search(value):
        return SURROGATE_MESSAGE
    return None


Loc = tuple[str | int, ...]


def _problems(value: Any, loc: Loc, max_depth: int, limit: int) -> list[tuple[Loc, str]]:
    """(location, message) for each string that cannot be stored (object keys included) and
    each container nested more than ``max_depth`` levels, counting ``value`` as level 1."""
    found: list[tuple[Loc, str]] = []

    def walk(node: Any, where: Loc, depth: int) -> None:
        if len(found) >= limit:
            return
        if isinstance(node, str):
            if (message := text_problem(node)) is not None:
                found.append((where, message))
            return
        if isinstance(node, float) and not math.isfinite(node):
            found.append((where, "is not a finite number (JSON has no NaN or Infinity)"))
            return
        if not isinstance(node, dict | list):
            return
        if depth >= max_depth:
            found.append((where, f"nests deeper than {max_depth} levels"))
            return
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, (*where, index), depth + 1)
            return
        for key, item in node.items():
            if isinstance(key, str) and (message := text_problem(key)) is not None:
                found.append(((*where, _printable(key)), f"the key {message}"))
            else:
                walk(item, (*where, key), depth + 1)

    walk(value, loc, 0)
    return found


def _printable(key: str) -> str:
    return repr(key)[1:-1]


def _fields(document: dict[str, Any], max_depth: int) -> list[tuple[Loc, str]]:
    """Problems of each field of ``document``, depth counted from the field's value."""
    found: list[tuple[Loc, str]] = []
    for key, item in document.items():
        if len(found) >= MAX_REPORTED:
            break
        if isinstance(key, str) and (message := text_problem(key)) is not None:
            found.append(((_printable(key),), f"the key {message}"))
        else:
            found.extend(_problems(item, (key,), max_depth, MAX_REPORTED - len(found)))
    return found


def _as_errors(found: list[tuple[Loc, str]], prefix: str) -> list[dict[str, Any]]:
    return [field_error(prefix + ".".join(str(p) for p in loc) if loc else prefix.rstrip(".")
                        or "body", message) for loc, message in found]


def value_problems(value: Any, *, prefix: str = "",
                   max_depth: int = MAX_FREEFORM_DEPTH) -> list[dict[str, Any]]:
    """Field errors (names start with ``prefix``) for text in ``value`` that cannot be stored
    and for nesting deeper than ``max_depth`` levels, ``value`` itself being level 1."""
    return _as_errors(_problems(value, (), max_depth, MAX_REPORTED), prefix)


def fields_problems(document: dict[str, Any], *, prefix: str = "",
                    max_depth: int = MAX_FREEFORM_DEPTH) -> list[dict[str, Any]]:
    """:func:`value_problems` for each field of a JSON object, depth counted inside the
    field: ``{"data": {...}}`` may nest ``max_depth`` levels, ``data`` being the first."""
    return _as_errors(_fields(document, max_depth), prefix)


class SafeModel(BaseModel):
    """Base of request models: no field, however deep in a free-form map, holds text the
    database cannot store or nests deeper than :data:`MAX_FREEFORM_DEPTH`. The errors carry
    the field's location, like any other validation error."""

    @model_validator(mode="before")
    @classmethod
    def _storable_input(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        found = _fields(data, MAX_FREEFORM_DEPTH)
        if found:
            raise ValidationError.from_exception_data(cls.__name__, [
                InitErrorDetails(type=PydanticCustomError("unstorable_input", message),
                                 loc=loc, input=None)
                for loc, message in found])
        return data


_KEEP = b'[]{}"'
_DROP = bytes(b for b in range(256) if b not in _KEEP)
_AS_PARENS = bytes.maketrans(b"[]{}", b"()()")


def json_too_deep(body: bytes, limit: int = MAX_DOCUMENT_DEPTH) -> bool:
    """Whether a JSON text nests objects and arrays more than ``limit`` levels, found without
    parsing it, in C-level passes over the bytes: escapes go first (a backslash always starts
    a two-character escape), then everything but quotes and brackets, then the strings;
    each further pass removes the innermost bracket pairs, at most ``limit`` of them."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    skeleton = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _DROP)
    # Split on the (unescaped) quotes: every other piece lies outside strings.
    brackets = b"".join(skeleton.split(b'"')[::2]).translate(_AS_PARENS)
    for _ in range(limit):
        shorter = brackets.replace(b"()", b"")
        if len(shorter) == len(brackets):
            break
        brackets = shorter
    # Balanced pairs still left are deeper than the limit; unbalanced openers left are
    # nested in each other (the parser would recurse through them before failing).
    return b"()" in brackets or brackets.count(b"(") > limit


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            media = value.split(b";")[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class InputGuardMiddleware:
    """Refuses, for every route of a service, what no route could handle: a NUL character in
    the decoded path or query string (422, naming the parameter), and a JSON body nested
    deeper than :data:`MAX_DOCUMENT_DEPTH` (400) before any parser sees it. Other bodies
    stream through untouched (CSV uploads keep constant memory)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = request_line_problems(scope.get("path", ""),
                                         scope.get("query_string", b""))
        if problems:
            await _refuse(scope, send, status=422, code="validation-failed",
                          title="The request did not validate",
                          detail="The path or query string holds text that cannot be stored.",
                          errors=problems)
            return
        if not _is_json(scope.get("headers", [])):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if json_too_deep(body):
            await _refuse(scope, send, status=400, code="bad-request", title="Bad request",
                          detail=f"The JSON body nests deeper than {MAX_DOCUMENT_DEPTH} levels.",
                          errors=[field_error("body", f"at most {MAX_DOCUMENT_DEPTH} levels "
                                                      "of nested objects and arrays")])
            return
        await self.app(scope, _replay([body], None, receive), send)


def request_line_problems(path: str, query_string: bytes) -> list[dict[str, Any]]:
    """NUL characters in the decoded path and query parameters, as field errors."""
    problems: list[dict[str, Any]] = []
    if "\x00" in path:
        problems.append(field_error("path", NUL_MESSAGE))
    if b"%00" in query_string.lower() or b"\x00" in query_string:
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name:
                problems.append(field_error("query", f"a parameter name {NUL_MESSAGE}"))
            elif "\x00" in value:
                problems.append(field_error(f"query.{name}", NUL_MESSAGE))
    return problems


def _replay(bodies: list[bytes], pending: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that hands the buffered body to the app, then defers to the server."""
    queue: list[Message] = [{"type": "http.request", "body": b, "more_body": False}
                            for b in bodies]
    if pending is not None:
        queue.append(pending)

    async def replay() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replay


async def _refuse(scope: Scope, send: Send, *, status: int, code: str, title: str,
                  detail: str, errors: list[dict[str, Any]]) -> None:
    path = scope.get("path", "")
    response = problem_response(status=status, code=code, title=title, detail=detail,
                                instance=path.replace("\x00", "\\u0000"), errors=errors)

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)
