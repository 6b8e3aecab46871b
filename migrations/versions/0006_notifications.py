"""notifications: notifications, deliveries (in-app inbox + email log), preferences, suppressions

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql
import domain.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('email_suppressions',
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', domain.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email', name=op.f('pk_email_suppressions'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=48), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=1000), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('course_id', sa.String(length=32), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', domain.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', domain.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notifications_dedupe_key'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_course_id'), ['course_id'], unique=False)

    op.create_table('notification_deliveries',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('notification_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=True),
    sa.Column('provider_message_id', sa.String(length=200), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('claimed_by', sa.String(length=200), nullable=True),
    sa.Column('claimed_at', domain.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', domain.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('read_at', domain.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', domain.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('digest_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', domain.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_notification_deliveries_notification_id_notifications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_deliveries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_deliveries')),
    sa.UniqueConstraint('notification_id', 'user_id', 'channel', name='uq_notification_deliveries_target')
    )
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_notification_deliveries_digest', ['channel', 'status', 'user_id'], unique=False)
        batch_op.create_index('ix_notification_deliveries_inbox', ['user_id', 'channel', 'read_at'], unique=False)
        batch_op.create_index('ix_notification_deliveries_work', ['notification_id', 'channel', 'status'], unique=False)

    op.create_table('notification_preferences',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=48), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('updated_at', domain.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_preferences_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_preferences')),
    sa.UniqueConstraint('user_id', 'type', 'channel', name='uq_notification_preferences_key')
    )
    with op.batch_alter_table('notification_preferences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_preferences_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notification_preferences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_preferences_user_id'))

    op.drop_table('notification_preferences')
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_deliveries_work')
        batch_op.drop_index('ix_notification_deliveries_inbox')
        batch_op.drop_index('ix_notification_deliveries_digest')

    op.drop_table('notification_deliveries')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_course_id'))

    op.drop_table('notifications')
    op.drop_table('email_suppressions')
