"""counter registrations: "Bưu điện Việt Nam", an account entered by a clerk at a counter and
activated online by its citizen (issue 17 item 2, accounts/counter.py)

A new table only: existing accounts and rows are untouched.

Revision ID: e17a5f0c0002
Revises: e17a5f0c0001
Create Date: 2026-12-04 18:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e17a5f0c0002'
down_revision = 'e17a5f0c0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('counter_registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=8), nullable=False),
    sa.Column('id_number', sa.String(length=12), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('birth_date', sa.String(length=10), nullable=False),
    sa.Column('gender', sa.String(length=10), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('counter', sa.String(length=200), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('staff_username', sa.String(length=64), nullable=False),
    sa.Column('staff_full_name', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('phone_code_hash', sa.String(length=64), nullable=True),
    sa.Column('phone_code_attempts', sa.Integer(), nullable=False),
    sa.Column('phone_code_sends', sa.Integer(), nullable=False),
    sa.Column('phone_code_sent_at', sa.Float(), nullable=True),
    sa.Column('phone_code_expires_at', sa.Float(), nullable=True),
    sa.Column('activation_code_hash', sa.String(length=64), nullable=True),
    sa.Column('activation_attempts', sa.Integer(), nullable=False),
    sa.Column('activation_expires_at', sa.Float(), nullable=True),
    sa.Column('citizen_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('issued_at', sa.Float(), nullable=True),
    sa.Column('activated_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_counter_registrations_citizen_id_citizens'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counter_registrations')),
    sa.UniqueConstraint('reference', name=op.f('uq_counter_registrations_reference'))
    )
    with op.batch_alter_table('counter_registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_counter_registrations_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_counter_registrations_id_number'), ['id_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_counter_registrations_staff_id'), ['staff_id'], unique=False)


def downgrade():
    with op.batch_alter_table('counter_registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counter_registrations_staff_id'))
        batch_op.drop_index(batch_op.f('ix_counter_registrations_id_number'))
        batch_op.drop_index(batch_op.f('ix_counter_registrations_citizen_id'))

    op.drop_table('counter_registrations')
