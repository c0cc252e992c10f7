"""The risk lookup behind GET /risk and credit decisions, in-process on PostgreSQL, its
shapes over time against each other in the same run (no HTTP, so a busy machine disturbs it
least):

- old: a transaction (BEGIN ... COMMIT) with three queries — the stored risk, the overrides
  in force, the tier policy;
- session: Database.read() (autocommit: no BEGIN/COMMIT) and one statement that returns the
  risk, the override in force and the policy version, through the ORM (the policy is this
  process's copy);
- hot read (today's): the same statement on a pooled driver connection without the Session
  (shared/hotpath.py);
- the statement inside a transaction, to separate the gains of autocommit and of one
  statement.

    python -m bench.risk_lookup --customers 2000 --rounds 2
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from bench import report
from bench.alerts import seed_customers
from bench.common import fresh_postgres
from services.scoring.scores import repository as scores_repository
from services.scoring.scores import service
from services.scoring.tiers import repository as tier_repository
from services.scoring.tiers.service import current_policy
from shared.db import Database
from shared.models import utcnow
from shared.models.scoring import CustomerRisk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with fresh_postgres() as url:
        db = Database(url)
        ids = seed_customers(db, args.customers, with_risk=True)

        def old(customer_id: str) -> None:
            with db.transaction() as session:
                session.get(CustomerRisk, customer_id)
                tier_repository.overrides_in_force(session, [customer_id], utcnow())
                current_policy(session)

        def session_read(customer_id: str) -> None:
            with db.read() as session:
                _through_the_session(session, customer_id)

        def hot_read(customer_id: str) -> None:
            service.lookup_risk(db, customer_id)

        def in_transaction(customer_id: str) -> None:
            with db.transaction() as session:
                _through_the_session(session, customer_id)

        shapes: tuple[tuple[str, Callable[[str], None]], ...] = (
            ("old: transaction + 3 queries", old), ("session: read + 1 statement", session_read),
            ("hot read: 1 statement, no Session", hot_read),
            ("1 statement in a transaction", in_transaction))
        timings: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, lookup in shapes:
                wall, cpu = time.perf_counter(), time.process_time()
                for customer_id in ids:
                    lookup(customer_id)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                print(f"{name:<32} {len(ids) / wall:7,.0f} lookups/s  {wall * 1000 / len(ids):.3f}"
                      f" ms each, {cpu * 1000 / len(ids):.3f} ms of this process's CPU",
                      flush=True)
                timings[name] = min(timings.get(name, float("inf")), wall * 1000 / len(ids))
        # The best round of each shape, as the README quotes them.
        old_ms = timings["old: transaction + 3 queries"]
        report.record("risk lookup, read + one statement through the Session",
                      timings["session: read + 1 statement"], "ms",
                      baseline=("old shape: transaction + 3 queries", old_ms))
        report.record("risk lookup, hot read (no Session)",
                      timings["hot read: 1 statement, no Session"], "ms",
                      baseline=("read + one statement through the Session",
                                timings["session: read + 1 statement"]))
        report.record("risk lookup, one statement in a transaction",
                      timings["1 statement in a transaction"], "ms",
                      baseline=("old shape: transaction + 3 queries", old_ms))
        db.dispose()


def _through_the_session(session: Session, customer_id: str) -> None:
    """The lookup as it was before the hot read: the statement through the ORM (the policy
    of its version was this process's copy then as now)."""
    row = session.execute(scores_repository.RISK_ROW,
                          {"customer_id": customer_id, "now": utcnow()}).first()
    assert row is not None and row[0] is not None


if __name__ == "__main__":
    main()
