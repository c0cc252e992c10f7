"""POST /v1/alert-rules/{id}/backtest and /v1/alert-rules/backtest (an unsaved rule)."""

from __future__ import annotations

from fastapi import APIRouter

from services.alerts.backtest import service
from services.alerts.backtest.schemas import BacktestIn, BacktestOut, DraftBacktestIn
from services.alerts.rules.service import get_rule
from shared.app import DatabaseDep
from shared.auth import secured
from shared.db import Database
from shared.validation import RowId

router = APIRouter(prefix="/v1/alert-rules", tags=["alert-rules"])
DESCRIPTION = ("Replays the window's stored events and score history through the rule, with "
               "de-duplication, resolve delay and cooldown, and reports how many alerts it "
               "would have raised, for whom and when. Raises none. Conditions on features "
               "have no verdict (history does not keep them per moment): see `no_verdict`.")


@router.post("/backtest", operation_id="alert-rules-backtest-draft",
             summary="Backtest a rule not saved yet", description=DESCRIPTION,
             response_model=BacktestOut, **secured("alerts:read", extra_errors=[422]))
def backtest_draft(body: DraftBacktestIn, db: Database = DatabaseDep) -> BacktestOut:
    rule = service.rule_from_body(body.rule)
    with db.transaction() as session:
        return service.backtest(session, rule=rule, body=body)


@router.post("/{rule_id:int}/backtest", operation_id="alert-rules-backtest",
             summary="Backtest a saved rule", description=DESCRIPTION,
             response_model=BacktestOut, **secured("alerts:read", extra_errors=[404, 422]))
def backtest_rule(rule_id: RowId, body: BacktestIn, db: Database = DatabaseDep) -> BacktestOut:
    with db.transaction() as session:
        rule = service.rule_from_row(get_rule(session, rule_id))
        return service.backtest(session, rule=rule, body=body)
