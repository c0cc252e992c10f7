"""shared.db's engine check and named advisory locks, on both engines."""

from __future__ import annotations

from shared.db import Database, Lock, is_postgres, try_xact_lock, xact_lock


def test_engine_check_answers_for_sessions_engines_and_connections(
        db: Database, database_url: str) -> None:
    expected = database_url.startswith("postgresql")
    with db.sessions() as session, db.engine.connect() as conn:
        assert is_postgres(session) is is_postgres(db.engine) is is_postgres(conn) is expected


def test_a_held_key_lock_turns_away_a_second_transaction_until_the_first_ends(
        db: Database, database_url: str) -> None:
    with db.sessions() as holder, holder.begin():
        xact_lock(holder, Lock.CUSTOMER_SCORING, "c-2", "c-1")
        with db.sessions() as other, other.begin():
            if is_postgres(other):
                assert not try_xact_lock(other, Lock.CUSTOMER_SCORING, "c-1")
                # Another key, or the same key under another lock name, is free.
                assert try_xact_lock(other, Lock.CUSTOMER_SCORING, "c-3")
                assert try_xact_lock(other, Lock.IDEMPOTENCY_KEY, "c-1")
            else:
                # SQLite's single writer serialises transactions: nothing to take.
                assert try_xact_lock(other, Lock.CUSTOMER_SCORING, "c-1")
    with db.sessions() as later, later.begin():
        assert try_xact_lock(later, Lock.CUSTOMER_SCORING, "c-1")
