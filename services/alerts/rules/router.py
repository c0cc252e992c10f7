"""/v1/alert-rules: the rules the worker evaluates, their versions, and backtests."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.alerts.rules import repository, service
from services.alerts.rules.schemas import (
    RuleIn,
    RuleOut,
    RulePage,
    RulePatch,
    RuleVersionOut,
)
from shared.app import DatabaseDep
from shared.auth import current_principal, secured
from shared.db import Database
from shared.models.alerts import RuleKind
from shared.validation import RowId

router = APIRouter(prefix="/v1/alert-rules", tags=["alert-rules"])


@router.get("", operation_id="alert-rules-list", summary="List alert rules",
            description="Every rule not deleted, built-in ones included, in id order.",
            response_model=RulePage, **secured("alerts:read"))
def list_rules(db: Database = DatabaseDep, kind: RuleKind | None = None,
               enabled: bool | None = None) -> RulePage:
    with db.read() as session:
        return RulePage(items=[service.out(r) for r in
                               repository.listing(session, kind=kind, enabled=enabled)])


@router.post("", operation_id="alert-rules-create", summary="Create an alert rule",
             description="Parameters are validated for the rule's kind (422 naming "
                         "`params.<field>`); a CEL expression is compiled and type-checked "
                         "(422 naming its line and column). 409 when the name is taken.",
             status_code=201, response_model=RuleOut,
             **secured("alerts:write", extra_errors=[409, 422]))
def create_rule(body: RuleIn, request: Request, db: Database = DatabaseDep) -> RuleOut:
    with db.transaction() as session:
        return service.create_rule(session, body=body, actor=current_principal(request).actor)


@router.get("/{rule_id:int}", operation_id="alert-rules-get", summary="One alert rule",
            description="The rule as it stands (its current version).",
            response_model=RuleOut, **secured("alerts:read", extra_errors=[404]))
def get_rule(rule_id: RowId, db: Database = DatabaseDep) -> RuleOut:
    with db.read() as session:
        return service.out(service.get_rule(session, rule_id))


@router.patch("/{rule_id:int}", operation_id="alert-rules-update", summary="Change an alert rule",
              description="Changes the given fields and writes a new version; alerts keep "
                          "the version that raised them. The kind cannot change.",
              response_model=RuleOut,
              **secured("alerts:write", extra_errors=[404, 409, 422]))
def update_rule(rule_id: RowId, body: RulePatch, request: Request,
                db: Database = DatabaseDep) -> RuleOut:
    with db.transaction() as session:
        return service.update_rule(session, rule_id=rule_id, patch=body,
                                   actor=current_principal(request).actor)


@router.delete("/{rule_id:int}", operation_id="alert-rules-delete", summary="Delete an alert rule",
               description="The rule stops evaluating; its alerts stay, naming it.",
               status_code=204, response_class=Response,
               **secured("alerts:write", extra_errors=[404]))
def delete_rule(rule_id: RowId, request: Request, db: Database = DatabaseDep) -> Response:
    with db.transaction() as session:
        service.delete_rule(session, rule_id=rule_id, actor=current_principal(request).actor)
    return Response(status_code=204)


@router.get("/{rule_id:int}/versions", operation_id="alert-rules-versions",
            summary="A rule's versions", description="Every version, oldest first.",
            response_model=list[RuleVersionOut], **secured("alerts:read", extra_errors=[404]))
def rule_versions(rule_id: RowId, db: Database = DatabaseDep) -> list[RuleVersionOut]:
    with db.read() as session:
        service.get_rule(session, rule_id)
        return [RuleVersionOut.model_validate(v) for v in repository.versions(session, rule_id)]
