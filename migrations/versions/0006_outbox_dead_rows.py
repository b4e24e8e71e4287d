"""outbox: dead_at, for rows Kafka can never take

A row Kafka would refuse for good (an envelope over the message size limit) used to be retried
forever as the relay's one-row probe, holding back every row behind it. The relay now sets
`dead_at` on it instead, sends a notice to the topic's `.dlq`, and goes on. The row is kept
(prune skips it), so nothing is lost; the claim skips it.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("dead_at")
