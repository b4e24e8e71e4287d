"""outbox: NOTIFY the relays from a statement trigger

Relays of other instances wake on a NOTIFY on channel `snaproom_outbox` (events/wakeup.py). It
was a separate `NOTIFY` statement in every publishing transaction: one more round trip, about
a fifth of a ten-event transaction's CPU in the publisher. A statement-level trigger sends it
inside the INSERT. PostgreSQL delivers it only on commit, once per transaction and channel.
SQLite has no other instances to wake: nothing to do there.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE OR REPLACE FUNCTION snaproom_outbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('snaproom_outbox', '');
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
        FOR EACH STATEMENT EXECUTE FUNCTION snaproom_outbox_notify()
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS snaproom_outbox_notify()")
