"""domain part 2: connections, messages, notifications

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 06:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

USER_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ['users.id'], name=op.f(f'fk_{table}_{column}_users'),
                                   ondelete='CASCADE')


def upgrade() -> None:
    op.create_table('connections',
    sa.Column('id', USER_ID, autoincrement=True, nullable=False),
    sa.Column('requester_id', USER_ID, nullable=False),
    sa.Column('addressee_id', USER_ID, nullable=False),
    sa.Column('user_low', USER_ID, nullable=False),
    sa.Column('user_high', USER_ID, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    _user_fk('connections', 'requester_id'),
    _user_fk('connections', 'addressee_id'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connections')),
    sa.UniqueConstraint('user_low', 'user_high', name='uq_connections_pair'),
    )
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.create_index('ix_connections_requester_id_status', ['requester_id', 'status'])
        batch_op.create_index('ix_connections_addressee_id_status', ['addressee_id', 'status'])

    op.create_table('messages',
    sa.Column('id', USER_ID, autoincrement=True, nullable=False),
    sa.Column('sender_id', USER_ID, nullable=False),
    sa.Column('receiver_id', USER_ID, nullable=False),
    sa.Column('user_low', USER_ID, nullable=False),
    sa.Column('user_high', USER_ID, nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    _user_fk('messages', 'sender_id'),
    _user_fk('messages', 'receiver_id'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_conversation', ['user_low', 'user_high', 'id'])

    op.create_table('notifications',
    sa.Column('id', USER_ID, autoincrement=True, nullable=False),
    sa.Column('user_id', USER_ID, nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    _user_fk('notifications', 'user_id'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('event_id', name=op.f('uq_notifications_event_id')),
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user_id_id', ['user_id', 'id'])


def downgrade() -> None:
    op.drop_table('notifications')
    op.drop_table('messages')
    op.drop_table('connections')
