"""CEL conditions: compiled and checked when a rule is written, evaluated within a cost bound.

The package is ``common-expression-language`` (import ``cel``): Python bindings to the Rust
``cel`` interpreter, maintained, ~14 µs an evaluation here against several hundred for the
pure-Python ``cel-python`` (the worker evaluates every rule for every event). It parses with
positions but has no declaration-based type checker, so checking is done here in three
steps: the parser (syntax, with line and column), the names used (variables and functions
must be declared), and a trial run against typed sample values of every declared variable,
which surfaces the type errors CEL raises (``1 + "a"``, a string compared to a number).

Cost: CEL has no loops and no recursion; only comprehensions (``all``, ``exists``, ``map``,
``filter``) multiply work. An expression's length and the nesting of its comprehensions are
capped on write (one level by default: linear in the input), and an event whose data is
larger than a cap gets no verdict from expressions that read the event, so one evaluation's
work is bounded. (The interpreter cannot be interrupted mid-evaluation, so the bound is
enforced before it runs rather than by a timer.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import cel

from services.alerts.settings import get_alerts_settings

VARIABLES = ("customer", "risk", "previous_risk", "event", "features")
# The CEL standard functions and operators the interpreter knows (internal names included).
_FUNCTIONS = frozenset({
    "size", "contains", "startsWith", "endsWith", "matches", "has", "int", "uint", "double",
    "string", "bytes", "bool", "timestamp", "duration", "type", "dyn", "max", "min",
    "getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear",
    "getHours", "getMinutes", "getSeconds", "getMilliseconds", "all", "exists", "exists_one",
    "map", "filter",
})
_COMPREHENSIONS = ("all", "exists", "exists_one", "map", "filter")
_COMPREHENSION_VAR = re.compile(r"\.\s*(?:all|exists_one|exists|map|filter)\s*\(\s*([A-Za-z_]\w*)")
_POSITION = re.compile(r"<input>:(\d+):(\d+)")

# Typed sample values of every variable: a trial run over them is the type check.
SAMPLE_CONTEXT: dict[str, Any] = {
    "customer": {"customer_id": "c-1", "name": "Acme", "industry": "retail", "country": "DE",
                 "owner": "owner", "employees": 10, "credit_limit": 1000.0,
                 "attributes": {}},
    "risk": {"pd": 0.05, "points": 600, "tier": "medium", "pd_churn": 0.1,
             "overdue_amount": 0.0, "outstanding_balance": 0.0, "credit_limit": 1000.0,
             "in_default": False},
    "previous_risk": {"pd": 0.04, "points": 610, "tier": "medium"},
    "event": {"type": "order.placed", "amount": 10.0, "counterparty": "x", "data": {}},
    "features": {"days_past_due": 0.0, "overdue_amount": 0.0, "utilization": 0.1,
                 "complaints_90": 0.0, "rating": 50.0},
}


class ExpressionError(ValueError):
    """A rule's expression that cannot be used, with where in it the fault lies."""

    def __init__(self, message: str, *, line: int | None = None,
                 column: int | None = None) -> None:
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(message + where)
        self.line = line
        self.column = column


@dataclass(frozen=True)
class CompiledExpression:
    source: str
    program: Any  # cel.Program
    uses_event: bool = False
    variables: frozenset[str] = frozenset()  # the declared ones it uses
    max_event_bytes: int = 65536  # larger event data: no verdict (the cost bound)

    def evaluate(self, context: dict[str, Any]) -> bool:
        """True when the condition holds; raises on an evaluation error (a missing key)."""
        return self.program.execute(context) is True


def _position_of(source: str, name: str) -> tuple[int, int] | None:
    match = re.search(rf"(?<![\w.]){re.escape(name)}\b", source)
    if match is None:
        return None
    before = source[:match.start()]
    return before.count("\n") + 1, match.start() - (before.rfind("\n") + 1) + 1


def _comprehension_depth(source: str) -> int:
    """Nesting of comprehension macros, from their opening parentheses (strings ignored)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', source)
    depth = deepest = 0
    stack: list[bool] = []
    for match in re.finditer(r"\.\s*(all|exists_one|exists|map|filter)\s*\(|\(|\)", text):
        token = match.group(0)
        if token == ")":
            if stack and stack.pop():
                depth -= 1
        else:
            macro = match.group(1) is not None
            stack.append(macro)
            if macro:
                depth += 1
                deepest = max(deepest, depth)
    return deepest


def compile_expression(source: str) -> CompiledExpression:
    """Compile and check ``source``; raises :class:`ExpressionError` naming the position."""
    settings = get_alerts_settings()
    if len(source) > settings.expression_max_length:
        raise ExpressionError(f"longer than {settings.expression_max_length} characters")
    if not source.strip():
        raise ExpressionError("empty expression")
    try:
        program = cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        text = str(exc)
        found = _POSITION.search(text)
        detail = text.split("ERROR: ", 1)[-1].split("\n", 1)[0]
        detail = _POSITION.sub("", detail).lstrip(": ").strip() or "syntax error"
        if found:
            raise ExpressionError(detail, line=int(found.group(1)),
                                  column=int(found.group(2))) from None
        raise ExpressionError(detail) from None
    depth = _comprehension_depth(source)
    if depth > settings.expression_max_comprehension_depth:
        raise ExpressionError(f"comprehensions nest {depth} deep; at most "
                              f"{settings.expression_max_comprehension_depth} are allowed")
    bound = set(_COMPREHENSION_VAR.findall(source))
    for name in program.variables():
        if name not in VARIABLES and name not in bound:
            line_col = _position_of(source, name) or (None, None)
            raise ExpressionError(f"unknown variable {name!r} (known: {', '.join(VARIABLES)})",
                                  line=line_col[0], column=line_col[1])
    for name in program.functions():
        if name[:1].isalpha() and name not in _FUNCTIONS:
            line_col = _position_of(source, name) or (None, None)
            raise ExpressionError(f"unknown function {name!r}", line=line_col[0],
                                  column=line_col[1])
    _trial_run(source, program)
    used = frozenset(program.variables()) & set(VARIABLES)
    return CompiledExpression(source, program, uses_event="event" in used, variables=used,
                              max_event_bytes=settings.expression_max_event_bytes)


def _trial_run(source: str, program: Any) -> None:
    """Type-check by evaluating over typed samples: a type error in CEL is 'no such
    overload'. Missing keys (``features.x`` for a feature the sample lacks) are not type
    errors: real customers may have them."""
    try:
        result = program.execute(SAMPLE_CONTEXT)
    except KeyError:
        return
    except TypeError as exc:
        raise ExpressionError(f"type error: {str(exc).split('.')[0]}") from None
    except (RuntimeError, ValueError) as exc:
        text = str(exc)
        raise ExpressionError(f"evaluation error: {text.split('. ')[0]}") from None
    if not isinstance(result, bool):
        raise ExpressionError(f"must evaluate to a bool, not {type(result).__name__}")
