"""outbox: partial index on unsent rows

The relay's claim (`WHERE sent_at IS NULL ORDER BY seq LIMIT n FOR UPDATE SKIP LOCKED`) and the
pending count must not scan the sent rows kept for the retention period: with stale statistics
PostgreSQL walked the primary key over every sent row (124 ms a claim at 50k sent rows). The
partial index holds only the pending rows, so it stays tiny.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_unsent", ["seq"], unique=False,
                              postgresql_where=sa.text("sent_at IS NULL"),
                              sqlite_where=sa.text("sent_at IS NULL"))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unsent")
