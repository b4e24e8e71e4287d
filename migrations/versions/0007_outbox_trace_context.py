"""outbox: traceparent and correlation_id, for the Kafka headers

The W3C trace context of the request that wrote the event, and its request id, are kept with the
row so the relay sends them as the `traceparent` and `correlation_id` headers without parsing the
payload. Nullable: rows written before this revision are sent without them.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("traceparent", sa.String(length=55), nullable=True))
        batch_op.add_column(sa.Column("correlation_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("correlation_id")
        batch_op.drop_column("traceparent")
