"""A rule ready to evaluate: its parameters parsed into their kind's model (and CEL compiled)
once, so the worker never re-validates a rule per customer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from services.alerts.rules.expressions import (
    CompiledExpression,
    ExpressionError,
    compile_expression,
)
from services.alerts.rules.schemas import PARAMS, ExpressionParams, Scope
from shared.errors import ValidationFailed, field_error
from shared.models.alerts import AlertRule, RuleKind


def parse_params(kind: RuleKind, params: dict[str, Any]) -> tuple[BaseModel,
                                                                   CompiledExpression | None]:
    """The kind's parameters validated (422 naming ``params.<field>``), with the compiled
    expression for kind ``expression`` (422 naming its line and column)."""
    try:
        parsed = PARAMS[kind].model_validate(params)
    except ValidationError as exc:
        errors = [field_error(".".join(["params", *(str(p) for p in e["loc"])]),
                              e["msg"].removeprefix("Value error, "), type=e["type"])
                  for e in exc.errors()]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        raise ValidationFailed(f"Invalid {kind} rule parameters: {fields}",
                               errors=errors) from None
    compiled = None
    if isinstance(parsed, ExpressionParams):
        try:
            compiled = compile_expression(parsed.expression)
        except ExpressionError as exc:
            extra = {} if exc.line is None else {"line": exc.line, "column": exc.column}
            raise ValidationFailed(f"params.expression: {exc}", errors=[
                field_error("params.expression", str(exc), **extra)]) from None
    return parsed, compiled


@dataclass(frozen=True)
class CompiledRule:
    id: int
    version: int
    name: str
    kind: RuleKind
    params: Any  # the kind's params model
    scope: Scope
    severity: str
    cooldown_seconds: int
    resolve_after_seconds: int
    repeat_interval_seconds: int | None
    expression: CompiledExpression | None = None
    tiers: frozenset[str] = field(default_factory=frozenset)
    industries: frozenset[str] = field(default_factory=frozenset)
    customers: frozenset[str] = field(default_factory=frozenset)

    @property
    def stateful(self) -> bool:
        """A condition on the customer's state (re-checked on every trigger, resolved when
        clear); otherwise a condition on one event (resolved when quiet)."""
        if self.expression is not None:
            return not self.expression.uses_event
        return self.kind not in (RuleKind.EVENT, RuleKind.ANOMALY)

    def in_scope(self, customer_id: str, tier: str | None, industry: str | None) -> bool:
        if self.customers and customer_id not in self.customers:
            return False
        if self.tiers and tier not in self.tiers:
            return False
        return not (self.industries and industry not in self.industries)


def compile_rule(*, id: int, version: int, name: str, kind: str, params: dict[str, Any],
                 scope: dict[str, Any], severity: str, cooldown_seconds: int,
                 resolve_after_seconds: int,
                 repeat_interval_seconds: int | None) -> CompiledRule:
    rule_kind = RuleKind(kind)
    parsed, expression = parse_params(rule_kind, params)
    parsed_scope = Scope.model_validate(scope or {})
    return CompiledRule(
        id=id, version=version, name=name, kind=rule_kind, params=parsed, scope=parsed_scope,
        severity=severity, cooldown_seconds=cooldown_seconds,
        resolve_after_seconds=resolve_after_seconds,
        repeat_interval_seconds=repeat_interval_seconds, expression=expression,
        tiers=frozenset(parsed_scope.tiers), industries=frozenset(parsed_scope.industries),
        customers=frozenset(parsed_scope.customers))


def compile_row(rule: AlertRule) -> CompiledRule:
    return compile_rule(id=rule.id, version=rule.version, name=rule.name, kind=rule.kind,
                        params=rule.params, scope=rule.scope, severity=rule.severity,
                        cooldown_seconds=rule.cooldown_seconds,
                        resolve_after_seconds=rule.resolve_after_seconds,
                        repeat_interval_seconds=rule.repeat_interval_seconds)
