"""events partitioned by month on PostgreSQL; de-duplication keys in their own table

PostgreSQL only (SQLite keeps one table with its unique constraint). ``event`` becomes a
table partitioned by range of ``occurred_at``: a DEFAULT partition takes every month that
has no partition of its own, and the ingest worker's maintenance job
(services/ingest/events/partitions.py) creates the coming months ahead, moves any month
found in the default partition into a partition of its own, and drops months past the
retention setting.

A unique index on a partitioned table must contain the partition key, so
``(source, event_id)`` can no longer be unique on ``event`` itself: a CloudEvent is the same
event whatever its time. ``event_key`` holds one row per (source, event_id) and a BEFORE
INSERT trigger on ``event`` claims the key first and drops the row when it is taken (an
AFTER DELETE trigger frees it again). Every
writer (the ingest statement, COPY, an ORM insert) is de-duplicated the same way, and an
``INSERT … RETURNING`` returns only the rows stored, as ``ON CONFLICT DO NOTHING`` did.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TRIGGER_FUNCTION = """
CREATE FUNCTION event_claim_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_key (source, event_id, occurred_at)
    VALUES (NEW.source, NEW.event_id, NEW.occurred_at)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN NULL;  -- already stored: skip the row, as ON CONFLICT DO NOTHING would
    END IF;
    RETURN NEW;
END $$
"""

# A deleted event frees its key, so it may be sent again (retention drops whole partitions
# and purges their keys itself: see services/ingest/events/partitions.py).
RELEASE_FUNCTION = """
CREATE FUNCTION event_release_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Moving a month out of the default partition deletes and re-inserts rows that stay
    -- stored: their keys stay too.
    IF current_setting('riskwatch.moving_events', true) = 'on' THEN
        RETURN NULL;
    END IF;
    DELETE FROM event_key WHERE source = OLD.source AND event_id = OLD.event_id;
    RETURN NULL;
END $$
"""

INDEXES = """
ALTER TABLE event ADD CONSTRAINT pk_event PRIMARY KEY (id, occurred_at);
ALTER TABLE event ADD CONSTRAINT fk_event_customer_id_customer
    FOREIGN KEY (customer_id) REFERENCES customer (customer_id);
CREATE INDEX ix_event_customer_id_occurred_at ON event (customer_id, occurred_at);
CREATE INDEX ix_event_type_occurred_at ON event (type, occurred_at);
ALTER SEQUENCE event_id_seq OWNED BY event.id;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("LOCK TABLE event IN ACCESS EXCLUSIVE MODE")
    op.execute("CREATE TABLE event_partitioned (LIKE event INCLUDING DEFAULTS) "
               "PARTITION BY RANGE (occurred_at)")
    op.execute("CREATE TABLE event_default PARTITION OF event_partitioned DEFAULT")
    op.execute("INSERT INTO event_partitioned SELECT * FROM event")
    op.execute("CREATE TABLE event_key (source varchar(255) NOT NULL, "
               "event_id varchar(255) NOT NULL, occurred_at timestamptz NOT NULL, "
               "CONSTRAINT pk_event_key PRIMARY KEY (source, event_id))")
    op.execute("INSERT INTO event_key SELECT source, event_id, occurred_at FROM event")
    op.execute("CREATE INDEX ix_event_key_occurred_at ON event_key (occurred_at)")
    # The sequence outlives the old table: it numbers the events in the new one.
    op.execute("ALTER SEQUENCE event_id_seq OWNED BY NONE")
    op.execute("DROP TABLE event")
    op.execute("ALTER TABLE event_partitioned RENAME TO event")
    for statement in INDEXES.strip().split(";\n"):
        op.execute(statement)
    op.execute(TRIGGER_FUNCTION)
    op.execute("CREATE TRIGGER event_claim_key BEFORE INSERT ON event "
               "FOR EACH ROW EXECUTE FUNCTION event_claim_key()")
    op.execute(RELEASE_FUNCTION)
    op.execute("CREATE TRIGGER event_release_key AFTER DELETE ON event "
               "FOR EACH ROW EXECUTE FUNCTION event_release_key()")
    op.execute("ANALYZE event, event_key")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("LOCK TABLE event IN ACCESS EXCLUSIVE MODE")
    op.execute("CREATE TABLE event_plain (LIKE event INCLUDING DEFAULTS)")
    op.execute("INSERT INTO event_plain SELECT * FROM event")
    op.execute("ALTER SEQUENCE event_id_seq OWNED BY NONE")
    op.execute("DROP TABLE event")  # its partitions and trigger go with it
    op.execute("DROP FUNCTION event_claim_key()")
    op.execute("DROP FUNCTION event_release_key()")
    op.execute("DROP TABLE event_key")
    op.execute("ALTER TABLE event_plain RENAME TO event")
    for statement in INDEXES.replace("(id, occurred_at)", "(id)").strip().split(";\n"):
        op.execute(statement)
    op.execute("ALTER TABLE event ADD CONSTRAINT uq_event_source_event_id "
               "UNIQUE (source, event_id)")
